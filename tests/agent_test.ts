/**
 * End-to-end tests of the agent process: flags, permissions, fixture mode, and (as root) the
 * BPF lifecycle — programs attached while running, none left after SIGTERM or SIGKILL.
 */
import { deepEqual, equal, match, ok } from "node:assert/strict";
import { isRoot, REPO_ROOT, scrape, startAgent } from "./helpers/agent_process.ts";
// The strict OpenMetrics 1.0 line checker lives with the encoder; tests may reach inside.
import { checkOpenMetrics } from "../agent/metrics/_openmetrics_check.ts";

async function promtoolCheck(text: string): Promise<{ code: number; out: string }> {
  const child = new Deno.Command("promtool", {
    args: ["check", "metrics"],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const w = child.stdin.getWriter();
  await w.write(new TextEncoder().encode(text));
  await w.close();
  const r = await child.output();
  const d = new TextDecoder();
  return { code: r.code, out: d.decode(r.stdout) + d.decode(r.stderr) };
}

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
  match(help.stdout, /--listen <string>\n\s+.*\[env LISTEN; default 0\.0\.0\.0:80[;\]]/);
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
    args: ["--host-root=tests/fixtures/host", "--min-container-age=0", "--collect-interval=500ms"],
    env: { DENO_DIR: denoDir },
    asUser: isRoot() ? 65534 : undefined,
  });
  try {
    await agent.waitReady();
    const text = await scrape(agent.url);
    match(text, /^node_agent_info\{.*version="\d+\.\d+\.\d+".*\} 1$/m);
    match(text, /^osprey_module_state\{.*module="process_events",state="off".*\} 1$/m);
    match(agent.stderr(), /process_events\s+off\s+host paths point at a fixture tree/);
    // Run with the shipped V8 flags (--expose-gc): the self module's collection a minute is on.
    match(text, /^osprey_collector_success\{collector="gc".*\} 1$/m);
    // The fixture's Podman container (tests/fixtures/compose_host_container.sh): found through
    // its cgroup, named from Podman's files, its CPU counter read from its recorded cgroup.
    const usage = Number(
      await Deno.readTextFile(
        `${REPO_ROOT}/tests/fixtures/host/sys/fs/cgroup/cpuacct/libpod_parent/` +
          "libpod-4d4d3c9f5f540e4f6fcd1af6173d62013ccf2653661cbe5c5976927a951086fa/cpuacct.usage",
      ),
    );
    let series = "";
    for (let i = 0; i < 50 && !series; i++) {
      series = (await scrape(agent.url)).split("\n").find((l) =>
        l.startsWith(
          'container_resources_cpu_usage_seconds_total{container_id="/podman/osprey-meta-test"',
        )
      ) ?? "";
      if (!series) {
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    equal(Number(series.slice(series.lastIndexOf(" ") + 1)), usage / 1e9, series);
    // The container's recorded network state (tests/fixtures/net/podman): its two listens on
    // "::" reported at its namespace's non-loopback address, its connection to 10.88.0.1:5432
    // active; no BPF here, so from /proc only.
    const net = (await scrape(agent.url)).split("\n").filter((l) =>
      l.startsWith("container_net_tcp_listen_info{") ||
      l.startsWith("container_net_tcp_active_connections{")
    ).map((l) => l.replace(/,machine_id="[^"]*",system_uuid="[^"]*"/, "")).sort();
    equal(
      net.join("\n"),
      [
        'container_net_tcp_active_connections{container_id="/podman/osprey-meta-test",app_id="",' +
        'destination="10.88.0.1:5432",actual_destination="10.88.0.1:5432"} 1',
        'container_net_tcp_listen_info{container_id="/podman/osprey-meta-test",app_id="",' +
        'listen_addr="10.88.0.41:8080",proxy=""} 1',
        'container_net_tcp_listen_info{container_id="/podman/osprey-meta-test",app_id="",' +
        'listen_addr="10.88.0.41:9090",proxy=""} 1',
      ].join("\n"),
    );
    // The whole exposition passes promtool's parser and linter...
    const check = await promtoolCheck(text);
    equal(check.code, 0, check.out);
    // ...and the OpenMetrics rendering is valid line by line and ends with # EOF.
    const om = await scrape(agent.url, "application/openmetrics-text; version=1.0.0");
    ok(om.endsWith("# EOF\n"));
    equal(checkOpenMetrics(om).join("\n"), "");
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
    match(
      agent.stderr(),
      /process_events\s+off\s+not granted: ffi \S+libosprey\.so\s+--allow-ffi=\S+/,
    );
  } finally {
    const { status } = await agent.stop();
    equal(status.code, 0);
  }
});

Deno.test({
  name: "the agent permission set refuses reads outside the host paths it names",
  ignore: !isRoot(),
}, async () => {
  const view = await new Deno.Command("sh", { args: ["agent/host_view.sh"], cwd: REPO_ROOT })
    .output();
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
}

/**
 * Ids of the BPF programs a process holds, from the `prog_id:` lines of its fds' fdinfo
 * (program and link fds both name their program). Debian's bpftool is built without the
 * `pids` column, so ownership is read from /proc instead.
 */
async function programIdsHeldBy(pid: number): Promise<Set<number>> {
  const ids = new Set<number>();
  for await (const fd of Deno.readDir(`/proc/${pid}/fdinfo`)) {
    try {
      const info = await Deno.readTextFile(`/proc/${pid}/fdinfo/${fd.name}`);
      const m = /^prog_id:\s+(\d+)$/m.exec(info);
      if (m) ids.add(Number(m[1]));
    } catch { /* the fd closed meanwhile */ }
  }
  return ids;
}

async function ospreyPrograms(): Promise<BpfProg[]> {
  const r = await new Deno.Command("bpftool", { args: ["-j", "prog", "show"] }).output();
  if (!r.success) {
    throw new Error(`bpftool prog show failed: ${new TextDecoder().decode(r.stderr)}`);
  }
  const all = JSON.parse(new TextDecoder().decode(r.stdout)) as BpfProg[];
  return all.filter((p) => p.name?.startsWith("osp_"));
}

/**
 * Waits until none of `ids` is loaded any more; returns those still loaded at the deadline.
 * By id, not by count: other tests' agents may load and unload programs meanwhile.
 */
async function waitProgramsGone(ids: ReadonlySet<number>, timeoutMs: number): Promise<number[]> {
  const deadline = Date.now() + timeoutMs;
  const loaded = async () => (await ospreyPrograms()).map((p) => p.id).filter((id) => ids.has(id));
  let left = await loaded();
  while (left.length > 0 && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 100));
    left = await loaded();
  }
  return left;
}

Deno.test({
  name: "agent without the bpf syscall (as nobody) says why process events are off and serves",
  ignore: !isRoot() || !haveLib,
  async fn() {
    const denoDir = await Deno.makeTempDir();
    await Deno.chmod(denoDir, 0o777);
    const agent = startAgent({
      permissions: ["-P=agent"],
      env: { DENO_DIR: denoDir },
      asUser: 65534,
    });
    try {
      await agent.waitReady();
      const text = await scrape(agent.url);
      match(text, /^osprey_module_state\{.*module="process_events",state="failed".*\} 1$/m);
      match(text, /^node_resources_cpu_usage_seconds_total\{mode="user".*\} \d/m);
      // One clear line naming the missing capability, not a stack trace.
      match(agent.stderr(), /process_events\s+failed\s+.*bpf syscall not permitted \(EPERM\)/);
      ok(!/^\s+at /m.test(agent.stderr()), agent.stderr());
    } finally {
      await agent.stop();
      await Deno.remove(denoDir, { recursive: true });
    }
  },
});

for (const signal of ["SIGTERM", "SIGINT", "SIGKILL"] as const) {
  Deno.test({
    name: `agent attaches its BPF programs and leaves none behind after ${signal}`,
    ignore: !isRoot() || !haveLib,
    async fn() {
      const agent = startAgent({ permissions: ["-P=agent"] });
      let mine: BpfProg[] = [];
      try {
        await agent.waitReady();
        const held = await programIdsHeldBy(agent.child.pid);
        mine = (await ospreyPrograms()).filter((p) => held.has(p.id));
        ok(mine.length >= 4, `expected ≥4 osp_* programs owned by the agent, got ${mine.length}`);
        const text = await scrape(agent.url);
        match(text, /^osprey_module_state\{.*module="process_events",state="on".*\} 1$/m);
      } finally {
        const { status, ms } = await agent.stop(signal);
        if (signal !== "SIGKILL") {
          equal(status.code, 0, agent.stderr());
          ok(ms < 5000, `graceful stop took ${ms} ms`);
        }
      }
      const left = await waitProgramsGone(new Set(mine.map((p) => p.id)), 3000);
      deepEqual(left, [], "the agent's osp_* programs are still loaded after it exited");
    },
  });
}
