/**
 * Throughput and memory of the log parser (agent/logs/parser).
 *
 * 1. Throughput: a Loghub-2k raw file (default: all eight concatenated) is replicated into
 *    `/tmp` until it is at least `--size-mb` (1024) MB. In one run, `wc -l` reads it (the I/O
 *    floor), then one parser reads it the way the agent does: 1 MiB reads, UTF-8 decoding,
 *    lines split on `\n`, each line through `LogParser.push` (multiline collector → level →
 *    pattern for warning/error/critical → counter). CPU time is this process's user + system
 *    time (`process.cpuUsage()`); the parser runs on one thread, so lines per CPU second is
 *    lines per second per core. A second pass (`--every-line`) classifies every line, whatever
 *    its level (what `deno task patterns` does): the worst case.
 * 2. Memory: RSS after 1,000,000 distinct error and warning messages through one parser with the
 *    default caps (256 patterns per level, 4096-byte samples), after a GC.
 *
 * Usage: deno run -A bench/logs/logs_bench.ts [--size-mb=1024] [--dataset=all|HDFS|...]
 *        [--format=plain|cri|docker] (lines as written, or wrapped by a runtime: decoded too)
 *        [--keep] (keep the generated file) [--no-memory] (throughput only)   Run with --v8-flags=--expose-gc for a GC.
 *
 * @module
 */
import { cpuUsage } from "node:process";
import { flag } from "../_args.ts";
import { PatternClassifier } from "../../agent/logs/parser/classifier.ts";
import { LogParser } from "../../agent/logs/parser/mod.ts";
import { DRAIN_GA, LOGHUB_DIR } from "./ga.ts";

const SIZE_MB = Number(flag("size-mb", "1024"));
const DATASET = flag("dataset", "all");
const FORMAT = flag("format", "plain");
if (!["plain", "cri", "docker"].includes(FORMAT)) {
  throw new Error(`--format must be plain, cri or docker, got ${JSON.stringify(FORMAT)}`);
}
const FILE = Deno.args.includes("--keep")
  ? `/tmp/osprey-logs-bench-${DATASET}-${FORMAT}-${SIZE_MB}.log`
  : `/tmp/osprey-logs-bench-${DATASET}-${FORMAT}-${SIZE_MB}-${Deno.pid}.log`;

function sourceText(): string {
  const names = DATASET === "all" ? Object.keys(DRAIN_GA) : [DATASET];
  const text = names.map((n) => {
    // the files end their lines with CRLF; logs on Linux end them with LF
    const t = Deno.readTextFileSync(`${LOGHUB_DIR}/${n}/${n}_2k.log`).replaceAll("\r\n", "\n");
    return t.endsWith("\n") ? t : t + "\n";
  }).join("");
  if (FORMAT === "plain") return text;
  // wrapped as a container runtime writes it: a nanosecond time per line, 1,000 lines a second
  return text.split("\n").slice(0, -1).map((l, i) => {
    const ts = new Date(Date.UTC(2024, 0, 2, 3, 0, 0) + Math.floor(i / 1000) * 1000)
      .toISOString().slice(0, 19) + `.${String(i % 1000).padStart(3, "0")}456789Z`;
    return FORMAT === "cri"
      ? `${ts} stdout F ${l}\n`
      : JSON.stringify({ log: l + "\n", stream: "stdout", time: ts }) + "\n";
  }).join("");
}

async function generate(): Promise<{ bytes: number; lines: number }> {
  const src = new TextEncoder().encode(sourceText());
  const srcLines = src.reduce((a, b) => a + (b === 0x0a ? 1 : 0), 0);
  const copies = Math.ceil((SIZE_MB * 1024 * 1024) / src.length);
  try {
    const st = Deno.statSync(FILE);
    if (st.size === copies * src.length) return { bytes: st.size, lines: copies * srcLines };
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  using f = await Deno.open(FILE, { write: true, create: true, truncate: true });
  // write in 64 MiB blocks
  const per = Math.max(1, Math.floor((64 << 20) / src.length));
  const block = new Uint8Array(per * src.length);
  for (let i = 0; i < per; i++) block.set(src, i * src.length);
  let left = copies;
  while (left > 0) {
    const n = Math.min(left, per);
    const b = block.subarray(0, n * src.length);
    for (let o = 0; o < b.length;) o += await f.write(b.subarray(o));
    left -= n;
  }
  return { bytes: copies * src.length, lines: copies * srcLines };
}

async function wcLines(): Promise<{ seconds: number; lines: number }> {
  const t = performance.now();
  const out = await new Deno.Command("wc", { args: ["-l", FILE], stdout: "piped" }).output();
  const seconds = (performance.now() - t) / 1000;
  return { seconds, lines: Number(new TextDecoder().decode(out.stdout).trim().split(/\s+/)[0]) };
}

interface Run {
  lines: number;
  cpuSeconds: number;
  wallSeconds: number;
}

/** Reads the file in 1 MiB chunks and hands each line to `onLine`. */
async function readLines(onLine: (l: string) => void): Promise<Run> {
  const c0 = cpuUsage();
  const t0 = performance.now();
  using f = await Deno.open(FILE);
  const buf = new Uint8Array(1 << 20);
  const dec = new TextDecoder("utf-8", { fatal: false });
  let rest = "";
  let lines = 0;
  for (;;) {
    const n = await f.read(buf);
    if (n === null) break;
    const text = rest + dec.decode(buf.subarray(0, n), { stream: true });
    let a = 0;
    for (;;) {
      const b = text.indexOf("\n", a);
      if (b < 0) break;
      onLine(text.slice(a, b));
      lines++;
      a = b + 1;
    }
    rest = text.slice(a);
  }
  if (rest.length > 0) {
    onLine(rest);
    lines++;
  }
  const c = cpuUsage(c0);
  return {
    lines,
    cpuSeconds: (c.user + c.system) / 1e6,
    wallSeconds: (performance.now() - t0) / 1000,
  };
}

function rssMiB(): number {
  return Deno.memoryUsage().rss / (1 << 20);
}

function gc(): void {
  (globalThis as { gc?: () => void }).gc?.();
}

if (import.meta.main) {
  const gen = await generate();
  console.log(
    `file: ${FILE}, ${(gen.bytes / (1 << 20)).toFixed(0)} MiB, ${gen.lines} lines ` +
      `(${DATASET}, ${FORMAT})`,
  );
  const wc = await wcLines();
  if (wc.lines !== gen.lines) throw new Error(`wc -l counted ${wc.lines}, expected ${gen.lines}`);
  const wcRate = wc.lines / wc.seconds;
  console.log(`wc -l: ${wc.seconds.toFixed(2)} s wall, ${(wcRate / 1e6).toFixed(2)} M lines/s`);

  // the agent's path
  const parser = new LogParser({
    decoder: FORMAT === "plain" ? "none" : FORMAT as "cri" | "docker",
    jsonParsing: true,
    patternsPerLevel: 256,
    maxLabelLength: 4096,
  });
  const now = Date.now();
  const run = await readLines((l) => parser.push(l, { timestampMs: now }));
  parser.stop();
  let counted = 0;
  const perLevel: Record<string, number> = {};
  for (const c of parser.counters()) {
    counted += c.messages;
    perLevel[c.level] = (perLevel[c.level] ?? 0) + c.messages;
  }
  const rate = run.lines / run.cpuSeconds;
  console.log(
    `parser: ${run.lines} lines → ${counted} messages ${JSON.stringify(perLevel)}; ` +
      `${run.cpuSeconds.toFixed(2)} s CPU, ${run.wallSeconds.toFixed(2)} s wall; ` +
      `${(rate / 1e3).toFixed(0)} k lines/s/core; wc -l is ${(wcRate / rate).toFixed(1)}× faster`,
  );

  // worst case: a pattern for every line
  if (Deno.args.includes("--every-line")) {
    const c = new PatternClassifier({ maxPatterns: 256 });
    const r2 = await readLines((l) => c.classify(l));
    console.log(
      `every line classified: ${((r2.lines / r2.cpuSeconds) / 1e3).toFixed(0)} k lines/s/core` +
        ` (${c.size} patterns)`,
    );
  }

  // memory: 1,000,000 distinct warning/error messages through one parser
  if (Deno.args.includes("--no-memory")) Deno.exit(0);
  gc();
  const before = rssMiB();
  const heapBefore = Deno.memoryUsage().heapUsed / (1 << 20);
  const m0 = performance.now();
  const p = new LogParser({
    decoder: "none",
    jsonParsing: true,
    patternsPerLevel: 256,
    maxLabelLength: 4096,
  });
  const pad = "x".repeat(200);
  for (let i = 0; i < 1_000_000; i++) {
    // distinct words (letters from the number) so each message would be a new pattern
    const w = i.toString(26).replace(/[0-9]/g, (d) => "qrstuvwxyz"[Number(d)]);
    p.push(`${i % 2 ? "ERROR" : "WARN"} failure ${w} in module${w} ${w}ing ${pad}`);
  }
  p.stop();
  const seconds = (performance.now() - m0) / 1000;
  gc();
  const after = rssMiB();
  const heapAfter = Deno.memoryUsage().heapUsed / (1 << 20);
  const series = [...p.counters()].length;
  console.log(
    `memory: 1,000,000 distinct messages in ${seconds.toFixed(1)} s; RSS ${before.toFixed(0)} → ` +
      `${after.toFixed(0)} MiB, V8 heap in use ${heapBefore.toFixed(1)} → ${
        heapAfter.toFixed(1)
      } MiB ` +
      `(${series} series: 2 levels × 256 patterns + overflow)`,
  );
  if (!Deno.args.includes("--keep")) Deno.removeSync(FILE);
}
