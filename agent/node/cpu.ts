/**
 * `node_resources_cpu_usage_seconds_total{mode}` and `node_resources_cpu_logical_cores` from
 * `<proc>/stat`.
 *
 * The aggregate `cpu` line holds ticks of USER_HZ (see `user_hz.ts`) per mode. Its column count
 * grew with the kernel: 4 before 2.5.41 (user nice system idle), 7 from 2.5.41 (+ iowait irq
 * softirq), 8 from 2.6.11 (+ steal), 9 from 2.6.24 (+ guest), 10 from 2.6.33 (+ guest_nice).
 * A mode the kernel does not report is left out rather than reported as 0. `guest` and
 * `guest_nice` are already included in `user` and `nice`, so they are not a mode of their own
 * here (as in the reference agent).
 *
 * @module
 */
import type { Collector } from "../collector.ts";
import { under } from "../paths.ts";
import type { NodeContext } from "./_context.ts";
import { HostFileFormatError, parseCount, quoteLine } from "./_errors.ts";
import { round, SeriesCache } from "./_read.ts";

/** The modes of the contract, in /proc/stat column order. */
export const CPU_MODES = [
  "user",
  "nice",
  "system",
  "idle",
  "iowait",
  "irq",
  "softirq",
  "steal",
] as const;

/** One of {@linkcode CPU_MODES}. */
export type CpuMode = typeof CPU_MODES[number];

/** What the node collectors need from /proc/stat. */
export interface ProcStat {
  /** Ticks per mode of the aggregate `cpu` line; modes the kernel does not report are absent. */
  readonly ticks: Partial<Record<CpuMode, number>>;
  /** Number of `cpuN` lines: the online logical CPUs. */
  readonly logicalCores: number;
}

/** Parses /proc/stat. Throws {@linkcode HostFileFormatError} on a truncated or garbled file. */
export function parseProcStat(text: string, file = "/proc/stat"): ProcStat {
  let ticks: Partial<Record<CpuMode, number>> | undefined;
  let logicalCores = 0;
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    if (!line.startsWith("cpu")) continue;
    const fields = line.trim().split(/\s+/);
    const label = fields[0];
    if (label === "cpu") {
      if (ticks) throw new HostFileFormatError(file, i + 1, 'a second aggregate "cpu" line');
      if (fields.length < 5) {
        throw new HostFileFormatError(
          file,
          i + 1,
          `the "cpu" line has ${fields.length - 1} columns, expected at least 4: ${
            quoteLine(line)
          }`,
        );
      }
      ticks = {};
      for (let m = 0; m < CPU_MODES.length && m + 1 < fields.length; m++) {
        ticks[CPU_MODES[m]] = parseCount(fields[m + 1], file, i + 1, `"cpu" ${CPU_MODES[m]}`);
      }
      for (let c = CPU_MODES.length + 1; c < fields.length; c++) {
        parseCount(fields[c], file, i + 1, `"cpu" column ${c}`);
      }
    } else if (/^cpu\d+$/.test(label)) {
      if (fields.length < 5) {
        throw new HostFileFormatError(file, i + 1, `truncated line ${quoteLine(line)}`);
      }
      for (let c = 1; c < fields.length; c++) {
        parseCount(fields[c], file, i + 1, `"${label}" column ${c}`);
      }
      logicalCores++;
    } else {
      throw new HostFileFormatError(file, i + 1, `unknown line ${quoteLine(line)}`);
    }
  }
  if (!ticks) throw new HostFileFormatError(file, 0, 'no aggregate "cpu" line');
  if (logicalCores === 0) throw new HostFileFormatError(file, 0, 'no "cpuN" lines');
  return { ticks, logicalCores };
}

/** Options of {@linkcode cpuCollector}. */
export interface CpuCollectorOptions {
  /** USER_HZ, from `readUserHz`. */
  readonly userHz: number;
}

/** The collector of the CPU families. */
export function cpuCollector(
  { registry, paths, files }: NodeContext,
  opts: CpuCollectorOptions,
): Collector {
  const usage = registry.counter({
    name: "node_resources_cpu_usage_seconds_total",
    help: "Time the CPUs spent in each mode, summed over all CPUs",
    labelNames: ["mode"] as const,
  });
  const cores = registry.gauge({
    name: "node_resources_cpu_logical_cores",
    help: "Number of online logical CPU cores",
    labelNames: [] as const,
  });
  const file = files.get(under(paths.proc, "stat"));
  const series = new SeriesCache<{ set(v: number): void }>();
  return {
    name: "node_cpu",
    collect: () =>
      round([usage, cores, series], () => {
        const stat = parseProcStat(file.read(), file.path);
        for (const mode of CPU_MODES) {
          const t = stat.ticks[mode];
          if (t !== undefined) series.get(mode, () => usage.labels(mode)).set(t / opts.userHz);
        }
        series.get("", () => cores.labels()).set(stat.logicalCores);
      }),
  };
}
