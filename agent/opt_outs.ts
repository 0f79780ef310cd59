/**
 * Per-application opt-outs read from a target process's environment (contract §4.5, §9.1 end):
 * `COROOT_EBPF_PROFILING`, `COROOT_LOG_MONITORING` and `COROOT_EBPF_TRACES`, each switched off
 * when its value contains `disabled` (the reference's test: a substring, so `not-disabled` counts
 * too). The reference reads them once, when it first tracks a process, and a read that fails
 * means "no opt-out"; the logs module (agent/logs/manager.ts) and the L7 module's spans
 * (agent/l7/mod.ts) read them through here.
 *
 * `<proc>/<pid>/environ` is read directly, also under Landlock: it stayed readable there on the
 * kernels measured (README, "Security model"), so the procfs broker does not answer for it.
 *
 * @module
 */
import { procErrorKind } from "./procfs.ts";

/** A process's opt-outs; true means switched off for it (and, in the reference, its container). */
export interface OptOuts {
  /** `COROOT_EBPF_PROFILING`. */
  readonly profiling: boolean;
  /** `COROOT_LOG_MONITORING`: no log sources for the container. */
  readonly logMonitoring: boolean;
  /** `COROOT_EBPF_TRACES`: no spans for the container's requests (metrics stay). */
  readonly traces: boolean;
}

/** No opt-out (an environment without the variables, or one that could not be read). */
export const NO_OPT_OUTS: OptOuts = Object.freeze({
  profiling: false,
  logMonitoring: false,
  traces: false,
});

const enc = new TextEncoder();
const NAMES: readonly [Uint8Array, keyof OptOuts][] = [
  [enc.encode("COROOT_EBPF_PROFILING="), "profiling"],
  [enc.encode("COROOT_LOG_MONITORING="), "logMonitoring"],
  [enc.encode("COROOT_EBPF_TRACES="), "traces"],
];
const PREFIX = enc.encode("COROOT_");
const DISABLED = enc.encode("disabled");

/**
 * The opt-outs an environment sets: for each of the three variables, whether its value contains
 * `disabled`. A later entry of the same name wins, as in the reference's reading loop.
 *
 * @param environ the bytes of `/proc/<pid>/environ` (NUL-separated `NAME=value` entries; a last
 *   entry without its NUL counts)
 */
export function parseOptOuts(environ: Uint8Array): OptOuts {
  let out: Record<keyof OptOuts, boolean> | undefined;
  let start = 0;
  while (start < environ.length) {
    let end = environ.indexOf(0, start);
    if (end < 0) end = environ.length;
    if (end - start > PREFIX.length && startsWith(environ, start, PREFIX)) {
      for (const [name, key] of NAMES) {
        if (end - start >= name.length && startsWith(environ, start, name)) {
          out ??= { ...NO_OPT_OUTS };
          out[key] = contains(environ.subarray(start + name.length, end), DISABLED);
          break;
        }
      }
    }
    start = end + 1;
  }
  return out ?? NO_OPT_OUTS;
}

/** Why {@linkcode readOptOuts} found no environment. */
export type OptOutReadFailure = "gone" | "unreadable";

/**
 * Reads and parses `<proc>/<pid>/environ`.
 *
 * @returns the opt-outs; `"gone"` when the process exited (ENOENT, ESRCH), `"unreadable"` when the
 *   kernel or Deno's permissions refused or the read failed otherwise (the reference then assumes
 *   no opt-out)
 */
export function readOptOuts(proc: string, pid: number): OptOuts | OptOutReadFailure {
  let bytes: Uint8Array;
  try {
    bytes = Deno.readFileSync(`${proc}/${pid}/environ`);
  } catch (err) {
    return procErrorKind(err) === "gone" ? "gone" : "unreadable";
  }
  return parseOptOuts(bytes);
}

/** Options of {@linkcode OptOutCache}. */
export interface OptOutCacheOptions {
  /** The procfs root (`HostPaths.proc`). */
  readonly proc: string;
  /** Most processes remembered; the oldest read is forgotten first. @default 65536 */
  readonly max?: number;
  /** Reads one process's opt-outs. @default {@linkcode readOptOuts} under `proc` */
  readonly read?: (pid: number) => OptOuts | OptOutReadFailure;
}

/**
 * The opt-outs of each process, read once per process (a pid and its start time: a reused pid is
 * read again) and kept until {@linkcode OptOutCache.retain} no longer sees it or the cap forgets
 * it. A process that is gone, or whose environment cannot be read, has no opt-out; a gone one is
 * not remembered (it will not be asked about for long), an unreadable one is (as the reference
 * keeps what it read at the start).
 */
export class OptOutCache {
  readonly #read: (pid: number) => OptOuts | OptOutReadFailure;
  readonly #max: number;
  readonly #byPid = new Map<number, { startMs: number; flags: OptOuts }>();
  /** What the reads found: environments read, processes already gone, refused reads. */
  readonly counts = { read: 0, gone: 0, unreadable: 0, evicted: 0 };

  /** @throws {RangeError} when `max` is not a positive integer */
  constructor(o: OptOutCacheOptions) {
    const max = o.max ?? 65_536;
    if (!Number.isInteger(max) || max < 1) {
      throw new RangeError(`The opt-out cache size must be a positive integer, got ${max}`);
    }
    this.#max = max;
    this.#read = o.read ?? ((pid) => readOptOuts(o.proc, pid));
  }

  /** Processes remembered. */
  get size(): number {
    return this.#byPid.size;
  }

  /**
   * The opt-outs of process `pid` started at `startMs` (the container registry's start time, any
   * stable number per process), reading its environment the first time.
   */
  get(pid: number, startMs: number): OptOuts {
    const known = this.#byPid.get(pid);
    if (known !== undefined && known.startMs === startMs) return known.flags;
    const r = this.#read(pid);
    if (r === "gone") {
      this.counts.gone++;
      this.#byPid.delete(pid);
      return NO_OPT_OUTS;
    }
    let flags = NO_OPT_OUTS;
    if (r === "unreadable") this.counts.unreadable++;
    else {
      this.counts.read++;
      flags = r;
    }
    this.#byPid.delete(pid);
    if (this.#byPid.size >= this.#max) {
      this.#byPid.delete(this.#byPid.keys().next().value!);
      this.counts.evicted++;
    }
    this.#byPid.set(pid, { startMs, flags });
    return flags;
  }

  /** Forgets every process for which `live(pid, startMs)` is false (exited, or its pid reused). */
  retain(live: (pid: number, startMs: number) => boolean): void {
    for (const [pid, e] of this.#byPid) if (!live(pid, e.startMs)) this.#byPid.delete(pid);
  }
}

function startsWith(b: Uint8Array, at: number, prefix: Uint8Array): boolean {
  for (let i = 0; i < prefix.length; i++) if (b[at + i] !== prefix[i]) return false;
  return true;
}

function contains(b: Uint8Array, needle: Uint8Array): boolean {
  outer: for (let i = 0; i + needle.length <= b.length; i++) {
    for (let j = 0; j < needle.length; j++) if (b[i + j] !== needle[j]) continue outer;
    return true;
  }
  return false;
}
