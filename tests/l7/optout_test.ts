/**
 * `COROOT_EBPF_TRACES=disabled` end to end (contract §4.5, §9.1): the agent with
 * `--traces-endpoint` pointing at a loopback OTLP/HTTP receiver, a real nginx in a "container" in
 * network namespace b, and two client "containers" in namespace a making the same requests with
 * curl. One runs its processes (a long-lived one, as an application would, and each curl) with
 * `COROOT_EBPF_TRACES=disabled` in their environment.
 *
 * - Spans: exactly the other client's 13 (10 `/ok`, 3 `/missing`), none of the opted-out one's,
 *   which are counted in `osprey_l7_matcher_events_total{event="spans_opted_out"}` (13).
 * - Metrics: as the reference, the opt-out is about spans only: both clients' outbound
 *   `container_http_requests_total` read 10 `2xx` and 3 `4xx`, and the server's inbound 20 and 6.
 *
 * Needs root, nginx (nginx-light), curl, iproute2, nsenter and the built libosprey.
 */
import { deepEqual, equal } from "node:assert/strict";
import { loadOtlpTypes } from "../../agent/push/mod.ts";
import { createNetnsPair } from "../helpers/netns.ts";
import {
  agentSteps,
  CgroupContainer,
  netLabIgnoreReason,
  sleep,
  waitFor,
  waitVisible,
  withNetAgent,
} from "../net/_lab.ts";
import {
  curl,
  familyLines,
  has,
  killCgroup,
  NGINX_PORT,
  nginxConfig,
  waitExact,
  type Wanted,
} from "./_helpers.ts";

const MISSING = ["nginx", "curl"].filter((c) => !has(c));
const ignoreReason = netLabIgnoreReason() ||
  (MISSING.length > 0 ? `missing: ${MISSING.join(", ")}` : "");
if (ignoreReason) console.warn(`tests/l7/optout_test.ts ignored: ${ignoreReason}`);

/** The OTLP exporter's batch delay (agent/push/otlp_exporter.ts), ms. */
const BATCH_MS = 5000;
const OPT_OUT = { COROOT_EBPF_TRACES: "disabled" };

interface Attr {
  key: string;
  value: { stringValue?: string };
}

Deno.test({
  name: "l7: COROOT_EBPF_TRACES=disabled in a client's environment: no spans for it, metrics kept",
  ignore: ignoreReason !== "",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn(t) {
    const types = await loadOtlpTypes();
    /** Each span received: its container and its `http.url`. */
    const got: { container: string; url: string }[] = [];
    const receiver = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
      const type = types.ExportTraceServiceRequest;
      const body = type.toObject(type.decode(new Uint8Array(await req.arrayBuffer())), {
        defaults: false,
      }) as {
        resourceSpans?: {
          resource: { attributes: Attr[] };
          scopeSpans: { spans: { attributes?: Attr[] }[] }[];
        }[];
      };
      for (const rs of body.resourceSpans ?? []) {
        const container = rs.resource.attributes.find((a) => a.key === "container.id")?.value
          .stringValue ?? "";
        for (const ss of rs.scopeSpans) {
          for (const span of ss.spans) {
            const url = span.attributes?.find((a) => a.key === "http.url")?.value.stringValue;
            got.push({ container, url: url ?? "" });
          }
        }
      }
      return new Response(null, { status: 200 });
    });
    const pair = await createNetnsPair("l7o");
    const dir = await Deno.makeTempDir({ prefix: "osprey-l7-optout-" });
    const made: CgroupContainer[] = [];
    try {
      const ip = pair.b.v4;
      await Deno.writeTextFile(`${dir}/nginx.conf`, nginxConfig(dir, ip));
      const server = await CgroupContainer.create("nginx", pair.b.name);
      const traced = await CgroupContainer.create("traced", pair.a.name);
      const quiet = await CgroupContainer.create("quiet", pair.a.name);
      made.push(server, traced, quiet);
      // the opted-out application: a long-lived process with the variable, as a service has
      quiet.spawn(["sleep", "1000000"], "opted-out app", OPT_OUT);
      await withNetAgent({
        args: [
          `--traces-endpoint=http://127.0.0.1:${receiver.addr.port}/v1/traces`,
          "--traces-sampling=1",
        ],
        extraPermissions: ["--allow-net=0.0.0.0,127.0.0.1,[::],[::1]"],
      }, async (agent) => {
        const step = agentSteps(t, agent);
        server.spawn(["sh", "-c", `exec nginx -c ${dir}/nginx.conf >/dev/null 2>&1`], "nginx");
        await waitFor("nginx answering", async () => {
          const codes = await curl(traced, [`http://${ip}:${NGINX_PORT}/ok?warm`]);
          return codes[0] === "200" ? true : undefined;
        }, { timeoutMs: 15_000, everyMs: 200 });
        for (const c of [traced, quiet, server]) await waitVisible(agent.url, c.id);

        await step("the same 13 requests from both clients: spans of one only", async () => {
          const base = `http://${ip}:${NGINX_PORT}`;
          const urls = (who: string) => {
            const out: string[] = [];
            for (let i = 0; i < 10; i++) out.push(`${base}/ok?${who}=${i}`);
            for (let i = 10; i < 13; i++) out.push(`${base}/missing?${who}=${i}`);
            return out;
          };
          const want = [...Array(10).fill("200"), "404", "404", "404"];
          deepEqual(await curl(traced, urls("t")), want, "the traced client's statuses");
          deepEqual(await curl(quiet, urls("q"), OPT_OUT), want, "the opted-out client's");
          const dest = {
            destination: `${ip}:${NGINX_PORT}`,
            actual_destination: `${ip}:${NGINX_PORT}`,
          };
          const wanted: Wanted = [
            [
              "container_http_requests_total",
              { container_id: quiet.id, ...dest, status: "2xx" },
              10,
            ],
            [
              "container_http_requests_total",
              { container_id: quiet.id, ...dest, status: "4xx" },
              3,
            ],
            [
              "container_http_inbound_requests_total",
              { container_id: server.id, status: "4xx" },
              6,
            ],
            ["osprey_l7_matcher_events_total", { event: "spans_opted_out" }, 13],
          ];
          await waitExact(
            agent.url,
            wanted,
            (s) => familyLines(s, [quiet.id, traced.id, server.id], "container_http", "osprey_l7"),
          );
          const s = await waitExact(agent.url, [
            // the warm-up's one (or more) 200 are the traced client's on top of the 10
            [
              "container_http_requests_total",
              { container_id: traced.id, ...dest, status: "4xx" },
              3,
            ],
          ], (s) => familyLines(s, [traced.id], "container_http", "osprey_l7"));
          const tracedOk = s.value("container_http_requests_total", {
            container_id: traced.id,
            ...dest,
            status: "2xx",
          })!;
          equal(
            s.value("container_http_inbound_requests_total", {
              container_id: server.id,
              status: "2xx",
            }),
            tracedOk + 10,
            "the server counted both clients' 200s",
          );

          const mine = (who: string) => got.filter((g) => g.url.includes(`?${who}=`));
          await waitFor("13 spans of the traced client", async () => {
            await sleep(0);
            return mine("t").length >= 13 ? true : undefined;
          }, { timeoutMs: 20_000, describe: () => `${mine("t").length} so far` });
          await sleep(BATCH_MS + 1000); // the exporter's next batch: nothing more arrives
          equal(mine("t").length, 13);
          deepEqual([...new Set(mine("t").map((g) => g.container))], [traced.id]);
          deepEqual(mine("q"), [], "no span of the opted-out client");
          equal(got.filter((g) => g.container === quiet.id).length, 0);
        });
      });
    } finally {
      for (const c of made) {
        await killCgroup(c);
        await c.remove();
      }
      await pair.remove();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
      await receiver.shutdown();
    }
  },
});
