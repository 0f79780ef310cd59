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
import { HostFileFormatError, isDigits, quoteLine } from "./_errors.ts";
import { round, SeriesCache } from "./_read.ts";

/** Parses /proc/meminfo into bytes per key (values without a unit, like HugePages_Total, as is). */
export function parseMeminfo(text: string, file = "/proc/meminfo"): Map<string, number> {
  const out = new Map<string, number>();
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    if (line === "") continue;
    // "Key:   value kB" or "Key:   value"; hand-parsed, as this runs every round.
    const colon = line.indexOf(":");
    let value = colon > 0 ? line.slice(colon + 1).trim() : "";
    const kb = value.endsWith(" kB");
    if (kb) value = value.slice(0, -3).trimEnd();
    if (colon <= 0 || !isDigits(value) || line.charCodeAt(colon + 1) !== 32) {
      if (line.trim() === "") continue;
      throw new HostFileFormatError(
        file,
        i + 1,
        `expected "Key: value [kB]", got ${quoteLine(line)}`,
      );
    }
    out.set(line.slice(0, colon), kb ? Number(value) * 1024 : Number(value));
  }
  return out;
}

/** The four values of the contract, in bytes. */
export interface MemorySnapshot {
  readonly totalBytes: number;
  readonly freeBytes: number;
  /** Absent on kernels before 3.14 (no MemAvailable). */
  readonly availableBytes?: number;
  readonly cachedBytes: number;
}

/** Picks the contract's values from parsed meminfo; throws when a required key is missing. */
export function memorySnapshot(info: Map<string, number>, file = "/proc/meminfo"): MemorySnapshot {
  const need = (key: string) => {
    const v = info.get(key);
    if (v === undefined) throw new HostFileFormatError(file, 0, `no "${key}" line`);
    return v;
  };
  return {
    totalBytes: need("MemTotal"),
    freeBytes: need("MemFree"),
    availableBytes: info.get("MemAvailable"),
    cachedBytes: need("Cached"),
  };
}

/** The collector of the memory families. */
export function memoryCollector({ registry, paths, files }: NodeContext): Collector {
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
  return {
    name: "node_memory",
    collect: () =>
      round([total, free, available, cached, series], () => {
        const m = memorySnapshot(parseMeminfo(file.read(), file.path), file.path);
        series.get("total", () => total.labels()).set(m.totalBytes);
        series.get("free", () => free.labels()).set(m.freeBytes);
        if (m.availableBytes === undefined) {
          available.clear();
          series.delete("available");
        } else series.get("available", () => available.labels()).set(m.availableBytes);
        series.get("cached", () => cached.labels()).set(m.cachedBytes);
      }),
  };
}
