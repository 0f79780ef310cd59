/**
 * A process of a systemd-style service writing a file under /var/log, read by the real agent
 * (found by its descriptor: the file-open BPF event, or the start-up scan): exact counts per
 * level with `source` = the path, through rotation by rename, copy-truncate, truncation, a
 * 1 MB line and a binary blob, with the oddities counted; and `COROOT_LOG_MONITORING=disabled`.
 *
 * Needs root (cgroups, BPF, /var/log) and the built libosprey.
 *
 * @module
 */
import { deepEqual, equal, ok } from "node:assert/strict";
import { withContainerAgent } from "../containers/agent.ts";
import { TestCgroup } from "../containers/cgroups.ts";
import { scrapeParsed, sleep } from "../containers/metrics.ts";
import { privilegedIgnoreReason } from "../privileged/_helpers.ts";
import { eachLevel, expectLevelCounts, levelLines, LineWriter, total } from "./_harness.ts";

const ignoreReason = privilegedIgnoreReason();
if (ignoreReason) console.warn(`tests/logs/var_log_test.ts ignored: ${ignoreReason}`);

const N = 20;

function oddities(s: Awaited<ReturnType<typeof scrapeParsed>>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const x of s.find("osprey_logs_oddities_total", { kind: "file" })) {
    out[x.labels.oddity] = x.value;
  }
  return out;
}

Deno.test({
  name: "a service's /var/log file: exact counts per level under its path, through rename " +
    "rotation, copy-truncate, truncation, a 1 MB line and a binary blob, oddities counted",
  ignore: ignoreReason !== "",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const unit = `osprey-logs-${Deno.pid}.service`;
    const id = `/system.slice/${unit}`;
    const dir = await Deno.makeTempDir({ dir: "/var/log", prefix: "osprey-logs-" });
    const path = `${dir}/app.log`;
    const cg = await TestCgroup.create(`system.slice/${unit}`);
    let writer: LineWriter | undefined;
    try {
      await withContainerAgent({}, async (agent) => {
        writer = LineWriter.start(cg, path);
        // warm-up lines until the agent follows the file (it starts at the end of it)
        for (let i = 0; !(await warm(agent.url, id, path)); i++) {
          await writer.send([`warmup tick ${i}`]);
          await sleep(200);
        }
        const before = oddities(await scrapeParsed(agent.url));

        await writer.send(levelLines(N, "plain"));
        await expectLevelCounts(agent.url, id, path, eachLevel(N));

        // rotation by rename mid-stream: lines go to the old file, it is renamed, more lines
        // go to it, then the program reopens the path and writes to the new file
        await writer.send(levelLines(N, "before-rename"));
        await Deno.rename(path, `${path}.1`);
        await writer.send(levelLines(N, "old-file-after-rename"));
        await writer.send(["@reopen", ...levelLines(N, "new-file")]);
        await expectLevelCounts(agent.url, id, path, eachLevel(4 * N));

        // copy-truncate: what was read is copied and the file emptied; the writer (O_APPEND)
        // goes on at the start, writing more than there was
        await Deno.copyFile(path, `${path}.2`);
        await Deno.truncate(path, 0);
        await writer.send(levelLines(3 * N, "after-copytruncate"));
        await expectLevelCounts(agent.url, id, path, eachLevel(7 * N));

        // plain truncation, then a few lines
        await Deno.truncate(path, 0);
        await writer.send(levelLines(1, "after-truncate"));
        await expectLevelCounts(agent.url, id, path, eachLevel(7 * N + 1));

        // a 1 MB line (one error message, cut at 64 KiB) and a binary blob (its lines that are
        // not UTF-8 dropped and counted), then ordinary lines again
        const big = `${dir}/big`;
        await Deno.writeTextFile(big, "ERROR huge payload " + "x".repeat(1 << 20) + "\n");
        const blob = `${dir}/blob`;
        const bytes = new Uint8Array(8192);
        for (let i = 0; i < bytes.length; i++) bytes[i] = 0x80 | ((i * 37) & 0x7f);
        for (let i = 511; i < bytes.length; i += 512) bytes[i] = 10; // 16 lines, none UTF-8
        await Deno.writeFile(blob, bytes);
        await writer.send([`@cat ${big}`, `@cat ${blob}`, ...levelLines(1, "after-blob")]);
        const want = eachLevel(7 * N + 2);
        want.error += 1;
        const s = await expectLevelCounts(agent.url, id, path, want);
        const after = oddities(s);
        const delta = (k: string) => (after[k] ?? 0) - (before[k] ?? 0);
        equal(delta("line_cut"), 1);
        equal(delta("invalid_utf8"), 16);
        equal(delta("rotation"), 1);
        equal(delta("truncation"), 2);
        // the source is the path, on the service's series only
        const mine = s.find("container_log_messages_total", { source: path });
        deepEqual([...new Set(mine.map((x) => x.labels.container_id))], [id]);
        // lines of one level share one pattern
        const errors = mine.filter((x) => x.labels.level === "error");
        ok(errors.every((x) => /^[0-9a-f]{32}$/.test(x.labels.pattern_hash)));
        ok(total(s, "osprey_logs_sources", { kind: "file" }) >= 1);
      });
    } finally {
      await writer?.stop();
      await cg.remove();
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "a service with COROOT_LOG_MONITORING=disabled in its environment: its file is not read",
  ignore: ignoreReason !== "",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const unit = `osprey-logs-off-${Deno.pid}.service`;
    const id = `/system.slice/${unit}`;
    const dir = await Deno.makeTempDir({ dir: "/var/log", prefix: "osprey-logs-" });
    const path = `${dir}/quiet.log`;
    const cg = await TestCgroup.create(`system.slice/${unit}`);
    let writer: LineWriter | undefined;
    try {
      await withContainerAgent({}, async (agent) => {
        writer = LineWriter.start(cg, path, { COROOT_LOG_MONITORING: "disabled" });
        await writer.send(levelLines(N, "quiet"));
        let opted = 0;
        for (let i = 0; i < 50 && opted === 0; i++) {
          await sleep(200);
          const s = await scrapeParsed(agent.url);
          opted = total(s, "osprey_logs_file_opens_total", { result: "opted_out" });
          await writer.send([`warmup tick ${i}`]);
        }
        const seen = await scrapeParsed(agent.url);
        ok(
          opted > 0,
          "the opened file was looked at and refused\n" +
            seen.text.split("\n").filter((l) => l.startsWith("osprey_logs_")).join("\n") +
            "\n" + seen.linesOf(id),
        );
        const s = await scrapeParsed(agent.url);
        deepEqual(s.find("container_log_messages_total", { container_id: id }), []);
      });
    } finally {
      await writer?.stop();
      await cg.remove();
      await Deno.remove(dir, { recursive: true });
    }
  },
});

/** Whether the agent counted a warm-up (level unknown) line of the source yet. */
async function warm(url: string, id: string, path: string): Promise<boolean> {
  const s = await scrapeParsed(url);
  const q = { container_id: id, source: path, level: "unknown" };
  return s.find("container_log_messages_total", q).length > 0;
}
