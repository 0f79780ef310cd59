/**
 * The agent and its file descriptors, end to end (issue 7, item 7): the real agent as a child
 * process, flooded over loopback with connections that send half a request line, run under a
 * low `RLIMIT_NOFILE` (`prlimit`), and watched while short-lived containers (cgroups with a
 * process, which the registry treats as systemd services) come and go. Descriptors are counted
 * in `/proc/<agent pid>/fd`.
 */
import { equal, match, ok } from "node:assert/strict";
import { isRoot, startAgent } from "./helpers/agent_process.ts";
import type { AgentProcess } from "./helpers/agent_process.ts";
import { ensureHostView, startContainerAgent } from "./containers/agent.ts";
import { cgroupMounts, mapLimit } from "./containers/podman.ts";
import { Scrape, scrapeParsed, sleep, waitFor } from "./containers/metrics.ts";

const FIXTURE = ["-P=fixture"];
const FIXTURE_ARGS = ["--host-root=tests/fixtures/host"];
// Root: the host view and cgroups. As another user these show as ignored.
const ROOT_ONLY = !isRoot();

/** Opens `n` connections that each send half a request line and then wait. */
async function halfRequests(port: number, n: number): Promise<Deno.TcpConn[]> {
  const half = new TextEncoder().encode("GET /metr");
  const conns: Deno.TcpConn[] = [];
  for (let i = 0; i < n; i++) {
    const c = await Deno.connect({ hostname: "127.0.0.1", port });
    await c.write(half);
    conns.push(c);
  }
  return conns;
}

/** Resolves true once the server closed `c` (EOF or reset), never reading a response. */
async function closedByServer(c: Deno.Conn): Promise<boolean> {
  const buf = new Uint8Array(1024);
  try {
    return (await c.read(buf)) === null;
  } catch (e) {
    return e instanceof Deno.errors.ConnectionReset;
  }
}

function openFds(pid: number): number {
  return [...Deno.readDirSync(`/proc/${pid}/fd`)].length;
}

/** Descriptors of `pid` whose target path contains `needle`. */
function fdsTo(pid: number, needle: string): number {
  let n = 0;
  for (const e of Deno.readDirSync(`/proc/${pid}/fd`)) {
    try {
      if (Deno.readLinkSync(`/proc/${pid}/fd/${e.name}`).includes(needle)) n++;
    } catch { /* closed meanwhile */ }
  }
  return n;
}

function exited(agent: AgentProcess): Promise<boolean> {
  return Promise.race([agent.child.status.then(() => true), sleep(0).then(() => false)]);
}

function httpClosed(s: Scrape, reason: string): number {
  return s.value("osprey_http_connections_closed_total", { reason }) ?? 0;
}

Deno.test("half request lines are closed after the header timeout and do not stop a scrape", async () => {
  const agent = startAgent({
    permissions: FIXTURE,
    // long enough that a loaded machine opens the 100 and scrapes before the first is closed
    args: [...FIXTURE_ARGS, "--http-header-timeout=5s"],
  });
  try {
    await agent.waitReady();
    const slow = await halfRequests(agent.port, 100);
    // the scrape is served while the slow ones are open (once the server has accepted them all)
    const s = await waitFor("the 100 slow connections open beside a scrape", async () => {
      const s = await scrapeParsed(agent.url);
      return s.value("osprey_http_connections_open")! >= 101 ? s : undefined;
    }, { timeoutMs: 4000 });
    ok(s.value("node_agent_info", { version: "0.1.0" }) === 1);
    const closed = await Promise.all(slow.map(closedByServer));
    equal(closed.filter(Boolean).length, 100);
    for (const c of slow) c.close();
    const after = await scrapeParsed(agent.url);
    ok(httpClosed(after, "header_timeout") >= 100, after.linesOf(""));
    equal(httpClosed(after, "evicted"), 0);
  } finally {
    await agent.stop();
  }
});

Deno.test("out of descriptors, the agent counts accept errors, stays up and serves again once they free up", async () => {
  // An explicit cap above what 128 descriptors allow, so connections exhaust them.
  const agent = startAgent({
    permissions: FIXTURE,
    args: [...FIXTURE_ARGS, "--http-max-connections=1000", "--http-header-timeout=2m"],
    wrap: ["prlimit", "--nofile=128:128", "--"],
  });
  const flood: Deno.TcpConn[] = [];
  try {
    await agent.waitReady();
    flood.push(...await halfRequests(agent.port, 200));
    await waitFor("the agent to log a failed accept", () =>
      Promise.resolve(
        agent.stderr().includes('msg="cannot accept connections; retrying" reason=emfile')
          ? true
          : undefined,
      ), { describe: agent.stderr });
    const taken = openFds(agent.child.pid);
    ok(taken >= 120, `${taken} of 128 descriptors taken`);
    equal(await exited(agent), false);
    for (const c of flood.splice(0)) c.close();
    const s = await waitFor("a scrape once descriptors are free", async () => {
      const s = await scrapeParsed(agent.url);
      return s;
    }, { describe: agent.stderr });
    ok(s.value("osprey_http_accept_errors_total", { reason: "emfile" })! > 0, s.linesOf(""));
    await waitFor("the agent to log that it accepts again", () =>
      Promise.resolve(
        /msg="accepting connections again" failed_accepts=\d+/.test(agent.stderr())
          ? true
          : undefined,
      ), { describe: agent.stderr });
    equal(await exited(agent), false);
    // and it keeps serving
    const again = await fetch(`${agent.url}/healthz`);
    equal(await again.text(), "ok\n");
  } finally {
    for (const c of flood) c.close();
    await agent.stop();
  }
});

Deno.test({
  name:
    "under a low descriptor limit the default connection cap evicts slow clients instead of running out",
  ignore: ROOT_ONLY,
  async fn() {
    await ensureHostView();
    const agent = startAgent({
      permissions: ["-P=agent"],
      args: ["--disable-bpf", "--http-header-timeout=2m"],
      wrap: ["prlimit", "--nofile=256:256", "--"],
    });
    try {
      await agent.waitReady();
      // (256 - 64) / 4 connections
      match(
        agent.stderr(),
        /msg="file descriptors" soft_limit=256 hard_limit=256 .*http_max_connections=48/,
      );
      const flood = await halfRequests(agent.port, 300);
      const s = await scrapeParsed(agent.url);
      equal(s.value("process_max_fds"), 256);
      ok(s.value("osprey_http_connections_open")! <= 48);
      ok(httpClosed(s, "evicted") >= 300 - 48, s.linesOf(""));
      equal(s.value("osprey_http_accept_errors_total", { reason: "emfile" }), 0);
      const open = openFds(agent.child.pid);
      ok(open < 250, `${open} of 256 descriptors open`);
      for (const c of flood) c.close();
    } finally {
      await agent.stop();
    }
  },
});

Deno.test({
  name: "the agent runs with its soft descriptor limit raised to the hard one and reports it",
  ignore: ROOT_ONLY,
  async fn() {
    await ensureHostView();
    const agent = startAgent({
      permissions: ["-P=agent"],
      args: ["--disable-bpf"],
      wrap: ["prlimit", "--nofile=256:4096", "--"],
    });
    try {
      await agent.waitReady();
      const limits = Deno.readTextFileSync(`/proc/${agent.child.pid}/limits`);
      match(limits, /^Max open files\s+4096\s+4096\s+files/m);
      match(agent.stderr(), /msg="file descriptors" soft_limit=4096 hard_limit=4096 open=\d+/);
      const s = await scrapeParsed(agent.url);
      equal(s.value("process_max_fds"), 4096);
      const open = s.value("process_open_fds")!;
      ok(open > 5 && open < 4096, String(open));
    } finally {
      await agent.stop();
    }
  },
});

/** A cgroup in every hierarchy (v1 controllers and v2) under system.slice, removed after. */
class FakeService {
  readonly dirs: string[];
  constructor(readonly unit: string) {
    // not cpuset: a new v1 cpuset cgroup takes no process before its cpus and mems are set
    const mounts = new Set(
      [...cgroupMounts()].filter(([controller]) => controller !== "cpuset").map(([, m]) => m),
    );
    this.dirs = [...mounts].map((m) => `${m}/system.slice/${unit}`);
  }
  /** Runs `sleep seconds` inside the cgroups and waits for it to exit. */
  async run(seconds: number): Promise<void> {
    for (const d of this.dirs) Deno.mkdirSync(d, { recursive: true });
    const join = this.dirs.map((d) => `echo $$ > ${d}/cgroup.procs`).join(" && ");
    const r = await new Deno.Command("sh", {
      args: ["-c", `${join} && exec sleep ${seconds}`],
      stdout: "null",
      stderr: "piped",
    }).output();
    if (!r.success) throw new Error(new TextDecoder().decode(r.stderr));
  }
  remove(): void {
    for (const d of this.dirs) {
      try {
        Deno.removeSync(d);
      } catch { /* already gone */ }
    }
  }
}

Deno.test({
  name: "70 short-lived containers in a row leave no descriptor open on their cgroups",
  ignore: ROOT_ONLY,
  async fn() {
    const agent = await startContainerAgent({ gcGrace: "10m" });
    // Only descriptors on these services' cgroups are counted: other containers on the machine
    // (other tests' Podman containers) come and go meanwhile with their own.
    const prefix = `/system.slice/osprey-fd-${Deno.pid}-`;
    const services = Array.from(
      { length: 70 },
      (_, i) => new FakeService(`osprey-fd-${Deno.pid}-${i}.service`),
    );
    try {
      const pid = agent.child.pid;
      let peak = 0;
      let seen = 0;
      const sampler = setInterval(() => peak = Math.max(peak, fdsTo(pid, prefix)), 100);
      try {
        // 7 at a time, each living long enough for resource rounds (500 ms) to open its files
        await mapLimit(services, 7, async (svc) => {
          await svc.run(1.5);
          svc.remove();
        });
        // every one was a container the agent saw
        const s = await scrapeParsed(agent.url);
        seen = services.filter((svc) =>
          s.value("container_restarts_total", { container_id: `/system.slice/${svc.unit}` }) !==
            undefined
        ).length;
      } finally {
        clearInterval(sampler);
      }
      ok(seen >= 60, `the agent saw ${seen} of 70 containers`);
      ok(peak >= 20, `files were kept open while they ran: at most ${peak} at once`);
      // the last ones died at most a rescan ago
      await sleep(1500);
      const left = fdsTo(pid, prefix);
      equal(
        left,
        0,
        `${left} descriptors left on dead containers' cgroups (peak ${peak}); they must be ` +
          "closed at death, not after the GC grace",
      );
    } finally {
      for (const svc of services) svc.remove();
      await agent.stop();
    }
  },
});
