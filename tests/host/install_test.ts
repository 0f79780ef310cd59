/**
 * The host install (tools/host/install.sh, tools/host/osprey.service): the files land where the
 * unit expects them, `systemd-analyze verify` accepts the unit, and the unit's ExecStart, run
 * under the unit's limits (tests/host/unit_sandbox.ts says which are reproduced), serves with
 * its BPF programs attached and stops cleanly on SIGTERM. PID 1 is not systemd here.
 */
import { equal, match, ok } from "node:assert/strict";
import { freePort, isRoot, REPO_ROOT, scrape } from "../helpers/agent_process.ts";
import { parseService, unitCommand } from "./unit_sandbox.ts";

const UNIT = `${REPO_ROOT}/tools/host/osprey.service`;
const have = (cmd: string) => {
  try {
    return new Deno.Command(cmd, { args: ["--version"], stdout: "null", stderr: "null" })
      .outputSync().success;
  } catch {
    return false;
  }
};
const haveLib = (() => {
  try {
    return Deno.statSync(`${REPO_ROOT}/ffi/.output/libosprey.so`).isFile;
  } catch {
    return false;
  }
})();
const ignore = !isRoot() || !haveLib || !have("systemd-analyze") || !have("setpriv");
const dec = new TextDecoder();

/** Install into a staging root under dist/ (the unit's PrivateTmp hides /tmp). */
async function stage(): Promise<string> {
  await Deno.mkdir(`${REPO_ROOT}/dist`, { recursive: true });
  const root = await Deno.makeTempDir({ dir: `${REPO_ROOT}/dist`, prefix: "host-install-" });
  const r = await new Deno.Command("sh", {
    args: ["tools/host/install.sh", `--root=${root}`],
    cwd: REPO_ROOT,
    stdout: "piped",
    stderr: "piped",
  }).output();
  equal(r.code, 0, dec.decode(r.stderr));
  return root;
}

// The steps share one staged install (packaging takes a few seconds).
Deno.test({
  name: "host install: files in place, unit verified, ExecStart under the unit's limits",
  ignore,
  async fn(t) {
    const root = await stage();
    try {
      const unit = parseService(await Deno.readTextFile(UNIT));

      await t.step("install.sh puts the binary, the unit and an env file in place", async () => {
        const bin = await Deno.stat(`${root}/usr/local/bin/osprey`);
        equal(bin.mode! & 0o777, 0o755);
        equal(
          await Deno.readTextFile(`${root}/etc/systemd/system/osprey.service`),
          await Deno.readTextFile(UNIT),
        );
        ok((await Deno.stat(`${root}/etc/osprey/osprey.env`)).isFile);
      });

      await t.step("systemd-analyze verify accepts the unit", async () => {
        // verify checks that ExecStart exists: point it at the staged binary.
        const dir = await Deno.makeTempDir({ prefix: "osprey-unit-" });
        try {
          const text = (await Deno.readTextFile(UNIT)).replace(
            /^ExecStart=\/usr\/local\/bin\/osprey/m,
            `ExecStart=${root}/usr/local/bin/osprey`,
          );
          await Deno.writeTextFile(`${dir}/osprey.service`, text);
          const r = await new Deno.Command("systemd-analyze", {
            args: ["verify", `${dir}/osprey.service`],
            cwd: dir,
            stdout: "piped",
            stderr: "piped",
          }).output();
          const out = dec.decode(r.stdout) + dec.decode(r.stderr);
          equal(r.code, 0, out);
          equal(out.trim(), "", "verify printed warnings");
        } finally {
          await Deno.remove(dir, { recursive: true });
        }
      });

      await t.step("the wrapper enforces the limits it claims", async () => {
        const probe = [
          "sh",
          "-c",
          "grep -E '^(CapBnd|CapEff|NoNewPrivs):' /proc/self/status; " +
          "touch /etc/osprey-probe 2>/dev/null && echo etc=rw || echo etc=ro; " +
          "touch /var/lib/osprey/probe && echo state=rw || echo state=ro; " +
          "touch /tmp/probe && echo tmp=rw; echo $OSPREY_HOME; umask",
        ];
        const r = await new Deno.Command(unitCommand(unit, { root, command: probe })[0], {
          args: unitCommand(unit, { root, command: probe }).slice(1),
          stdout: "piped",
          stderr: "piped",
        }).output();
        const out = dec.decode(r.stdout);
        equal(r.code, 0, dec.decode(r.stderr));
        // CAP_NET_ADMIN 12, NET_RAW 13, SYS_PTRACE 19, SYS_ADMIN 21, SYS_RESOURCE 24,
        // PERFMON 38, BPF 39; a bounding set only shrinks, so: the unit's ∩ ours.
        const ours = BigInt(
          "0x" + (await Deno.readTextFile("/proc/self/status")).match(/^CapBnd:\s+(\w+)$/m)![1],
        );
        const mask = [12, 13, 19, 21, 24, 38, 39].reduce((m, b) => m | (1n << BigInt(b)), 0n) &
          ours;
        const hex = mask.toString(16).padStart(16, "0");
        match(out, new RegExp(`^CapBnd:\\s+${hex}$`, "m"));
        match(out, new RegExp(`^CapEff:\\s+${hex}$`, "m"));
        match(out, /^NoNewPrivs:\s+1$/m);
        match(out, /^etc=ro$/m);
        match(out, /^state=rw$/m);
        match(out, /^tmp=rw$/m);
        match(out, /^\/var\/lib\/osprey$/m);
        match(out, /^0077$/m);
        // The host's files stay untouched: the probe wrote to tmpfs mounts in its own namespace.
        await Deno.stat("/etc/osprey-probe").then(
          () => ok(false, "/etc/osprey-probe was created on the host"),
          (e) => ok(e instanceof Deno.errors.NotFound),
        );
      });

      await t.step("ExecStart serves with BPF on and stops cleanly on SIGTERM", async () => {
        const port = freePort();
        await Deno.writeTextFile(
          `${root}/etc/osprey/osprey.env`,
          `# test\nLISTEN=127.0.0.1:${port}\nDISABLE_PINGER=true\n`,
        );
        const argv = unitCommand(unit, { root });
        const child = new Deno.Command(argv[0], {
          args: argv.slice(1),
          stdout: "null",
          stderr: "piped",
        }).spawn();
        let text = "";
        try {
          for (let i = 0; i < 300 && !text; i++) {
            await new Promise((r) => setTimeout(r, 100));
            try {
              const r = await fetch(`http://127.0.0.1:${port}/readyz`);
              await r.body?.cancel();
              if (r.status === 200) text = await scrape(`http://127.0.0.1:${port}`);
            } catch { /* not listening yet */ }
          }
          match(text, /^osprey_module_state\{.*module="process_events",state="on".*\} 1$/m);
          match(text, /^osprey_module_state\{.*module="node",state="on".*\} 1$/m);
          match(text, /^osprey_module_state\{.*module="containers",state="on".*\} 1$/m);
          match(text, /^osprey_bpf_program_attached\{program="osp_exec_btf",.*\} 1$/m);
        } finally {
          child.kill("SIGTERM");
          const status = await child.status;
          const stderr = dec.decode(await new Response(child.stderr).arrayBuffer());
          equal(status.code, 0, stderr.slice(-4000));
        }
      });
    } finally {
      await Deno.remove(root, { recursive: true });
    }
  },
});
