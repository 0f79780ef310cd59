/**
 * The logs module and push mode together: a service writing a file under /var/log, read by the
 * real agent started with `--logs-endpoint`, reaches a loopback OTLP/HTTP receiver as one log
 * record per message (decoded with the official OTLP definitions): body, severity, the
 * `pattern.hash` the counter carries, and the resource's `container.id` and `service.name`.
 *
 * Needs root (cgroups, BPF, /var/log) and the built libosprey.
 *
 * @module
 */
import { deepEqual, equal, ok } from "node:assert/strict";
import { loadOtlpTypes } from "../../agent/push/mod.ts";
import { withContainerAgent } from "../containers/agent.ts";
import { TestCgroup } from "../containers/cgroups.ts";
import { scrapeParsed, sleep, waitFor } from "../containers/metrics.ts";
import { privilegedIgnoreReason } from "../privileged/_helpers.ts";
import { eachLevel, expectLevelCounts, levelLines, LineWriter, TEST_LEVELS } from "./_harness.ts";

const ignoreReason = privilegedIgnoreReason();
if (ignoreReason) console.warn(`tests/logs/otlp_logs_test.ts ignored: ${ignoreReason}`);

const N = 10;
const AS_JSON = { longs: String, enums: Number, bytes: String, defaults: false };

interface Attr {
  key: string;
  value: { stringValue?: string };
}
interface LogRecord {
  body?: { stringValue?: string };
  severityText?: string;
  attributes?: Attr[];
}
interface ResourceLogs {
  resource: { attributes: Attr[] };
  scopeLogs: { logRecords: LogRecord[] }[];
}

Deno.test({
  name: "logs to OTLP: every message of a /var/log file is one record with its level, body and " +
    "the counter's pattern hash, under the container's resource",
  ignore: ignoreReason !== "",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const types = await loadOtlpTypes();
    const got: ResourceLogs[] = [];
    const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
      const bytes = new Uint8Array(await req.arrayBuffer());
      const t = types.ExportLogsServiceRequest;
      const body = t.toObject(t.decode(bytes), AS_JSON) as { resourceLogs?: ResourceLogs[] };
      got.push(...(body.resourceLogs ?? []));
      return new Response(null, { status: 200 });
    });
    const unit = `osprey-logs-otlp-${Deno.pid}.service`;
    const id = `/system.slice/${unit}`;
    const dir = await Deno.makeTempDir({ dir: "/var/log", prefix: "osprey-logs-otlp-" });
    const path = `${dir}/app.log`;
    const cg = await TestCgroup.create(`system.slice/${unit}`);
    let writer: LineWriter | undefined;
    try {
      await withContainerAgent({
        // the set's loopback grants (the receiver's port among them) without its other hosts
        extraPermissions: ["--allow-net=0.0.0.0,127.0.0.1,[::],[::1]"],
        extraArgs: [`--logs-endpoint=http://127.0.0.1:${server.addr.port}/v1/logs`],
      }, async (agent) => {
        writer = LineWriter.start(cg, path);
        for (let i = 0;; i++) {
          await writer.send([`warmup tick ${i}`]);
          await sleep(200);
          const s = await scrapeParsed(agent.url);
          const q = { container_id: id, source: path, level: "unknown" };
          if (s.find("container_log_messages_total", q).length > 0) break;
        }
        await writer.send(levelLines(N, "otlp"));
        const s = await expectLevelCounts(agent.url, id, path, eachLevel(N));

        const mine = () =>
          got.filter((r) =>
            r.resource.attributes.some((a) =>
              a.key === "container.id" && a.value.stringValue === id
            )
          ).flatMap((r) => r.scopeLogs.flatMap((x) => x.logRecords))
            .filter((r) => r.body?.stringValue?.includes(" otlp request "));
        await waitFor(`${5 * N} records of ${id}`, async () => {
          await sleep(0);
          return mine().length >= 5 * N ? true : undefined;
        }, { timeoutMs: 20_000, describe: () => `${mine().length} records so far` });
        await sleep(500); // nothing more than that arrives
        const records = mine();
        equal(records.length, 5 * N, "one record per message");
        const perLevel: Record<string, number> = {};
        for (const r of records) perLevel[r.severityText!] = (perLevel[r.severityText!] ?? 0) + 1;
        deepEqual(perLevel, Object.fromEntries(TEST_LEVELS.map((l) => [l, N])));
        // the records' pattern hash is the counter's, for the levels that get patterns
        for (const level of ["warning", "error", "critical"]) {
          const hashes = new Set(
            records.filter((r) => r.severityText === level).map((r) =>
              r.attributes?.find((a) => a.key === "pattern.hash")?.value.stringValue
            ),
          );
          const served = new Set(
            s.find("container_log_messages_total", { container_id: id, source: path, level })
              .map((x) => x.labels.pattern_hash),
          );
          deepEqual(hashes, served, `${level}: the records' hashes are the counter's`);
        }
        const resource = got.find((r) =>
          r.resource.attributes.some((a) => a.value.stringValue === id)
        )!.resource.attributes;
        ok(
          resource.some((a) => a.key === "service.name" && (a.value.stringValue ?? "") !== ""),
          JSON.stringify(resource),
        );
      });
    } finally {
      await writer?.stop();
      await cg.remove();
      await Deno.remove(dir, { recursive: true });
      await server.shutdown();
    }
  },
});
