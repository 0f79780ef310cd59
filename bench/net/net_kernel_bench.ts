/**
 * Kernel-side cost per program run of the agent's tcp programs, against counting-only programs
 * on the same attach points in the same run (`deno task bench:net-kernel`, root, about a
 * minute).
 *
 * With `kernel.bpf_stats_enabled=1` the kernel times every run of every BPF program
 * (`bpftool prog show`: run_time_ns, run_cnt). Attached at once to each tracepoint the agent
 * uses (sock/inet_sock_set_state, sock/sock_send_length, tcp/tcp_rcv_space_adjust,
 * tcp/tcp_retransmit_skb):
 *
 * - the agent's program (its net module on, as `deno task start` runs it);
 * - "count": a tp_btf program that adds one to a per-CPU array (bench/net/floor.bpf.c), the
 *   same program type as the agent's on this kernel: the floor the goal is measured against;
 * - "empty": a tp_btf program that returns at once (what any program costs there);
 * - "bpftrace": `tracepoint:... { @ = count(); }` (bpftrace 0.17: a perf-event tracepoint
 *   program, another program type; the reference).
 *
 * The load: connection churn from a client "container" to a server in another namespace
 * (bench/net/tcpload.c, 16 bytes each way), with `--drop` of each side's outgoing TCP packets
 * dropped (iptables `statistic`) so that retransmits happen. The ratio per program is its ns
 * per run over the floor's, from the same window.
 *
 * `--compare=<commit>` builds libosprey as it was at that commit and runs a second agent on it
 * at the same time, so two versions of the programs see the same events in the same window
 * (a before/after that the machine's other load cannot skew).
 *
 * `--stop-agents` stops the agents (SIGSTOP) from 1 s into the load to 1 s before its end and
 * measures that: the cost to the producers while a consumer is behind (its ring fills past the
 * wakeup threshold, then overflows; records are lost, and counted).
 *
 * Usage: deno run -A bench/net/net_kernel_bench.ts [--rate=5000] [--seconds=30]
 *        [--drop=0.01] [--inflight=4000] [--compare=<commit>] [--rounds=N] [--stop-agents]
 *
 * Prints one JSON document, then a table.
 *
 * @module
 */
import type { AgentProcess } from "../../tests/helpers/agent_process.ts";
import {
  buildLibraryAt,
  buildTools,
  FLOOR_LOADER,
  FLOOR_OBJ,
  ignoreReason,
  Lab,
  LabProcess,
  Lines,
  machine,
  progDelta,
  progIdsOf,
  progStats,
  round,
  sleep,
  startBenchAgent,
  TCPLOAD,
} from "./_lab.ts";
import { flag } from "../_args.ts";

const RATE = Number(flag("rate", "5000"));
const SECONDS = Number(flag("seconds", "30"));
const DROP = Number(flag("drop", "0.01"));
const INFLIGHT = Number(flag("inflight", "4000"));
const COMPARE = flag("compare", "");
/** Windows; with --compare the attach order alternates, so use an even number. */
/** Stop the agents (SIGSTOP) for the window: the cost while a consumer is behind. */
const STOP_AGENTS = Deno.args.includes("--stop-agents");
const ROUNDS = Number(flag("rounds", COMPARE === "" ? "1" : "2"));
const PORT = 8080;

type Role = "state" | "send" | "receive" | "retransmit";
const ROLES: readonly Role[] = ["state", "send", "receive", "retransmit"];

/** Which attach point a program name (as the kernel keeps it: 15 characters) is on. */
function roleOf(name: string): Role | undefined {
  if (/^(osp_tcp_state|count_state|empty_state|inet_sock_set_s)/.test(name)) return "state";
  if (/^(osp_tcp_send|count_send|empty_send|sock_send_lengt)/.test(name)) return "send";
  if (/^(osp_tcp_rcv|count_receive|empty_receive|tcp_rcv_space_a)/.test(name)) return "receive";
  if (/^(osp_tcp_retrans|count_retrans|empty_retrans|tcp_retransmit_)/.test(name)) {
    return "retransmit";
  }
  return undefined;
}

const BPFTRACE_SCRIPT = `
BEGIN { printf("attached\\n"); }
tracepoint:sock:inet_sock_set_state { @state = count(); }
tracepoint:sock:sock_send_length { @send = count(); }
tracepoint:tcp:tcp_rcv_space_adjust { @receive = count(); }
tracepoint:tcp:tcp_retransmit_skb { @retransmit = count(); }
`;

interface Row {
  role: Role;
  /** "this build", or the commit of --compare. */
  build: string;
  program: string;
  runs: number;
  runs_per_connection: number;
  ns_per_run: number;
  /** ns per run in each round (the order of attachment alternates between rounds). */
  rounds_ns_per_run: number[];
  count_ns_per_run: number;
  empty_ns_per_run: number;
  bpftrace_ns_per_run: number;
  /** ns per run over the counting tp_btf program's: the goal is at most 2. */
  ratio_to_count: number;
  ratio_to_bpftrace: number;
}

/** Run time and count summed over programs and rounds. */
class Sum {
  ns = 0;
  runs = 0;
  name = "";
  readonly perRound: number[] = [];
  get perRun(): number {
    return this.runs > 0 ? this.ns / this.runs : NaN;
  }
}

interface Build {
  name: string;
  /** Another libosprey; undefined: this checkout's. */
  lib?: string;
}

type Sums = Map<string, Sum>; // "<role> <build or floor>"

function add(sums: Sums, key: string, ns: number, runs: number, name: string): void {
  let x = sums.get(key);
  if (x === undefined) sums.set(key, x = new Sum());
  x.ns += ns;
  x.runs += runs;
  x.name = name || x.name;
  x.perRound.push(runs > 0 ? round(ns / runs) : NaN);
}

/** One window: the agents (in attach order), the floors, the load; adds to `sums`. */
async function window(
  lab: Lab,
  clientCg: Awaited<ReturnType<Lab["container"]>>["cg"],
  builds: Build[],
  sums: Sums,
): Promise<Record<string, number>> {
  const agents: { build: Build; agent: AgentProcess }[] = [];
  let floor: LabProcess | undefined;
  let bpftrace: Deno.ChildProcess | undefined;
  try {
    // attached first, run first: the first program to read a socket pays its cache misses
    for (const build of builds) {
      const agent = await startBenchAgent([], build.lib);
      lab.adopt(agent.child);
      agents.push({ build, agent });
    }
    floor = new LabProcess(
      new Deno.Command(FLOOR_LOADER, {
        args: [FLOOR_OBJ],
        stdin: "piped",
        stdout: "piped",
        stderr: "inherit",
      }).spawn(),
    );
    lab.adopt(floor.child);
    await floor.lines.expect("ready", "floor_loader");
    bpftrace = new Deno.Command("bpftrace", {
      args: ["-e", BPFTRACE_SCRIPT],
      stdin: "null",
      stdout: "piped",
      stderr: "null",
    }).spawn();
    lab.adopt(bpftrace, "SIGINT");
    const btLines = new Lines(bpftrace.stdout);
    await btLines.skipTo("attached", "bpftrace");
    btLines.release();
    await sleep(3000);

    const sets: [string, Set<number>, RegExp][] = agents.map((
      a,
    ) => [a.build.name, progIdsOf(a.agent.child.pid), /^osp_tcp/]);
    sets.push(["count", progIdsOf(floor.pid), /^count_/]);
    sets.push(["empty", progIdsOf(floor.pid), /^empty_/]);
    sets.push(["bpftrace", progIdsOf(bpftrace.pid), /./]);
    let before = await progStats();
    const churn = lab.spawn(lab.client, clientCg, [
      TCPLOAD,
      "churn",
      lab.server.v4,
      String(PORT),
      String(RATE),
      String(SECONDS),
      String(INFLIGHT),
    ]);
    await churn.lines.expect("start", "tcpload churn");
    let after: Awaited<ReturnType<typeof progStats>> | undefined;
    if (STOP_AGENTS) {
      // the consumers stop: the rings fill past the wakeup threshold, then overflow
      await sleep(1000);
      for (const a of agents) a.agent.child.kill("SIGSTOP");
      before = await progStats();
      await sleep((SECONDS - 2) * 1000);
      after = await progStats();
      for (const a of agents) a.agent.child.kill("SIGCONT");
    }
    const result = JSON.parse(await churn.lines.expect("json", "tcpload churn"));
    await churn.stop();
    after ??= await progStats();
    for (const role of ROLES) {
      for (const [name, ids, prefix] of sets) {
        let ns = 0, runs = 0, prog = "";
        for (const id of ids) {
          const d = progDelta(before, after, id);
          if (!d || roleOf(d.name) !== role || !prefix.test(d.name)) continue;
          ns += d.ns;
          runs += d.runs;
          prog = d.name;
        }
        add(sums, `${role} ${name}`, ns, runs, prog);
      }
    }
    return result;
  } finally {
    try {
      bpftrace?.kill("SIGINT");
    } catch { /* exited */ }
    await bpftrace?.status;
    await bpftrace?.stdout.cancel().catch(() => {});
    await floor?.stop();
    for (const a of agents) await a.agent.stop();
  }
}

async function run(): Promise<void> {
  const why = ignoreReason();
  if (why !== "") throw new Error(`bench:net-kernel cannot run: ${why}`);
  await buildTools(true);
  const lab = await Lab.create();
  const sums: Sums = new Map();
  const churns: Record<string, number>[] = [];
  const builds: Build[] = [{ name: "this build" }];
  let other: { lib: string; remove(): void } | undefined;
  try {
    const server = await lab.container("server");
    const client = await lab.container("client");
    lab.spawn(lab.client, client.cg, ["cat"]);
    const srv = lab.spawn(lab.server, server.cg, [TCPLOAD, "server", String(PORT), "1", "respond"]);
    await srv.lines.expect("ready", "tcpload server");
    if (DROP > 0) {
      for (const ns of [lab.client, lab.server]) {
        await lab.exec(
          ns,
          ...["iptables", "-A", "OUTPUT", "-p", "tcp", "-m", "statistic", "--mode", "random"],
          ...["--probability", String(DROP), "-j", "DROP"],
        );
      }
    }
    await lab.hostSysctl("kernel.bpf_stats_enabled", "1");
    if (COMPARE !== "") {
      other = await buildLibraryAt(COMPARE);
      builds.push({ name: COMPARE, lib: other.lib });
    }
    for (let r = 0; r < ROUNDS; r++) {
      const order = r % 2 === 0 ? builds : [...builds].reverse();
      churns.push(await window(lab, client.cg, order, sums));
    }
  } finally {
    other?.remove();
    await lab.remove();
  }
  const connections = churns.reduce((a, c) => a + c.started, 0);
  const rows: Row[] = [];
  for (const role of ROLES) {
    const floor = (f: string) => sums.get(`${role} ${f}`)?.perRun ?? NaN;
    for (const b of builds) {
      const x = sums.get(`${role} ${b.name}`) ?? new Sum();
      rows.push({
        role,
        build: b.name,
        program: x.name,
        runs: x.runs,
        runs_per_connection: round(x.runs / connections, 2),
        ns_per_run: round(x.perRun),
        rounds_ns_per_run: x.perRound,
        count_ns_per_run: round(floor("count")),
        empty_ns_per_run: round(floor("empty")),
        bpftrace_ns_per_run: round(floor("bpftrace")),
        ratio_to_count: round(x.perRun / floor("count"), 2),
        ratio_to_bpftrace: round(x.perRun / floor("bpftrace"), 2),
      });
    }
  }
  console.log(JSON.stringify(
    { machine: machine(), rate: RATE, seconds: SECONDS, drop: DROP, rounds: ROUNDS, churns, rows },
    null,
    2,
  ));
  console.log(
    "program     build        runs/conn  ns/run  count  empty  bpftrace  ×count  ×bpftrace  rounds",
  );
  for (const r of rows) {
    console.log(
      `${r.role.padEnd(11)} ${r.build.slice(0, 12).padEnd(12)} ${
        String(r.runs_per_connection).padStart(9)
      } ${String(r.ns_per_run).padStart(7)} ${String(r.count_ns_per_run).padStart(6)} ${
        String(r.empty_ns_per_run).padStart(6)
      } ${String(r.bpftrace_ns_per_run).padStart(9)} ${String(r.ratio_to_count).padStart(7)} ${
        String(r.ratio_to_bpftrace).padStart(10)
      }  ${r.rounds_ns_per_run.join(" ")}`,
    );
  }
}

if (import.meta.main) await run();
