/**
 * Agent CPU under connection churn, with the net module on and off in the same run
 * (`deno task bench:net`, root, about 7 minutes).
 *
 * A client "container" (a systemd-style cgroup) in a network namespace connects to a server
 * "container" in another namespace (bench/net/tcpload.c): each connection sends 16 bytes, gets
 * 16 back and the server's FIN (HTTP/1.0 with `Connection: close`). For each mode (the agent as
 * `deno task start` runs it, then the same with `--disable-net-module`), the agent's CPU time
 * (user + system, all threads, /proc/<pid>/stat) is read over a window of `--seconds` with no
 * load, then at each rate of `--rates` ("max": 90 % of what an unpaced generator reached with
 * the module on). Also read in each window: the kernel time of the agent's tcp programs
 * (`kernel.bpf_stats_enabled=1`; spent in the load's own threads and softirqs, not the
 * agent's), and the ring consumers' wakeups (returns of `osp_ring_wait()`, counted with
 * bpftrace uprobes: woken with records to drain, or timed out). After each load the series are
 * checked: `container_net_tcp_successful_connects_total` of the client must have grown by the
 * generator's own count of established connections (or the lost-record counters say why not).
 *
 * Usage: deno run -A bench/net/net_cpu_bench.ts [--rates=1000,5000,10000,max] [--seconds=30]
 *        [--repeat=1] [--inflight=2000] [--settle=10]
 *
 * Prints one JSON document, then a summary.
 *
 * @module
 */
import type { AgentProcess } from "../../tests/helpers/agent_process.ts";
import {
  buildTools,
  cpuSeconds,
  ignoreReason,
  Lab,
  type LabProcess,
  machine,
  progDelta,
  progIdsOf,
  progStats,
  RingWakeups,
  round,
  scrapeAgent,
  sleep,
  startBenchAgent,
  TCPLOAD,
} from "./_lab.ts";
import { flag } from "../_args.ts";

const RATES = flag("rates", "1000,5000,10000,max").split(",");
const SECONDS = Number(flag("seconds", "30"));
const REPEAT = Number(flag("repeat", "1"));
const INFLIGHT = Number(flag("inflight", "2000"));
const SETTLE = Number(flag("settle", "10"));
const PORT = 8080;

type Mode = "on" | "off";

interface Churn {
  bytes_received: number;
  started: number;
  connected: number;
  completed: number;
  failed: number;
  local_errors: number;
  unfinished: number;
  ms: number;
  load_ms: number;
}

interface Window {
  mode: Mode;
  rate_asked: number;
  /** What the generator made over its whole run (connections established per second). */
  rate_made: number;
  seconds: number;
  agent_millicores: number;
  /** Kernel time of the agent's tcp programs per second of the window, in millicores. */
  bpf_millicores: number;
  bpf_runs_per_sec: number;
  wakeups_per_sec: Record<string, { records: number; timeout: number }>;
  churn?: Churn;
  /** The series against the generator's own counts (module on). */
  check?: Check;
}

/** What the agent served for the client, before or after a load. */
interface Tally {
  connects: number;
  bytesSent: number;
  bytesReceived: number;
  active: number;
  records: number;
  lostConnect: number;
  lost: number;
  unattributed: number;
  /** osprey_net_filtered_total by reason. */
  filtered: Record<string, number>;
}

async function tally(agent: AgentProcess, id: string): Promise<Tally> {
  const s = await scrapeAgent(agent);
  const sum = (name: string, labels: Record<string, string>) =>
    s.find(name, labels).reduce((a, x) => a + x.value, 0);
  const c = { container_id: id };
  return {
    connects: sum("container_net_tcp_successful_connects_total", c),
    bytesSent: sum("container_net_tcp_bytes_sent_total", c),
    bytesReceived: sum("container_net_tcp_bytes_received_total", c),
    active: sum("container_net_tcp_active_connections", c),
    records: sum("osprey_ringbuf_records_total", { ring: "tcp_events" }),
    lostConnect: sum("osprey_ringbuf_lost_records_total", {
      ring: "tcp_events",
      record_type: "connect",
    }),
    lost: sum("osprey_ringbuf_lost_records_total", { ring: "tcp_events" }),
    unattributed: sum("osprey_net_unattributed_total", {}),
    filtered: Object.fromEntries(
      s.find("osprey_net_filtered_total").map((x) => [x.labels.reason, x.value]),
    ),
  };
}

/** The client's series over one load against the generator's counts. */
interface Check {
  connects: number;
  connects_expected: number;
  bytes_sent: number;
  bytes_sent_expected: number;
  bytes_received: number;
  bytes_received_expected: number;
  active_after: number;
  lost_records: number;
  lost_connect_records: number;
  unattributed: number;
  /** Connections the filters left out, by reason (any connection on the host). */
  filtered: Record<string, number>;
  records_per_sec: number;
  verdict: string;
}

/**
 * Waits (up to 20 s: records within 100 ms, series every collect round) until the client's
 * series have caught up with the generator, then compares: connects with its established
 * connections (less connect records the ring lost), bytes sent with 16 per connection, bytes
 * received with what it read, and no connection left active.
 */
async function check(agent: AgentProcess, id: string, t0: Tally, g: Churn): Promise<Check> {
  let t = await tally(agent, id);
  const deadline = Date.now() + 20_000;
  for (;;) {
    const done = t.connects - t0.connects + (t.lostConnect - t0.lostConnect) >= g.connected &&
      t.active === 0 && t.bytesReceived - t0.bytesReceived >= g.bytes_received;
    if (done || Date.now() > deadline) break;
    await sleep(1000);
    t = await tally(agent, id);
  }
  const c: Check = {
    connects: t.connects - t0.connects,
    connects_expected: g.connected,
    bytes_sent: t.bytesSent - t0.bytesSent,
    bytes_sent_expected: 16 * g.connected,
    bytes_received: t.bytesReceived - t0.bytesReceived,
    bytes_received_expected: g.bytes_received,
    active_after: t.active,
    lost_records: t.lost - t0.lost,
    lost_connect_records: t.lostConnect - t0.lostConnect,
    unattributed: t.unattributed - t0.unattributed,
    filtered: Object.fromEntries(
      Object.entries(t.filtered).map(([k, v]) => [k, v - (t0.filtered[k] ?? 0)]).filter((x) =>
        x[1] !== 0
      ),
    ),
    records_per_sec: Math.round((t.records - t0.records) / (g.ms / 1000)),
    verdict: "",
  };
  const exact = c.connects === c.connects_expected && c.bytes_sent === c.bytes_sent_expected &&
    c.bytes_received === c.bytes_received_expected && c.active_after === 0;
  c.verdict = exact
    ? `exact (${c.connects} connects, ${c.bytes_sent} B sent, ${c.bytes_received} B received)`
    : `connects ${c.connects}/${c.connects_expected}, sent ${c.bytes_sent}/${c.bytes_sent_expected}, ` +
      `received ${c.bytes_received}/${c.bytes_received_expected}, active after ${c.active_after}, ` +
      `lost records ${c.lost_records} (connect ${c.lost_connect_records}), unattributed ${c.unattributed}, ` +
      `filtered ${JSON.stringify(c.filtered)}`;
  return c;
}

async function measure(
  agent: AgentProcess,
  mode: Mode,
  tcpProgs: Set<number>,
  wakeups: RingWakeups,
  ms: number,
): Promise<Omit<Window, "rate_asked" | "rate_made">> {
  const pid = agent.child.pid;
  const rings = ["proc_events", "tcp_events"];
  const w0 = rings.map((r) => [wakeups.count(pid, r, "1"), wakeups.count(pid, r, "0")]);
  const p0 = await progStats();
  const c0 = cpuSeconds(pid);
  const t0 = performance.now();
  await sleep(ms);
  const c1 = cpuSeconds(pid);
  const t1 = performance.now();
  const p1 = await progStats();
  const w1 = rings.map((r) => [wakeups.count(pid, r, "1"), wakeups.count(pid, r, "0")]);
  const sec = (t1 - t0) / 1000;
  let bpfNs = 0, runs = 0;
  for (const id of tcpProgs) {
    const d = progDelta(p0, p1, id);
    if (d) {
      bpfNs += d.ns;
      runs += d.runs;
    }
  }
  const wake: Window["wakeups_per_sec"] = {};
  rings.forEach((r, i) => {
    if (mode === "off" && r === "tcp_events") return;
    wake[r] = {
      records: round((w1[i][0] - w0[i][0]) / sec),
      timeout: round((w1[i][1] - w0[i][1]) / sec),
    };
  });
  return {
    mode,
    seconds: round(sec, 2),
    agent_millicores: round((c1 - c0) / sec * 1000),
    bpf_millicores: round(bpfNs / 1e6 / sec, 2),
    bpf_runs_per_sec: Math.round(runs / sec),
    wakeups_per_sec: wake,
  };
}

async function churn(
  lab: Lab,
  client: Awaited<ReturnType<Lab["container"]>>,
  rate: number,
  seconds: number,
): Promise<{ p: LabProcess; result: Promise<Churn> }> {
  const p = lab.spawn(lab.client, client.cg, [
    TCPLOAD,
    "churn",
    lab.server.v4,
    String(PORT),
    String(rate),
    String(seconds),
    String(INFLIGHT),
  ]);
  await p.lines.expect("start", "tcpload churn");
  const result = p.lines.expect("json", "tcpload churn").then((l) => JSON.parse(l) as Churn);
  return { p, result };
}

async function run(): Promise<void> {
  const why = ignoreReason();
  if (why !== "") throw new Error(`bench:net cannot run: ${why}`);
  await buildTools();
  const lab = await Lab.create();
  const windows: Window[] = [];
  let maxRate = 0;
  let calibration: Churn | undefined;
  let wakeups: RingWakeups | undefined;
  try {
    const server = await lab.container("server");
    const client = await lab.container("client");
    // each container has a process that outlives the loads, as a real one would
    lab.spawn(lab.client, client.cg, ["cat"]);
    const srv = lab.spawn(lab.server, server.cg, [TCPLOAD, "server", String(PORT), "1", "respond"]);
    await srv.lines.expect("ready", "tcpload server");
    await lab.hostSysctl("kernel.bpf_stats_enabled", "1");
    wakeups = await RingWakeups.start();
    lab.adopt(wakeups.child, "SIGINT");

    const order: Mode[] = [];
    for (let r = 0; r < REPEAT; r++) {
      order.push(...(r % 2 === 0 ? ["on", "off"] as const : ["off", "on"] as const));
    }
    for (const mode of order) {
      const agent = await startBenchAgent(mode === "off" ? ["--disable-net-module"] : []);
      lab.adopt(agent.child);
      try {
        const pid = agent.child.pid;
        const s = await scrapeAgent(agent);
        const state = s.find("osprey_module_state", { module: "net" }).find((x) => x.value === 1)
          ?.labels.state;
        if (state !== mode) throw new Error(`net module is "${state}", expected "${mode}"`);
        await sleep(SETTLE * 1000);
        const all = await progStats();
        const tcpProgs = new Set(
          [...progIdsOf(pid)].filter((id) => all.get(id)?.name.startsWith("osp_tcp")),
        );
        if (mode === "on" && tcpProgs.size === 0) throw new Error("no tcp programs attached");
        const idle = await measure(agent, mode, tcpProgs, wakeups, SECONDS * 1000);
        windows.push({ ...idle, rate_asked: 0, rate_made: 0 });
        console.error(`${mode} idle: ${idle.agent_millicores} millicores`);

        if (maxRate === 0 && RATES.includes("max")) {
          const c = await churn(lab, client, 0, 10);
          calibration = await c.result;
          await c.p.stop();
          const made = calibration.connected / (calibration.ms / 1000);
          maxRate = Math.floor(made * 0.9 / 500) * 500;
          console.error(`unpaced: ${Math.round(made)} connections/s; "max" = ${maxRate}/s`);
          await sleep(6000);
        }

        for (const r of RATES) {
          const rate = r === "max" ? maxRate : Number(r);
          const t0 = mode === "on" ? await tally(agent, client.id) : undefined;
          const c = await churn(lab, client, rate, SECONDS + 2);
          await sleep(1000);
          const w = await measure(agent, mode, tcpProgs, wakeups, SECONDS * 1000);
          const result = await c.result;
          await c.p.stop();
          const win: Window = {
            ...w,
            rate_asked: rate,
            rate_made: Math.round(result.connected / (result.ms / 1000)),
            churn: result,
          };
          if (t0 !== undefined) win.check = await check(agent, client.id, t0, result);
          else await sleep(6000); // the same pause as the check takes at least
          windows.push(win);
          console.error(
            `${mode} ${rate}/s: made ${win.rate_made}/s, agent ${win.agent_millicores} ` +
              `millicores, tcp programs ${win.bpf_millicores} millicores` +
              (win.check ? `; series: ${win.check.verdict}` : ""),
          );
        }
      } finally {
        await agent.stop();
      }
    }
  } finally {
    await wakeups?.stop();
    await lab.remove();
  }
  report(windows, calibration, maxRate);
}

/** Least squares of y on x: [intercept, slope]. */
function fit(points: [number, number][]): [number, number] {
  const n = points.length;
  const mx = points.reduce((a, p) => a + p[0], 0) / n;
  const my = points.reduce((a, p) => a + p[1], 0) / n;
  let sxy = 0, sxx = 0;
  for (const [x, y] of points) {
    sxy += (x - mx) * (y - my);
    sxx += (x - mx) ** 2;
  }
  const slope = sxx === 0 ? 0 : sxy / sxx;
  return [my - slope * mx, slope];
}

function report(windows: Window[], calibration: Churn | undefined, maxRate: number): void {
  const rates = [...new Set(windows.map((w) => w.rate_asked))].sort((a, b) => a - b);
  const avg = (mode: Mode, rate: number, f: (w: Window) => number) => {
    const ws = windows.filter((w) => w.mode === mode && w.rate_asked === rate);
    return ws.reduce((a, w) => a + f(w), 0) / ws.length;
  };
  const rows = rates.map((rate) => {
    const made = avg("on", rate, (w) => w.rate_made);
    const madeOff = avg("off", rate, (w) => w.rate_made);
    const on = avg("on", rate, (w) => w.agent_millicores);
    const off = avg("off", rate, (w) => w.agent_millicores);
    const per1k = (x: number) => made > 0 ? round(x / (made / 1000), 2) : null;
    return {
      rate_asked: rate,
      rate_made_on: Math.round(made),
      rate_made_off: Math.round(madeOff),
      agent_on_millicores: round(on),
      agent_off_millicores: round(off),
      net_module_millicores: round(on - off),
      on_per_1k_conn_s: per1k(on),
      net_module_per_1k_conn_s: per1k(on - off),
      ratio_on_off: round(on / off, 2),
      tcp_programs_kernel_millicores: round(avg("on", rate, (w) => w.bpf_millicores), 2),
      tcp_ring_wakeups_per_sec: {
        records: round(avg("on", rate, (w) => w.wakeups_per_sec.tcp_events?.records ?? 0)),
        timeout: round(avg("on", rate, (w) => w.wakeups_per_sec.tcp_events?.timeout ?? 0)),
      },
      proc_ring_wakeups_per_sec: {
        records: round(avg("on", rate, (w) => w.wakeups_per_sec.proc_events?.records ?? 0)),
        timeout: round(avg("on", rate, (w) => w.wakeups_per_sec.proc_events?.timeout ?? 0)),
      },
      tcp_records_per_sec: rate === 0
        ? 0
        : Math.round(avg("on", rate, (w) => w.check?.records_per_sec ?? 0)),
      series_check: windows.filter((w) => w.mode === "on" && w.rate_asked === rate && w.check)
        .map((w) => w.check!.verdict),
    };
  });
  const onFit = fit(rows.map((r) => [r.rate_made_on / 1000, r.agent_on_millicores]));
  const netFit = fit(rows.map((r) => [r.rate_made_on / 1000, r.net_module_millicores]));
  const at10k = {
    agent_on_millicores: round(onFit[0] + onFit[1] * 10),
    net_module_millicores: round(netFit[0] + netFit[1] * 10),
    agent_slope_per_1k: round(onFit[1], 2),
    net_module_slope_per_1k: round(netFit[1], 2),
  };
  console.log(JSON.stringify(
    {
      machine: machine(),
      seconds: SECONDS,
      max_rate: maxRate,
      calibration,
      rows,
      extrapolated_10k: at10k,
      windows,
    },
    null,
    2,
  ));
  for (const r of rows) {
    console.log(
      `${r.rate_asked === 0 ? "idle" : `${r.rate_asked}/s`} (made ${r.rate_made_on}/s on, ` +
        `${r.rate_made_off}/s off): agent ${r.agent_on_millicores} millicores with the net ` +
        `module, ${r.agent_off_millicores} without (×${r.ratio_on_off}); the module ` +
        `${r.net_module_millicores} millicores` +
        (r.rate_asked === 0
          ? ""
          : ` = ${r.net_module_per_1k_conn_s} per 1,000 conn/s (whole agent ${r.on_per_1k_conn_s})`) +
        `; tcp programs in the kernel ${r.tcp_programs_kernel_millicores} millicores; tcp ring ` +
        `wakeups/s ${JSON.stringify(r.tcp_ring_wakeups_per_sec)}` +
        (r.tcp_records_per_sec ? ` for ${r.tcp_records_per_sec} records/s` : "") +
        (r.series_check.length ? `; series ${r.series_check.join(" | ")}` : ""),
    );
  }
  console.log(
    `linear fit over the rates, at 10,000 conn/s: whole agent ${at10k.agent_on_millicores} ` +
      `millicores (${at10k.agent_slope_per_1k} per 1,000 conn/s), net module ` +
      `${at10k.net_module_millicores} (${at10k.net_module_slope_per_1k} per 1,000 conn/s)`,
  );
}

if (import.meta.main) await run();
