/**
 * The seven `node_resources_disk_*_total{device}` counters from `<proc>/diskstats`.
 *
 * Line layout (Documentation/admin-guide/iostats.rst): major, minor, name, then 11 fields up to
 * Linux 4.17, 15 from 4.18 (discards), 17 from 5.5 (flushes): 14, 18 or 20 columns in all. We
 * use fields 1, 3, 4, 5, 7, 8 and 10, which every layout has. Kernels before 2.6.25 wrote
 * partitions with only 4 fields (7 columns); those lines describe partitions, which the contract
 * never reports, so the parser leaves them out.
 *
 * Which devices: whole disks listed in `<sys>/block` of the contract's kinds, see `filters.ts`.
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
import type { SkipLine } from "../file_format_error.ts";
import { skipOrThrow } from "../file_format_error.ts";
import { parseU64Text, textLines } from "../host_text.ts";
import { HostFileFormatError, quoteLine } from "./_errors.ts";
import { LabelSets, round, SeriesCache } from "./_read.ts";
import type { DiskFilter, NameFilter } from "./filters.ts";

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

/** Column counts of the known layouts (before 4.18, from 4.18, from 5.5). */
function knownColumnCount(n: number): boolean {
  return n === 14 || n === 18 || n >= 20;
}

/**
 * Parses /proc/diskstats.
 *
 * A line is readable when it has 14, 18, or 20 or more columns (a later kernel may append
 * more), every column but the name is a count, and its device name was not seen before (the
 * first line wins). 7-column partition lines of kernels before 2.6.25 are left out without
 * being counted, as the contract never reports partitions. Any other line is skipped: an odd
 * column count is what a lost or an added space gives, and the columns after it would be read
 * in the wrong places.
 *
 * Each skipped line goes to `skip`; without it the first one is thrown. Throws
 * {@linkcode HostFileFormatError} when the file has lines but not one can be read (an empty
 * file is a host without block devices).
 */
export function parseDiskstats(
  text: string,
  file = "/proc/diskstats",
  skip?: SkipLine,
): DiskStat[] {
  const out: DiskStat[] = [];
  const seen = new Set<string>();
  const lines = textLines(text);
  let readable = 0, unreadable = 0;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    if (line === "") continue;
    const f = line.trim().split(/\s+/);
    let reason: string | undefined;
    const n: number[] = new Array(f.length);
    if (f.length !== 7 && !knownColumnCount(f.length)) {
      reason = `${f.length} columns, expected 14, 18 or 20: ${quoteLine(line)}`;
    } else {
      for (let c = 0; c < f.length && reason === undefined; c++) {
        if (c === 2) continue;
        n[c] = parseU64Text(f[c]);
        if (Number.isNaN(n[c])) {
          reason = `column ${c + 1} of "${f[2]}" is ${JSON.stringify(f[c])}, not a count`;
        }
      }
    }
    if (reason === undefined && f.length === 7) {
      readable++; // pre-2.6.25 partition line
      continue;
    }
    if (reason === undefined && seen.has(f[2])) reason = `a second "${f[2]}" line`;
    if (reason !== undefined) {
      unreadable++;
      skipOrThrow(new HostFileFormatError(file, i + 1, reason), skip);
      continue;
    }
    readable++;
    seen.add(f[2]);
    out.push({
      major: n[0],
      minor: n[1],
      device: f[2],
      readsCompleted: n[3],
      sectorsRead: n[5],
      readMs: n[6],
      writesCompleted: n[7],
      sectorsWritten: n[9],
      writeMs: n[10],
      ioMs: n[12],
    });
  }
  if (readable === 0 && unreadable > 0) {
    throw new HostFileFormatError(file, 0, `none of its ${unreadable} lines can be read`);
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

/**
 * The names listed in `<sys>/block` (the kernel's whole disks), or undefined when the directory
 * does not exist (a sysfs without block devices, or a fixture tree). Throws an error naming
 * the directory when it exists but cannot be read.
 */
export function readWholeDisks(sys: string): Set<string> | undefined {
  const dir = under(sys, "block");
  try {
    const out = new Set<string>();
    for (const e of Deno.readDirSync(dir)) out.add(e.name);
    return out;
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return undefined;
    const why = err instanceof Error ? err.message : String(err);
    throw new Error(`Cannot list "${dir}": ${why}`, { cause: err });
  }
}

/** The collector of the disk families. */
export function diskCollector(
  { registry, paths, files, parseErrors }: NodeContext,
  filter: DiskFilter,
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
  const skip = parseErrors.sink("node_disk", "diskstats");
  // <sys>/block is listed again only when the devices of diskstats change (a disk added or
  // removed shows in both), not every round.
  let whole: Set<string> | undefined;
  let names: string | undefined;
  const listing = { clear: () => names = undefined };
  return {
    name: "node_disk",
    collect: () =>
      round([...families, sets, series, listing], () => {
        const stats = parseDiskstats(file.read(), file.path, skip);
        const now = stats.map((d) => d.device).join("\n");
        if (now !== names) {
          whole = readWholeDisks(paths.sys);
          names = now;
        }
        const disks = selectDisks(stats, (name) => filter(name, whole));
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
