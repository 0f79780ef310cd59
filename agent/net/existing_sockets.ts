/**
 * Start-up reconciliation: the TCP listens and connections that exist before the agent's BPF
 * programs see anything (reference §1.3), from `<proc>`:
 *
 * 1. every process's network namespace (`<proc>/<pid>/ns/net`);
 * 2. one read of `<proc>/<pid>/net/tcp` and `tcp6` per distinct namespace, through one of its
 *    processes (the lowest pid whose files read; the namespace link is read again afterwards, so
 *    a pid that exited and was reused meanwhile is noticed and the next pid is tried);
 * 3. the holders of the sockets found there, from every process's fd links
 *    (`socket:[inode]`, see socket_owners.ts).
 *
 * Kept: listening sockets (state LISTEN) and connections (ESTABLISHED, or the states given in
 * `connectionStates`) that some process holds. Left out and counted: sockets held by no file
 * (inode 0: time-wait and request sockets, orphans still closing, connections waiting in a
 * listener's accept queue), sockets whose holder was not found (it exited, or its fds could not
 * be read), and sockets in other states.
 *
 * Direction of a connection (the reference, §1.3, calls a connection inbound when its process
 * listens on its local port or when its remote port is greater than its local port). Here:
 *
 * 1. **listener**: some socket of the same network namespace listens on the connection's local
 *    port (any address, either family, whichever process holds it) → inbound. Exact in practice:
 *    the kernel never hands out a port that a bound socket uses as an ephemeral port for
 *    `connect()`, so only an accepted connection (or a client that explicitly bound to the same
 *    port with SO_REUSEPORT) has a listening port as its local port. Wider than the reference,
 *    which looks only at the connection's own process: a socket passed to another process, or a
 *    listener held by a supervisor (systemd socket activation), still counts.
 * 2. **ephemeral**: otherwise, a local port inside the ephemeral range (`ephemeralPorts`, the
 *    `--ephemeral-port-range` flag, default the kernel's 32768-60999) → outbound: `connect()`
 *    takes its local port from that range. The reference would call an outbound connection to a
 *    higher port (a client on 40000 talking to 50051) inbound.
 * 3. **ports**: otherwise the reference's rule: remote port > local port → inbound. This is what
 *    is left for an accepted connection whose listener has closed.
 *
 * One ephemeral range serves every namespace; a namespace with its own
 * `net.ipv4.ip_local_port_range` (a Kubernetes pod sysctl) is judged by the flag's range, since
 * another namespace's sysctls cannot be read from `<proc>` without entering it.
 *
 * Call it after the TCP programs are attached: a connection opened between the attach and the
 * scan is then both reported here and seen by BPF (the caller merges by pid and fd, or by
 * namespace and address pair), and none falls between the two.
 *
 * @module
 */
import type { SkipLine } from "../file_format_error.ts";
import type { PortRange } from "../flag_syntax.ts";
import type { HostPaths } from "../paths.ts";
import { listPids } from "../procfs.ts";
import type { ProcNetTcpSocket } from "./proc_net_tcp.ts";
import { parseProcNetTcp, TCP_STATE } from "./proc_net_tcp.ts";
import type { ScanStats, SocketOwner } from "./socket_owners.ts";
import {
  newScanStats,
  readNetNamespace,
  scanNetNamespaces,
  scanSocketOwners,
  TimeSlicer,
} from "./socket_owners.ts";

/** The socket table of one network namespace, as read through one of its processes. */
export interface NamespaceTable {
  /** The inode of the network namespace (`net:[inode]`). */
  readonly netns: number;
  /** The sockets of `tcp` and `tcp6`. */
  readonly sockets: readonly ProcNetTcpSocket[];
}

/** A listening socket that existed at start. */
export interface ExistingListen {
  readonly netns: number;
  readonly family: 4 | 6;
  /** As in /proc/net/tcp: `0.0.0.0` or `::` for every address (see proc_net_tcp.ts). */
  readonly address: string;
  readonly port: number;
  readonly inode: number;
  readonly uid: number;
  /** The first holder (lowest pid, then lowest fd). */
  readonly pid: number;
  readonly fd: number;
  /** Every holder, sorted by pid and fd (a listener shared by forked workers has several). */
  readonly owners: readonly SocketOwner[];
}

/** Which rule decided a connection's direction (see the module documentation). */
export type DirectionRule = "listener" | "ephemeral" | "ports";

/** A connection that existed at start. */
export interface ExistingConnection {
  readonly netns: number;
  readonly family: 4 | 6;
  /** The kernel's state number (TCP_STATE). */
  readonly state: number;
  readonly localAddress: string;
  readonly localPort: number;
  readonly remoteAddress: string;
  readonly remotePort: number;
  readonly inode: number;
  readonly uid: number;
  /** The first holder (lowest pid, then lowest fd). */
  readonly pid: number;
  readonly fd: number;
  /** Every holder, sorted by pid and fd. */
  readonly owners: readonly SocketOwner[];
  /** True when the connection was accepted by a listener of this host, false when it was made. */
  readonly inbound: boolean;
  /** Which rule decided `inbound`. */
  readonly inboundBy: DirectionRule;
}

/** What was left out, and why. */
export interface ExistingSocketsStats {
  /** Distinct network namespaces seen among the processes. */
  namespaces: number;
  /** Namespaces whose socket table could not be read through any of their processes. */
  namespacesUnread: number;
  /** Lines of the socket tables that did not parse (skipped). */
  badLines: number;
  /** Sockets in the tables. */
  sockets: number;
  /** Sockets held by no file (inode 0): time-wait, request sockets, orphans, accept queues. */
  noInode: number;
  /** Sockets with an inode in a state that is neither LISTEN nor a kept connection state. */
  otherState: number;
  /** Listens and connections whose holder was not found. */
  ownerNotFound: number;
  /** The namespace scan (step 1). */
  namespaceScan: ScanStats;
  /** The fd scan (step 3). */
  ownerScan: ScanStats;
  /** False when the deadline or the abort signal cut a scan short. */
  complete: boolean;
  /** Wall time, milliseconds. */
  elapsedMs: number;
}

/** What {@linkcode existingSockets} returns. */
export interface ExistingSockets {
  readonly listens: ExistingListen[];
  readonly connections: ExistingConnection[];
  /**
   * Every socket of every namespace read, held by a process or not: what a later scan
   * compares the tracked connections with (a connection whose holder could not be read is
   * still established).
   */
  readonly tables: readonly NamespaceTable[];
  readonly stats: ExistingSocketsStats;
}

/** The kernel's default ephemeral range (`net.ipv4.ip_local_port_range`). */
export const DEFAULT_EPHEMERAL_PORTS: readonly PortRange[] = [{ from: 32768, to: 60999 }];

/** Options of {@linkcode existingSockets} and {@linkcode joinExistingSockets}. */
export interface ExistingSocketsOptions {
  /**
   * States of the connections to keep.
   * @default [TCP_STATE.ESTABLISHED] (the reference keeps only ESTABLISHED)
   */
  readonly connectionStates?: readonly number[];
  /** Ports `connect()` draws from (`--ephemeral-port-range`). @default 32768-60999 */
  readonly ephemeralPorts?: readonly PortRange[];
  /** Give up after this many milliseconds (the result says `complete: false`). @default 10000 */
  readonly timeoutMs?: number;
  /** Stop when this aborts (the result says `complete: false`). */
  readonly signal?: AbortSignal;
  /** Yield to the event loop after this many milliseconds of work. @default 20 */
  readonly sliceMs?: number;
  /** Gets each line of a `tcp` or `tcp6` table that does not parse (also counted in `badLines`). */
  readonly skip?: SkipLine;
}

/**
 * Finds the TCP listens and connections that exist now, in every network namespace that has a
 * process, with the processes and fds holding them.
 *
 * Reads `<paths.proc>/<pid>/{ns/net,net/tcp,net/tcp6,fd/*}` (through the host view; see README
 * "Host paths"). Processes and fds that vanish or are refused are skipped and counted in
 * `stats`; throws only when `<paths.proc>` itself cannot be listed.
 */
export async function existingSockets(
  paths: HostPaths,
  opts: ExistingSocketsOptions = {},
): Promise<ExistingSockets> {
  const started = performance.now();
  const deadline = started + (opts.timeoutMs ?? 10_000);
  const scanOpts = { deadline, signal: opts.signal, sliceMs: opts.sliceMs };
  const proc = paths.proc;
  let pids: number[];
  try {
    pids = listPids(proc).sort((a, b) => a - b);
  } catch (err) {
    throw new Error(`Cannot list the processes in "${proc}"`, { cause: err });
  }

  const { netns, stats: namespaceScan } = await scanNetNamespaces(proc, pids, scanOpts);
  const byNamespace = new Map<number, number[]>();
  for (const pid of pids) {
    const ns = netns.get(pid);
    if (ns === undefined) continue;
    const list = byNamespace.get(ns);
    if (list === undefined) byNamespace.set(ns, [pid]);
    else list.push(pid);
  }

  const tables: NamespaceTable[] = [];
  let namespacesUnread = 0;
  let badLines = 0;
  let tablesComplete = true;
  const slicer = new TimeSlicer(scanOpts);
  for (const [ns, members] of byNamespace) {
    if (slicer.stopped) {
      tablesComplete = false;
      break;
    }
    await slicer.tick();
    const got = await readNamespaceTable(proc, ns, members, slicer, opts.skip);
    if (got === undefined) {
      namespacesUnread++;
      continue;
    }
    tables.push(got.table);
    badLines += got.bad;
  }

  const wanted = new Set(opts.connectionStates ?? [TCP_STATE.ESTABLISHED]);
  const inodes = new Set<number>();
  for (const t of tables) {
    for (const s of t.sockets) {
      if (s.inode !== 0 && (s.state === TCP_STATE.LISTEN || wanted.has(s.state))) {
        inodes.add(s.inode);
      }
    }
  }
  const { owners, stats: ownerScan } = inodes.size === 0
    ? { owners: new Map<number, SocketOwner[]>(), stats: newScanStats() }
    : await scanSocketOwners(proc, pids, { ...scanOpts, inodes });

  const joined = joinExistingSockets(tables, owners, opts);
  return {
    listens: joined.listens,
    connections: joined.connections,
    tables,
    stats: {
      ...joined.stats,
      namespaces: byNamespace.size,
      namespacesUnread,
      badLines,
      namespaceScan,
      ownerScan,
      complete: namespaceScan.complete && tablesComplete && ownerScan.complete,
      elapsedMs: performance.now() - started,
    },
  };
}

/**
 * Reads `tcp` and `tcp6` of namespace `ns` through the first of `pids` that works and is still
 * in `ns` afterwards. A missing `tcp6` (IPv6 disabled) is an empty table. The reads are
 * asynchronous (the kernel walks its whole socket hash for each, about 1.5 ms here, off the event
 * loop); the parse is cut into slices of about 4,000 lines.
 */
async function readNamespaceTable(
  proc: string,
  ns: number,
  pids: readonly number[],
  slicer: TimeSlicer,
  skip: SkipLine | undefined,
): Promise<{ table: NamespaceTable; bad: number } | undefined> {
  const scratch = newScanStats();
  for (const pid of pids) {
    const v4 = await readTable(`${proc}/${pid}/net/tcp`);
    if (v4 === undefined) continue;
    const v6 = await readTable(`${proc}/${pid}/net/tcp6`) ?? "";
    if (readNetNamespace(proc, pid, scratch) !== ns) continue;
    const sockets: ProcNetTcpSocket[] = [];
    let bad = 0;
    for (const [text, file] of [[v4, "tcp"], [v6, "tcp6"]]) {
      let firstLine = 1;
      for (let at = 0; at < text.length;) {
        let end = text.indexOf("\n", Math.min(at + CHUNK_CHARS, text.length - 1));
        end = end < 0 ? text.length : end + 1;
        const slice = text.slice(at, end);
        const part = parseProcNetTcp(slice, {
          skip,
          file: `${proc}/${pid}/net/${file}`,
          firstLine,
        });
        for (const s of part.sockets) sockets.push(s);
        bad += part.bad;
        if (skip !== undefined) firstLine += countLines(slice);
        at = end;
        await slicer.tick();
      }
    }
    return { table: { netns: ns, sockets }, bad };
  }
  return undefined;
}

/** The `\n`s in `text`. */
function countLines(text: string): number {
  let n = 0;
  for (let i = text.indexOf("\n"); i >= 0; i = text.indexOf("\n", i + 1)) n++;
  return n;
}

/** About 4,000 lines of `tcp` (150 characters each). */
const CHUNK_CHARS = 600_000;

async function readTable(path: string): Promise<string | undefined> {
  try {
    return await Deno.readTextFile(path);
  } catch {
    // Gone, refused or broken: whatever the kind, the namespace is not readable through this
    // pid, and the next one is tried.
    return undefined;
  }
}

/** True when `port` lies in one of `ranges`. */
function inRanges(port: number, ranges: readonly PortRange[]): boolean {
  for (const r of ranges) if (port >= r.from && port <= r.to) return true;
  return false;
}

/**
 * Decides a connection's direction from its ports and the listening ports of its namespace
 * (the rules in the module documentation).
 */
export function connectionDirection(
  localPort: number,
  remotePort: number,
  listeningPorts: ReadonlySet<number>,
  ephemeralPorts: readonly PortRange[] = DEFAULT_EPHEMERAL_PORTS,
): { inbound: boolean; inboundBy: DirectionRule } {
  if (listeningPorts.has(localPort)) return { inbound: true, inboundBy: "listener" };
  if (inRanges(localPort, ephemeralPorts)) return { inbound: false, inboundBy: "ephemeral" };
  return { inbound: remotePort > localPort, inboundBy: "ports" };
}

/**
 * The pure part of {@linkcode existingSockets}: joins the namespaces' socket tables with the
 * socket holders. `stats` holds the counts of what was left out; the scan fields are the
 * caller's to fill.
 */
export function joinExistingSockets(
  tables: readonly NamespaceTable[],
  owners: ReadonlyMap<number, readonly SocketOwner[]>,
  opts: Pick<ExistingSocketsOptions, "connectionStates" | "ephemeralPorts"> = {},
): {
  listens: ExistingListen[];
  connections: ExistingConnection[];
  stats: Pick<ExistingSocketsStats, "sockets" | "noInode" | "otherState" | "ownerNotFound">;
} {
  const wanted = new Set(opts.connectionStates ?? [TCP_STATE.ESTABLISHED]);
  wanted.delete(TCP_STATE.LISTEN);
  const ephemeral = opts.ephemeralPorts ?? DEFAULT_EPHEMERAL_PORTS;
  const listens: ExistingListen[] = [];
  const connections: ExistingConnection[] = [];
  const stats = { sockets: 0, noInode: 0, otherState: 0, ownerNotFound: 0 };
  for (const t of tables) {
    const listening = new Set<number>();
    for (const s of t.sockets) if (s.state === TCP_STATE.LISTEN) listening.add(s.localPort);
    for (const s of t.sockets) {
      stats.sockets++;
      if (s.inode === 0) {
        stats.noInode++;
        continue;
      }
      const isListen = s.state === TCP_STATE.LISTEN;
      if (!isListen && !wanted.has(s.state)) {
        stats.otherState++;
        continue;
      }
      const held = owners.get(s.inode);
      if (held === undefined || held.length === 0) {
        stats.ownerNotFound++;
        continue;
      }
      const list = held.length === 1
        ? [held[0]]
        : [...held].sort((a, b) => a.pid - b.pid || a.fd - b.fd);
      const first = list[0];
      if (isListen) {
        listens.push({
          netns: t.netns,
          family: s.family,
          address: s.localAddress,
          port: s.localPort,
          inode: s.inode,
          uid: s.uid,
          pid: first.pid,
          fd: first.fd,
          owners: list,
        });
        continue;
      }
      connections.push({
        netns: t.netns,
        family: s.family,
        state: s.state,
        localAddress: s.localAddress,
        localPort: s.localPort,
        remoteAddress: s.remoteAddress,
        remotePort: s.remotePort,
        inode: s.inode,
        uid: s.uid,
        pid: first.pid,
        fd: first.fd,
        owners: list,
        ...connectionDirection(s.localPort, s.remotePort, listening, ephemeral),
      });
    }
  }
  return { listens, connections, stats };
}
