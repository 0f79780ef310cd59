/**
 * The agent's file-descriptor budget: its `RLIMIT_NOFILE` and how many descriptors it has open,
 * read from its own `<proc>/self/limits` and `<proc>/self/fd` (the host view's procfs resolves
 * `self` to the reader), and the caps derived from the soft limit so that HTTP connections and
 * kept cgroup files cannot use up every descriptor between them.
 *
 * The soft limit is already raised to the hard limit when the agent starts: the deno binary does
 * it before running any script (Deno 2.9.6's CLI start-up; measured: `prlimit --nofile=150:4096
 * deno run ...` runs with 4096/4096). Deno offers no setrlimit, so the agent checks and reports.
 *
 * @module
 */
import type { HostPaths } from "./paths.ts";
import { under } from "./paths.ts";

/** `RLIMIT_NOFILE` of the agent process. */
export interface FdLimits {
  /** The soft limit: opening more descriptors fails with EMFILE. */
  readonly soft: number;
  /** The hard limit, the most the soft limit can be raised to. */
  readonly hard: number;
}

/** Descriptors set aside for everything else (the runtime, BPF maps, logs, metadata reads). */
const RESERVED = 64;

/**
 * Parses the "Max open files" line of `/proc/<pid>/limits` ("unlimited" is
 * `Number.POSITIVE_INFINITY`); undefined when the line is missing or malformed.
 */
export function parseFdLimits(text: string): FdLimits | undefined {
  const m = /^Max open files\s+(\d+|unlimited)\s+(\d+|unlimited)\s+files\s*$/m.exec(text);
  if (m === null) return undefined;
  const n = (s: string) => s === "unlimited" ? Number.POSITIVE_INFINITY : Number(s);
  return { soft: n(m[1]), hard: n(m[2]) };
}

/**
 * The agent's own limits from `<proc>/self/limits`; undefined when the host paths are a fixture
 * tree or the file cannot be read (no grant, no procfs).
 */
export function readFdLimits(paths: HostPaths): FdLimits | undefined {
  if (paths.fixture) return undefined;
  try {
    return parseFdLimits(Deno.readTextFileSync(under(paths.proc, "self/limits")));
  } catch {
    return undefined;
  }
}

/**
 * The number of descriptors the agent has open (entries of `<proc>/self/fd`, less the one the
 * listing itself uses); undefined when it cannot be listed, e.g. while every descriptor is taken.
 */
export function countOpenFds(paths: HostPaths): number | undefined {
  if (paths.fixture) return undefined;
  try {
    let n = 0;
    for (const _ of Deno.readDirSync(under(paths.proc, "self/fd"))) n++;
    return Math.max(0, n - 1);
  } catch {
    return undefined;
  }
}

/** How the soft limit is shared out. */
export interface FdBudget {
  /** Most HTTP connections: a quarter of what is left after the reserve, at least 8. */
  readonly httpConnections: number;
  /** Most cgroup files kept open: half of what is left after the reserve, at least 16. */
  readonly keptFiles: number;
}

/**
 * Shares `soft` descriptors out: a reserve of 64, a quarter of the rest for HTTP connections, half
 * for kept cgroup files; each never above its configured `max`.
 */
export function fdBudget(
  soft: number | undefined,
  max: { httpConnections: number; keptFiles: number },
): FdBudget {
  if (soft === undefined || !Number.isFinite(soft)) return max;
  const spare = Math.max(0, soft - RESERVED);
  return {
    httpConnections: Math.min(max.httpConnections, Math.max(8, Math.floor(spare / 4))),
    keptFiles: Math.min(max.keptFiles, Math.max(16, Math.floor(spare / 2))),
  };
}
