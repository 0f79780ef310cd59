/**
 * Exposition benchmark: Osprey's registry against npm:prom-client 15.1.3 on the same 100,000
 * series (10 families × 10,000 label sets, 2 labels), in the same process and run, plus
 * gzip of the output and each implementation's memory measured in its own child process.
 *
 * Usage: `deno run -A bench/exposition/exposition_bench.ts [--runs=15] [--json-only]`
 *
 * Prints one JSON document, then a human summary (unless `--json-only`).
 *
 * @module
 */
import { gzipSync } from "node:zlib";
import type client from "prom-client";
import type { Registry } from "../../agent/metrics/mod.ts";
import {
  buildOsprey,
  buildOspreyHistograms,
  buildPromClient,
  buildPromClientHistograms,
  FAMILIES,
  HISTOGRAM_SERIES,
  SERIES,
} from "./_dataset.ts";

interface Timing {
  minMs: number;
  medianMs: number;
  meanMs: number;
  runs: number;
}

function summarize(samples: number[]): Timing {
  const s = [...samples].sort((a, b) => a - b);
  const mid = s.length >> 1;
  const median = s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
  return {
    minMs: round(s[0]),
    medianMs: round(median),
    meanMs: round(s.reduce((a, b) => a + b, 0) / s.length),
    runs: s.length,
  };
}

function round(v: number): number {
  return Math.round(v * 100) / 100;
}

async function timeIt(fn: () => unknown | Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  await fn();
  return performance.now() - t0;
}

interface Pair {
  osprey: Timing;
  promClient: Timing;
  promClientWithUtf8: Timing;
  bytes: { osprey: number; promClient: number };
  ratioMedian: number;
  ratioMin: number;
}

/** Times `runs` encodes of each registry, alternating so both see the same machine noise. */
async function compare(
  ours: Registry,
  theirs: client.Registry,
  runs: number,
  warmup: number,
): Promise<Pair> {
  const te = new TextEncoder();
  let oBytes = 0;
  let pBytes = 0;
  for (let i = 0; i < warmup; i++) {
    oBytes = ours.encode("text").length;
    pBytes = te.encode(await theirs.metrics()).length;
  }
  const o: number[] = [];
  const p: number[] = [];
  const pu: number[] = [];
  for (let i = 0; i < runs; i++) {
    o.push(await timeIt(() => ours.encode("text")));
    p.push(await timeIt(() => theirs.metrics()));
    pu.push(await timeIt(async () => te.encode(await theirs.metrics())));
  }
  const osprey = summarize(o);
  const promClient = summarize(p);
  return {
    osprey,
    promClient,
    promClientWithUtf8: summarize(pu),
    bytes: { osprey: oBytes, promClient: pBytes },
    ratioMedian: round(promClient.medianMs / osprey.medianMs),
    ratioMin: round(promClient.minMs / osprey.minMs),
  };
}

async function gzipTimings(body: Uint8Array, runs: number): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = { inputBytes: body.length };
  for (const level of [1, 6]) {
    let size = 0;
    gzipSync(body, { level });
    const t: number[] = [];
    for (let i = 0; i < runs; i++) {
      t.push(await timeIt(() => size = gzipSync(body, { level }).length));
    }
    out[`zlibGzipSyncLevel${level}`] = { ...summarize(t), outputBytes: size };
  }
  const cs = async () => {
    const stream = new Blob([body as Uint8Array<ArrayBuffer>]).stream()
      .pipeThrough(new CompressionStream("gzip"));
    return (await new Response(stream).arrayBuffer()).byteLength;
  };
  let size = await cs();
  const t: number[] = [];
  for (let i = 0; i < Math.min(runs, 7); i++) t.push(await timeIt(async () => size = await cs()));
  out.compressionStream = { ...summarize(t), outputBytes: size };
  return out;
}

async function childMemory(impl: string, dataset: string): Promise<Record<string, number>> {
  const script = new URL("./rss_child.ts", import.meta.url).pathname;
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", script, impl, dataset],
    // The repository root, so the child finds deno.json (the prom-client import) from anywhere.
    cwd: new URL("../../", import.meta.url).pathname,
    env: { NO_COLOR: "1", DENO_NO_UPDATE_CHECK: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (code !== 0) {
    throw new Error(
      `Running the memory child for "${impl}" failed with exit code ${code}: ${
        new TextDecoder().decode(stderr)
      }`,
    );
  }
  const m = JSON.parse(new TextDecoder().decode(stdout));
  return {
    rssMb: round(m.rssMb),
    peakRssMb: round(m.peakRssMb),
    heapUsedMb: round(m.heapUsedMb),
    bytes: m.bytes,
  };
}

async function main(): Promise<void> {
  const runsArg = Deno.args.find((a) => a.startsWith("--runs="));
  const runs = runsArg ? Number(runsArg.slice("--runs=".length)) : 15;
  const jsonOnly = Deno.args.includes("--json-only");
  const warmup = 5;

  let t0 = performance.now();
  const ours = buildOsprey();
  const buildOspreyMs = performance.now() - t0;
  t0 = performance.now();
  const theirs = buildPromClient();
  const buildPromClientMs = performance.now() - t0;
  const scalar = await compare(ours, theirs, runs, warmup);
  const histogram = await compare(
    buildOspreyHistograms(),
    buildPromClientHistograms(),
    runs,
    warmup,
  );
  const omSamples: number[] = [];
  for (let i = 0; i < runs; i++) omSamples.push(await timeIt(() => ours.encode("openmetrics")));
  const openMetrics = summarize(omSamples);
  const gzip = await gzipTimings(ours.encode("text"), runs);
  const memory = {
    baseline: await childMemory("baseline", "scalar"),
    osprey: await childMemory("osprey", "scalar"),
    promClient: await childMemory("prom-client", "scalar"),
    ospreyHistogram: await childMemory("osprey", "histogram"),
    promClientHistogram: await childMemory("prom-client", "histogram"),
  };
  const result = {
    deno: Deno.version.deno,
    v8: Deno.version.v8,
    cpus: navigator.hardwareConcurrency,
    dataset: { families: FAMILIES, labelSetsPerFamily: SERIES, series: FAMILIES * SERIES },
    histogramDataset: { families: 1, labelSets: HISTOGRAM_SERIES, buckets: 11 },
    warmup,
    buildMs: { osprey: round(buildOspreyMs), promClient: round(buildPromClientMs) },
    scalar,
    histogram,
    ospreyOpenMetrics: openMetrics,
    gzip,
    memory,
  };
  console.log(JSON.stringify(result, null, 2));
  if (jsonOnly) return;
  const mb = (b: number) => (b / 1e6).toFixed(1);
  const g1 = gzip.zlibGzipSyncLevel1 as Timing & { outputBytes: number };
  const lines = [
    "",
    `Exposition of ${
      FAMILIES * SERIES
    } series (${FAMILIES} families × ${SERIES} label sets), ${runs} runs after ${warmup} warm-up, Deno ${Deno.version.deno}:`,
    `  osprey       median ${scalar.osprey.medianMs} ms, min ${scalar.osprey.minMs} ms (${
      mb(scalar.bytes.osprey)
    } MB, bytes)`,
    `  prom-client  median ${scalar.promClient.medianMs} ms, min ${scalar.promClient.minMs} ms (${
      mb(scalar.bytes.promClient)
    } MB, string; ${scalar.promClientWithUtf8.medianMs} ms median with UTF-8 encode)`,
    `  ratio prom-client/osprey: ${scalar.ratioMedian}× median, ${scalar.ratioMin}× min (target ≥ 3×: ${
      scalar.ratioMedian >= 3 ? "met" : "NOT met"
    })`,
    `  osprey OpenMetrics: median ${openMetrics.medianMs} ms`,
    `Histograms (${HISTOGRAM_SERIES} series × 11 buckets): osprey ${histogram.osprey.medianMs} ms, prom-client ${histogram.promClient.medianMs} ms median (${histogram.ratioMedian}×)`,
    `gzip of ${mb(gzip.inputBytes as number)} MB: zlib level 1 ${g1.medianMs} ms → ${
      mb(g1.outputBytes)
    } MB`,
    `RSS after build + 5 encodes (own child each): osprey ${memory.osprey.rssMb} MB (peak ${memory.osprey.peakRssMb}), prom-client ${memory.promClient.rssMb} MB (peak ${memory.promClient.peakRssMb}), empty Deno ${memory.baseline.rssMb} MB`,
  ];
  console.log(lines.join("\n"));
}

if (import.meta.main) await main();
