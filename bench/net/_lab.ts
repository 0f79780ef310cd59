/**
 * What the net benchmarks share (root only): the C tools built from this folder, a client and a
 * server network namespace joined by a veth pair, systemd-style "containers" (cgroups
 * `system.slice/osp-nb-<pid>-<name>.service` in every hierarchy), the agent started as
 * `deno task start` starts it, and readings of its CPU time, memory, BPF program statistics
 * (`kernel.bpf_stats_enabled`) and ring-consumer wakeups (bpftrace uprobes on libosprey).
 *
 * Traffic stays in the two namespaces: the server's addresses exist only there, and the client
 * namespace has no default route. Everything made here is removed by {@linkcode Lab.remove}.
 *
 * @module
 */
import { AGENT_PERMISSIONS, ensureHostView, withStderr } from "../../tests/containers/agent.ts";
import { TestCgroup } from "../../tests/containers/cgroups.ts";
import { type Scrape, scrapeParsed } from "../../tests/containers/metrics.ts";
import { type AgentProcess, REPO_ROOT, startAgent } from "../../tests/helpers/agent_process.ts";
import { createNetnsPair, type NetnsPair, type NetnsSide, run } from "../../tests/helpers/netns.ts";

const HERE = new URL(".", import.meta.url).pathname;
/** Where the tools are built (ignored by git). */
export const OUT = `${HERE}.output`;
export const TCPLOAD = `${OUT}/tcpload`;
export const FLOOR_OBJ = `${OUT}/floor.bpf.o`;
export const FLOOR_LOADER = `${OUT}/floor_loader`;
export const LIBOSPREY = `${REPO_ROOT}/ffi/.output/libosprey.so`;

/** Resolves after `ms`. */
export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Why these benchmarks cannot run here ("" when they can). */
export function ignoreReason(): string {
  if (Deno.uid() !== 0) return "needs root (namespaces, cgroups, BPF)";
  for (
    const [tool, arg, pkg] of [
      ["ip", "-V", "iproute2"],
      ["gcc", "--version", "gcc"],
      ["clang", "--version", "clang"],
      ["bpftool", "--version", "bpftool"],
      ["bpftrace", "--version", "bpftrace"],
      ["iptables", "--version", "iptables"],
    ]
  ) {
    try {
      const r = new Deno.Command(tool, { args: [arg], stdout: "null", stderr: "null" })
        .outputSync();
      if (!r.success) return `${tool} ${arg} failed`;
    } catch {
      return `${tool} is missing (apt-get install ${pkg})`;
    }
  }
  try {
    Deno.statSync(LIBOSPREY);
    Deno.statSync(`${REPO_ROOT}/bpf/.output/vmlinux.h`);
  } catch {
    return "run deno task build first";
  }
  return "";
}

function newer(src: string, out: string): boolean {
  try {
    return Deno.statSync(src).mtime! > Deno.statSync(out).mtime!;
  } catch {
    return true;
  }
}

/** Builds the load generator, and with `floor` the counting programs and their loader. */
export async function buildTools(floor = false): Promise<void> {
  Deno.mkdirSync(OUT, { recursive: true });
  const steps: [string, string, string[]][] = [
    [`${HERE}tcpload.c`, TCPLOAD, [
      "gcc",
      "-O2",
      "-Wall",
      "-Wextra",
      "-Werror",
      "-o",
      TCPLOAD,
      `${HERE}tcpload.c`,
    ]],
  ];
  if (floor) {
    steps.push([`${HERE}floor.bpf.c`, FLOOR_OBJ, [
      "clang",
      "-g",
      "-O2",
      "-target",
      "bpf",
      "-D__TARGET_ARCH_x86",
      "-Wall",
      "-Werror",
      `-I${REPO_ROOT}/bpf/.output`,
      "-c",
      `${HERE}floor.bpf.c`,
      "-o",
      FLOOR_OBJ,
    ]], [`${HERE}floor_loader.c`, FLOOR_LOADER, [
      "gcc",
      "-O2",
      "-Wall",
      "-Werror",
      "-o",
      FLOOR_LOADER,
      `${HERE}floor_loader.c`,
      "-lbpf",
    ]]);
  }
  for (const [src, out, cmd] of steps) {
    if (newer(src, out)) await run(cmd[0], cmd.slice(1));
  }
}

/** Reads a child's stdout line by line. */
export class Lines {
  #reader: ReadableStreamDefaultReader<Uint8Array>;
  #buf = "";
  #decoder = new TextDecoder();

  constructor(stream: ReadableStream<Uint8Array>) {
    this.#reader = stream.getReader();
  }

  /** The next line, or undefined at the end of the stream. */
  async next(): Promise<string | undefined> {
    for (;;) {
      const nl = this.#buf.indexOf("\n");
      if (nl >= 0) {
        const line = this.#buf.slice(0, nl);
        this.#buf = this.#buf.slice(nl + 1);
        return line;
      }
      const { value, done } = await this.#reader.read();
      if (done) return undefined;
      this.#buf += this.#decoder.decode(value, { stream: true });
    }
  }

  /** The next line, which must be `want` (or parse as JSON when want is "json"). */
  async expect(want: string, what: string): Promise<string> {
    const line = await this.next();
    if (line === undefined) throw new Error(`${what} ended before printing "${want}"`);
    if (want === "json" ? !line.startsWith("{") : line !== want) {
      throw new Error(`${what} printed "${line}", expected "${want}"`);
    }
    return line;
  }

  /** Skips lines until one is `want`. */
  async skipTo(want: string, what: string): Promise<void> {
    for (let l = await this.next(); l !== want; l = await this.next()) {
      if (l === undefined) throw new Error(`${what} ended before printing "${want}"`);
    }
  }

  release(): void {
    this.#reader.releaseLock();
  }
}

/** A process of the lab: stdin held open (closing it ends the tools), stdout read by lines. */
export class LabProcess {
  readonly child: Deno.ChildProcess;
  readonly lines: Lines;
  readonly #writer: WritableStreamDefaultWriter<Uint8Array>;
  #done = false;

  constructor(child: Deno.ChildProcess) {
    this.child = child;
    this.lines = new Lines(child.stdout);
    this.#writer = child.stdin.getWriter();
  }

  get pid(): number {
    return this.child.pid;
  }

  async send(line: string): Promise<void> {
    await this.#writer.write(new TextEncoder().encode(line + "\n"));
  }

  /** Closes stdin (the tools exit on EOF), waits; kills by pid after `graceMs`. */
  async stop(graceMs = 10_000): Promise<void> {
    if (this.#done) return;
    this.#done = true;
    await this.#writer.close().catch(() => {});
    const timer = setTimeout(() => {
      try {
        this.child.kill("SIGKILL");
      } catch { /* exited */ }
    }, graceMs);
    await this.child.status;
    clearTimeout(timer);
    this.lines.release();
    await this.child.stdout.cancel().catch(() => {});
  }
}

/** Options of {@linkcode Lab.create}. */
export interface LabOptions {
  /** Extra server addresses 10.203.0.1 .. 10.203.0.N, routed from the client namespace. */
  serverAddresses?: number;
}

/** The client and server namespaces, their containers and processes. */
export class Lab {
  readonly pair: NetnsPair;
  readonly #cgroups: TestCgroup[] = [];
  readonly #processes: LabProcess[] = [];
  readonly #restore: (() => Promise<void>)[] = [];
  #onSignal?: () => void;
  #removing?: Promise<void>;
  readonly #adopted: Deno.ChildProcess[] = [];
  readonly #signals = new Map<Deno.ChildProcess, Deno.Signal>();

  private constructor(pair: NetnsPair) {
    this.pair = pair;
  }

  /** The client namespace (10.201.0.1, no default route). */
  get client(): NetnsSide {
    return this.pair.a;
  }

  /** The server namespace (10.201.0.2, plus the extra addresses). */
  get server(): NetnsSide {
    return this.pair.b;
  }

  /** Extra server address `i` (0-based). */
  static extraAddress(i: number): string {
    return `10.203.${Math.floor(i / 250)}.${1 + (i % 250)}`;
  }

  static async create(o: LabOptions = {}): Promise<Lab> {
    const lab = new Lab(await createNetnsPair("nb"));
    // an interrupted benchmark still removes what it made (then exits 130)
    lab.#onSignal = () => {
      console.error("interrupted: removing the namespaces, containers and processes");
      lab.remove().finally(() => Deno.exit(130));
    };
    for (const sig of ["SIGINT", "SIGTERM"] as const) Deno.addSignalListener(sig, lab.#onSignal);
    try {
      // room for churn and for many held connections
      await lab.server.sysctl("net.core.somaxconn", "65535");
      await lab.server.sysctl("net.ipv4.tcp_max_syn_backlog", "65535");
      await lab.client.sysctl("net.ipv4.ip_local_port_range", "1024 65000");
      const n = o.serverAddresses ?? 0;
      if (n > 0) {
        const batch = await Deno.makeTempFile({ prefix: "osp-nb-" });
        try {
          const lines = [];
          for (let i = 0; i < n; i++) {
            lines.push(`addr add ${Lab.extraAddress(i)}/32 dev veth0`);
          }
          await Deno.writeTextFile(batch, lines.join("\n") + "\n");
          await lab.server.ip("-batch", batch);
        } finally {
          await Deno.remove(batch);
        }
        await lab.client.ip("route", "add", "10.203.0.0/16", "dev", "veth0");
      }
    } catch (e) {
      await lab.remove();
      throw e;
    }
    return lab;
  }

  /** A systemd-style "container": `system.slice/osp-nb-<pid>-<name>.service`. */
  async container(name: string): Promise<{ cg: TestCgroup; id: string }> {
    const unit = `osp-nb-${Deno.pid}-${name}.service`;
    const cg = await TestCgroup.create(`system.slice/${unit}`);
    this.#cgroups.push(cg);
    return { cg, id: `/system.slice/${unit}` };
  }

  /** Runs `args` in a namespace, inside `cg` when given. */
  spawn(ns: NetnsSide, cg: TestCgroup | undefined, args: string[]): LabProcess {
    const join = cg === undefined ? "" : `${cg.joinScript()}; `;
    const child = new Deno.Command("sh", {
      args: ["-c", `${join}exec "$@"`, "sh", "ip", "netns", "exec", ns.name, ...args],
      stdin: "piped",
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    const p = new LabProcess(child);
    this.#processes.push(p);
    return p;
  }

  /**
   * Has {@linkcode remove} end a process started elsewhere (an agent, bpftrace, a loader) with
   * `signal` if it still runs, so an interrupted benchmark leaves nothing attached.
   */
  adopt(child: Deno.ChildProcess, signal: Deno.Signal = "SIGTERM"): void {
    this.#adopted.push(child);
    child.status.then(() => {
      const i = this.#adopted.indexOf(child);
      if (i >= 0) this.#adopted.splice(i, 1);
    });
    this.#signals.set(child, signal);
  }

  /** Runs a command in a namespace and waits for it. */
  exec(ns: NetnsSide, ...args: string[]): Promise<string> {
    return run("ip", ["netns", "exec", ns.name, ...args]);
  }

  /** Sets a host sysctl for the lab's life (restored by remove()). */
  async hostSysctl(key: string, value: string): Promise<void> {
    const before = (await run("sysctl", ["-n", key])).trim();
    await run("sysctl", ["-qw", `${key}=${value}`]);
    this.#restore.push(() => run("sysctl", ["-qw", `${key}=${before}`]).then(() => {}));
  }

  /** Stops every process, removes the containers and namespaces, restores sysctls. */
  remove(): Promise<void> {
    // one removal, however many ask (an interrupt and the benchmark's own finally)
    return this.#removing ??= this.#remove();
  }

  async #remove(): Promise<void> {
    if (this.#onSignal) {
      for (const sig of ["SIGINT", "SIGTERM"] as const) {
        Deno.removeSignalListener(sig, this.#onSignal);
      }
    }
    for (const child of [...this.#adopted]) {
      try {
        child.kill(this.#signals.get(child) ?? "SIGTERM");
      } catch { /* exited */ }
      await child.status;
    }
    for (const p of this.#processes.reverse()) await p.stop(5000).catch(() => {});
    for (const cg of this.#cgroups) {
      await cg.remove().catch((e) => console.error(`cannot remove cgroup ${cg.format}: ${e}`));
    }
    await this.pair.remove();
    for (const r of this.#restore.reverse()) await r().catch((e) => console.error(String(e)));
  }
}

// ---- the agent ------------------------------------------------------------------------------

/**
 * The agent as `deno task start` runs it (`-P=agent`, the host view), with `args`; with `lib`,
 * on another build of libosprey (`OSPREY_FFI_LIB`, and the ffi grant for it alone); `denoFlags`
 * go to `deno run` too (`--cpu-prof`).
 */
export async function startBenchAgent(
  args: string[],
  lib?: string,
  denoFlags: readonly string[] = [],
): Promise<AgentProcess> {
  await ensureHostView();
  const agent = startAgent({
    permissions: [
      ...(lib === undefined ? AGENT_PERMISSIONS : [...AGENT_PERMISSIONS, `--allow-ffi=${lib}`]),
      ...denoFlags,
    ],
    args: ["--min-container-age=0", ...args],
    env: lib === undefined ? undefined : { OSPREY_FFI_LIB: lib },
  });
  try {
    await agent.waitReady(60_000);
  } catch (e) {
    await agent.stop();
    throw withStderr(e, agent);
  }
  return agent;
}

/** Scrapes the agent. */
export function scrapeAgent(agent: AgentProcess): Promise<Scrape> {
  return scrapeParsed(agent.url);
}

/** Seconds of CPU (user + system, every thread, live and exited) of a process so far. */
export function cpuSeconds(pid: number): number {
  const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
  const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  // fields 14 and 15 of proc(5), in USER_HZ (100 on every Linux architecture Osprey runs on)
  return (Number(rest[11]) + Number(rest[12])) / 100;
}

/** Memory of a process from /proc/<pid>/status, in bytes. */
export interface Memory {
  rss: number;
  hwm: number;
  anon: number;
  file: number;
}

export function memory(pid: number): Memory {
  const s = Deno.readTextFileSync(`/proc/${pid}/status`);
  const kb = (k: string) =>
    Number(new RegExp(`^${k}:\\s+(\\d+) kB`, "m").exec(s)?.[1] ?? NaN) *
    1024;
  return { rss: kb("VmRSS"), hwm: kb("VmHWM"), anon: kb("RssAnon"), file: kb("RssFile") };
}

/**
 * Builds libosprey (BPF objects and library) as it was at `commit`, in a temporary directory;
 * returns the library's path and a function that removes the directory.
 */
export async function buildLibraryAt(commit: string): Promise<{ lib: string; remove(): void }> {
  const dir = await Deno.makeTempDir({ prefix: "osp-nb-lib-" });
  const remove = () => Deno.removeSync(dir, { recursive: true });
  try {
    await run("sh", [
      "-c",
      'git -C "$1" archive "$2" bpf ffi bench/ring | tar -x -C "$3" && make -s -C "$3/bpf" && make -s -C "$3/ffi"',
      "sh",
      REPO_ROOT,
      commit,
      dir,
    ]);
  } catch (e) {
    remove();
    throw e;
  }
  return { lib: `${dir}/ffi/.output/libosprey.so`, remove };
}

// ---- BPF program statistics ------------------------------------------------------------------

/** One BPF program as `bpftool prog show` lists it. */
export interface ProgStat {
  id: number;
  type: string;
  name: string;
  runTimeNs: number;
  runCnt: number;
}

/** Every loaded program's statistics (run time and count need kernel.bpf_stats_enabled=1). */
export async function progStats(): Promise<Map<number, ProgStat>> {
  const list = JSON.parse(await run("bpftool", ["prog", "show", "-j"])) as {
    id: number;
    type: string;
    name?: string;
    run_time_ns?: number;
    run_cnt?: number;
  }[];
  return new Map(list.map((p) => [p.id, {
    id: p.id,
    type: p.type,
    name: p.name ?? "",
    runTimeNs: p.run_time_ns ?? 0,
    runCnt: p.run_cnt ?? 0,
  }]));
}

/** The ids of the BPF programs a process holds (its descriptors' fdinfo). */
export function progIdsOf(pid: number): Set<number> {
  const ids = new Set<number>();
  for (const e of Deno.readDirSync(`/proc/${pid}/fdinfo`)) {
    let info: string;
    try {
      info = Deno.readTextFileSync(`/proc/${pid}/fdinfo/${e.name}`);
    } catch {
      continue; // closed meanwhile
    }
    const m = /^prog_id:\s+(\d+)$/m.exec(info);
    if (m) ids.add(Number(m[1]));
  }
  return ids;
}

/** Run time and count of a program between two readings. */
export interface ProgDelta {
  name: string;
  type: string;
  runs: number;
  ns: number;
  /** ns per run; NaN without runs. */
  nsPerRun: number;
}

export function progDelta(
  before: Map<number, ProgStat>,
  after: Map<number, ProgStat>,
  id: number,
): ProgDelta | undefined {
  const a = after.get(id);
  if (a === undefined) return undefined;
  const b = before.get(id) ?? { ...a, runTimeNs: 0, runCnt: 0 };
  const runs = a.runCnt - b.runCnt;
  const ns = a.runTimeNs - b.runTimeNs;
  return { name: a.name, type: a.type, runs, ns, nsPerRun: runs > 0 ? ns / runs : NaN };
}

// ---- ring-consumer wakeups ---------------------------------------------------------------------

/**
 * Counts the returns of `osp_ring_wait()` in every process using this checkout's libosprey, by
 * ring name and result (1: records to drain, 0: the wait timed out), with bpftrace uprobes.
 * Each return is one trip of a ring consumer through wait → drain: its wakeups. Start it
 * before the agent (it learns ring names from `osp_ring_open()`).
 */
export class RingWakeups {
  readonly #proc: Deno.ChildProcess;

  /** The bpftrace process. */
  get child(): Deno.ChildProcess {
    return this.#proc;
  }

  readonly #names = new Map<string, string>(); // "pid handle" → ring
  readonly #counts = new Map<string, number>(); // "pid ring result" → returns
  #reading: Promise<void>;

  private constructor(proc: Deno.ChildProcess) {
    this.#proc = proc;
    const lines = new Lines(proc.stdout);
    this.#reading = (async () => {
      for (let l = await lines.next(); l !== undefined; l = await lines.next()) {
        const w = l.split(" ");
        if (w[0] === "open") this.#names.set(`${w[1]} ${w[2]}`, w[3]);
        else if (w[0] === "wait") {
          const ring = this.#names.get(`${w[1]} ${w[2]}`) ?? `handle ${w[2]}`;
          const key = `${w[1]} ${ring} ${w[3]}`;
          this.#counts.set(key, (this.#counts.get(key) ?? 0) + 1);
        } else if (w[0] === "attached") this.#ready?.();
      }
    })();
  }

  #ready?: () => void;

  /** Starts bpftrace; resolves once its probes are attached. */
  static async start(): Promise<RingWakeups> {
    const lib = LIBOSPREY;
    const script = `
BEGIN { printf("attached\\n"); }
uprobe:${lib}:osp_ring_open { @name[tid] = str(arg1); }
uretprobe:${lib}:osp_ring_open { printf("open %d %d %s\\n", pid, retval, @name[tid]); delete(@name[tid]); }
uprobe:${lib}:osp_ring_wait { @h[tid] = arg0; }
uretprobe:${lib}:osp_ring_wait { printf("wait %d %d %d\\n", pid, @h[tid], retval); delete(@h[tid]); }
END { clear(@name); clear(@h); }`;
    const proc = new Deno.Command("bpftrace", {
      args: ["-e", script],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const w = new RingWakeups(proc);
    const ready = new Promise<void>((r) => w.#ready = r);
    const timeout = sleep(30_000).then(() => "timeout");
    if (await Promise.race([ready.then(() => "ok"), timeout]) !== "ok") {
      await w.stop();
      throw new Error("bpftrace did not attach its uprobes within 30 s");
    }
    return w;
  }

  /** Returns so far of `pid`'s waits on `ring`, by result ("1", "0"). */
  count(pid: number, ring: string, result: "0" | "1"): number {
    return this.#counts.get(`${pid} ${ring} ${result}`) ?? 0;
  }

  /** Ends bpftrace (SIGINT, as it expects) and waits. */
  async stop(): Promise<void> {
    try {
      this.#proc.kill("SIGINT");
    } catch { /* exited */ }
    await this.#proc.status;
    await this.#reading.catch(() => {});
    await this.#proc.stderr.cancel().catch(() => {});
  }
}

/** A short description of this machine for the results. */
export function machine(): Record<string, string | number> {
  const cpu = Deno.readTextFileSync("/proc/cpuinfo");
  const model = /^model name\s*:\s*(.*)$/m.exec(cpu)?.[1] ?? "?";
  return {
    date: new Date().toISOString(),
    cpus: navigator.hardwareConcurrency,
    cpu: model,
    kernel: Deno.osRelease(),
    memory_gib: Math.round(Deno.systemMemoryInfo().total / 2 ** 30),
    deno: Deno.version.deno,
  };
}

/** Rounds to `d` decimals. */
export function round(x: number, d = 1): number {
  const f = 10 ** d;
  return Math.round(x * f) / f;
}
