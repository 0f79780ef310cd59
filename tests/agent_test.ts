/**
 * End-to-end tests of the agent process: flags, permissions, fixture mode, and (as root) the
 * BPF lifecycle — programs attached while running, none left after SIGTERM or SIGKILL.
 */
import { equal, match, ok } from "node:assert/strict";
import { isRoot, REPO_ROOT, scrape, startAgent } from "./helpers/agent_process.ts";

const LIB = `${REPO_ROOT}/ffi/.output/libosprey.so`;
const haveLib = (() => {
  try {
    return Deno.statSync(LIB).isFile;
  } catch {
    return false;
  }
})();

async function run(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const r = await new Deno.Command(Deno.execPath(), {
    args,
    cwd: REPO_ROOT,
    env: { NO_COLOR: "1", RUST_BACKTRACE: "0" },
    stdin: "null",
  }).output();
  const d = new TextDecoder();
  return { code: r.code, stdout: d.decode(r.stdout), stderr: d.decode(r.stderr) };
}

Deno.test("agent --help lists every flag with its environment twin; --version prints it", async () => {
  const help = await run(["run", "-P=agent", "agent/main.ts", "--help"]);
  equal(help.code, 0, help.stderr);
  match(help.stdout, /--listen <string>\n\s+.*\[env LISTEN; default 0\.0\.0\.0:80\]/);
  match(help.stdout, /--cgroupfs-root/);
  const version = await run(["run", "-P=agent", "agent/main.ts", "--version"]);
  equal(version.code, 0);
  match(version.stdout, /^osprey \d+\.\d+\.\d+/);
  const bad = await run(["run", "-P=agent", "agent/main.ts", "--no-such-flag"]);
  equal(bad.code, 2);
  match(bad.stderr, /Unknown flag "--no-such-flag"/);
});

Deno.test("agent reads its flags from environment twins", async () => {
  const agent = startAgent({
    permissions: ["-P=fixture"],
    args: ["--host-root=tests/fixtures/host"],
    env: { LOG_FORMAT: "json" },
  });
  try {
    await agent.waitReady();
    match(agent.stderr(), /"msg":"listening"/);
  } finally {
    await agent.stop();
  }
});

Deno.test("agent on a fixture host runs without root and without BPF", async () => {
  // Run as nobody to prove no privilege is needed; DENO_DIR must be writable by nobody.
  const denoDir = await Deno.makeTempDir();
  await Deno.chmod(denoDir, 0o777);
  const agent = startAgent({
    permissions: ["-P=fixture"],
    args: ["--host-root=tests/fixtures/host"],
    env: { DENO_DIR: denoDir },
    asUser: isRoot() ? 65534 : undefined,
  });
  try {
    await agent.waitReady();
    const text = await scrape(agent.url);
    match(text, /^node_agent_info\{.*version="\d+\.\d+\.\d+".*\} 1$/m);
    match(text, /^osprey_module_state\{.*module="process_events",state="off".*\} 1$/m);
    match(agent.stderr(), /process_events\s+off\s+host paths point at a fixture tree/);
    const health = await fetch(`${agent.url}/healthz`);
    equal(health.status, 200);
    await health.body?.cancel();
  } finally {
    await agent.stop();
    await Deno.remove(denoDir, { recursive: true });
  }
});

Deno.test("agent without --allow-ffi turns the BPF modules off and still serves", async () => {
  const agent = startAgent({
    permissions: ["--allow-read=/run/osprey/host,/etc", "--allow-net=127.0.0.1", "--allow-env"],
  });
  try {
    await agent.waitReady();
    const text = await scrape(agent.url);
    match(text, /^osprey_module_state\{.*module="process_events",state="off".*\} 1$/m);
    match(agent.stderr(), /process_events\s+off\s+not granted: ffi \S+libosprey\.so\s+--allow-ffi=\S+/);
  } finally {
    const { status } = await agent.stop();
    equal(status.code, 0);
  }
});

Deno.test({
  name: "the agent permission set refuses reads outside the host paths it names",
  ignore: !isRoot(),
}, async () => {
  const view = await new Deno.Command("sh", { args: ["agent/host_view.sh"], cwd: REPO_ROOT }).output();
  equal(view.code, 0);
  const r = await run([
    "run",
    "-P=agent",
    "tests/helpers/read_probe.ts",
    "/run/osprey/host/proc/stat",
    "/proc/stat",
    "/etc/shadow",
    `${REPO_ROOT}/deno.json`,
  ]);
  equal(r.code, 0, r.stderr);
  // Deno grants /proc itself only with --allow-all; the host view is how the agent reads it.
  match(r.stdout, /^\/run\/osprey\/host\/proc\/stat ok$/m);
  match(r.stdout, /^\/proc\/stat NotCapable$/m);
  match(r.stdout, /^\/etc\/shadow NotCapable$/m);
  match(r.stdout, /deno\.json NotCapable$/m);
});

interface BpfProg {
  id: number;
  name?: string;
  pids?: { pid: number; comm: string }[];
}

async function ospreyPrograms(): Promise<BpfProg[]> {
  const r = await new Deno.Command("bpftool", { args: ["-j", "prog", "show"] }).output();
  if (!r.success) throw new Error(`bpftool prog show failed: ${new TextDecoder().decode(r.stderr)}`);
  const all = JSON.parse(new TextDecoder().decode(r.stdout)) as BpfProg[];
  return all.filter((p) => p.name?.startsWith("osp_"));
}

async function waitPrograms(pred: (n: number) => boolean, timeoutMs: number): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  let n = (await ospreyPrograms()).length;
  while (!pred(n) && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 100));
    n = (await ospreyPrograms()).length;
  }
  return n;
}

for (const signal of ["SIGTERM", "SIGKILL"] as const) {
  Deno.test({
    name: `agent attaches its BPF programs and leaves none behind after ${signal}`,
    ignore: !isRoot() || !haveLib,
    async fn() {
      const baseline = (await ospreyPrograms()).length;
      const agent = startAgent({ permissions: ["-P=agent"] });
      try {
        await agent.waitReady();
        const mine = (await ospreyPrograms()).filter((p) =>
          p.pids?.some((x) => x.pid === agent.child.pid)
        );
        ok(mine.length >= 4, `expected ≥4 osp_* programs owned by the agent, got ${mine.length}`);
        const text = await scrape(agent.url);
        match(text, /^osprey_module_state\{.*module="process_events",state="on".*\} 1$/m);
      } finally {
        const { status, ms } = await agent.stop(signal);
        if (signal === "SIGTERM") {
          equal(status.code, 0, agent.stderr());
          ok(ms < 5000, `graceful stop took ${ms} ms`);
        }
      }
      const left = await waitPrograms((n) => n <= baseline, 3000);
      equal(left, baseline, "osp_* programs are still loaded after the agent exited");
    },
  });
}
