/**
 * Pure parsers for the cgroup files the resource readers use, v1 and v2. Each takes the file's
 * text and a name for error messages, returns plain numbers, and throws only
 * {@linkcode CgroupFormatError}. They scan with indexOf and char codes, without regexes: they run
 * for every container every round.
 *
 * The parsers of files with several lines (cpu.stat, memory.stat, io.stat, the blkio files,
 * the pressure files) take a {@linkcode SkipLine}: a line they cannot read goes there, is left
 * out, and the others are kept; without one, it is thrown. They still throw when a file has
 * lines but not one can be read. The one-value files (cpuacct.usage, cpu.max, memory.max, ...)
 * are a single line: bad text throws, and the reader decides what it costs. A `\r` before a
 * line's newline is ignored; numbers follow `host_text.ts` (at most 2^64 − 1).
 *
 * Formats: Documentation/admin-guide/cgroup-v2.rst ("Interface Files", "Format") and
 * Documentation/admin-guide/cgroup-v1/{cpuacct,memory,blkio-controller}.rst, sched-bwc.rst.
 *
 * @module
 */
import type { SkipLine } from "../file_format_error.ts";
import { skipOrThrow } from "../file_format_error.ts";
import { contentEnd, lineEnd, parseU64 } from "../host_text.ts";
import { CgroupFormatError, quote } from "./errors.ts";

/**
 * A decimal integer in `s[from, to)`, with an optional leading `-`; NaN when it is not one or
 * its magnitude is above 2^64 − 1 (no kernel value is). Above 2^53 the nearest double.
 */
export function parseInteger(s: string, from: number, to: number): number {
  const negative = from < to && s.charCodeAt(from) === 45;
  const v = parseU64(s, negative ? from + 1 : from, to);
  return negative ? -v : v;
}

/**
 * Walks a flat-keyed file, one `key value` per line (cpu.stat and memory.stat, v1 and v2),
 * checking every line, and calls `onLine` with the key's bounds in `text` and the integer
 * value; `onLine` returns false for a key it already had, and that line is skipped as a
 * repeat. Keys are not sliced here, so a caller that wants a few of them allocates nothing.
 * Lines that cannot be read go to `skip` (thrown without it); throws when the text has lines
 * and not one can be read.
 */
function walkFlatKeyed(
  text: string,
  file: string,
  onLine: (keyStart: number, keyEnd: number, value: number) => boolean,
  skip: SkipLine | undefined,
): void {
  let line = 0, read = 0, unreadable = 0;
  for (let start = 0; start < text.length;) {
    const next = lineEnd(text, start);
    const end = contentEnd(text, start, next);
    line++;
    if (end > start) {
      const sp = text.indexOf(" ", start);
      let reason: string | undefined;
      if (sp <= start || sp >= end) {
        reason = `expected "key value", got ${quote(text.slice(start, end))}`;
      } else {
        const v = parseInteger(text, sp + 1, end);
        if (Number.isNaN(v)) {
          reason = `value is not an integer: ${quote(text.slice(start, end))}`;
        } else if (!onLine(start, sp, v)) reason = `a second "${text.slice(start, sp)}" line`;
      }
      if (reason === undefined) read++;
      else {
        unreadable++;
        skipOrThrow(new CgroupFormatError(file, line, reason), skip);
      }
    }
    start = next + 1;
  }
  if (read === 0 && unreadable > 0) {
    throw new CgroupFormatError(file, 0, `none of its ${unreadable} lines can be read`);
  }
}

/**
 * A flat-keyed file, one `key value` per line (cpu.stat and memory.stat, v1 and v2).
 * Values must be integers; the first line of a key wins. Lines that cannot be read, and
 * repeats, go to `skip` (thrown without it).
 */
export function parseFlatKeyed(text: string, file: string, skip?: SkipLine): Map<string, number> {
  const out = new Map<string, number>();
  walkFlatKeyed(text, file, (ks, ke, v) => {
    const key = text.slice(ks, ke);
    if (out.has(key)) return false;
    out.set(key, v);
    return true;
  }, skip);
  return out;
}

/**
 * The values of `keys` in a flat-keyed file (undefined for a key without a readable line),
 * checking every line as {@linkcode parseFlatKeyed} does but without building a map: the
 * readers' path, where memory.stat has some fifty lines and three are wanted. Only repeats of
 * the wanted keys are noticed (and skipped); the first line of a key wins.
 */
export function flatKeyedValues(
  text: string,
  file: string,
  keys: readonly string[],
  skip?: SkipLine,
): (number | undefined)[] {
  const out: (number | undefined)[] = keys.map(() => undefined);
  walkFlatKeyed(text, file, (ks, ke, v) => {
    const len = ke - ks;
    for (let k = 0; k < keys.length; k++) {
      const key = keys[k];
      if (key.length === len && text.startsWith(key, ks)) {
        if (out[k] !== undefined) return false;
        out[k] = v;
      }
    }
    return true;
  }, skip);
  return out;
}

/** The value of `key` in a flat-keyed map, or a format error naming the file. */
export function requireKey(stat: Map<string, number>, key: string, file: string): number {
  const v = stat.get(key);
  if (v === undefined) throw new CgroupFormatError(file, 0, `no "${key}" line`);
  return v;
}

/** A file holding one integer (cpuacct.usage, cpu.cfs_quota_us, memory.limit_in_bytes, ...). */
export function parseSingleValue(text: string, file: string): number {
  let end = text.length;
  if (end > 0 && text.charCodeAt(end - 1) === 10) end--;
  end = contentEnd(text, 0, end);
  const v = parseInteger(text, 0, end);
  if (Number.isNaN(v)) throw new CgroupFormatError(file, 1, `not an integer: ${quote(text)}`);
  return v;
}

/** Values of v1 memory.limit_in_bytes above this mean "no limit" (the kernel's PAGE_COUNTER_MAX rounded). */
export const V1_NO_MEMORY_LIMIT = 2 ** 62;

/** v1 memory.limit_in_bytes: bytes, or undefined for the "unlimited" sentinel (> 2^62). */
export function parseV1MemoryLimit(
  text: string,
  file = "memory.limit_in_bytes",
): number | undefined {
  const v = parseSingleValue(text, file);
  return v > V1_NO_MEMORY_LIMIT ? undefined : v;
}

/**
 * v1 CFS bandwidth: cpu.cfs_quota_us ÷ cpu.cfs_period_us in cores; undefined when the quota is
 * -1 (no limit) or the period is 0.
 */
export function parseV1CpuLimit(
  quotaText: string,
  periodText: string,
  quotaFile = "cpu.cfs_quota_us",
  periodFile = "cpu.cfs_period_us",
): number | undefined {
  const quota = parseSingleValue(quotaText, quotaFile);
  const period = parseSingleValue(periodText, periodFile);
  if (quota < 0 || period <= 0) return undefined;
  return quota / period;
}

function trimNewline(text: string): string {
  const t = text.endsWith("\n") ? text.slice(0, -1) : text;
  return t.endsWith("\r") ? t.slice(0, -1) : t;
}

/** v2 cpu.max, `$MAX $PERIOD` with `max` for no limit: cores, or undefined without a limit. */
export function parseCpuMax(text: string, file = "cpu.max"): number | undefined {
  const t = trimNewline(text);
  const sp = t.indexOf(" ");
  const quotaEnd = sp < 0 ? t.length : sp;
  if (t.slice(0, quotaEnd) === "max") {
    if (sp >= 0 && Number.isNaN(parseInteger(t, sp + 1, t.length))) {
      throw new CgroupFormatError(file, 1, `bad period in ${quote(t)}`);
    }
    return undefined;
  }
  const quota = parseInteger(t, 0, quotaEnd);
  const period = sp < 0 ? NaN : parseInteger(t, sp + 1, t.length);
  if (Number.isNaN(quota) || Number.isNaN(period) || quota < 0 || period <= 0) {
    throw new CgroupFormatError(file, 1, `expected "max|quota period", got ${quote(t)}`);
  }
  return quota / period;
}

/** v2 memory.max (and memory.high, memory.swap.max): bytes, or undefined for `max`. */
export function parseMemoryMax(text: string, file = "memory.max"): number | undefined {
  const t = trimNewline(text);
  if (t === "max") return undefined;
  const v = parseInteger(t, 0, t.length);
  if (Number.isNaN(v) || v < 0) {
    throw new CgroupFormatError(file, 1, `expected "max" or bytes, got ${quote(t)}`);
  }
  return v;
}

/** One block device's I/O counters of a cgroup. */
export interface IoStat {
  /** `major:minor`. */
  device: string;
  reads: number;
  writes: number;
  readBytes: number;
  writtenBytes: number;
}

function isDevice(s: string, from: number, to: number): boolean {
  const colon = s.indexOf(":", from);
  if (colon <= from || colon >= to - 1) return false;
  return !Number.isNaN(parseInteger(s, from, colon)) && s.charCodeAt(from) !== 45 &&
    !Number.isNaN(parseInteger(s, colon + 1, to)) && s.charCodeAt(colon + 1) !== 45;
}

/**
 * v2 io.stat: `MAJ:MIN rbytes=… wbytes=… rios=… wios=… dbytes=… dios=…` per device. Keys other
 * than the four used (dbytes, dios, and io.cost's `cost.*` with decimal values) are skipped.
 * A line without all four, with a bad field, or for a device already read goes to `skip`
 * (thrown without it); throws when the text has lines and not one can be read.
 */
export function parseIoStat(text: string, file = "io.stat", skip?: SkipLine): IoStat[] {
  const out: IoStat[] = [];
  let line = 0, unreadable = 0;
  for (let start = 0; start < text.length;) {
    const next = lineEnd(text, start);
    const end = contentEnd(text, start, next);
    line++;
    if (end > start) {
      const stat = ioStatLine(text, start, end);
      let reason: string | undefined;
      if (typeof stat === "string") reason = stat;
      else {
        for (let k = 0; k < out.length; k++) {
          if (out[k].device === stat.device) reason = `a second line for device ${stat.device}`;
        }
      }
      if (reason !== undefined) {
        unreadable++;
        skipOrThrow(new CgroupFormatError(file, line, reason), skip);
      } else out.push(stat as IoStat);
    }
    start = next + 1;
  }
  if (out.length === 0 && unreadable > 0) {
    throw new CgroupFormatError(file, 0, `none of its ${unreadable} lines can be read`);
  }
  return out;
}

/** One io.stat line, or why it cannot be read. */
function ioStatLine(text: string, start: number, end: number): IoStat | string {
  let sp = text.indexOf(" ", start);
  if (sp < 0 || sp > end) sp = end;
  if (!isDevice(text, start, sp)) {
    return `expected "MAJ:MIN key=value...", got ${quote(text.slice(start, end))}`;
  }
  let reads = -1, writes = -1, readBytes = -1, writtenBytes = -1;
  for (let f = sp + 1; f < end;) {
    let fe = text.indexOf(" ", f);
    if (fe < 0 || fe > end) fe = end;
    const eq = text.indexOf("=", f);
    if (eq <= f || eq >= fe) return `expected "key=value", got ${quote(text.slice(f, fe))}`;
    const keyLen = eq - f;
    const slot = keyLen === 6
      ? (text.startsWith("rbytes", f) ? 1 : text.startsWith("wbytes", f) ? 2 : 0)
      : keyLen === 4
      ? (text.startsWith("rios", f) ? 3 : text.startsWith("wios", f) ? 4 : 0)
      : 0;
    if (slot !== 0) {
      const v = parseU64(text, eq + 1, fe);
      if (Number.isNaN(v)) return `${quote(text.slice(f, fe))} is not a count`;
      if (slot === 1) readBytes = v;
      else if (slot === 2) writtenBytes = v;
      else if (slot === 3) reads = v;
      else writes = v;
    }
    f = fe + 1;
  }
  if (reads < 0 || writes < 0 || readBytes < 0 || writtenBytes < 0) {
    return `missing rbytes, wbytes, rios or wios in ${quote(text.slice(start, end))}`;
  }
  return { device: text.slice(start, sp), reads, writes, readBytes, writtenBytes };
}

/** Read and write counts of one device in a v1 blkio file. */
export interface BlkioCounts {
  device: string;
  /** The `Read` line's value; undefined when the device has no readable `Read` line. */
  read?: number;
  /** The `Write` line's value; undefined when the device has no readable `Write` line. */
  write?: number;
}

/**
 * v1 blkio.throttle.io_serviced or blkio.throttle.io_service_bytes: `MAJ:MIN Op value` lines
 * (Op: Read, Write, Sync, Async, Discard, Total) and a final `Total value`. Returns the Read and
 * Write values per device, in the file's order. A line that cannot be read, or a second line
 * for the same device and Op, goes to `skip` (thrown without it); throws when the text has
 * lines and not one can be read.
 */
export function parseBlkio(
  text: string,
  file = "blkio.throttle.io_serviced",
  skip?: SkipLine,
): BlkioCounts[] {
  const out: BlkioCounts[] = [];
  let last: BlkioCounts | undefined;
  let line = 0, read = 0, unreadable = 0;
  const ops = new Set<string>(); // "dev op" of the lines read, for repeats
  for (let start = 0; start < text.length;) {
    const next = lineEnd(text, start);
    const end = contentEnd(text, start, next);
    line++;
    if (end > start) {
      const sp1 = text.indexOf(" ", start);
      const sp2 = sp1 < 0 || sp1 >= end ? -1 : text.indexOf(" ", sp1 + 1);
      let bad = sp1 <= start || sp1 >= end;
      if (!bad && (sp2 < 0 || sp2 >= end)) {
        // The grand total line.
        bad = sp1 - start !== 5 || !text.startsWith("Total", start) ||
          Number.isNaN(parseU64(text, sp1 + 1, end)) || ops.has("Total");
        if (!bad) ops.add("Total");
      } else if (!bad) {
        const v = parseU64(text, sp2 + 1, end);
        const opLen = sp2 - sp1 - 1;
        bad = !isDevice(text, start, sp1) || Number.isNaN(v) || opLen <= 0;
        if (!bad) {
          const devLen = sp1 - start;
          const key = text.slice(start, sp2);
          bad = ops.has(key);
          ops.add(key);
          if (!bad) {
            if (!last || last.device.length !== devLen || !text.startsWith(last.device, start)) {
              last = out.find((c) =>
                c.device.length === devLen && text.startsWith(c.device, start)
              );
              if (!last) out.push(last = { device: text.slice(start, sp1) });
            }
            if (opLen === 4 && text.startsWith("Read", sp1 + 1)) last.read = v;
            else if (opLen === 5 && text.startsWith("Write", sp1 + 1)) last.write = v;
          }
        }
      }
      if (!bad) read++;
      else {
        unreadable++;
        skipOrThrow(
          new CgroupFormatError(
            file,
            line,
            `expected "MAJ:MIN Op value" or "Total value" once each, got ${
              quote(text.slice(start, end))
            }`,
          ),
          skip,
        );
      }
    }
    start = next + 1;
  }
  if (read === 0 && unreadable > 0) {
    throw new CgroupFormatError(file, 0, `none of its ${unreadable} lines can be read`);
  }
  return out;
}

/** Stall time of one resource, in seconds (the `total=` microseconds ÷ 1e6). */
export interface Pressure {
  /** Undefined when the `some` line could not be read (it was skipped). */
  some?: number;
  /** 0 without a `full` line (cpu before 5.13); undefined when a skipped line may have been it. */
  full?: number;
}

/**
 * A PSI file (cpu.pressure, memory.pressure, io.pressure):
 * `some avg10=… avg60=… avg300=… total=…` and the same for `full`. The cpu file of kernels
 * before 5.13 has no `full` line: 0 then, unless a skipped line may have been it. A line that
 * cannot be read, or a second `some` or `full` line, goes to `skip` (thrown without it); throws
 * when the text has lines and not one can be read, or has no `some` line and no skipped line
 * may have been it.
 */
export function parsePressure(text: string, file = "cpu.pressure", skip?: SkipLine): Pressure {
  let some: number | undefined;
  let full: number | undefined;
  let line = 0, unreadable = 0;
  // What a skipped line may have been: its own kind, or either when its kind is unreadable.
  let skippedSome = false, skippedFull = false;
  for (let start = 0; start < text.length;) {
    const next = lineEnd(text, start);
    const end = contentEnd(text, start, next);
    line++;
    if (end > start) {
      const isSome = text.startsWith("some ", start);
      const isFull = !isSome && text.startsWith("full ", start);
      let reason: string | undefined;
      let v = NaN;
      if (!isSome && !isFull) {
        reason = `expected "some|full ...", got ${quote(text.slice(start, end))}`;
      } else {
        const at = text.indexOf(" total=", start);
        if (at < 0 || at >= end) reason = `no "total=" in ${quote(text.slice(start, end))}`;
        else {
          let te = text.indexOf(" ", at + 7);
          if (te < 0 || te > end) te = end;
          v = parseU64(text, at + 7, te);
          if (Number.isNaN(v)) {
            reason = `total is not a count in ${quote(text.slice(start, end))}`;
          } else if ((isSome ? some : full) !== undefined) {
            reason = `a second "${isSome ? "some" : "full"}" line`;
          }
        }
      }
      if (reason !== undefined) {
        unreadable++;
        if (!isFull) skippedSome = true;
        if (!isSome) skippedFull = true;
        skipOrThrow(new CgroupFormatError(file, line, reason), skip);
      } else if (isSome) some = v / 1e6;
      else full = v / 1e6;
    }
    start = next + 1;
  }
  if (some === undefined && full === undefined && unreadable > 0) {
    throw new CgroupFormatError(file, 0, `none of its ${unreadable} lines can be read`);
  }
  if (some === undefined && !skippedSome) throw new CgroupFormatError(file, 0, `no "some" line`);
  return { some, full: full ?? (skippedFull ? undefined : 0) };
}
