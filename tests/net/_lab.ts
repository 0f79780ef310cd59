/**
 * The network module's end-to-end lab (tests/net/): "containers" that are a systemd-style cgroup
 * (`/system.slice/osprey-net-<label>-<pid>-<n>.service`, made in every hierarchy) bound to one
 * network namespace, whose processes all join both; `netprobe` (netprobe.c, built here with
 * `gcc -static`) as the client and server inside them, each writing one JSON object a line;
 * the real agent as a child process (`-P=agent`, `--min-container-age=0`, a 500 ms round); and
 * readers of its `container_net_*` series.
 *
 * Every address a test uses lives in namespaces the test made (`tests/helpers/netns.ts`: the
 * pair `osprey-<label>-<pid>-<n>-{a,b}` with 10.201.0.0/24 and fd00:201::/64 on one veth), and
 * every process of a container lives in its namespace, so the agent's pinger (which pings from
 * the namespace of any process of the container) never sends anything out of the machine.
 *
 * Needs root, iproute2, nsenter (util-linux), gcc with a static libc (libc6-dev) and the built
 * libosprey (`deno task build`). Run: `deno test -A tests/net/`.
 *
 * @module
 */
import { defaultLibraryPath } from "../../ffi/mod.ts";
import { type AgentProcess, startAgent } from "../helpers/agent_process.ts";
import {
  AGENT_PERMISSIONS,
  containerAgentArgs,
  ensureHostView,
  withStderr,
} from "../containers/agent.ts";
import { TestCgroup } from "../containers/cgroups.ts";
import { type Scrape, scrapeParsed, sleep, waitFor } from "../containers/metrics.ts";

export { type Scrape, scrapeParsed, sleep, waitFor };

const HERE = new URL(".", import.meta.url).pathname.replace(/\/$/, "");
const SOURCE = `${HERE}/netprobe.c`;
/** Where the built netprobe goes (git-ignored). */
export const OUTPUT_DIR = `${HERE}/.output`;
/** The agent's background round in these tests. */
export const INTERVAL_MS = 500;

const decoder = new TextDecoder();

function hasCommand(cmd: string, arg = "--version"): boolean {
  try {
    return new Deno.Command(cmd, { args: [arg], stdout: "null", stderr: "null" }).outputSync()
      .success;
  } catch {
    return false;
  }
}

/** Why the lab cannot run here ("" when it can). */
export function netLabIgnoreReason(): string {
  if (Deno.build.os !== "linux") return "not Linux";
  if (Deno.uid() !== 0) {
    return "not root (BPF, network namespaces and cgroups need root)";
  }
  const lib = defaultLibraryPath();
  try {
    if (!lib || !Deno.statSync(lib).isFile) throw new Error();
  } catch {
    return "libosprey not built (run: deno task build)";
  }
  if (!hasCommand("ip", "-V")) return "iproute2 missing (apt-get install iproute2)";
  if (!hasCommand("nsenter")) return "nsenter missing (apt-get install util-linux)";
  if (!hasCommand("gcc")) return "gcc missing (apt-get install gcc libc6-dev)";
  return "";
}

/** Runs a command; throws with its stderr on failure; returns trimmed stdout. */
export async function run(cmd: string, ...args: string[]): Promise<string> {
  const out = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).output();
  if (!out.success) {
    throw new Error(
      `${cmd} ${args.join(" ")} exited ${out.code}: ${decoder.decode(out.stderr).trim()}`,
    );
  }
  return decoder.decode(out.stdout).trim();
}

/** Runs a command inside a network namespace (by `ip netns` name). */
export function inNetns(netns: string, cmd: string, ...args: string[]): Promise<string> {
  return run("nsenter", `--net=/run/netns/${netns}`, cmd, ...args);
}

let built: Promise<string> | undefined;

/**
 * Builds `netprobe` (static, so it also runs in the busybox Podman image) unless the binary is
 * newer than its source; returns its absolute path.
 */
export function buildNetprobe(): Promise<string> {
  built ??= (async () => {
    const bin = `${OUTPUT_DIR}/netprobe`;
    try {
      if (Deno.statSync(bin).mtime! >= Deno.statSync(SOURCE).mtime!) return bin;
    } catch { /* not built yet */ }
    await Deno.mkdir(OUTPUT_DIR, { recursive: true });
    const tmp = `${bin}.tmp-${Deno.pid}`;
    try {
      await run(
        "gcc",
        "-static",
        "-O2",
        "-Wall",
        "-Wextra",
        "-Werror",
        "-pthread",
        "-o",
        tmp,
        SOURCE,
      );
    } catch (e) {
      throw new Error(
        `building tests/net/netprobe.c needs gcc and a static libc (libc6-dev)`,
        { cause: e },
      );
    }
    await Deno.rename(tmp, bin);
    return bin;
  })();
  built.catch(() => built = undefined);
  return built;
}

/** A process the lab started: its JSON lines, its stdin, its end. */
export class Proc {
  readonly child: Deno.ChildProcess;
  readonly what: string;
  readonly #lines: unknown[] = [];
  readonly #waiters: (() => void)[] = [];
  #stderr = "";
  #ended = false;
  readonly #writer: WritableStreamDefaultWriter<Uint8Array>;
  readonly #done: Promise<void>;

  constructor(child: Deno.ChildProcess, what: string) {
    this.child = child;
    this.what = what;
    this.#writer = child.stdin.getWriter();
    const wake = () => this.#waiters.splice(0).forEach((w) => w());
    const reading = (async () => {
      let buf = "";
      for await (const chunk of child.stdout) {
        buf += decoder.decode(chunk, { stream: true });
        let nl;
        while ((nl = buf.indexOf("\n")) >= 0) {
          const line = buf.slice(0, nl);
          buf = buf.slice(nl + 1);
          try {
            this.#lines.push(JSON.parse(line));
          } catch {
            this.#stderr += `(stdout, not JSON) ${line}\n`;
          }
          wake();
        }
      }
    })();
    const errors = (async () => {
      for await (const chunk of child.stderr) this.#stderr += decoder.decode(chunk);
    })();
    this.#done = Promise.all([reading, errors, child.status]).then(() => {
      this.#ended = true;
      wake();
    });
  }

  get pid(): number {
    return this.child.pid;
  }

  /** The next JSON line (waits up to `timeoutMs`); throws if the process ends first. */
  async line<T = Record<string, unknown>>(timeoutMs = 15_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    while (this.#lines.length === 0) {
      if (this.#ended) {
        throw new Error(`${this.what} ended without another line; stderr: ${this.#stderr}`);
      }
      if (Date.now() > deadline) {
        throw new Error(`${this.what} wrote no line in ${timeoutMs} ms; stderr: ${this.#stderr}`);
      }
      await new Promise<void>((r) => {
        const t = setTimeout(r, Math.max(1, deadline - Date.now()));
        this.#waiters.push(() => {
          clearTimeout(t);
          r();
        });
      });
    }
    const v = this.#lines.shift() as T & { error?: string };
    if (typeof v === "object" && v !== null && "error" in v) {
      throw new Error(`${this.what}: ${v.error}`);
    }
    return v;
  }

  /** Writes a line to its stdin. */
  async send(text: string): Promise<void> {
    await this.#writer.write(new TextEncoder().encode(text + "\n"));
  }

  /** Closes its stdin. */
  async closeStdin(): Promise<void> {
    try {
      await this.#writer.close();
    } catch { /* already closed */ }
  }

  /** Waits for the end; returns the exit code (throws with stderr when `expectCode` differs). */
  async wait(expectCode: number | undefined = 0): Promise<number> {
    const status = await this.child.status;
    await this.#done;
    if (expectCode !== undefined && status.code !== expectCode) {
      throw new Error(`${this.what} exited ${status.code}; stderr: ${this.#stderr}`);
    }
    return status.code;
  }

  /** Runs to the end and returns its last JSON line (exit 0 expected). */
  async result<T = Record<string, unknown>>(): Promise<T> {
    await this.wait();
    let last: T | undefined;
    while (this.#lines.length > 0) last = await this.line<T>();
    if (last === undefined) throw new Error(`${this.what} printed nothing; ${this.#stderr}`);
    return last;
  }

  /** Ends it (SIGKILL unless given) and waits. */
  async kill(signal: Deno.Signal = "SIGKILL"): Promise<void> {
    await this.closeStdin();
    if (!this.#ended) {
      try {
        this.child.kill(signal);
      } catch { /* gone */ }
    }
    await this.child.status;
    await this.#done;
  }
}

let containers = 0;

/**
 * A "container": a systemd-style cgroup (`system.slice/<name>.service` in every hierarchy) and
 * a network namespace; every process it starts joins both, and a keeper process holds it alive
 * (so the agent sees it before any traffic, and pings from that namespace).
 */
export class CgroupContainer {
  /** The contract's container ID: `/system.slice/<name>.service`. */
  readonly id: string;
  readonly netns: string | undefined;
  readonly cgroup: TestCgroup;
  readonly #procs = new Set<Proc>();
  #keeper?: Proc;

  private constructor(cgroup: TestCgroup, netns: string | undefined) {
    this.cgroup = cgroup;
    this.netns = netns;
    this.id = `/${cgroup.format}`;
  }

  /**
   * Makes the cgroup and starts the keeper in it.
   *
   * @param label part of the unit name
   * @param netns the `ip netns` name its processes run in; `undefined` for the agent's own
   */
  static async create(
    label: string,
    netns: string | undefined,
    opts: { keeper?: boolean } = {},
  ): Promise<CgroupContainer> {
    const name = `osprey-net-${label}-${Deno.pid}-${++containers}`;
    const cg = await TestCgroup.create(`system.slice/${name}.service`);
    const c = new CgroupContainer(cg, netns);
    if (opts.keeper ?? true) {
      const keeper = c.#keeper = c.spawn(["sleep", "1000000"], "keeper");
      // in before anything else happens: the agent finds the container by this process
      const v2 = cg.hierarchies.find((h) => h.key === "");
      const procs = v2 === undefined ? undefined : `${v2.base}/${cg.format}/cgroup.procs`;
      await waitFor(`the keeper of ${c.id} in its cgroup`, async () => {
        if (procs === undefined) return true;
        const pids = (await Deno.readTextFile(procs)).split("\n");
        return pids.includes(String(keeper.pid)) ? true : undefined;
      }, { timeoutMs: 5000, everyMs: 10 });
    }
    return c;
  }

  /**
   * Starts `cmd` inside the cgroup and the namespace (the shell joins the cgroup, then execs
   * nsenter, which execs the command: one pid throughout).
   */
  spawn(cmd: string[], what = cmd.join(" "), env?: Record<string, string>): Proc {
    const enter = this.netns === undefined ? "" : `nsenter --net=/run/netns/${this.netns} `;
    const script = `${this.cgroup.joinScript()}\nexec ${enter}"$@"`;
    const child = new Deno.Command("sh", {
      args: ["-c", script, "sh", ...cmd],
      env,
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const p = new Proc(child, `${what} in ${this.id}`);
    this.#procs.add(p);
    return p;
  }

  /** Runs `netprobe <args>` to its end (`env` added to its environment); returns its last line. */
  async probe<T = Record<string, unknown>>(
    args: string[],
    env?: Record<string, string>,
  ): Promise<T> {
    const p = await this.start(args, env);
    return await p.result<T>();
  }

  /** Starts `netprobe <args>` and leaves it running. */
  async start(args: string[], env?: Record<string, string>): Promise<Proc> {
    return this.spawn([await buildNetprobe(), ...args], `netprobe ${args.join(" ")}`, env);
  }

  /** Starts a netprobe server and waits for its `{"listening":port}` line. */
  async server(
    addr: string,
    port: number,
    mode: string[],
    env?: Record<string, string>,
  ): Promise<Proc> {
    const p = await this.start(["server", addr, String(port), ...mode], env);
    await p.line();
    return p;
  }

  /** Ends every process it started and removes the cgroup. */
  async remove(): Promise<void> {
    for (const p of this.#procs) await p.kill().catch(() => {});
    await this.cgroup.remove().catch((e) => console.error(`cannot remove ${this.id}: ${e}`));
  }
}

/** Starts a server process in a namespace without any container (plain host cgroup). */
export async function bareServer(
  netns: string,
  addr: string,
  port: number,
  mode: string[],
): Promise<Proc> {
  const child = new Deno.Command("nsenter", {
    args: [
      `--net=/run/netns/${netns}`,
      await buildNetprobe(),
      "server",
      addr,
      String(port),
      ...mode,
    ],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const p = new Proc(child, `bare server ${addr}:${port} in ${netns}`);
  await p.line();
  return p;
}

/** Options of {@linkcode startNetAgent}. */
export interface NetAgentOptions {
  /** More agent flags. */
  args?: string[];
  /** Wait for /readyz (default true). */
  ready?: boolean;
  /** Deno permission flags added to the agent's (e.g. `--allow-net` for a push receiver). */
  extraPermissions?: string[];
}

/**
 * Starts the agent (`-P=agent` unless OSPREY_TEST_AGENT_PERMISSIONS says otherwise), waits for
 * /readyz and checks that the net module is on.
 */
export async function startNetAgent(o: NetAgentOptions = {}): Promise<AgentProcess> {
  await ensureHostView();
  const agent = startAgent({
    permissions: [...AGENT_PERMISSIONS, ...(o.extraPermissions ?? [])],
    args: containerAgentArgs({ collectInterval: `${INTERVAL_MS}ms`, extraArgs: o.args }),
  });
  try {
    await agent.waitReady();
    const s = await scrapeParsed(agent.url);
    if (s.value("osprey_module_state", { module: "net", state: "on" }) !== 1) {
      throw new Error("the net module is not on");
    }
    if (s.value("osprey_bpf_program_attached", { program: "osp_tcp_state_btf" }) !== 1) {
      throw new Error("osp_tcp_state_btf is not attached");
    }
  } catch (e) {
    await agent.stop();
    throw withStderr(e, agent);
  }
  return agent;
}

/** Runs `fn` with a fresh agent; stops it after and attaches its stderr to a failure. */
export async function withNetAgent(
  o: NetAgentOptions,
  fn: (agent: AgentProcess) => Promise<void>,
): Promise<void> {
  const agent = await startNetAgent(o);
  try {
    await fn(agent);
  } catch (e) {
    throw withStderr(e, agent, 60);
  } finally {
    await agent.stop();
  }
}

/** A step runner whose failures carry the agent's last log lines. */
export type AgentStep = (
  def: string | Deno.TestStepDefinition,
  fn?: (t: Deno.TestContext) => Promise<void>,
) => Promise<boolean>;

/**
 * `t.step` for steps that talk to `agent`: a failing step's error carries the agent's stderr
 * tail (a failed step does not reach the `withNetAgent` around it).
 */
export function agentSteps(t: Deno.TestContext, agent: AgentProcess): AgentStep {
  return (def, fn) => {
    const d: Deno.TestStepDefinition = typeof def === "string" ? { name: def, fn: fn! } : def;
    return t.step({
      ...d,
      fn: async (tt) => {
        try {
          await d.fn(tt);
        } catch (e) {
          throw withStderr(e, agent, 40);
        }
      },
    });
  };
}

/** The `container_net_*` lines of a container, for failure messages. */
export function netLines(s: Scrape, id: string): string {
  const own =
    s.text.split("\n").filter((l) =>
      l.startsWith("container_net_") && l.includes(`container_id="${id}"`)
    ).join("\n") || "(no container_net_* series)";
  // what the module counted instead, to tell a lost connection from a late one
  const self = ["pending_connections", "unattributed_total", "filtered_total"].flatMap((m) =>
    s.find(`osprey_net_${m}`).filter((x) => x.value > 0).map((x) =>
      `osprey_net_${m}${x.labels.reason ? `{${x.labels.reason}}` : ""} ${x.value}`
    )
  );
  const lost = selfValue(s, "osprey_ringbuf_lost_records_total", { ring: "tcp_events" });
  if (lost > 0) self.push(`tcp_events records lost by the kernel (a full ring) ${lost}`);
  return `${own}\n(${self.join(", ") || "no pending, unattributed, filtered or lost"})`;
}

/** A destination's labels (`actual_destination` = `destination` unless given). */
export function dest(destination: string, actual = destination): Record<string, string> {
  return { destination, actual_destination: actual };
}

/**
 * Waits until `metric{container_id=id, ...labels}` equals `want`, then checks that it still
 * does two rounds later (a counter that overshoots late is caught); returns the last scrape.
 */
export async function waitValue(
  url: string,
  id: string,
  metric: string,
  labels: Record<string, string>,
  want: number | undefined,
  timeoutMs = 15_000,
): Promise<Scrape> {
  let last: Scrape | undefined;
  const read = async () => {
    last = await scrapeParsed(url);
    return last.value(metric, { container_id: id, ...labels });
  };
  const what = `${metric}${JSON.stringify(labels)} of ${id} = ${want}`;
  const describe = () => last ? netLines(last, id) : "(no scrape)";
  await waitFor(what, async () => (await read()) === want ? true : undefined, {
    timeoutMs,
    describe,
  });
  await sleep(2 * INTERVAL_MS + 100);
  const again = await read();
  if (again !== want) {
    throw new Error(`${what}: was ${want}, then ${again} two rounds later\n${describe()}`);
  }
  return last!;
}

/**
 * Waits until a container is visible: it has series (a systemd service gets no
 * `container_info`, so any series carrying its `container_id` counts).
 */
export async function waitVisible(url: string, id: string, timeoutMs = 15_000): Promise<Scrape> {
  let last: Scrape | undefined;
  return await waitFor(`series of ${id}`, async () => {
    last = await scrapeParsed(url);
    return last.find("container_restarts_total", { container_id: id }).length > 0
      ? last
      : undefined;
  }, { timeoutMs, describe: () => last?.linesOf(id) ?? "(no scrape)" });
}

/** A self-metric's value (0 when absent), summed over series matching `labels`. */
export function selfValue(s: Scrape, name: string, labels: Record<string, string> = {}): number {
  return s.find(name, labels).reduce((n, x) => n + x.value, 0);
}

/** Why iptables tests cannot run here ("" when they can). */
export function iptablesIgnoreReason(): string {
  try {
    const r = new Deno.Command("iptables", { args: ["-V"], stdout: "null", stderr: "null" })
      .outputSync();
    return r.success ? "" : "iptables -V failed";
  } catch {
    return "iptables missing (apt-get install iptables)";
  }
}

/**
 * A client namespace and a backend namespace joined through the agent's own namespace, with a
 * DNAT rule there mapping a VIP to the backend, as kube-proxy maps a Service:
 *
 * ```
 * client ns 10.213.N.2 ── veth ── host 10.213.N.1 | 10.214.N.1 ── veth ── 10.214.N.2 backend ns
 * host: PREROUTING -d 10.215.N.9 -p tcp --dport 80 -j DNAT --to-destination 10.214.N.2:8080
 * ```
 *
 * The client namespace has no default route (only the VIP and the backend's subnet, via the
 * host), and the host routes the VIP into the backend's link, so nothing for these addresses
 * (the pinger's ICMP included) leaves the machine. `remove()` undoes each step that was made:
 * the namespaces (and with them the veths and the route), the rules, and
 * `net.ipv4.ip_forward` if it had to be set.
 */
export class NatTopology {
  readonly n = 1 + (Deno.pid % 250);
  readonly tag = crypto.randomUUID().slice(0, 6);
  readonly clientNs = `osp-netnat-${this.tag}-c`;
  readonly backendNs = `osp-netnat-${this.tag}-b`;
  readonly hostClientDev = `onc${this.tag}`;
  readonly hostBackendDev = `onb${this.tag}`;
  readonly vip = `10.215.${this.n}.9`;
  readonly client = `10.213.${this.n}.2`;
  readonly backend = `10.214.${this.n}.2`;
  readonly #undo: (() => Promise<unknown>)[] = [];

  async build(): Promise<void> {
    const { n, clientNs: c, backendNs: b, hostClientDev: hc, hostBackendDev: hb } = this;
    for (const ns of [c, b]) {
      await run("ip", "netns", "add", ns);
      this.#undo.push(() => run("ip", "netns", "delete", ns));
    }
    // the host ends go with their peers when the namespaces are deleted
    await run("ip", "link", "add", hc, "type", "veth", "peer", "name", "eth0", "netns", c);
    await run("ip", "link", "add", hb, "type", "veth", "peer", "name", "eth0", "netns", b);
    await run("ip", "addr", "add", `10.213.${n}.1/24`, "dev", hc);
    await run("ip", "addr", "add", `10.214.${n}.1/24`, "dev", hb);
    for (const dev of [hc, hb]) await run("ip", "link", "set", dev, "up");
    for (const [ns, addr] of [[c, this.client], [b, this.backend]]) {
      await run("ip", "-n", ns, "addr", "add", `${addr}/24`, "dev", "eth0");
      await run("ip", "-n", ns, "link", "set", "eth0", "up");
      await run("ip", "-n", ns, "link", "set", "lo", "up");
    }
    await run("ip", "-n", c, "route", "add", `${this.vip}/32`, "via", `10.213.${n}.1`);
    await run("ip", "-n", c, "route", "add", `10.214.${n}.0/24`, "via", `10.213.${n}.1`);
    await run("ip", "-n", b, "route", "add", `10.213.${n}.0/24`, "via", `10.214.${n}.1`);
    // the VIP itself is routed into the backend's link, never out of the machine
    await run("ip", "route", "add", `${this.vip}/32`, "dev", hb);
    const forward = (await run("sysctl", "-n", "net.ipv4.ip_forward")).trim();
    if (forward === "0") {
      await run("sysctl", "-qw", "net.ipv4.ip_forward=1");
      this.#undo.push(() => run("sysctl", "-qw", "net.ipv4.ip_forward=0"));
    }
    const rules: string[][] = [
      [
        "-t",
        "nat",
        "PREROUTING",
        "-d",
        this.vip,
        "-p",
        "tcp",
        "--dport",
        "80",
        "-j",
        "DNAT",
        "--to-destination",
        `${this.backend}:8080`,
      ],
      ["-t", "filter", "FORWARD", "-i", hc, "-o", hb, "-j", "ACCEPT"],
      ["-t", "filter", "FORWARD", "-i", hb, "-o", hc, "-j", "ACCEPT"],
    ];
    for (const [t, table, chain, ...spec] of rules) {
      await run("iptables", t, table, "-I", chain, "1", ...spec);
      this.#undo.push(() => run("iptables", t, table, "-D", chain, ...spec));
    }
    for (const dev of [hc, hb]) await waitUp(undefined, dev);
    for (const ns of [c, b]) await waitUp(ns, "eth0");
  }

  async remove(): Promise<void> {
    for (const undo of this.#undo.reverse()) {
      await undo().catch((e) => console.error(`nat_test cleanup: ${e}`));
    }
  }
}

async function waitUp(ns: string | undefined, dev: string): Promise<void> {
  const ip = ns === undefined ? ["ip"] : ["ip", "-n", ns];
  for (let i = 0; i < 500; i++) {
    const out = await run(ip[0], ...ip.slice(1), "-o", "link", "show", dev);
    if (/ state UP /.test(out)) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`${dev} did not come up within 5 s`);
}
