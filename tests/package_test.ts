/**
 * The single-file package (tools/package.sh → dist/osprey): it unpacks once, runs the bundled
 * agent with the "agent" permission set and libosprey scoped by path under the Landlock launcher
 * (with its procfs broker), and stops cleanly.
 */
import { equal, match } from "node:assert/strict";
import { freePort, isRoot, REPO_ROOT, scrape } from "./helpers/agent_process.ts";

const haveLib = (() => {
  try {
    return Deno.statSync(`${REPO_ROOT}/ffi/.output/libosprey.so`).isFile;
  } catch {
    return false;
  }
})();

/** Whether this kernel has Landlock (its ABI version, asked by landlock_create_ruleset). */
const LANDLOCK = (() => {
  try {
    const out = new Deno.Command(`${REPO_ROOT}/ffi/.output/osprey-sandbox`, {
      args: ["--rx=/", "--", "sh", "-c", 'echo "$OSPREY_SANDBOX"'],
      stdout: "piped",
      stderr: "null",
    }).outputSync();
    return new TextDecoder().decode(out.stdout).startsWith("landlock:");
  } catch {
    return false;
  }
})();

Deno.test({
  name: "dist/osprey unpacks, serves with its BPF programs attached and stops on SIGTERM",
  ignore: !isRoot() || !haveLib,
  async fn() {
    const work = await Deno.makeTempDir({ prefix: "osprey-package-" });
    try {
      const out = `${work}/osprey`;
      const pack = await new Deno.Command("bash", {
        args: ["tools/package.sh", out],
        cwd: REPO_ROOT,
        stdout: "piped",
        stderr: "piped",
      }).output();
      equal(pack.code, 0, new TextDecoder().decode(pack.stderr));
      const env = { OSPREY_HOME: `${work}/home`, NO_COLOR: "1" };
      const version = await new Deno.Command(out, { args: ["--version"], env, cwd: work }).output();
      equal(version.code, 0);
      match(new TextDecoder().decode(version.stdout), /^osprey \d+\.\d+\.\d+/);

      const port = freePort();
      const child = new Deno.Command(out, {
        args: [`--listen=127.0.0.1:${port}`],
        env,
        cwd: work, // no deno.json here: the package must not depend on the checkout
        stdout: "null",
        stderr: "piped",
      }).spawn();
      let text = "";
      try {
        for (let i = 0; i < 100 && !text; i++) {
          await new Promise((r) => setTimeout(r, 100));
          try {
            const r = await fetch(`http://127.0.0.1:${port}/readyz`);
            await r.body?.cancel();
            if (r.status === 200) text = await scrape(`http://127.0.0.1:${port}`);
          } catch { /* not listening yet */ }
        }
        match(text, /^osprey_module_state\{.*module="process_events",state="on".*\} 1$/m);
        match(text, /^osprey_module_state\{.*module="node",state="on".*\} 1$/m);
        // under the Landlock launcher with its broker where the kernel has Landlock (this one)
        if (LANDLOCK) {
          match(text, /^osprey_sandbox_info\{kind="landlock",abi="\d+".*\} 1$/m);
          match(text, /^osprey_procfs_broker_up\{.*\} 1$/m);
        } else match(text, /^osprey_sandbox_info\{kind="none",abi="".*\} 1$/m);
      } finally {
        child.kill("SIGTERM");
        const status = await child.status;
        const stderr = new TextDecoder().decode(await new Response(child.stderr).arrayBuffer());
        equal(status.code, 0, stderr);
      }
    } finally {
      await Deno.remove(work, { recursive: true });
    }
  },
});
