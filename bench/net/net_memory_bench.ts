/**
 * Agent memory with many tracked connections and destinations, against none, same agent, same
 * run (`deno task bench:net-memory`, root, about 4 minutes).
 *
 * A server namespace holds `--addresses` addresses, each with `--ports` listening ports (one
 * listener per port on 0.0.0.0): addresses × ports distinct destinations (10,000 by default).
 * `--containers` client "containers" (systemd-style cgroups, in a client namespace) each open
 * their share of `--connections` (100,000 by default) round-robin over their share of the
 * addresses and every port, and hold them (bench/net/tcpload.c `hold`). The server is not in a
 * container, so only the clients' connections are tracked by the agent; the kernel's map holds
 * both ends (each accepted socket too), as it would for connections between two containers of
 * one host.
 *
 * Phases, each after `--settle` seconds and read over 30 s (six collect rounds): "none" (the
 * containers are up, no connection opened yet), "loaded" (every connection established and
 * tracked), "closed" (all closed again). Read in each: RSS (median of samples every 5 s, and
 * the high-water mark), V8's used heap (`osprey_heap_used_bytes`), the agent's CPU, one scrape
 * (size, series, time), and in "loaded" the kernel map's memory (`bpftool map show`).
 *
 * Usage: deno run -A bench/net/net_memory_bench.ts [--connections=100000] [--addresses=100]
 *        [--ports=100] [--containers=4] [--settle=20] [--window=30]
 *
 * Prints one JSON document, then a summary.
 *
 * @module
 */
import type { AgentProcess } from "../../tests/helpers/agent_process.ts";
import { run as runCmd } from "../../tests/helpers/netns.ts";
import {
  buildTools,
  cpuSeconds,
  ignoreReason,
  Lab,
  type LabProcess,
  machine,
  memory,
  round,
  scrapeAgent,
  sleep,
  startBenchAgent,
  TCPLOAD,
} from "./_lab.ts";
import { flag } from "../_args.ts";

const CONNECTIONS = Number(flag("connections", "100000"));
const ADDRESSES = Number(flag("addresses", "100"));
const PORTS = Number(flag("ports", "100"));
const CONTAINERS = Number(flag("containers", "4"));
const SETTLE = Number(flag("settle", "20"));
const FIRST_PORT = 20000; // below the ephemeral range, so tracked
/** Connections one process holds at most (under the hard descriptor limit). */
const PER_PROCESS = 15_000;
const WINDOW_S = Number(flag("window", "30"));
const MIB = 2 ** 20;

interface Phase {
  phase: string;
  rss_mib: number;
  rss_samples_mib: number[];
  hwm_mib: number;
  anon_mib: number;
  heap_used_mib: number;
  agent_millicores: number;
  tracked_connections: number;
  destinations_series: number;
  scrape_bytes: number;
  scrape_series: number;
  scrape_ms: number;
  /** Records the tcp ring lost during the close, by type (closed phase only). */
  lost_records?: Record<string, number>;
  /** The agent's tcp_conns map (bpftool's memlock figure), loaded phase only. */
  kernel_map?: { entries: number; bytes: number };
}

async function phase(agent: AgentProcess, name: string, clientIds: string[]): Promise<Phase> {
  const pid = agent.child.pid;
  const samples: number[] = [];
  const c0 = cpuSeconds(pid);
  const t0 = performance.now();
  for (let i = 0; i < WINDOW_S / 5; i++) {
    await sleep(5000);
    samples.push(memory(pid).rss);
  }
  const c1 = cpuSeconds(pid);
  const t1 = performance.now();
  const s0 = performance.now();
  const text = await (await fetch(`${agent.url}/metrics`)).text();
  const scrapeMs = performance.now() - s0;
  const s = await scrapeAgent(agent);
  const m = memory(pid);
  const sorted = [...samples].sort((a, b) => a - b);
  const ids = new Set(clientIds);
  return {
    phase: name,
    rss_mib: round(sorted[Math.floor(sorted.length / 2)] / MIB),
    rss_samples_mib: samples.map((x) => round(x / MIB)),
    hwm_mib: round(m.hwm / MIB),
    anon_mib: round(m.anon / MIB),
    heap_used_mib: round((s.value("osprey_heap_used_bytes") ?? NaN) / MIB),
    agent_millicores: round((c1 - c0) / ((t1 - t0) / 1000) * 1000),
    tracked_connections: s.value("osprey_net_connections") ?? NaN,
    destinations_series: s.find("container_net_tcp_active_connections")
      .filter((x) => ids.has(x.labels.container_id)).length,
    scrape_bytes: text.length,
    scrape_series: text.split("\n").filter((l) => l !== "" && !l.startsWith("#")).length,
    scrape_ms: round(scrapeMs),
  };
}

/** The agent's tcp_conns map: entries (from the agent) and bpftool's memory figure. */
async function kernelMap(
  pid: number,
  entries: number,
): Promise<{ entries: number; bytes: number }> {
  let bytes = NaN;
  for (const e of Deno.readDirSync(`/proc/${pid}/fdinfo`)) {
    let info: string;
    try {
      info = Deno.readTextFileSync(`/proc/${pid}/fdinfo/${e.name}`);
    } catch {
      continue;
    }
    const id = /^map_id:\s+(\d+)$/m.exec(info)?.[1];
    if (id === undefined) continue;
    const m = JSON.parse(await runCmd("bpftool", ["map", "show", "id", id, "-j"]));
    if (m.name === "tcp_conns") bytes = m.bytes_memlock;
  }
  return { entries, bytes };
}

async function lostRecords(agent: AgentProcess): Promise<Record<string, number>> {
  const s = await scrapeAgent(agent);
  return Object.fromEntries(
    s.find("osprey_ringbuf_lost_records_total", { ring: "tcp_events" })
      .map((x) => [x.labels.record_type, x.value]),
  );
}

async function waitFor(what: string, ms: number, f: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await f())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(1000);
  }
}

async function run(): Promise<void> {
  const why = ignoreReason();
  if (why !== "") throw new Error(`bench:net-memory cannot run: ${why}`);
  if (ADDRESSES % CONTAINERS !== 0) throw new Error("--addresses must divide by --containers");
  await buildTools();
  const lab = await Lab.create({ serverAddresses: ADDRESSES });
  const phases: Phase[] = [];
  const opened: Record<string, number>[] = [];
  try {
    // a process holds at most PER_PROCESS descriptors (the hard limit is 20,000 here, and
    // root cannot raise it without CAP_SYS_RESOURCE): servers share the ports (SO_REUSEPORT)
    const servers = Math.ceil(CONNECTIONS / PER_PROCESS) + 1;
    for (let i = 0; i < servers; i++) {
      const srv = lab.spawn(lab.server, undefined, [
        TCPLOAD,
        "server",
        String(FIRST_PORT),
        String(PORTS),
        "hold",
      ]);
      await srv.lines.expect("ready", "tcpload server");
    }
    const clients: { id: string; p: LabProcess }[] = [];
    const perContainer = Math.ceil(CONNECTIONS / CONTAINERS);
    const processes = Math.ceil(perContainer / PER_PROCESS);
    const addrs = ADDRESSES / CONTAINERS;
    const ids: string[] = [];
    for (let i = 0; i < CONTAINERS; i++) {
      const { cg, id } = await lab.container(`holder${i}`);
      ids.push(id);
      for (let k = 0; k < processes; k++) {
        const p = lab.spawn(lab.client, cg, [
          TCPLOAD,
          "hold",
          Lab.extraAddress(i * addrs),
          String(addrs),
          String(FIRST_PORT),
          String(PORTS),
          String(Math.ceil(perContainer / processes)),
          "2000",
        ]);
        await p.lines.expect("ready", `tcpload hold ${i}.${k}`);
        clients.push({ id, p });
      }
    }

    const agent = await startBenchAgent([]);
    lab.adopt(agent.child);
    try {
      await waitFor("the client containers", 60_000, async () => {
        const s = await scrapeAgent(agent);
        return ids.every((id) =>
          s.find("container_restarts_total", { container_id: id }).length > 0
        );
      });
      await sleep(SETTLE * 1000);
      phases.push(await phase(agent, "none", ids));
      console.error(`none: ${JSON.stringify(phases.at(-1))}`);

      const t0 = performance.now();
      for (const c of clients) await c.p.send("go");
      for (const c of clients) {
        opened.push(JSON.parse(await c.p.lines.expect("json", "tcpload hold")));
      }
      const openMs = performance.now() - t0;
      const connected = opened.reduce((a, o) => a + o.connected, 0);
      console.error(`opened ${connected} connections in ${Math.round(openMs)} ms`);
      await waitFor(`${connected} tracked connections`, 120_000, async () => {
        const s = await scrapeAgent(agent);
        return (s.value("osprey_net_connections") ?? 0) >= connected;
      });
      await sleep(SETTLE * 1000);
      const loaded = await phase(agent, "loaded", ids);
      loaded.kernel_map = await kernelMap(agent.child.pid, connected);
      phases.push(loaded);
      console.error(`loaded: ${JSON.stringify(loaded)}`);

      // every holder exits at once: a burst of END records that may overflow the ring; the
      // connections whose END was lost stay tracked until the /proc reconciliation (10 min)
      const lost0 = await lostRecords(agent);
      for (const c of clients) await c.p.stop(60_000);
      await waitFor("no tracked connections", 30_000, async () => {
        const s = await scrapeAgent(agent);
        return (s.value("osprey_net_connections") ?? 1) === 0;
      }).catch(() => {});
      await sleep(SETTLE * 1000);
      const closed = await phase(agent, "closed", ids);
      const lost1 = await lostRecords(agent);
      closed.lost_records = Object.fromEntries(
        Object.entries(lost1).map(([k, v]) => [k, v - (lost0[k] ?? 0)]).filter((x) => x[1] !== 0),
      );
      phases.push(closed);
      console.error(`closed: RSS ${phases.at(-1)!.rss_mib} MiB`);
    } finally {
      await agent.stop();
    }
  } finally {
    await lab.remove();
  }
  const [none, loaded, closed] = phases;
  const connected = opened.reduce((a, o) => a + o.connected, 0);
  const perConnection = (loaded.rss_mib - none.rss_mib) * MIB / connected;
  const summary = {
    connections: connected,
    destinations: ADDRESSES * PORTS,
    containers: CONTAINERS,
    rss_none_mib: none.rss_mib,
    rss_loaded_mib: loaded.rss_mib,
    rss_closed_mib: closed.rss_mib,
    ratio_loaded_none: round(loaded.rss_mib / none.rss_mib, 2),
    bytes_per_connection: Math.round(perConnection),
    heap_per_connection: Math.round((loaded.heap_used_mib - none.heap_used_mib) * MIB / connected),
  };
  console.log(JSON.stringify({ machine: machine(), summary, opened, phases }, null, 2));
  for (const p of phases) {
    console.log(
      `${p.phase}: RSS ${p.rss_mib} MiB (high-water ${p.hwm_mib}), V8 heap used ` +
        `${p.heap_used_mib} MiB, ${p.tracked_connections} tracked connections, ` +
        `${p.destinations_series} destinations with series, agent ${p.agent_millicores} ` +
        `millicores, scrape ${Math.round(p.scrape_bytes / 1024)} KiB / ${p.scrape_series} ` +
        `series in ${p.scrape_ms} ms` +
        (p.kernel_map
          ? `; kernel map ${Math.round(p.kernel_map.bytes / MIB)} MiB (bpftool memlock)`
          : "") +
        (p.lost_records ? `; records lost in the close: ${JSON.stringify(p.lost_records)}` : ""),
    );
  }
  console.log(
    `${connected} connections to ${summary.destinations} destinations: RSS ×${summary.ratio_loaded_none} ` +
      `(${summary.bytes_per_connection} B per connection, V8 heap ${summary.heap_per_connection} B)`,
  );
}

if (import.meta.main) await run();
