/**
 * Push benchmark: what one remote-write interval costs the agent for 100,000 series (the
 * exposition benchmark's data set: 10 families × 10,000 label sets, plus the machine_id and
 * system_uuid constant labels), against what one Prometheus scrape of the same registry costs
 * (GET /metrics through the agent's own Hono app with Prometheus' Accept and
 * `Accept-Encoding: gzip`), in the same process and run, alternating.
 *
 * Remote write per interval = `buildWriteRequest` (protobufjs Writer) + snappy (snappyjs) +
 * the spool write (tmp file, fsync, rename, directory fsync) + reading it back; the POST
 * itself is not included (nor is the scrape's socket work).
 *
 * Usage: `deno run -A bench/push/push_bench.ts [--runs=15]`. Prints one JSON document.
 *
 * @module
 */
import { cpuUsage } from "node:process";
import { buildOsprey } from "../exposition/_dataset.ts";
import { flag } from "../_args.ts";
import { createApp } from "../../agent/server/mod.ts";
import { silentLogger } from "../../agent/log.ts";
import { buildWriteRequest, pushLabels, snappyCompress } from "../../agent/push/remote_write.ts";
import { Spool } from "../../agent/push/spool.ts";

const RUNS = Number(flag("runs", "15"));
const PROMETHEUS_ACCEPT = "application/openmetrics-text;version=1.0.0,application/openmetrics-" +
  "text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";

const reg = buildOsprey();
reg.setConstLabels({
  machine_id: "0123456789abcdef0123456789abcdef",
  system_uuid: "ec2f1d4e-1c5b-4f3e-9d2a-7b6c5d4e3f21",
});
let series = 0;
for (const f of reg) series += f.size;
const app = createApp({ registry: reg, ready: () => true, log: silentLogger });
const wal = await Deno.makeTempDir({ prefix: "osprey-push-bench-" });
const spool = await Spool.open(wal, 1 << 30);

interface Sample {
  cpuMs: number;
  wallMs: number;
  bytes: number;
}

async function measure(fn: () => Promise<number>): Promise<Sample> {
  const c0 = cpuUsage();
  const t0 = performance.now();
  const bytes = await fn();
  const wallMs = performance.now() - t0;
  const c = cpuUsage(c0);
  return { cpuMs: (c.user + c.system) / 1000, wallMs, bytes };
}

async function remoteWrite(): Promise<number> {
  const wr = buildWriteRequest(reg, Date.now(), pushLabels(reg));
  const body = snappyCompress(wr.raw);
  const e = await spool.append(Date.now(), body);
  const back = await spool.read(e);
  await spool.remove(e);
  return back.length;
}

/** Only the encoding steps, to see where the time goes. */
function encodeParts(): { protobufMs: number; snappyMs: number; rawBytes: number } {
  const t0 = performance.now();
  const wr = buildWriteRequest(reg, Date.now(), pushLabels(reg));
  const t1 = performance.now();
  snappyCompress(wr.raw);
  return { protobufMs: t1 - t0, snappyMs: performance.now() - t1, rawBytes: wr.raw.length };
}

async function scrape(): Promise<number> {
  const r = await app.request("/metrics", {
    headers: { Accept: PROMETHEUS_ACCEPT, "Accept-Encoding": "gzip" },
  });
  return (await r.arrayBuffer()).byteLength;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return Math.round((s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2) * 100) / 100;
}

for (let i = 0; i < 3; i++) {
  await remoteWrite();
  await scrape();
}
const rw: Sample[] = [];
const sc: Sample[] = [];
const parts: ReturnType<typeof encodeParts>[] = [];
for (let i = 0; i < RUNS; i++) {
  rw.push(await measure(remoteWrite));
  sc.push(await measure(scrape));
  parts.push(encodeParts());
}
await Deno.remove(wal, { recursive: true });

const out = {
  series,
  wireSeries: buildWriteRequest(reg, 0, pushLabels(reg)).series,
  runs: RUNS,
  remoteWrite: {
    cpuMsMedian: median(rw.map((s) => s.cpuMs)),
    wallMsMedian: median(rw.map((s) => s.wallMs)),
    bodyBytes: rw[0].bytes,
    protobufMsMedian: median(parts.map((p) => p.protobufMs)),
    snappyMsMedian: median(parts.map((p) => p.snappyMs)),
    uncompressedBytes: parts[0].rawBytes,
  },
  scrapeGzip: {
    cpuMsMedian: median(sc.map((s) => s.cpuMs)),
    wallMsMedian: median(sc.map((s) => s.wallMs)),
    bodyBytes: sc[0].bytes,
  },
  ratio: {
    cpu: 0,
    bytes: 0,
  },
};
out.ratio.cpu = Math.round(out.remoteWrite.cpuMsMedian / out.scrapeGzip.cpuMsMedian * 100) / 100;
out.ratio.bytes = Math.round(out.remoteWrite.bodyBytes / out.scrapeGzip.bodyBytes * 100) / 100;
console.log(JSON.stringify(out, null, 2));
