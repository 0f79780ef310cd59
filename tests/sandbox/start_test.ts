/**
 * `deno task start`'s script, tools/sandbox/start.sh, end to end: the agent it starts
 * is in a Landlock domain (the table and `osprey_sandbox_info` say so), its modules are on, and
 * it keeps the pid the script started with (the launcher and Deno are exec'd), so SIGTERM stops
 * it cleanly.
 *
 * Needs root, a kernel with Landlock and `deno task build`.
 */
import { equal, ok } from "node:assert/strict";
import { freePort, REPO_ROOT, SANDBOX_LAUNCHER } from "../helpers/agent_process.ts";
import { ensureHostView } from "../containers/agent.ts";
import { scrapeParsed, waitFor } from "../containers/metrics.ts";

function ignore(): boolean {
  if (Deno.uid() !== 0) return true;
  try {
    return !Deno.statSync(SANDBOX_LAUNCHER).isFile;
  } catch {
    return true;
  }
}

Deno.test({
  name: "start.sh: the agent runs under Landlock with its modules on and stops on SIGTERM",
  ignore: ignore(),
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    await ensureHostView();
    const port = freePort();
    const child = new Deno.Command("sh", {
      args: ["tools/sandbox/start.sh", `--listen=127.0.0.1:${port}`, "--collect-interval=500ms"],
      cwd: REPO_ROOT,
      env: { NO_COLOR: "1", DENO_NO_UPDATE_CHECK: "1", RUST_BACKTRACE: "0" },
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).spawn();
    const stderr = new Response(child.stderr).text();
    const url = `http://127.0.0.1:${port}`;
    try {
      const s = await waitFor("the agent's /readyz", async () => {
        try {
          const r = await fetch(`${url}/readyz`);
          await r.body?.cancel();
          return r.status === 200 ? await scrapeParsed(url) : undefined;
        } catch {
          return undefined; // not listening yet
        }
      }, { timeoutMs: 30_000 });
      const sandbox = s.find("osprey_sandbox_info", { kind: "landlock" });
      equal(sandbox.length, 1, s.text.split("\n").filter((l) => l.includes("sandbox")).join("\n"));
      for (const m of ["self", "node", "process_events", "containers", "net", "delayacct"]) {
        equal(s.value("osprey_module_state", { module: m, state: "on" }), 1, `module ${m}`);
      }
    } finally {
      child.kill("SIGTERM");
      const status = await child.status;
      const err = await stderr;
      equal(status.code, 0, err);
      ok(/^SANDBOX {2}landlock ABI \d+: /m.test(err), err);
    }
  },
});
