/**
 * `node_resources_memory_{total,free,available,cached}_bytes` from `<proc>/meminfo`.
 *
 * Units: meminfo prints "kB" but means KiB: fs/proc/meminfo.c shows pages shifted by
 * `PAGE_SHIFT - 10`, i.e. multiples of 1024 bytes. The reference agent multiplies by 1000 and so
 * under-reports by 2.4 %; we multiply by 1024, like node_exporter and `free(1)`.
 *
 * MemAvailable exists since Linux 3.14. On older kernels we leave the available series out
 * instead of estimating it: the kernel's own estimate (`si_mem_available`) needs the zones'
 * low watermarks and reserves, which older kernels do not expose in a compatible way, and a
 * made-up number would be worse than an absent one.
 *
 * @module
 */
import type { Collector } from "../collector.ts";
import { under } from "../paths.ts";
import type { NodeContext } from "./_context.ts";
import type { SkipLine } from "../file_format_error.ts";
import { skipOrThrow } from "../file_format_error.ts";
import { parseU64, textLines } from "../host_text.ts";
import { HostFileFormatError, quoteLine } from "./_errors.ts";
import { round, SeriesCache } from "./_read.ts";

/** The keys of the contract's four series: their values always carry a `kB` unit. */
const CONTRACT_KEYS: ReadonlySet<string> = new Set([
  "MemTotal",
  "MemFree",
  "MemAvailable",
  "Cached",
]);

/** True for a meminfo key as the kernel writes them: visible ASCII without `:`. */
function isKey(s: string, from: number, to: number): boolean {
  if (to <= from) return false;
  for (let i = from; i < to; i++) {
    const c = s.charCodeAt(i);
    if (c <= 32 || c >= 127) return false;
  }
  return true;
}

/**
 * Parses /proc/meminfo into bytes per key (values without a unit, like HugePages_Total, as
 * they are).
 *
 * A line is `Key:` then optional spaces, a count and optionally ` kB`. The kernel pads the
 * value to 8 characters after the key's colon, so a long key (arm64's `ShadowCallStack`) or a
 * value of 8 digits or more has no space after the colon; that is accepted. Counts above 2^53
 * (WSL reports `DirectMap` values near 2^54 kB) come out as the nearest double, see
 * `host_text.ts`; counts above 2^64 − 1 make the line unreadable. The four keys of the
 * contract must carry `kB` (a cut-short value loses it). A second line with a key already
 * read is skipped (the first wins).
 *
 * Each skipped line goes to `skip`; without it the first one is thrown. Throws
 * {@linkcode HostFileFormatError} when not one line can be read.
 */
export function parseMeminfo(
  text: string,
  file = "/proc/meminfo",
  skip?: SkipLine,
): Map<string, number> {
  const out = new Map<string, number>();
  const lines = textLines(text);
  let unreadable = 0;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    if (line === "") continue;
    // Hand-parsed, as this runs every round.
    const colon = line.indexOf(":");
    let v = colon + 1;
    while (v < line.length && line.charCodeAt(v) === 32) v++;
    let end = line.length;
    const kb = line.endsWith(" kB");
    if (kb) end -= 3;
    const value = colon > 0 && isKey(line, 0, colon) ? parseU64(line, v, end) : NaN;
    const key = Number.isNaN(value) ? "" : line.slice(0, colon);
    let reason: string | undefined;
    if (key === "") reason = `expected "Key: value [kB]", got ${quoteLine(line)}`;
    else if (!kb && CONTRACT_KEYS.has(key)) reason = `"${key}" has no kB unit: ${quoteLine(line)}`;
    else if (out.has(key)) reason = `a second "${key}" line`;
    if (reason !== undefined) {
      unreadable++;
      skipOrThrow(new HostFileFormatError(file, i + 1, reason), skip);
      continue;
    }
    // × 1024 is exact for doubles (a power of two), so the result is the nearest double.
    out.set(key, kb ? value * 1024 : value);
  }
  if (out.size === 0) {
    throw new HostFileFormatError(
      file,
      0,
      unreadable === 0 ? "no lines" : `none of its ${unreadable} lines can be read`,
    );
  }
  return out;
}

/** The four values of the contract, in bytes; a key the file lacks is left out. */
export interface MemorySnapshot {
  readonly totalBytes?: number;
  readonly freeBytes?: number;
  /** Also absent on kernels before 3.14 (no MemAvailable). */
  readonly availableBytes?: number;
  readonly cachedBytes?: number;
}

/**
 * Picks the contract's values from parsed meminfo. Throws {@linkcode HostFileFormatError}
 * when none of the four keys is there (the file is not meminfo).
 */
export function memorySnapshot(info: Map<string, number>, file = "/proc/meminfo"): MemorySnapshot {
  const m: MemorySnapshot = {
    totalBytes: info.get("MemTotal"),
    freeBytes: info.get("MemFree"),
    availableBytes: info.get("MemAvailable"),
    cachedBytes: info.get("Cached"),
  };
  if (Object.values(m).every((v) => v === undefined)) {
    throw new HostFileFormatError(file, 0, "no MemTotal, MemFree, MemAvailable or Cached line");
  }
  return m;
}

/** The collector of the memory families. */
export function memoryCollector(
  { registry, paths, files, parseErrors }: NodeContext,
): Collector {
  const g = (name: string, help: string) => registry.gauge({ name, help, labelNames: [] as const });
  const total = g("node_resources_memory_total_bytes", "Total usable memory (MemTotal)");
  const free = g("node_resources_memory_free_bytes", "Memory not used for anything (MemFree)");
  const available = g(
    "node_resources_memory_available_bytes",
    "Memory available for new workloads without swapping (MemAvailable)",
  );
  const cached = g("node_resources_memory_cached_bytes", "Memory in the page cache (Cached)");
  const file = files.get(under(paths.proc, "meminfo"));
  const series = new SeriesCache<{ set(v: number): void }>();
  const skip = parseErrors.sink("node_memory", "meminfo");
  const put = (key: string, family: typeof total, v: number | undefined) => {
    if (v !== undefined) series.get(key, () => family.labels()).set(v);
    else series.drop(key, () => family.clear());
  };
  return {
    name: "node_memory",
    collect: () =>
      round([total, free, available, cached, series], () => {
        const m = memorySnapshot(parseMeminfo(file.read(), file.path, skip), file.path);
        put("total", total, m.totalBytes);
        put("free", free, m.freeBytes);
        put("available", available, m.availableBytes);
        put("cached", cached, m.cachedBytes);
      }),
  };
}
