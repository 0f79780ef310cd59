/**
 * The seven `node_resources_disk_*_total{device}` counters from `<proc>/diskstats`.
 *
 * Line layout (Documentation/admin-guide/iostats.rst): major, minor, name, then 11 fields up to
 * Linux 4.17, 15 from 4.18 (discards), 17 from 5.5 (flushes): 14, 18 or 20 columns in all. We
 * use fields 1, 3, 4, 5, 7, 8 and 10, which every layout has. Kernels before 2.6.25 wrote partitions with only
 * 4 fields (7 columns); those lines describe partitions, which the contract never reports, so the
 * parser skips them.
 *
 * Sectors are always 512 bytes here, whatever the device's logical block size:
 * Documentation/block/stat.rst says the sector counts are "the standard UNIX 512-byte sectors,
 * not any device- or filesystem-specific block size" (the kernel counts `bio_sectors()`, which
 * are `SECTOR_SHIFT` = 9 units; include/linux/blk_types.h).
 *
 * @module
 */
import type { Collector } from "../collector.ts";
import { under } from "../paths.ts";
import type { NodeContext } from "./_context.ts";
import { HostFileFormatError, parseCount, quoteLine } from "./_errors.ts";
import { LabelSets, round, SeriesCache } from "./_read.ts";
import type { NameFilter } from "./filters.ts";

/** Bytes per diskstats sector (see the module doc). */
export const DISKSTATS_SECTOR_BYTES = 512;

/** One whole line of /proc/diskstats, with the fields the contract uses. */
export interface DiskStat {
  readonly major: number;
  readonly minor: number;
  readonly device: string;
  readonly readsCompleted: number;
  readonly sectorsRead: number;
  readonly readMs: number;
  readonly writesCompleted: number;
  readonly sectorsWritten: number;
  readonly writeMs: number;
  readonly ioMs: number;
}

/** Parses /proc/diskstats (14, 18 or 20 columns a line; 7-column partition lines skipped). */
export function parseDiskstats(text: string, file = "/proc/diskstats"): DiskStat[] {
  const out: DiskStat[] = [];
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    if (line.trim() === "") continue;
    const f = line.trim().split(/\s+/);
    if (f.length === 7) {
      parseCount(f[0], file, i + 1, "major");
      continue; // pre-2.6.25 partition line
    }
    if (f.length < 14) {
      throw new HostFileFormatError(
        file,
        i + 1,
        `${f.length} columns, expected 14, 18 or 20: ${quoteLine(line)}`,
      );
    }
    const n = (col: number, what: string) => parseCount(f[col], file, i + 1, what);
    for (let c = 14; c < f.length; c++) n(c, `column ${c + 1}`);
    out.push({
      major: n(0, "major"),
      minor: n(1, "minor"),
      device: f[2],
      readsCompleted: n(3, "reads completed"),
      sectorsRead: n(5, "sectors read"),
      readMs: n(6, "time reading"),
      writesCompleted: n(7, "writes completed"),
      sectorsWritten: n(9, "sectors written"),
      writeMs: n(10, "time writing"),
      ioMs: n(12, "time doing I/O"),
    });
  }
  return out;
}

/**
 * Keeps the devices `filter` accepts, each once: if a name appears twice (which a duplicate
 * series would turn into a failed scrape), the first line wins.
 */
export function selectDisks(stats: readonly DiskStat[], filter: NameFilter): DiskStat[] {
  const seen = new Set<string>();
  const out: DiskStat[] = [];
  for (const s of stats) {
    if (!filter(s.device) || seen.has(s.device)) continue;
    seen.add(s.device);
    out.push(s);
  }
  return out;
}

/** The collector of the disk families. */
export function diskCollector(
  { registry, paths, files }: NodeContext,
  filter: NameFilter,
): Collector {
  const c = (name: string, help: string) =>
    registry.counter({ name, help, labelNames: ["device"] as const });
  const reads = c("node_resources_disk_reads_total", "Reads completed");
  const writes = c("node_resources_disk_writes_total", "Writes completed");
  const readBytes = c("node_resources_disk_read_bytes_total", "Bytes read");
  const writtenBytes = c("node_resources_disk_written_bytes_total", "Bytes written");
  const readTime = c("node_resources_disk_read_time_seconds_total", "Time spent reading");
  const writeTime = c("node_resources_disk_write_time_seconds_total", "Time spent writing");
  const ioTime = c(
    "node_resources_disk_io_time_seconds_total",
    "Time the device had I/O in flight",
  );
  const families = [reads, writes, readBytes, writtenBytes, readTime, writeTime, ioTime];
  const file = files.get(under(paths.proc, "diskstats"));
  const sets = new LabelSets();
  const series = new SeriesCache<{ set(v: number): void }[]>();
  return {
    name: "node_disk",
    collect: () =>
      round([...families, sets, series], () => {
        const disks = selectDisks(parseDiskstats(file.read(), file.path), filter);
        for (const [gone] of sets.update(disks.map((d) => [d.device]))) {
          for (const f of families) f.remove(gone);
          series.delete(gone);
        }
        for (const d of disks) {
          const s = series.get(d.device, () => families.map((f) => f.labels(d.device)));
          s[0].set(d.readsCompleted);
          s[1].set(d.writesCompleted);
          s[2].set(d.sectorsRead * DISKSTATS_SECTOR_BYTES);
          s[3].set(d.sectorsWritten * DISKSTATS_SECTOR_BYTES);
          s[4].set(d.readMs / 1000);
          s[5].set(d.writeMs / 1000);
          s[6].set(d.ioMs / 1000);
        }
      }),
  };
}
