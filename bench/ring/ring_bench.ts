/**
 * Ring-buffer consumer benchmark: the TypeScript consumer (nonblocking wait +
 * sync drain into one reused buffer + decodeProcEvent on every record)
 * against the C consumer (bench/ring/ring_consumer.c, same library calls),
 * both fed by the same producer (the bench BPF object via osp_bench_produce,
 * which paces itself on free ring space so nothing is lost).
 *
 * Two modes, each run `--repeat` times, C and TypeScript interleaved:
 * - concurrent: producer and consumer run at once; end-to-end records/s.
 * - prefilled: the ring is filled first (untimed), then drained; the
 *   consumer's own records/s.
 *
 * usage (root, after `deno task build`):
 *   deno run -A bench/ring/ring_bench.ts [--records=5000000] [--buffer=262144] [--repeat=3]
 *
 * Prints one JSON document, then one human line per mode.
 *
 * @module
 */

import {
  type BpfObject,
  decodeProcEvent,
  emptyProcEvent,
  FrameBatch,
  openLibrary,
  type ProcEvent,
  type RingBuffer,
} from "../../ffi/mod.ts";

type Mode = "concurrent" | "prefilled";

interface Sample {
  consumer: "c" | "ts";
  mode: Mode;
  records: number;
  seconds: number;
  records_per_sec: number;
  lost: number;
  drains: number;
  waits: number;
}

/** Records per prefill round (same as the C consumer): ~15 MiB of the 16 MiB ring. */
const PREFILL = 80_000;

function parseArgs(args: string[]): { records: number; buffer: number; repeat: number } {
  const opts = { records: 5_000_000, buffer: 256 * 1024, repeat: 3 };
  for (const arg of args) {
    const m = arg.match(/^--(records|buffer|repeat)=(\d+)$/);
    if (!m) throw new TypeError(`Unknown argument "${arg}"`);
    opts[m[1] as keyof typeof opts] = Number(m[2]);
  }
  return opts;
}

const C_CONSUMER = new URL("./.output/ring_consumer_c", import.meta.url).pathname;

async function runC(mode: Mode, records: number, buffer: number): Promise<Sample> {
  const out = await new Deno.Command(C_CONSUMER, {
    args: [String(records), String(buffer), mode],
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!out.success) {
    throw new Error(`C consumer failed: ${new TextDecoder().decode(out.stderr)}`);
  }
  const r = JSON.parse(new TextDecoder().decode(out.stdout));
  return {
    consumer: "c",
    mode,
    records: r.records,
    seconds: r.seconds,
    records_per_sec: r.records_per_sec,
    lost: r.lost,
    drains: r.drains,
    waits: r.waits,
  };
}

/** Decode every record of a batch with the real decoder; returns the count. */
function decodeAll(batch: FrameBatch, scratch: ProcEvent, sink: { sum: number }): number {
  const view = batch.view;
  const end = batch.length;
  let n = 0;
  let sum = 0;
  for (let off = 0; off < end;) {
    const len = view.getUint32(off, true);
    const e = decodeProcEvent(batch, off + 8, scratch);
    sum += e.pid + e.cgroupId + e.comm.length;
    off += 8 + ((len + 7) & ~7);
    n++;
  }
  sink.sum += sum;
  return n;
}

async function consumeConcurrent(
  obj: BpfObject,
  ring: RingBuffer,
  batch: FrameBatch,
  records: number,
): Promise<Omit<Sample, "consumer" | "mode" | "lost">> {
  const scratch = emptyProcEvent();
  const sink = { sum: 0 };
  let got = 0, drains = 0, waits = 0;
  let done = false;
  const t0 = performance.now();
  const producing = obj.produce(records).finally(() => done = true);
  for (;;) {
    const n = ring.drain(batch.bytes);
    if (n === 0) {
      if (done && ring.pending() === 0) break;
      waits++;
      await ring.wait(100);
      continue;
    }
    drains++;
    batch.length = n;
    got += decodeAll(batch, scratch, sink);
  }
  const seconds = (performance.now() - t0) / 1000;
  await producing;
  return { records: got, seconds, records_per_sec: got / seconds, drains, waits };
}

async function consumePrefilled(
  obj: BpfObject,
  ring: RingBuffer,
  batch: FrameBatch,
  records: number,
): Promise<Omit<Sample, "consumer" | "mode" | "lost">> {
  const scratch = emptyProcEvent();
  const sink = { sum: 0 };
  let got = 0, drains = 0, seconds = 0;
  while (got < records) {
    await obj.produce(Math.min(PREFILL, records - got));
    const t0 = performance.now();
    for (let n; (n = ring.drain(batch.bytes)) > 0;) {
      drains++;
      batch.length = n;
      got += decodeAll(batch, scratch, sink);
    }
    seconds += (performance.now() - t0) / 1000;
  }
  return { records: got, seconds, records_per_sec: got / seconds, drains, waits: 0 };
}

async function runTs(mode: Mode, records: number, buffer: number): Promise<Sample> {
  using lib = openLibrary();
  using obj = lib.openObject("bench");
  obj.load();
  using ring = obj.openRing("bench_events");
  const batch = new FrameBatch(new Uint8Array(buffer));
  const r = mode === "concurrent"
    ? await consumeConcurrent(obj, ring, batch, records)
    : await consumePrefilled(obj, ring, batch, records);
  return { consumer: "ts", mode, ...r, lost: obj.lost().total };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

async function main(): Promise<void> {
  const { records, buffer, repeat } = parseArgs(Deno.args);
  if (Deno.uid() !== 0) throw new Error("Cannot run the ring benchmark: it needs root");
  try {
    Deno.statSync(C_CONSUMER);
  } catch {
    throw new Error(`Cannot find "${C_CONSUMER}": run "deno task build" first`);
  }

  const samples: Sample[] = [];
  // one warm-up per side so JIT and page faults are not measured
  await runC("concurrent", 200_000, buffer);
  await runTs("concurrent", 200_000, buffer);
  for (const mode of ["concurrent", "prefilled"] as const) {
    for (let i = 0; i < repeat; i++) {
      samples.push(await runC(mode, records, buffer));
      samples.push(await runTs(mode, records, buffer));
    }
  }

  const summary: Record<string, unknown> = {};
  const lines: string[] = [];
  for (const mode of ["concurrent", "prefilled"] as const) {
    const of = (c: "c" | "ts") => samples.filter((s) => s.mode === mode && s.consumer === c);
    const c = median(of("c").map((s) => s.records_per_sec));
    const ts = median(of("ts").map((s) => s.records_per_sec));
    const lost = samples.filter((s) => s.mode === mode).reduce((n, s) => n + s.lost, 0);
    summary[mode] = {
      c_records_per_sec: Math.round(c),
      ts_records_per_sec: Math.round(ts),
      ts_over_c: Number((ts / c).toFixed(3)),
      lost,
    };
    lines.push(
      `${mode}: TypeScript ${(ts / 1e6).toFixed(2)} M records/s, C ${(c / 1e6).toFixed(2)} M ` +
        `records/s, ratio ${(ts / c * 100).toFixed(0)}%, lost ${lost} ` +
        `(median of ${repeat}, ${records} records each, ${buffer}-byte buffer)`,
    );
  }
  console.log(JSON.stringify({ records, buffer, repeat, summary, samples }, null, 2));
  for (const line of lines) console.log(line);
}

if (import.meta.main) await main();
