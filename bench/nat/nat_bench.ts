/**
 * NAT watcher benchmark (root): namespaces with a DNAT rule (tests/helpers/
 * netns_lab.ts), a watcher on the router's conntrack.
 *
 * 1. Lookups: batches of 1,000 tuples through osp_nat_lookup (pre-encoded,
 *    lookupRaw) and through lookup() (encoding and decoding included):
 *    all hits (1,000 held connections through the VIP), all certain misses
 *    (tuples that were never NATed, started after any loss), and misses
 *    answered by ctnetlink GETs (a watcher without events).
 * 2. Churn: the client connects and closes through the VIP at `--rate` per
 *    second for `--seconds`; the event thread's CPU time, events received
 *    against connections made, overruns and wakeups, for each `--intervals`
 *    value (the thread's pause after a drain).
 *
 * usage (root, after `deno task build`):
 *   deno run -A bench/nat/nat_bench.ts [--rate=5000] [--seconds=10] [--intervals=20,1]
 *
 * Prints one JSON document, then one human line per measurement.
 *
 * @module
 */

import {
  encodeNatQuery,
  NAT_QUERY_SIZE,
  NAT_RESULT_SIZE,
  type NatQuery,
  type NatWatcher,
  openLibrary,
  type OspreyLibrary,
} from "../../ffi/mod.ts";
import { NatLab } from "../../tests/helpers/netns_lab.ts";
import { flag } from "../_args.ts";

const RATE = Number(flag("rate", "5000"));
const SECONDS = Number(flag("seconds", "10"));
const INTERVALS = flag("intervals", "20,1").split(",").map(Number);
const BATCH = 1000;

function encode(qs: NatQuery[]): Uint8Array {
  const bytes = new Uint8Array(qs.length * NAT_QUERY_SIZE);
  const view = new DataView(bytes.buffer);
  qs.forEach((q, i) => encodeNatQuery(view, i * NAT_QUERY_SIZE, q));
  return bytes;
}

interface LookupSample {
  kind: string;
  api: "raw" | "lookup";
  batches: number;
  lookups_per_sec: number;
  us_per_batch: number;
}

function timeLookups(
  w: NatWatcher,
  kind: string,
  qs: NatQuery[],
  minMs: number,
): LookupSample[] {
  const bytes = encode(qs);
  const results = new Uint8Array(qs.length * NAT_RESULT_SIZE);
  const out: LookupSample[] = [];
  for (const api of ["raw", "lookup"] as const) {
    const call = api === "raw"
      ? () => w.lookupRaw(bytes, qs.length, results)
      : () => w.lookup(qs).length;
    for (let i = 0; i < 20; i++) call(); // warm up
    let batches = 0;
    const t0 = performance.now();
    let t = t0;
    while (t - t0 < minMs) {
      call();
      batches++;
      t = performance.now();
    }
    const sec = (t - t0) / 1000;
    out.push({
      kind,
      api,
      batches,
      lookups_per_sec: Math.round((batches * qs.length) / sec),
      us_per_batch: Math.round((sec * 1e6) / batches * 10) / 10,
    });
  }
  return out;
}

async function lookups(lib: OspreyLibrary, lab: NatLab): Promise<LookupSample[]> {
  const held = await lab.hold(lab.vip4, 80, BATCH);
  const hits: NatQuery[] = held.ends.map((e) => ({
    saddr: e.local,
    sport: e.port,
    daddr: lab.vip4,
    dport: 80,
  }));
  const misses: NatQuery[] = hits.map((q, i) => ({
    ...q,
    daddr: lab.backend4,
    dport: 8080,
    sport: 1 + i,
    startNs: Number.MAX_SAFE_INTEGER, // began after any loss: a miss is certain
  }));
  const samples: LookupSample[] = [];
  {
    using w = await lib.openNatWatcher(lab.routerPath);
    const check = w.lookup(hits);
    if (!check.every((r) => r.found && r.addr === lab.backend4)) {
      throw new Error("Not every held VIP connection resolved to the backend");
    }
    samples.push(...timeLookups(w, "hits", hits, 2000));
    samples.push(...timeLookups(w, "misses", misses, 2000));
    const s = w.stats();
    if (s.gets !== 0) throw new Error(`Expected no GETs, saw ${s.gets}`);
  }
  {
    // without events every miss is a GET; no budget, to time the GETs themselves
    using w = await lib.openNatWatcher(lab.routerPath, {
      noEvents: true,
      noSeed: true,
      getRate: 0xffffffff,
    });
    const gets = hits.map((q, i) => ({ ...q, sport: 1 + i })); // no such entries: ENOENT
    samples.push(...timeLookups(w, "misses via GET (not found)", gets, 2000).slice(0, 1));
    // found ones would be cached after the first GET; a fresh watcher per batch times them
    const t0 = performance.now();
    let batches = 0;
    while (performance.now() - t0 < 2000) {
      using w2 = await lib.openNatWatcher(lab.routerPath, {
        noEvents: true,
        noSeed: true,
        getRate: 0xffffffff,
      });
      const t = performance.now();
      w2.lookupRaw(encode(hits), hits.length, new Uint8Array(hits.length * NAT_RESULT_SIZE));
      const dt = performance.now() - t;
      if (w2.stats().getFound !== BATCH) throw new Error("GETs did not find the VIP entries");
      batches++;
      samples.push({
        kind: "hits via GET (found)",
        api: "raw",
        batches: 1,
        lookups_per_sec: Math.round(BATCH / (dt / 1000)),
        us_per_batch: Math.round(dt * 1000 * 10) / 10,
      });
      if (batches >= 5) break;
    }
  }
  await held.close();
  return samples;
}

interface ChurnSample {
  interval_ms: number;
  rate_asked: number;
  connections: number;
  failed: number;
  seconds: number;
  rate_made: number;
  events: number;
  nat_events: number;
  overruns: number;
  dropped: number;
  drains: number;
  drains_per_sec: number;
  thread_cpu_ms: number;
  thread_millicores: number;
  thread_us_per_event: number;
  cached: number;
  evicted: number;
}

async function churn(lib: OspreyLibrary, lab: NatLab, intervalMs: number): Promise<ChurnSample> {
  using w = await lib.openNatWatcher(lab.routerPath, { intervalMs, noSeed: true });
  const before = w.stats();
  const g = await lab.churn(lab.vip4, 80, RATE, SECONDS);
  // events of the last connections may still sit in the socket: let the thread drain them
  await new Promise((r) => setTimeout(r, intervalMs + 200));
  const after = w.stats();
  const sec = g.ms / 1000;
  const cpuNs = after.threadCpuNs - before.threadCpuNs;
  const events = after.events - before.events;
  return {
    interval_ms: intervalMs,
    rate_asked: RATE,
    connections: g.connected,
    failed: g.failed,
    seconds: sec,
    rate_made: Math.round(g.connected / sec),
    events,
    nat_events: after.natEvents - before.natEvents,
    overruns: after.overruns - before.overruns,
    dropped: after.dropped - before.dropped,
    drains: after.drains - before.drains,
    drains_per_sec: Math.round((after.drains - before.drains) / sec),
    thread_cpu_ms: Math.round(cpuNs / 1e5) / 10,
    thread_millicores: Math.round((cpuNs / 1e6) / sec * 10) / 10,
    thread_us_per_event: events ? Math.round(cpuNs / events / 10) / 100 : 0,
    cached: after.cached,
    evicted: after.evicted,
  };
}

async function main(): Promise<void> {
  const lab = await NatLab.create();
  try {
    using lib = openLibrary();
    const lookupSamples = await lookups(lib, lab);
    const churnSamples: ChurnSample[] = [];
    for (const i of INTERVALS) churnSamples.push(await churn(lib, lab, i));
    console.log(JSON.stringify({ lookups: lookupSamples, churn: churnSamples }, null, 2));
    for (const s of lookupSamples) {
      console.log(
        `lookup ${s.kind} (${s.api}): ${s.lookups_per_sec.toLocaleString("en")} lookups/s, ` +
          `${s.us_per_batch} µs per batch of ${BATCH}`,
      );
    }
    for (const c of churnSamples) {
      console.log(
        `churn interval ${c.interval_ms} ms: ${c.connections} connections in ${c.seconds} s ` +
          `(${c.rate_made}/s), ${c.events} events (${c.nat_events} NAT), ${c.overruns} overruns, ` +
          `${c.dropped} dropped, ${c.drains} drains (${c.drains_per_sec}/s), thread CPU ` +
          `${c.thread_cpu_ms} ms = ${c.thread_millicores} millicores, ` +
          `${c.thread_us_per_event} µs/event`,
      );
    }
  } finally {
    await lab.remove();
  }
}

if (import.meta.main) await main();
