/**
 * Resource readers: CPU, memory, block I/O and pressure of one cgroup, from the directories
 * {@linkcode cgroupDirs} found. Synchronous, because cgroup files are generated in memory by the
 * kernel and read in microseconds; an asynchronous read would cost more in the hop to Deno's
 * thread pool than the read itself.
 *
 * v1 or v2, per controller: a v1 directory in {@linkcode CgroupDirs} means the controller is on
 * a v1 hierarchy (cgroupDirs gives one only then), so its v1 files are read; otherwise the v2
 * directory's. The sources follow coroot-node-agent's contract (§2.2).
 *
 * @module
 */
import type { SkipLine } from "../file_format_error.ts";
import { CgroupFormatError, CgroupReadError } from "./errors.ts";
import type { CgroupDirs } from "./fs.ts";
import { rereadSync } from "../reread.ts";
import {
  flatKeyedValues,
  type IoStat,
  parseBlkio,
  parseCpuMax,
  parseFlatKeyed,
  parseIoStat,
  parseMemoryMax,
  parsePressure,
  parseSingleValue,
  parseV1CpuLimit,
  parseV1MemoryLimit,
  type Pressure,
} from "./parse.ts";

/** Where the readers get file text from. */
export interface CgroupFileSource {
  /**
   * The file's text, or undefined when it does not exist. Any other failure throws
   * {@linkcode CgroupReadError} with problem "unreadable".
   */
  read(path: string): string | undefined;
}

function unreadable(path: string, err: unknown): CgroupReadError {
  const why = err instanceof Error ? err.message : String(err);
  return new CgroupReadError(path, "unreadable", why, err);
}

/** Reads each file with an open, a read and a close (`Deno.readTextFileSync`). */
export const directFiles: CgroupFileSource = {
  read(path: string): string | undefined {
    try {
      return Deno.readTextFileSync(path);
    } catch (err) {
      if (err instanceof Deno.errors.NotFound) return undefined;
      throw unreadable(path, err);
    }
  },
};

/** Options for {@linkcode KeptFiles}. */
export interface KeptFilesOptions {
  /**
   * At most this many descriptors are kept; further files are read with open/read/close.
   * @default 4096
   */
  maxOpen?: number;
}

/**
 * Reads files through descriptors kept open between rounds: a kernfs file regenerates its text
 * when read again from offset 0, so a round costs a seek and a read instead of an open (with
 * Deno's permission check and path resolution), a read and a close. A kept descriptor that
 * fails (the cgroup was removed: ENODEV) is closed and the file opened again once.
 *
 * Call {@linkcode KeptFiles.forget} with a cgroup's directory when the cgroup goes away, and
 * {@linkcode KeptFiles.close} when done.
 */
export class KeptFiles implements CgroupFileSource {
  #files = new Map<string, Deno.FsFile>();
  #maxOpen: number;

  constructor(opts: KeptFilesOptions = {}) {
    this.#maxOpen = opts.maxOpen ?? 4096;
  }

  /** How many descriptors are kept. */
  get size(): number {
    return this.#files.size;
  }

  read(path: string): string | undefined {
    const kept = this.#files.get(path);
    if (kept) {
      try {
        return rereadSync(kept);
      } catch {
        this.#drop(path, kept); // open again below
      }
    }
    let file: Deno.FsFile;
    try {
      file = Deno.openSync(path);
    } catch (err) {
      if (err instanceof Deno.errors.NotFound) return undefined;
      throw unreadable(path, err);
    }
    let text: string;
    try {
      text = rereadSync(file);
    } catch (err) {
      file.close();
      if (err instanceof Deno.errors.NotFound) return undefined;
      throw unreadable(path, err);
    }
    if (this.#files.size < this.#maxOpen) this.#files.set(path, file);
    else file.close();
    return text;
  }

  #drop(path: string, file: Deno.FsFile): void {
    this.#files.delete(path);
    try {
      file.close();
    } catch {
      // already closed
    }
  }

  /** Closes the kept descriptors of the files in `dir` (a cgroup that went away). */
  forget(dir: string): void {
    const prefix = dir.endsWith("/") ? dir : dir + "/";
    for (const [path, file] of this.#files) {
      if (path.startsWith(prefix) && path.indexOf("/", prefix.length) < 0) this.#drop(path, file);
    }
  }

  /** Closes every kept descriptor. */
  close(): void {
    for (const [path, file] of this.#files) this.#drop(path, file);
  }
}

/** A needed file's text; a missing file is a CgroupReadError too. */
function need(files: CgroupFileSource, path: string): string {
  const text = files.read(path);
  if (text === undefined) throw new CgroupReadError(path, "missing", "no such file");
  return text;
}

/** Runs a parser, turning its format error into a CgroupReadError naming the real path. */
function parsed<T>(path: string, parse: () => T): T {
  try {
    return parse();
  } catch (err) {
    if (err instanceof CgroupFormatError) {
      throw new CgroupReadError(path, "format", err.message, err);
    }
    throw err;
  }
}

/**
 * Runs the parser of a one-line file. With `skip`, bad text is that line skipped: it goes to
 * `skip` and the value is undefined (only the series it feeds is lost). Without `skip`, it is a
 * CgroupReadError as in {@linkcode parsed}.
 */
function oneLine<T>(path: string, skip: SkipLine | undefined, parse: () => T): T | undefined {
  if (skip === undefined) return parsed(path, parse);
  try {
    return parse();
  } catch (err) {
    if (!(err instanceof CgroupFormatError)) throw err;
    skip(err);
    return undefined;
  }
}

/** A key the reader needs: without `skip` its absence is a format error, with it undefined. */
function wanted(
  value: number | undefined,
  key: string,
  path: string,
  skip: SkipLine | undefined,
): number | undefined {
  if (value === undefined && skip === undefined) {
    const cause = new CgroupFormatError(path, 0, `no "${key}" line`);
    throw new CgroupReadError(path, "format", cause.message, cause);
  }
  return value;
}

const THROTTLED_TIME = ["throttled_time"] as const;

/** CPU counters of a cgroup. */
export interface CpuStats {
  /**
   * CPU time used: v1 cpuacct.usage ÷ 1e9; v2 cpu.stat usage_usec ÷ 1e6. Undefined only when
   * read with a `skip` callback and its line was skipped or missing.
   */
  usageSeconds?: number;
  /** Time throttled by the CFS quota: v1 cpu.stat throttled_time ÷ 1e9; v2 throttled_usec ÷ 1e6. */
  throttledSeconds?: number;
  /** CFS quota in cores: v1 cfs_quota_us ÷ cfs_period_us; v2 cpu.max. Undefined without a limit. */
  limitCores?: number;
}

/**
 * Reads a cgroup's CPU counters. Throws {@linkcode CgroupReadError} when the usage file is
 * missing or unreadable, and, without `skip`, when any file read is garbled. With `skip`, a
 * garbled line costs only the value it holds (undefined), and is handed to `skip`; only a file
 * without one readable line still throws. Throttling and limit are undefined when their files
 * do not exist (the cpu controller is not enabled for the cgroup).
 */
export function readCpu(
  d: CgroupDirs,
  files: CgroupFileSource = directFiles,
  skip?: SkipLine,
): CpuStats {
  let v2Stat: Map<string, number> | undefined;
  const v2StatPath = `${d.v2}/cpu.stat`;
  const readV2Stat = (): Map<string, number> => {
    if (v2Stat) return v2Stat;
    const text = need(files, v2StatPath);
    return v2Stat = parsed(v2StatPath, () => parseFlatKeyed(text, v2StatPath, skip));
  };

  let usageSeconds: number | undefined;
  if (d.cpuacct !== undefined) {
    const path = `${d.cpuacct}/cpuacct.usage`;
    const text = need(files, path);
    const ns = oneLine(path, skip, () => parseSingleValue(text, path));
    if (ns !== undefined) usageSeconds = ns / 1e9;
  } else if (d.v2 !== undefined) {
    const us = wanted(readV2Stat().get("usage_usec"), "usage_usec", v2StatPath, skip);
    if (us !== undefined) usageSeconds = us / 1e6;
  } else {
    throw new CgroupReadError("(no cpuacct or v2 directory)", "no-controller", "no CPU counters");
  }

  const out: CpuStats = {};
  if (usageSeconds !== undefined) out.usageSeconds = usageSeconds;
  if (d.cpu !== undefined) {
    const statPath = `${d.cpu}/cpu.stat`;
    const stat = files.read(statPath);
    if (stat !== undefined) {
      const [ns] = parsed(statPath, () => flatKeyedValues(stat, statPath, THROTTLED_TIME, skip));
      if (ns !== undefined) out.throttledSeconds = ns / 1e9;
    }
    const quotaPath = `${d.cpu}/cpu.cfs_quota_us`, periodPath = `${d.cpu}/cpu.cfs_period_us`;
    const quota = files.read(quotaPath);
    const period = quota === undefined ? undefined : files.read(periodPath);
    if (quota !== undefined && period !== undefined) {
      const cores = oneLine(
        quotaPath,
        skip,
        () => parseV1CpuLimit(quota, period, quotaPath, periodPath),
      );
      if (cores !== undefined) out.limitCores = cores;
    }
  } else if (d.v2 !== undefined) {
    const us = readV2Stat().get("throttled_usec"); // only with the cpu controller enabled
    if (us !== undefined) out.throttledSeconds = us / 1e6;
    const maxPath = `${d.v2}/cpu.max`;
    const max = files.read(maxPath);
    if (max !== undefined) {
      const cores = oneLine(maxPath, skip, () => parseCpuMax(max, maxPath));
      if (cores !== undefined) out.limitCores = cores;
    }
  }
  return out;
}

/** Memory of a cgroup, in bytes. */
export interface MemoryStats {
  /**
   * v1 total_rss + total_mapped_file; v2 anon + file_mapped. Undefined only when read with a
   * `skip` callback and one of the two lines was skipped or missing.
   */
  rssBytes?: number;
  /** Page cache: v1 total_cache; v2 file. Undefined as {@linkcode MemoryStats.rssBytes}. */
  cacheBytes?: number;
  /** v1 memory.limit_in_bytes (undefined above 2^62); v2 memory.max (undefined for "max"). */
  limitBytes?: number;
}

/** memory.stat keys of RSS, mapped files and page cache, as the metrics contract (§2.2) defines them. */
const V1_MEMORY_KEYS = ["total_rss", "total_mapped_file", "total_cache"] as const;
const V2_MEMORY_KEYS = ["anon", "file_mapped", "file"] as const;

/**
 * Reads a cgroup's memory. memory.stat is needed ({@linkcode CgroupReadError} when missing or
 * unreadable, and, without `skip`, garbled or without one of its keys); the limit is
 * undefined when its file is missing or says "no limit". With `skip`, as in
 * {@linkcode readCpu}: a garbled line costs the values it feeds.
 */
export function readMemory(
  d: CgroupDirs,
  files: CgroupFileSource = directFiles,
  skip?: SkipLine,
): MemoryStats {
  const v1 = d.memory !== undefined;
  const dir = v1 ? d.memory : d.v2;
  if (dir === undefined) {
    throw new CgroupReadError("(no memory or v2 directory)", "no-controller", "no memory counters");
  }
  const statPath = `${dir}/memory.stat`;
  const text = need(files, statPath);
  const keys = v1 ? V1_MEMORY_KEYS : V2_MEMORY_KEYS;
  const values = parsed(statPath, () => flatKeyedValues(text, statPath, keys, skip));
  const [rss, mapped, cache] = keys.map((k, i) => wanted(values[i], k, statPath, skip));
  const out: MemoryStats = {};
  if (rss !== undefined && mapped !== undefined) out.rssBytes = rss + mapped;
  if (cache !== undefined) out.cacheBytes = cache;
  const limitPath = v1 ? `${dir}/memory.limit_in_bytes` : `${dir}/memory.max`;
  const limit = files.read(limitPath);
  if (limit !== undefined) {
    const bytes = oneLine(
      limitPath,
      skip,
      () => v1 ? parseV1MemoryLimit(limit, limitPath) : parseMemoryMax(limit, limitPath),
    );
    if (bytes !== undefined) out.limitBytes = bytes;
  }
  return out;
}

/**
 * Reads a cgroup's block I/O per device: v1 blkio.throttle.io_serviced and
 * io_service_bytes (Read and Write), or v2 io.stat (rios, wios, rbytes, wbytes). Both v1 files,
 * or io.stat, are needed ({@linkcode CgroupReadError} otherwise). With `skip`, a garbled line
 * costs its device (a v1 device is reported only with its four values), without it the read
 * fails.
 *
 * Note: on recent kernels the v1 throttle counters of a device stay at 0 until some cgroup has
 * set a throttle rule (blkio.throttle.*_device) on it; seen on 6.18 with mq-deadline.
 */
export function readIo(
  d: CgroupDirs,
  files: CgroupFileSource = directFiles,
  skip?: SkipLine,
): IoStat[] {
  if (d.blkio !== undefined) {
    const opsPath = `${d.blkio}/blkio.throttle.io_serviced`;
    const bytesPath = `${d.blkio}/blkio.throttle.io_service_bytes`;
    const opsText = need(files, opsPath);
    const bytesText = need(files, bytesPath);
    const ops = parsed(opsPath, () => parseBlkio(opsText, opsPath, skip));
    const bytes = parsed(bytesPath, () => parseBlkio(bytesText, bytesPath, skip));
    // The kernel lists the same devices with Read and Write in both files; a device missing a
    // value was garbled somewhere: it is left out rather than reported with a made-up 0.
    const out: IoStat[] = [];
    for (const o of ops) {
      const b = bytes.find((x) => x.device === o.device);
      if (
        o.read === undefined || o.write === undefined || b?.read === undefined ||
        b.write === undefined
      ) continue;
      out.push({
        device: o.device,
        reads: o.read,
        writes: o.write,
        readBytes: b.read,
        writtenBytes: b.write,
      });
    }
    return out;
  }
  if (d.v2 !== undefined) {
    const path = `${d.v2}/io.stat`;
    const text = need(files, path);
    return parsed(path, () => parseIoStat(text, path, skip));
  }
  throw new CgroupReadError("(no blkio or v2 directory)", "no-controller", "no I/O counters");
}

/** Pressure stall times of a cgroup, in seconds. */
export interface PsiStats {
  cpu: Pressure;
  memory: Pressure;
  io: Pressure;
}

/**
 * Reads a cgroup's pressure stall information (v2 only). Undefined unless all three files are
 * readable: PSI is off (`psi=0`, or `cgroup.pressure` set to 0 reads as EOPNOTSUPP), or the
 * cgroup has no v2 directory. A readable but garbled file throws {@linkcode CgroupReadError};
 * with `skip`, a garbled line costs its kind's value (undefined) and only a file without one
 * readable line throws.
 */
export function readPsi(
  d: CgroupDirs,
  files: CgroupFileSource = directFiles,
  skip?: SkipLine,
): PsiStats | undefined {
  if (d.v2 === undefined) return undefined;
  const texts: string[] = [];
  for (const r of ["cpu", "memory", "io"]) {
    let text: string | undefined;
    try {
      text = files.read(`${d.v2}/${r}.pressure`);
    } catch (err) {
      if (err instanceof CgroupReadError) return undefined;
      throw err;
    }
    if (text === undefined) return undefined;
    texts.push(text);
  }
  const p = (i: number, r: string) => {
    const path = `${d.v2}/${r}.pressure`;
    return parsed(path, () => parsePressure(texts[i], path, skip));
  };
  return { cpu: p(0, "cpu"), memory: p(1, "memory"), io: p(2, "io") };
}
