/**
 * Who holds which socket, and which network namespace each process is in, from `<proc>`:
 *
 * - `<proc>/<pid>/fd/<n>` is a link whose text for a socket is `socket:[<inode>]`, the inode
 *   that `/proc/net/tcp{,6}` prints in its `inode` column. One socket can be held by several
 *   fds of one process (`dup`) and by several processes (inherited over `fork`, passed over a
 *   unix socket).
 * - `<proc>/<pid>/ns/net` is a link whose text is `net:[<inode>]`; two processes share a network
 *   namespace exactly when the inodes are equal. It is the namespace of the thread group leader.
 *
 * Reading another process's fd and ns links needs ptrace-read access to it (the same uid and a
 * dumpable process, or CAP_SYS_PTRACE). Under the Landlock sandbox the kernel refuses it for
 * every process outside the agent's domain, so the links come from the procfs broker then
 * (agent/self/proc_broker.ts; one request per process for its socket fds). A process that exits during the scan, an fd closed
 * between listing and reading, and a refused process are skipped and counted; the scan never
 * throws for them.
 *
 * The scan is synchronous file work cut into slices: it yields to the event loop every
 * `sliceMs` so that the agent's server keeps answering, and it stops at `deadline` or when
 * `signal` aborts (then `complete` is false). It is meant to run once, at start.
 *
 * @module
 */
import type { ProcBroker } from "../../ffi/mod.ts";
import { procErrorKind } from "../procfs.ts";
import { procBrokerFor } from "../self/proc_broker.ts";

/** One holder of a socket: a process and the fd number it holds the socket under. */
export interface SocketOwner {
  readonly pid: number;
  readonly fd: number;
}

/** Counts of one scan. */
export interface ScanStats {
  /** Processes looked at. */
  processes: number;
  /** Processes that exited during the scan (their directory or link vanished). */
  processesGone: number;
  /** Processes whose links the kernel refused to show (EACCES, EPERM). */
  processesDenied: number;
  /** Processes whose links Deno's permissions refused (the path is not granted). */
  processesNotGranted: number;
  /** fd links read. */
  fds: number;
  /** fds closed between listing the directory and reading the link. */
  fdsGone: number;
  /** fds that are sockets (of any kind). */
  socketFds: number;
  /** Failures of any other kind (EIO, a link text that is not what the kernel writes, ...). */
  errors: number;
  /** False when the deadline or the abort signal stopped the scan before the last process. */
  complete: boolean;
  /** Wall time of the scan, in milliseconds, including the time yielded to the event loop. */
  elapsedMs: number;
}

/** Options shared by the scans. */
export interface ScanOptions {
  /** Stop when `performance.now()` passes this (milliseconds). @default no deadline */
  readonly deadline?: number;
  /** Stop when this aborts. */
  readonly signal?: AbortSignal;
  /** Yield to the event loop after this many milliseconds of work. @default 20 */
  readonly sliceMs?: number;
}

/** Options of {@linkcode scanSocketOwners}. */
export interface SocketOwnerScanOptions extends ScanOptions {
  /** Keep only these socket inodes (the rest are counted, not stored). @default every socket */
  readonly inodes?: ReadonlySet<number>;
}

/** What {@linkcode scanSocketOwners} returns. */
export interface SocketOwnerScan {
  /** Socket inode → its holders, sorted by pid and then fd. */
  readonly owners: Map<number, SocketOwner[]>;
  readonly stats: ScanStats;
}

/** What {@linkcode scanNetNamespaces} returns. */
export interface NetNamespaceScan {
  /** pid → the inode of its network namespace. */
  readonly netns: Map<number, number>;
  readonly stats: ScanStats;
}

/** `socket:[123]` → 123; undefined for any other link text (files, pipes, anon inodes). */
export function parseSocketLink(link: string): number | undefined {
  return bracketed(link, "socket:[");
}

/** `net:[4026531840]` → 4026531840; undefined for any other text. */
export function parseNetNamespaceLink(link: string): number | undefined {
  return bracketed(link, "net:[");
}

function bracketed(link: string, prefix: string): number | undefined {
  const n = link.length - prefix.length - 1;
  if (n < 1 || n > 15 || !link.startsWith(prefix) || link.charCodeAt(link.length - 1) !== 93) {
    return undefined;
  }
  let v = 0;
  for (let i = prefix.length; i < link.length - 1; i++) {
    const c = link.charCodeAt(i) - 48;
    if (c < 0 || c > 9) return undefined;
    v = v * 10 + c;
  }
  return v;
}

/** Zeroed scan counters (a scan not run is complete). */
export function newScanStats(): ScanStats {
  return {
    processes: 0,
    processesGone: 0,
    processesDenied: 0,
    processesNotGranted: 0,
    fds: 0,
    fdsGone: 0,
    socketFds: 0,
    errors: 0,
    complete: true,
    elapsedMs: 0,
  };
}

/** Counts a failed read of a process's directory or link by its kind. */
function countProcessError(stats: ScanStats, err: unknown): void {
  switch (procErrorKind(err)) {
    case "gone":
      stats.processesGone++;
      break;
    case "denied":
      stats.processesDenied++;
      break;
    case "not_granted":
      stats.processesNotGranted++;
      break;
    default:
      stats.errors++;
  }
}

/**
 * Cuts synchronous work into slices separated by a turn of the event loop: call `tick()` between
 * units of work, and stop when `stopped` says so.
 */
export class TimeSlicer {
  readonly #opts: ScanOptions;
  readonly #slice: number;
  #sliceStart = performance.now();

  /** Starts the first slice now. */
  constructor(opts: ScanOptions) {
    this.#opts = opts;
    this.#slice = opts.sliceMs ?? 20;
  }

  /** True when the scan must stop. */
  get stopped(): boolean {
    return this.#opts.signal?.aborted === true ||
      (this.#opts.deadline !== undefined && performance.now() > this.#opts.deadline);
  }

  /** Yields when the current slice is used up. */
  async tick(): Promise<void> {
    if (performance.now() - this.#sliceStart < this.#slice) return;
    await new Promise((resolve) => setTimeout(resolve, 0));
    this.#sliceStart = performance.now();
  }
}

/**
 * Reads `<proc>/<pid>/ns/net` for each pid. A pid whose link cannot be read is counted in the
 * stats and left out of the map.
 */
export async function scanNetNamespaces(
  proc: string,
  pids: readonly number[],
  opts: ScanOptions = {},
): Promise<NetNamespaceScan> {
  const started = performance.now();
  const stats = newScanStats();
  const netns = new Map<number, number>();
  const slicer = new TimeSlicer(opts);
  for (const pid of pids) {
    if (slicer.stopped) {
      stats.complete = false;
      break;
    }
    await slicer.tick();
    stats.processes++;
    const ino = readNetNamespace(proc, pid, stats);
    if (ino !== undefined) netns.set(pid, ino);
  }
  stats.elapsedMs = performance.now() - started;
  return { netns, stats };
}

/** The inode of `<proc>/<pid>/ns/net`, or undefined (counted in `stats`). */
export function readNetNamespace(proc: string, pid: number, stats: ScanStats): number | undefined {
  let link: string;
  try {
    const broker = procBrokerFor(proc);
    link = broker !== undefined
      ? broker.namespaceLink(pid, "net")
      : Deno.readLinkSync(`${proc}/${pid}/ns/net`);
  } catch (err) {
    countProcessError(stats, err);
    return undefined;
  }
  const ino = parseNetNamespaceLink(link);
  if (ino === undefined) stats.errors++;
  return ino;
}

/**
 * Reads every `<proc>/<pid>/fd/<n>` link of each pid and collects the sockets among them:
 * inode → the (pid, fd) pairs that hold it. Cost: one directory read per process and one
 * `readlink` per fd.
 */
export async function scanSocketOwners(
  proc: string,
  pids: readonly number[],
  opts: SocketOwnerScanOptions = {},
): Promise<SocketOwnerScan> {
  const started = performance.now();
  const stats = newScanStats();
  const owners = new Map<number, SocketOwner[]>();
  const slicer = new TimeSlicer(opts);
  const keep = opts.inodes;
  const broker = procBrokerFor(proc);
  const add = (inode: number, pid: number, fd: number) => {
    const list = owners.get(inode);
    if (list === undefined) owners.set(inode, [{ pid, fd }]);
    else list.push({ pid, fd });
  };
  outer: for (const pid of pids) {
    if (slicer.stopped) {
      stats.complete = false;
      break;
    }
    await slicer.tick();
    stats.processes++;
    if (broker !== undefined) {
      await brokerSocketFds(broker, pid, stats, keep, add);
      continue;
    }
    const dir = `${proc}/${pid}/fd`;
    let names: string[];
    try {
      names = [];
      for (const e of Deno.readDirSync(dir)) names.push(e.name);
    } catch (err) {
      countProcessError(stats, err);
      continue;
    }
    for (let i = 0; i < names.length; i++) {
      if ((i & 1023) === 1023) {
        if (slicer.stopped) {
          stats.complete = false;
          break outer;
        }
        await slicer.tick();
      }
      const name = names[i];
      let link: string;
      stats.fds++;
      try {
        link = Deno.readLinkSync(`${dir}/${name}`);
      } catch (err) {
        const kind = procErrorKind(err);
        if (kind === "gone") stats.fdsGone++;
        else if (kind === "other") stats.errors++;
        else {
          // A refusal holds for every fd of the process (ptrace access is per process).
          countProcessError(stats, err);
          continue outer;
        }
        continue;
      }
      const inode = parseSocketLink(link);
      if (inode === undefined) continue;
      stats.socketFds++;
      if (keep !== undefined && !keep.has(inode)) continue;
      const fd = Number(name);
      if (!Number.isInteger(fd)) {
        stats.errors++;
        continue;
      }
      add(inode, pid, fd);
    }
  }
  for (const list of owners.values()) {
    if (list.length > 1) list.sort((a, b) => a.pid - b.pid || a.fd - b.fd);
  }
  stats.elapsedMs = performance.now() - started;
  return { owners, stats };
}

/** One process's sockets through the procfs broker, counted as the direct scan counts them. */
async function brokerSocketFds(
  broker: ProcBroker,
  pid: number,
  stats: ScanStats,
  keep: ReadonlySet<number> | undefined,
  add: (inode: number, pid: number, fd: number) => void,
): Promise<void> {
  try {
    const r = await broker.socketFds(pid);
    stats.fds += r.fds;
    stats.fdsGone += r.gone;
    stats.socketFds += r.sockets.length;
    for (const { fd, inode } of r.sockets) {
      if (keep === undefined || keep.has(inode)) add(inode, pid, fd);
    }
  } catch (err) {
    countProcessError(stats, err);
  }
}
