/**
 * The logs module under `deno task start` (tools/sandbox/start.sh, the Landlock launcher): a
 * service's /var/log files are found although the kernel refuses the sandboxed agent other
 * processes' `fd/*` links — through the procfs broker's LOG_FDS request, both by the start-up
 * descriptor scan (a file opened before the agent) and by the file-open BPF event (a file opened
 * after it; the rescan is a minute away) — and their lines are counted exactly; the logs and l7
 * objects attach their syscall tracepoints (tracefs is in the sandbox's read list).
 *
 * Needs root, a kernel with Landlock, cgroups and BPF, and `deno task build`.
 */
import { equal, ok } from "node:assert/strict";
import { freePort, REPO_ROOT, SANDBOX_LAUNCHER } from "../helpers/agent_process.ts";
import { containerAgentArgs, ensureHostView } from "../containers/agent.ts";
import { TestCgroup } from "../containers/cgroups.ts";
import { scrapeParsed, sleep, waitFor } from "../containers/metrics.ts";
import { privilegedIgnoreReason } from "../privileged/_helpers.ts";
import { eachLevel, expectLevelCounts, levelLines, LineWriter, total } from "../logs/_harness.ts";

function ignoreReason(): string {
  const p = privilegedIgnoreReason();
  if (p) return p;
  try {
    if (!Deno.statSync(SANDBOX_LAUNCHER).isFile) return "launcher not built";
  } catch {
    return "launcher not built (deno task build)";
  }
  return "";
}
const IGNORE = ignoreReason();
if (IGNORE !== "") console.warn(`tests/sandbox/logs_start_test.ts ignored: ${IGNORE}`);

const N = 10;

/** Sends warm-up lines until the agent counts one for the source (it reads from the end). */
async function warmUp(url: string, id: string, path: string, w: LineWriter): Promise<void> {
  for (let i = 0;; i++) {
    const s = await scrapeParsed(url);
    const q = { container_id: id, source: path, level: "unknown" };
    if (s.find("container_log_messages_total", q).length > 0) return;
    if (i > 100) {
      const own = s.text.split("\n").filter((l) => l.startsWith("osprey_logs")).join("\n");
      throw new Error(`${path} of ${id} never followed:\n${s.linesOf(id)}\n${own}`);
    }
    await w.send([`warmup tick ${i}`]);
    await sleep(200);
  }
}

Deno.test({
  name: "start.sh: the sandboxed agent follows a service's /var/log files through the broker " +
    "(start-up scan and file-open event) and attaches the l7 object",
  ignore: IGNORE !== "",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    await ensureHostView();
    const unit = `osprey-sbx-logs-${Deno.pid}.service`;
    const id = `/system.slice/${unit}`;
    const dir = await Deno.makeTempDir({ dir: "/var/log", prefix: "osprey-sbx-logs-" });
    const early = `${dir}/early.log`, late = `${dir}/late.log`;
    const cg = await TestCgroup.create(`system.slice/${unit}`);
    const writers: LineWriter[] = [];
    // open before the agent starts: only the start-up scan can find it
    const first = LineWriter.start(cg, early);
    writers.push(first);
    await first.send(["before the agent"]);
    const port = freePort();
    const child = new Deno.Command("sh", {
      // a container counts from its first sight (--min-container-age=0)
      args: ["tools/sandbox/start.sh", `--listen=127.0.0.1:${port}`, ...containerAgentArgs()],
      cwd: REPO_ROOT,
      env: { NO_COLOR: "1", DENO_NO_UPDATE_CHECK: "1", RUST_BACKTRACE: "0" },
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).spawn();
    const stderr = new Response(child.stderr).text();
    const url = `http://127.0.0.1:${port}`;
    let failed = true;
    try {
      const s = await waitFor("the agent's /readyz", async () => {
        try {
          const r = await fetch(`${url}/readyz`);
          await r.body?.cancel();
          return r.status === 200 ? await scrapeParsed(url) : undefined;
        } catch {
          return undefined;
        }
      }, { timeoutMs: 30_000 });
      equal(s.find("osprey_sandbox_info", { kind: "landlock" }).length, 1);
      equal(s.value("osprey_procfs_broker_up", {}), 1);
      for (const m of ["logs", "l7"]) {
        equal(s.value("osprey_module_state", { module: m, state: "on" }), 1, `module ${m}`);
      }
      // their syscall tracepoints attached: libbpf read events/syscalls/<name>/id in tracefs
      for (const program of ["osp_l7_write_enter", "osp_logs_enter_openat"]) {
        const a = s.find("osprey_bpf_program_attached", { program });
        ok(a.length > 0 && a.every((x) => x.value === 1), `${program}: ${JSON.stringify(a)}`);
      }

      await warmUp(url, id, early, first);
      await first.send(levelLines(N, "early"));
      await expectLevelCounts(url, id, early, eachLevel(N));

      // opened while the agent runs: the file-open event, resolved through the broker
      const second = LineWriter.start(cg, late);
      writers.push(second);
      await warmUp(url, id, late, second);
      await second.send(levelLines(N, "late"));
      const after = await expectLevelCounts(url, id, late, eachLevel(N));
      // both became sources (the scan's and the event's), none through a direct read
      const followed = total(after, "osprey_logs_file_opens_total", { result: "followed" });
      ok(followed >= 2, `followed: ${followed}`);
      failed = false;
    } finally {
      child.kill("SIGTERM");
      const status = await child.status;
      const err = await stderr;
      for (const w of writers) await w.stop();
      await cg.remove();
      await Deno.remove(dir, { recursive: true });
      if (failed) console.error(err);
      equal(status.code, 0, err);
    }
  },
});
