/**
 * Pure parsers for the cgroup files the resource readers use, v1 and v2. Each takes the file's
 * text and a name for error messages, returns plain numbers, and throws only
 * {@linkcode CgroupFormatError}. They scan with indexOf and char codes, without regexes: they run
 * for every container every round.
 *
 * Formats: Documentation/admin-guide/cgroup-v2.rst ("Interface Files", "Format") and
 * Documentation/admin-guide/cgroup-v1/{cpuacct,memory,blkio-controller}.rst, sched-bwc.rst.
 *
 * @module
 */
import { CgroupFormatError, quote } from "./errors.ts";

/**
 * A decimal integer in `s[from, to)`, with an optional leading `-`; NaN when it is not one
 * or does not fit a finite double.
 * Up to 15 digits are summed in a loop (exact); longer numbers go through Number() so that
 * they round the same way.
 */
export function parseInteger(s: string, from: number, to: number): number {
  let i = from;
  const negative = i < to && s.charCodeAt(i) === 45;
  if (negative) i++;
  if (i >= to) return NaN;
  if (to - i > 15) {
    for (let j = i; j < to; j++) {
      const c = s.charCodeAt(j);
      if (c < 48 || c > 57) return NaN;
    }
    const v = Number(s.slice(from, to));
    return Number.isFinite(v) ? v : NaN; // hundreds of digits overflow to Infinity
  }
  let n = 0;
  for (; i < to; i++) {
    const c = s.charCodeAt(i);
    if (c < 48 || c > 57) return NaN;
    n = n * 10 + (c - 48);
  }
  return negative ? -n : n;
}

/** The end of the line starting at `from` (index of "\n" or the text's length). */
function lineEnd(text: string, from: number): number {
  const e = text.indexOf("\n", from);
  return e < 0 ? text.length : e;
}

/**
 * Walks a flat-keyed file, one `key value` per line (cpu.stat and memory.stat, v1 and v2),
 * checking every line, and calls `onLine` with the key's bounds in `text` and the integer
 * value. Keys are not sliced here, so a caller that wants a few of them allocates nothing.
 */
function walkFlatKeyed(
  text: string,
  file: string,
  onLine: (keyStart: number, keyEnd: number, value: number) => void,
): void {
  let line = 0;
  for (let start = 0; start < text.length;) {
    const end = lineEnd(text, start);
    line++;
    if (end > start) {
      const sp = text.indexOf(" ", start);
      if (sp <= start || sp >= end) {
        throw new CgroupFormatError(
          file,
          line,
          `expected "key value", got ${quote(text.slice(start, end))}`,
        );
      }
      const v = parseInteger(text, sp + 1, end);
      if (Number.isNaN(v)) {
        throw new CgroupFormatError(
          file,
          line,
          `value is not an integer: ${quote(text.slice(start, end))}`,
        );
      }
      onLine(start, sp, v);
    }
    start = end + 1;
  }
}

/**
 * A flat-keyed file, one `key value` per line (cpu.stat and memory.stat, v1 and v2).
 * Values must be integers.
 */
export function parseFlatKeyed(text: string, file: string): Map<string, number> {
  const out = new Map<string, number>();
  walkFlatKeyed(text, file, (ks, ke, v) => out.set(text.slice(ks, ke), v));
  return out;
}

/**
 * The values of `keys` in a flat-keyed file (undefined for a key without a line), checking
 * every line as {@linkcode parseFlatKeyed} does but without building a map: the readers' path,
 * where memory.stat has some fifty lines and three are wanted.
 */
export function flatKeyedValues(
  text: string,
  file: string,
  keys: readonly string[],
): (number | undefined)[] {
  const out: (number | undefined)[] = keys.map(() => undefined);
  walkFlatKeyed(text, file, (ks, ke, v) => {
    const len = ke - ks;
    for (let k = 0; k < keys.length; k++) {
      const key = keys[k];
      if (key.length === len && text.startsWith(key, ks)) out[k] = v;
    }
  });
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
  return text.endsWith("\n") ? text.slice(0, -1) : text;
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
 */
export function parseIoStat(text: string, file = "io.stat"): IoStat[] {
  const out: IoStat[] = [];
  let line = 0;
  for (let start = 0; start < text.length;) {
    const end = lineEnd(text, start);
    line++;
    if (end > start) {
      let sp = text.indexOf(" ", start);
      if (sp < 0 || sp > end) sp = end;
      if (!isDevice(text, start, sp)) {
        throw new CgroupFormatError(
          file,
          line,
          `expected "MAJ:MIN key=value...", got ${quote(text.slice(start, end))}`,
        );
      }
      let reads = -1, writes = -1, readBytes = -1, writtenBytes = -1;
      for (let f = sp + 1; f < end;) {
        let fe = text.indexOf(" ", f);
        if (fe < 0 || fe > end) fe = end;
        const eq = text.indexOf("=", f);
        if (eq <= f || eq >= fe) {
          throw new CgroupFormatError(
            file,
            line,
            `expected "key=value", got ${quote(text.slice(f, fe))}`,
          );
        }
        const keyLen = eq - f;
        const slot = keyLen === 6
          ? (text.startsWith("rbytes", f) ? 1 : text.startsWith("wbytes", f) ? 2 : 0)
          : keyLen === 4
          ? (text.startsWith("rios", f) ? 3 : text.startsWith("wios", f) ? 4 : 0)
          : 0;
        if (slot !== 0) {
          const v = parseInteger(text, eq + 1, fe);
          if (Number.isNaN(v) || v < 0) {
            throw new CgroupFormatError(file, line, `${quote(text.slice(f, fe))} is not a count`);
          }
          if (slot === 1) readBytes = v;
          else if (slot === 2) writtenBytes = v;
          else if (slot === 3) reads = v;
          else writes = v;
        }
        f = fe + 1;
      }
      if (reads < 0 || writes < 0 || readBytes < 0 || writtenBytes < 0) {
        throw new CgroupFormatError(
          file,
          line,
          `missing rbytes, wbytes, rios or wios in ${quote(text.slice(start, end))}`,
        );
      }
      out.push({ device: text.slice(start, sp), reads, writes, readBytes, writtenBytes });
    }
    start = end + 1;
  }
  return out;
}

/** Read and write counts of one device in a v1 blkio file. */
export interface BlkioCounts {
  device: string;
  read: number;
  write: number;
}

/**
 * v1 blkio.throttle.io_serviced or blkio.throttle.io_service_bytes: `MAJ:MIN Op value` lines
 * (Op: Read, Write, Sync, Async, Discard, Total) and a final `Total value`. Returns the Read and
 * Write values per device, in the file's order.
 */
export function parseBlkio(text: string, file = "blkio.throttle.io_serviced"): BlkioCounts[] {
  const out: BlkioCounts[] = [];
  let last: BlkioCounts | undefined;
  let line = 0;
  for (let start = 0; start < text.length;) {
    const end = lineEnd(text, start);
    line++;
    if (end > start) {
      const sp1 = text.indexOf(" ", start);
      const sp2 = sp1 < 0 || sp1 >= end ? -1 : text.indexOf(" ", sp1 + 1);
      const bad = () =>
        new CgroupFormatError(
          file,
          line,
          `expected "MAJ:MIN Op value" or "Total value", got ${quote(text.slice(start, end))}`,
        );
      if (sp1 <= start || sp1 >= end) throw bad();
      if (sp2 < 0 || sp2 >= end) {
        // The grand total line.
        if (sp1 - start !== 5 || !text.startsWith("Total", start)) throw bad();
        if (Number.isNaN(parseInteger(text, sp1 + 1, end))) throw bad();
      } else {
        if (!isDevice(text, start, sp1)) throw bad();
        const v = parseInteger(text, sp2 + 1, end);
        if (Number.isNaN(v) || v < 0) throw bad();
        const opLen = sp2 - sp1 - 1;
        if (opLen <= 0) throw bad();
        const devLen = sp1 - start;
        if (!last || last.device.length !== devLen || !text.startsWith(last.device, start)) {
          last = out.find((c) => c.device.length === devLen && text.startsWith(c.device, start));
          if (!last) out.push(last = { device: text.slice(start, sp1), read: 0, write: 0 });
        }
        if (opLen === 4 && text.startsWith("Read", sp1 + 1)) last.read = v;
        else if (opLen === 5 && text.startsWith("Write", sp1 + 1)) last.write = v;
      }
    }
    start = end + 1;
  }
  return out;
}

/** Stall time of one resource, in seconds (the `total=` microseconds ÷ 1e6). */
export interface Pressure {
  some: number;
  full: number;
}

/**
 * A PSI file (cpu.pressure, memory.pressure, io.pressure):
 * `some avg10=… avg60=… avg300=… total=…` and the same for `full`. The cpu file of kernels
 * before 5.13 has no `full` line: 0 then.
 */
export function parsePressure(text: string, file = "cpu.pressure"): Pressure {
  let some: number | undefined;
  let full = 0;
  let line = 0;
  for (let start = 0; start < text.length;) {
    const end = lineEnd(text, start);
    line++;
    if (end > start) {
      const isSome = text.startsWith("some ", start);
      if (!isSome && !text.startsWith("full ", start)) {
        throw new CgroupFormatError(
          file,
          line,
          `expected "some|full ...", got ${quote(text.slice(start, end))}`,
        );
      }
      const at = text.indexOf(" total=", start);
      if (at < 0 || at >= end) {
        throw new CgroupFormatError(file, line, `no "total=" in ${quote(text.slice(start, end))}`);
      }
      let te = text.indexOf(" ", at + 7);
      if (te < 0 || te > end) te = end;
      const v = parseInteger(text, at + 7, te);
      if (Number.isNaN(v) || v < 0) {
        throw new CgroupFormatError(
          file,
          line,
          `total is not a count in ${quote(text.slice(start, end))}`,
        );
      }
      if (isSome) some = v / 1e6;
      else full = v / 1e6;
    }
    start = end + 1;
  }
  if (some === undefined) throw new CgroupFormatError(file, 0, `no "some" line`);
  return { some, full };
}
