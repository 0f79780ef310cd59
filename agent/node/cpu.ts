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
import type { SkipLine } from "../file_format_error.ts";
import { skipOrThrow } from "../file_format_error.ts";
import { parseU64Text, textLines } from "../host_text.ts";
import { HostFileFormatError, quoteLine } from "./_errors.ts";
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
  /**
   * Ticks per mode of the aggregate `cpu` line; modes the kernel does not report are absent.
   * Undefined when that line was skipped.
   */
  readonly ticks?: Partial<Record<CpuMode, number>>;
  /**
   * Number of distinct `cpuN` lines: the online logical CPUs. Undefined when there is none, or
   * when a line that starts like one (`cpu…`) could not be read, since it may have been one.
   */
  readonly logicalCores?: number;
}

const CPU_N = /^cpu\d+$/;

/**
 * Parses /proc/stat. Only the `cpu` lines are read; the others (`intr`, `ctxt`, ...) are not
 * looked at.
 *
 * - The aggregate `cpu` line needs at least 4 columns (user nice system idle), every one a
 *   count; columns after the eighth (guest, guest_nice and any a later kernel appends) are
 *   checked but not used. A `cpu` line at the very end of the text without its newline is cut
 *   short (the kernel always writes more lines after the cpu lines) and is not trusted.
 * - A `cpuN` line counts one online CPU by its label; its columns are not used or checked.
 * - A second line with the same label, or a line starting with `cpu` whose label is neither
 *   `cpu` nor `cpuN`, is skipped.
 *
 * Each skipped line goes to `skip`; without it the first one is thrown. Throws
 * {@linkcode HostFileFormatError} when no `cpu` or `cpuN` line can be read at all.
 */
export function parseProcStat(text: string, file = "/proc/stat", skip?: SkipLine): ProcStat {
  let ticks: Partial<Record<CpuMode, number>> | undefined;
  const cores = new Set<string>();
  let oddCpuLine = false;
  const lines = textLines(text);
  const bad = (i: number, reason: string) =>
    skipOrThrow(new HostFileFormatError(file, i + 1, reason), skip);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    if (!line.startsWith("cpu")) continue;
    const fields = line.trim().split(/\s+/);
    const label = fields[0];
    if (label === "cpu") {
      if (ticks) {
        bad(i, 'a second aggregate "cpu" line');
        continue;
      }
      if (i === lines.length - 1) {
        bad(i, `the "cpu" line ends without a newline (cut short?): ${quoteLine(line)}`);
        continue;
      }
      if (fields.length < 5) {
        bad(
          i,
          `the "cpu" line has ${fields.length - 1} columns, expected at least 4: ${
            quoteLine(line)
          }`,
        );
        continue;
      }
      const t: Partial<Record<CpuMode, number>> = {};
      let c = 1;
      for (; c < fields.length; c++) {
        const v = parseU64Text(fields[c]);
        if (Number.isNaN(v)) break;
        if (c <= CPU_MODES.length) t[CPU_MODES[c - 1]] = v;
      }
      if (c < fields.length) {
        bad(i, `"cpu" column ${c} is ${JSON.stringify(fields[c])}, not a count`);
        continue;
      }
      ticks = t;
    } else if (CPU_N.test(label)) {
      if (cores.has(label)) bad(i, `a second "${label}" line`);
      else cores.add(label);
    } else {
      oddCpuLine = true;
      bad(i, `unknown cpu line ${quoteLine(line)}`);
    }
  }
  if (!ticks && cores.size === 0) {
    throw new HostFileFormatError(file, 0, 'no readable "cpu" or "cpuN" line');
  }
  return { ticks, logicalCores: cores.size === 0 || oddCpuLine ? undefined : cores.size };
}

/** Options of {@linkcode cpuCollector}. */
export interface CpuCollectorOptions {
  /** USER_HZ, from `readUserHz`. */
  readonly userHz: number;
}

/** The collector of the CPU families. */
export function cpuCollector(
  { registry, paths, files, parseErrors }: NodeContext,
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
  const skip = parseErrors.sink("node_cpu", "stat");
  return {
    name: "node_cpu",
    collect: () =>
      round([usage, cores, series], () => {
        const stat = parseProcStat(file.read(), file.path, skip);
        for (const mode of CPU_MODES) {
          const t = stat.ticks?.[mode];
          if (t !== undefined) series.get(mode, () => usage.labels(mode)).set(t / opts.userHz);
          else series.drop(mode, () => usage.remove(mode));
        }
        if (stat.logicalCores !== undefined) {
          series.get("", () => cores.labels()).set(stat.logicalCores);
        } else series.drop("", () => cores.remove());
      }),
  };
}
