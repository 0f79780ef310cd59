/**
 * Push mode through `deno task start`'s script (tools/sandbox/start.sh): the grants
 * the launcher builds from the agent's flags (net on the listen address and the endpoint, write
 * on the spool, which the script creates, and the Landlock rules to match) let the push module
 * run under Landlock, listening on 127.0.0.1:10300, and its batches reach a loopback receiver.
 *
 * Needs root, a kernel with Landlock and `deno task build`.
 */
import { equal, ok } from "node:assert/strict";
import { freePort, REPO_ROOT, SANDBOX_LAUNCHER } from "../helpers/agent_process.ts";
import { ensureHostView } from "../containers/agent.ts";
import { scrapeParsed, waitFor } from "../containers/metrics.ts";
import { PUSH_PORT, spooled } from "./harness.ts";

function ignore(): boolean {
  if (Deno.uid() !== 0) return true;
  try {
    return !Deno.statSync(SANDBOX_LAUNCHER).isFile;
  } catch {
    return true;
  }
}

Deno.test({
  name:
    "start.sh in push mode: the spool and the endpoint are granted, batches arrive under Landlock",
  ignore: ignore(),
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    await ensureHostView();
    const dir = await Deno.makeTempDir({ prefix: "osprey-push-sandbox-" });
    const walDir = `${dir}/wal`; // absent: start.sh creates it before Landlock
    const taken: number[] = [];
    const rxPort = freePort();
    const rx = Deno.serve({ hostname: "127.0.0.1", port: rxPort, onListen() {} }, async (req) => {
      taken.push((await req.arrayBuffer()).byteLength);
      return new Response(null, { status: 204 });
    });
    const child = new Deno.Command("sh", {
      args: [
        "tools/sandbox/start.sh",
        `--metrics-endpoint=http://127.0.0.1:${rxPort}/api/v1/write`,
        "--scrape-interval=1s",
        `--wal-dir=${walDir}`,
      ],
      cwd: REPO_ROOT,
      env: { NO_COLOR: "1", DENO_NO_UPDATE_CHECK: "1", RUST_BACKTRACE: "0" },
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).spawn();
    const stderr = new Response(child.stderr).text();
    const url = `http://127.0.0.1:${PUSH_PORT}`;
    try {
      const s = await waitFor("two batches received", async () => {
        if (taken.length < 2) return undefined;
        try {
          return await scrapeParsed(url);
        } catch {
          return undefined;
        }
      }, { timeoutMs: 45_000 });
      equal(s.find("osprey_sandbox_info", { kind: "landlock" }).length, 1);
      equal(s.value("osprey_module_state", { module: "push", state: "on" }), 1);
      ok(taken.every((n) => n > 1000));
      equal(Deno.statSync(`${walDir}/spool`).mode! & 0o777, 0o750);
      ok(spooled(walDir).length <= 2);
    } finally {
      child.kill("SIGTERM");
      const status = await child.status;
      const err = await stderr;
      await rx.shutdown();
      await Deno.remove(dir, { recursive: true });
      equal(status.code, 0, err);
      ok(/^SANDBOX {2}landlock ABI \d+: /m.test(err), err);
    }
  },
});
