/**
 * What the tail reader costs on its own and in front of the parser: reads a file from its
 * start through `TailReader` (as the logs module does, 4 MiB per poll, one decode per chunk),
 * handing each line to nothing or to a `LogParser`, and prints lines per second of CPU time
 * next to `wc -l` on the same file.
 *
 *   deno run -A bench/logs/tail_bench.ts <file> [--parser]
 *
 * @module
 */
import { TailReader } from "../../agent/logs/tail_reader.ts";
import { LogParser } from "../../agent/logs/parser/mod.ts";

const path = Deno.args.find((a) => !a.startsWith("--"));
if (path === undefined) {
  console.error("usage: deno run -A bench/logs/tail_bench.ts <file> [--parser]");
  Deno.exit(2);
}
const withParser = Deno.args.includes("--parser");
const parser = new LogParser({
  decoder: "none",
  jsonParsing: true,
  patternsPerLevel: 256,
  maxLabelLength: 4096,
});
let lines = 0;
const reader = new TailReader(path, {
  fromStart: true,
  onLine: withParser
    ? (l) => {
      lines++;
      parser.push(l);
    }
    : () => {
      lines++;
    },
});

function cpuSeconds(): number {
  // user + system time of this process, from /proc/self/stat (clock ticks of 1/100 s)
  const f = Deno.readTextFileSync("/proc/self/stat");
  const rest = f.slice(f.lastIndexOf(")") + 2).split(" ");
  return (Number(rest[11]) + Number(rest[12])) / 100;
}

const cpu0 = cpuSeconds();
const t0 = performance.now();
while (await reader.poll()) { /* more waiting */ }
await reader.poll();
const cpu = cpuSeconds() - cpu0;
const wall = (performance.now() - t0) / 1000;
reader.close();

const wc = await new Deno.Command("sh", {
  args: [
    "-c",
    'start=$(date +%s%N); wc -l < "$1" >/dev/null; end=$(date +%s%N); echo $(((end - start) / 1000))',
    "sh",
    path,
  ],
  stdout: "piped",
}).output();
const wcSeconds = Number(new TextDecoder().decode(wc.stdout).trim()) / 1e6;
console.log(JSON.stringify({
  lines,
  parser: withParser,
  cpu_seconds: Number(cpu.toFixed(2)),
  wall_seconds: Number(wall.toFixed(2)),
  lines_per_cpu_second: Math.round(lines / cpu),
  wc_lines_per_second: Math.round(lines / wcSeconds),
  read_errors: reader.stats.errors,
}));
