/**
 * The network module's state: every tracked connection (by kernel socket), and per container
 * the per-destination counters and the listening sockets that the contract's
 * `container_net_tcp_*` families show (reference §2.3). Pure: events and counter readings go
 * in, {@linkcode ContainerNet} tables come out; the module feeds it from the BPF ring and map,
 * and writes the series.
 *
 * A connection's contribution to its destination is kept in step with what is known about
 * it by one function ({@linkcode ConnectionTracker} `#sync`): what it has added so far
 * (connect, active, bytes, retransmits) is remembered on the connection, so events may arrive
 * in any order, late, or while its container is still being identified, and every byte and
 * connect is counted exactly once.
 *
 * Bounds: connections (`maxConnections`), destinations and listens per container; what does
 * not fit is counted in {@linkcode TrackerCounters}, never silently dropped.
 *
 * @module
 */
import type { TcpConnEntry, TcpEvent } from "../../ffi/mod.ts";
import { TcpFlag } from "../../ffi/mod.ts";
import { isLinkLocalUnicast, isLoopback, joinHostPort, parseIp } from "./address.ts";
import { type DestinationLabels, destinationLabels, type DnsName } from "../dns_names.ts";
import { isPublicAddress } from "../dns_names.ts";
import type { DestinationFilter } from "./filter.ts";
import type { ExistingConnection, ExistingSockets } from "./existing_sockets.ts";

/** What the tracker needs to know of a container. */
export interface ContainerRef {
  readonly id: string;
}

/**
 * Who owns a process: its container, `"pending"` while being identified, `"unknown"` when the
 * process is gone and its cgroup was never seen (it may be soon), or none.
 */
export type Resolve = (
  pid: number,
  cgroupId: number,
) => ContainerRef | "pending" | "unknown" | undefined;

/** Counters of one destination (`destination` and `actual_destination` label values). */
export class DestinationStats {
  readonly destination: string;
  readonly actualDestination: string;
  /** Outbound connects that reached ESTABLISHED. */
  connects = 0;
  /** Sum of their SYN_SENT → ESTABLISHED times. */
  connectSeconds = 0;
  /** Connections now established. */
  active = 0;
  retransmits = 0;
  bytesSent = 0;
  bytesReceived = 0;

  constructor(destination: string, actualDestination: string) {
    this.destination = destination;
    this.actualDestination = actualDestination;
  }
}

/** A listening socket of a container. */
export interface ListenState {
  readonly netns: number;
  readonly ip: string;
  readonly port: number;
  open: boolean;
  /** When it closed (ms), for the GC. */
  closedAtMs: number;
}

/** One container's network tables. */
export class ContainerNet {
  readonly id: string;
  /** By `destination \0 actual_destination`. */
  readonly destinations = new Map<string, DestinationStats>();
  /** Failed connects by `destination`. */
  readonly failed = new Map<string, number>();
  /** Last connect attempt (ms) by `destination`, for the 10-minute GC. */
  readonly lastAttemptMs = new Map<string, number>();
  /** By `netns \0 ip \0 port`. */
  readonly listens = new Map<string, ListenState>();

  constructor(id: string) {
    this.id = id;
  }
}

/** What the tracker counted instead of dropping it silently. */
export interface TrackerCounters {
  /** Connections not tracked because the table was full. */
  connectionsOverflow: number;
  /** Destinations not added because the container's table was full. */
  destinationsOverflow: number;
  /** Listens not added because the container's table was full. */
  listensOverflow: number;
  /** Connections left out by the contract's filters, by reason. */
  filtered: Record<FilterReason, number>;
  /** Connections whose owner could not be attributed to a container in time. */
  unattributed: number;
  /** End or close records of sockets the tracker never saw open (opened before start, filtered). */
  untrackedEnds: number;
  /** Connections found ended by a /proc scan although no record said so (lost records). */
  repairedEnds: number;
  /**
   * Connections to a public address with no DNS name known, labelled `ip:port` after waiting
   * `nameWaitMs` without the name source catching up (see {@linkcode NameSource}).
   */
  nameWaitTimeouts: number;
}

/**
 * What DNS answers said of addresses (agent/dns_names.ts `DnsNames`, published by the L7
 * module): a connection's `destination` becomes `<name>:<port>` by the contract's rule.
 */
export interface NameSource {
  /** Grows each time every answer read until then is learnt. */
  readonly epoch: number;
  lookup(ip: string): DnsName | undefined;
}

/** Why a connection or listen is not reported. */
export type FilterReason =
  | "ephemeral_port"
  | "link_local"
  | "loopback_in_container"
  | "public_network"
  | "not_a_container"
  | "address_family";

interface Applied {
  connect: boolean;
  failed: boolean;
  active: boolean;
  sent: number;
  received: number;
  retransmits: number;
}

/** A connection the tracker follows. */
interface Conn {
  readonly sk: number;
  readonly netns: number;
  readonly pid: number;
  readonly cgroupId: number;
  readonly saddr: string;
  readonly sport: number;
  readonly daddr: string;
  readonly dport: number;
  /** Boot ns of SYN_SENT (0 unknown), for the NAT lookup. */
  startNs: number;
  actual: string;
  aport: number;
  /** The actual destination is still to be asked for (NAT lookups run in batches). */
  needsActual: boolean;
  connected: boolean;
  failed: boolean;
  ended: boolean;
  durationNs: number;
  sent: number;
  received: number;
  retransmits: number;
  readonly applied: Applied;
  state: "pending" | "tracked" | "dropped";
  /** The contract's filters were applied (they need the actual destination). */
  admitted: boolean;
  net?: ContainerNet;
  dest?: DestinationStats;
  /** Its `destination` label value, once attributed (`ip:port`, or `<name>:<port>`). */
  label?: string;
  /** The name source's epoch when it first waited for a name, and when (ms). */
  namesEpoch?: number;
  namesSinceMs?: number;
  readonly sinceMs: number;
  /** When its owner was first found unknown (ms); undefined while it was not. */
  unknownSinceMs?: number;
}

/** A connection whose actual (post-NAT) destination is to be looked up. */
export interface NatCandidate {
  readonly saddr: string;
  readonly sport: number;
  readonly daddr: string;
  readonly dport: number;
  readonly netns: number;
  /** Boot ns of SYN_SENT; 0 unknown. */
  readonly startNs: number;
}

/** Options of {@linkcode ConnectionTracker}. */
export interface TrackerOptions {
  readonly resolve: Resolve;
  readonly filter: DestinationFilter;
  /** Inode of the host's network namespace: loopback is tracked only there. */
  readonly hostNetns: number;
  readonly now?: () => number;
  /** @default 262144 */
  readonly maxConnections?: number;
  /** @default 4096 */
  readonly maxDestinationsPerContainer?: number;
  /** @default 1024 */
  readonly maxListensPerContainer?: number;
  /** How long a connection may wait for its container to be identified. @default 120000 */
  readonly pendingTimeoutMs?: number;
  /**
   * How long a connection of a vanished process may wait for its cgroup to be seen (another
   * of its processes, a rescan) before it is counted as unattributed. @default 15000
   */
  readonly unknownTimeoutMs?: number;
  /** Destinations without attempts, and closed listens, go after this. @default 600000 */
  readonly gcAfterMs?: number;
  /** Ended connections kept for bytes that arrive after their end. @default 16384 */
  readonly maxRecentlyEnded?: number;
  /**
   * Where DNS names come from, read at each connection labelled (undefined, or returning
   * undefined: none, every destination is `ip:port`).
   */
  readonly names?: () => NameSource | undefined;
  /**
   * Longest wait, ms, of a connection to a public address for the name source to catch up
   * (a name read before the connect may still be on its way). @default 2000
   */
  readonly nameWaitMs?: number;
}

/** Addresses whose `ip:port` texts are kept (each with every port seen). */
const HOST_PORTS_MAX = 4096;

/** include/net/tcp_states.h */
const TCP_ESTABLISHED = 1;

function tupleKey(netns: number, saddr: string, sport: number, daddr: string, dport: number) {
  return `${netns} ${saddr} ${sport} ${daddr} ${dport}`;
}

/** See the module documentation. */
export class ConnectionTracker {
  readonly #o: TrackerOptions;
  readonly #now: () => number;
  readonly #maxConns: number;
  readonly #maxDest: number;
  readonly #maxListens: number;
  readonly #pendingTimeout: number;
  readonly #unknownTimeout: number;
  readonly #gcAfter: number;
  readonly #maxRecent: number;
  readonly #conns = new Map<number, Conn>();
  /** Ended connections, for CLOSE records that carry bytes after the end. */
  readonly #recent = new Map<number, Conn>();
  /** Connections (and failed connects) waiting for their container. */
  readonly #pending = new Set<Conn>();
  /** Connections found at start, by socket inode and by 4-tuple, until a record names their socket. */
  readonly #seededByInode = new Map<number, Conn>();
  readonly #seededByTuple = new Map<string, Conn>();
  /**
   * Tracked outbound connections by 4-tuple, the latest `maxRecentlyEnded`, for the L7
   * module: its records may come after the socket address was reused by another connection.
   */
  readonly #byTuple = new Map<string, Conn>();
  readonly #nets = new Map<string, ContainerNet>();
  /** Listens whose process's container is still being identified. */
  readonly #pendingListens: {
    netns: number;
    ip: string;
    port: number;
    pid: number;
    cgroupId: number;
    sinceMs: number;
  }[] = [];
  /** Listen key → container, for LISTEN_CLOSE records (whoever closes it). */
  readonly #listenOwner = new Map<string, ContainerNet>();
  /** `ip:port` texts by address and port (see #hostPort). */
  readonly #hostPorts = new Map<string, Map<number, string>>();
  readonly counters: TrackerCounters = {
    connectionsOverflow: 0,
    destinationsOverflow: 0,
    listensOverflow: 0,
    filtered: {
      ephemeral_port: 0,
      link_local: 0,
      loopback_in_container: 0,
      public_network: 0,
      not_a_container: 0,
      address_family: 0,
    },
    unattributed: 0,
    untrackedEnds: 0,
    repairedEnds: 0,
    nameWaitTimeouts: 0,
  };

  constructor(opts: TrackerOptions) {
    this.#o = opts;
    this.#now = opts.now ?? Date.now;
    this.#maxConns = opts.maxConnections ?? 262_144;
    this.#maxDest = opts.maxDestinationsPerContainer ?? 4096;
    this.#maxListens = opts.maxListensPerContainer ?? 1024;
    this.#pendingTimeout = opts.pendingTimeoutMs ?? 120_000;
    this.#unknownTimeout = opts.unknownTimeoutMs ?? 15_000;
    this.#gcAfter = opts.gcAfterMs ?? 600_000;
    this.#maxRecent = opts.maxRecentlyEnded ?? 16_384;
  }

  /** Connections followed now (established or waiting for their container). */
  get connectionCount(): number {
    return this.#conns.size + this.#seededByTuple.size;
  }

  /** Connections and failed connects waiting for their container to be identified. */
  get pendingCount(): number {
    return this.#pending.size;
  }

  /** Every container's tables. */
  nets(): IterableIterator<ContainerNet> {
    return this.#nets.values();
  }

  /** The tables of one container, if it has any. */
  net(id: string): ContainerNet | undefined {
    return this.#nets.get(id);
  }

  /**
   * The container and label values of the tracked outbound connection at socket `sk` (also
   * one that ended lately, as long as it is among the recently ended), or of
   * the connection found at start with this 4-tuple (whose socket no record named yet), for
   * the L7 module. Undefined while it is not (yet) tracked: unknown, filtered, or waiting for
   * its container or NAT lookup.
   */
  l7Destination(
    sk: number,
    t: { netns: number; saddr: string; sport: number; daddr: string; dport: number },
  ): { containerId: string; destination: string; actualDestination: string } | undefined {
    // ended ones too (the tcp ring may deliver the end before the l7 ring the last answer);
    // a socket address is reused soon after its socket is freed: the tuple must be the same
    const same = (x: Conn | undefined) =>
      x !== undefined && x.dport === t.dport && x.sport === t.sport && x.daddr === t.daddr;
    let c: Conn | undefined = this.#conns.get(sk);
    if (!same(c)) c = this.#recent.get(sk);
    if (!same(c)) {
      const key = tupleKey(t.netns, t.saddr, t.sport, t.daddr, t.dport);
      c = this.#seededByTuple.get(key) ?? this.#byTuple.get(key);
    }
    if (c === undefined || c.state !== "tracked" || c.dest === undefined || !c.net) {
      return undefined;
    }
    return {
      containerId: c.net.id,
      destination: c.dest.destination,
      actualDestination: c.dest.actualDestination,
    };
  }

  /** Remembers a tracked connection by its 4-tuple for {@linkcode l7Destination}. */
  #noteTuple(c: Conn): void {
    const key = tupleKey(c.netns, c.saddr, c.sport, c.daddr, c.dport);
    this.#byTuple.delete(key);
    if (this.#byTuple.size >= this.#maxRecent) {
      this.#byTuple.delete(this.#byTuple.keys().next().value!);
    }
    this.#byTuple.set(key, c);
  }

  /** Forgets a container the registry removed, and every connection attributed to it. */
  forgetContainer(id: string): void {
    const net = this.#nets.get(id);
    if (!net) return;
    this.#nets.delete(id);
    for (const [key, owner] of this.#listenOwner) if (owner === net) this.#listenOwner.delete(key);
    for (const map of [this.#conns, this.#recent]) {
      for (const [sk, c] of map) if (c.net === net) map.delete(sk);
    }
    for (const [key, c] of this.#byTuple) if (c.net === net) this.#byTuple.delete(key);
  }

  /** Connections that still need their actual (post-NAT) destination looked up. */
  *needingActual(): IterableIterator<NatCandidate> {
    for (const c of this.#pending) if (c.needsActual) yield c;
  }

  /**
   * Sets the actual destination found for connections {@linkcode needingActual} listed
   * (`undefined`: no NAT), then attributes them.
   */
  setActual(conn: NatCandidate, actual: { ip: string; port: number } | undefined): void {
    const c = conn as Conn;
    if (!c.needsActual) return;
    c.needsActual = false;
    if (actual) {
      c.actual = actual.ip;
      c.aport = actual.port;
    }
  }

  /**
   * Applies one record of the tcp ring. `natPending` says that the actual destination of a
   * connect without one in the record must still be looked up (the NAT source is user-space);
   * such connects wait in the pending set until {@linkcode setActual} and {@linkcode round}.
   */
  handle(e: Readonly<TcpEvent>, natPending = false): void {
    switch (e.type) {
      case "connect":
      case "failed":
        this.#open(e, natPending && e.type === "connect" && e.aport === 0);
        break;
      case "end":
        this.#end(e);
        break;
      case "close":
        this.#afterEnd(e);
        break;
      case "listen":
        this.#listen(e.netns, e.saddr, e.sport, e.pid, e.cgroupId);
        break;
      case "listen_close":
        this.#listenClose(e.netns, e.saddr, e.sport);
        break;
      default:
        break;
    }
  }

  /** Applies one periodic reading of a connection's kernel counters. */
  update(entry: Readonly<TcpConnEntry>): void {
    let c = this.#current(entry.sk, entry.startNs);
    if (c === undefined && entry.inode !== 0 && (entry.flags & TcpFlag.UNTRACKED) !== 0) {
      c = this.#seededByInode.get(entry.inode);
      if (c !== undefined) this.#bind(c, entry.sk);
    }
    if (c === undefined || c.ended || (entry.flags & TcpFlag.ENDED) !== 0) return;
    c.sent = entry.bytesSent;
    c.received = entry.bytesReceived;
    c.retransmits = entry.retransmits;
    this.#sync(c);
  }

  /**
   * Takes connections that existed before the programs attached (found in
   * `/proc/<pid>/net/tcp{,6}`). Outbound connections count as active (not as connects: their
   * connect was not seen) until their end; their bytes and retransmits count from now on.
   * A connection the programs already reported (opened between attach and scan) is skipped.
   * With `natPending`, each waits for its actual destination ({@linkcode needingActual},
   * {@linkcode setActual}, then {@linkcode settle}) before it is filtered and attributed.
   */
  seed(connections: readonly ExistingConnection[], natPending = false): void {
    const known = new Set<string>();
    for (const c of this.#conns.values()) {
      known.add(tupleKey(c.netns, c.saddr, c.sport, c.daddr, c.dport));
    }
    for (const x of connections) {
      if (x.inbound) continue;
      const key = tupleKey(x.netns, x.localAddress, x.localPort, x.remoteAddress, x.remotePort);
      if (this.#seededByTuple.has(key) || known.has(key)) continue;
      if (this.#o.filter.skipPort(x.remotePort)) {
        this.counters.filtered.ephemeral_port++;
        continue;
      }
      const c = this.#newConn({
        sk: 0,
        netns: x.netns,
        pid: x.pid,
        cgroupId: 0,
        saddr: x.localAddress,
        sport: x.localPort,
        daddr: x.remoteAddress,
        dport: x.remotePort,
      });
      c.connected = true;
      c.applied.connect = true; // not seen connecting: only active from now on
      if (this.#conns.size + this.#seededByTuple.size >= this.#maxConns) {
        this.counters.connectionsOverflow++;
        continue;
      }
      if (natPending) {
        c.needsActual = true;
        this.#pending.add(c);
      } else if (!this.#admit(c)) continue;
      this.#seededByTuple.set(key, c);
      if (x.inode !== 0) this.#seededByInode.set(x.inode, c);
    }
  }

  /**
   * Repairs what lost or missed records left wrong, from a later scan of `/proc` (the
   * reference does the same every 10 minutes): a tracked connection that the scan of its
   * namespace no longer shows established has ended (counted in `repairedEnds`); listens are
   * reconciled with what the namespace's table shows. Only namespaces the scan read count.
   */
  reconcile(scan: ExistingSockets): void {
    const scannedNetns = new Set(scan.tables.map((t) => t.netns));
    const established = new Set<string>();
    for (const t of scan.tables) {
      for (const x of t.sockets) {
        if (x.state !== TCP_ESTABLISHED) continue;
        established.add(
          tupleKey(t.netns, x.localAddress, x.localPort, x.remoteAddress, x.remotePort),
        );
      }
    }
    const ends: Conn[] = [];
    for (const c of this.#conns.values()) {
      if (c.ended || !c.connected || !scannedNetns.has(c.netns)) continue;
      if (!established.has(tupleKey(c.netns, c.saddr, c.sport, c.daddr, c.dport))) ends.push(c);
    }
    for (const [key, c] of this.#seededByTuple) {
      if (scannedNetns.has(c.netns) && !established.has(key)) {
        ends.push(c);
        this.#seededByTuple.delete(key);
        this.#seededByInode.forEach((v, k) => v === c && this.#seededByInode.delete(k));
      }
    }
    for (const c of ends) {
      this.#conns.delete(c.sk);
      c.ended = true;
      this.#sync(c);
      this.counters.repairedEnds++;
    }
    const byNetns = new Map<number, Map<string, number>>();
    for (const ns of scannedNetns) byNetns.set(ns, new Map());
    for (const l of scan.listens) byNetns.get(l.netns)?.set(`${l.address}\0${l.port}`, l.pid);
    for (const [ns, seen] of byNetns) this.reconcileListens(ns, seen);
  }

  /** Takes a listening socket that existed before the programs attached. */
  seedListen(netns: number, ip: string, port: number, pid: number): void {
    this.#listen(netns, ip, port, pid, 0);
  }

  /**
   * Housekeeping, once per round: {@linkcode settle}, then forgets destinations without
   * attempts and closed listens after the GC interval (as the reference does every 10
   * minutes).
   */
  round(): void {
    this.settle();
    const now = this.#now();
    for (const net of this.#nets.values()) {
      const active = new Set<string>();
      for (const d of net.destinations.values()) if (d.active > 0) active.add(d.destination);
      for (const [dst, at] of net.lastAttemptMs) {
        if (active.has(dst) || now - at <= this.#gcAfter) continue;
        net.lastAttemptMs.delete(dst);
        net.failed.delete(dst);
        for (const [key, d] of net.destinations) {
          if (d.destination === dst) net.destinations.delete(key);
        }
      }
      for (const [key, l] of net.listens) {
        if (!l.open && now - l.closedAtMs > this.#gcAfter) {
          net.listens.delete(key);
          this.#listenOwner.delete(key);
        }
      }
    }
  }

  /**
   * Attributes what waited: connections whose NAT lookup is done and whose container is now
   * known; drops (and counts) those that waited longer than the pending timeout. Cheap when
   * nothing waits; the module calls it after every batch of records.
   */
  settle(): void {
    if (this.#pendingListens.length > 0) this.#settleListens();
    if (this.#pending.size === 0) return;
    const now = this.#now();
    for (const c of this.#pending) {
      if (c.needsActual) continue;
      if (!c.admitted) {
        this.#pending.delete(c);
        if (!this.#admit(c)) continue;
      } else this.#attribute(c);
      const late = c.unknownSinceMs !== undefined
        ? now - c.unknownSinceMs > this.#unknownTimeout
        : now - c.sinceMs > this.#pendingTimeout;
      if (c.state === "pending" && late) {
        this.#pending.delete(c);
        c.state = "dropped";
        this.counters.unattributed++;
        this.#conns.delete(c.sk);
      }
    }
  }

  #settleListens(): void {
    const now = this.#now();
    const waiting = this.#pendingListens.splice(0);
    for (const l of waiting) {
      const owner = this.#o.resolve(l.pid, l.cgroupId);
      if (owner === "pending" && now - l.sinceMs <= this.#pendingTimeout) {
        this.#pendingListens.push(l);
      } else if (owner === "pending") {
        this.counters.unattributed++;
      } else this.#listen(l.netns, l.ip, l.port, l.pid, l.cgroupId);
    }
  }

  // ---- connections -----------------------------------------------------------------------

  #newConn(
    base: Pick<Conn, "sk" | "netns" | "pid" | "cgroupId" | "saddr" | "sport" | "daddr" | "dport">,
  ): Conn {
    // field by field: `base` may be a whole TcpEvent, whose other fields a spread would copy
    return {
      sk: base.sk,
      netns: base.netns,
      pid: base.pid,
      cgroupId: base.cgroupId,
      saddr: base.saddr,
      sport: base.sport,
      daddr: base.daddr,
      dport: base.dport,
      startNs: 0,
      actual: base.daddr,
      aport: base.dport,
      needsActual: false,
      connected: false,
      failed: false,
      ended: false,
      durationNs: 0,
      sent: 0,
      received: 0,
      retransmits: 0,
      applied: {
        connect: false,
        failed: false,
        active: false,
        sent: 0,
        received: 0,
        retransmits: 0,
      },
      state: "pending",
      admitted: false,
      sinceMs: this.#now(),
    };
  }

  #open(e: Readonly<TcpEvent>, needsActual: boolean): void {
    if (e.ipVersion === 0) {
      this.counters.filtered.address_family++;
      return;
    }
    if (this.#o.filter.skipPort(e.dport)) {
      this.counters.filtered.ephemeral_port++;
      return;
    }
    const c = this.#newConn(e);
    c.startNs = e.startNs;
    if (e.aport !== 0 && e.aaddr !== "") {
      c.actual = e.aaddr;
      c.aport = e.aport;
    }
    c.needsActual = needsActual;
    c.durationNs = e.durationNs;
    if (e.type === "connect") c.connected = true;
    else c.failed = true;
    if (c.connected) {
      this.#current(e.sk, e.startNs); // ends what an earlier socket at this address left
      if (this.#conns.size + this.#seededByTuple.size >= this.#maxConns) {
        this.counters.connectionsOverflow++;
        return;
      }
      this.#conns.set(e.sk, c);
    }
    if (needsActual) {
      this.#pending.add(c);
      return;
    }
    this.#admit(c);
  }

  /** Filters and attributes a new connection; false when it is not tracked. */
  #admit(c: Conn): boolean {
    c.admitted = true;
    const reason = this.#filterReason(c);
    if (reason !== undefined) {
      this.counters.filtered[reason]++;
      this.#drop(c);
      return false;
    }
    this.#attribute(c);
    if (c.state === "pending") this.#pending.add(c);
    return c.state !== "dropped";
  }

  #filterReason(c: Conn): FilterReason | undefined {
    const dst = parseIp(c.daddr);
    const actual = c.actual === c.daddr ? dst : parseIp(c.actual);
    if (dst === undefined || actual === undefined) return "address_family";
    const inHost = c.netns === this.#o.hostNetns;
    if (!inHost && (isLoopback(dst) || isLoopback(actual))) return "loopback_in_container";
    if (this.#o.filter.skipDestination(dst, actual, c.daddr)) {
      return isLinkLocalUnicast(dst) ? "link_local" : "public_network";
    }
    return undefined;
  }

  #drop(c: Conn): void {
    c.state = "dropped";
    this.#pending.delete(c);
    if (this.#conns.get(c.sk) === c) this.#conns.delete(c.sk);
  }

  /** Finds the connection's container and destination; pending while the registry looks. */
  #attribute(c: Conn): void {
    if (c.state !== "pending") return;
    const owner = this.#o.resolve(c.pid, c.cgroupId);
    if (owner === "pending") return;
    if (owner === "unknown") {
      // waits (settle() retries) for its cgroup to be seen; unattributed after a while
      c.unknownSinceMs ??= this.#now();
      return;
    }
    if (owner === undefined) {
      this.#pending.delete(c);
      this.counters.filtered.not_a_container++;
      this.#drop(c);
      return;
    }
    const labels = this.#labels(c);
    if (labels === undefined) return; // waits (settle() retries) for the DNS names
    this.#pending.delete(c);
    const net = this.#netOf(owner.id);
    const { destination, actualDestination } = labels;
    c.label = destination;
    if (c.connected || c.applied.connect) {
      const key = destination + "\0" + actualDestination;
      let dest = net.destinations.get(key);
      if (dest === undefined) {
        if (net.destinations.size >= this.#maxDest) {
          this.counters.destinationsOverflow++;
          this.#drop(c);
          return;
        }
        net.destinations.set(key, dest = new DestinationStats(destination, actualDestination));
      }
      c.dest = dest;
    }
    c.net = net;
    c.state = "tracked";
    if (c.connected) this.#noteTuple(c);
    net.lastAttemptMs.set(destination, this.#now());
    this.#sync(c);
  }

  /**
   * The connection's label values by the contract's DNS rule (agent/dns_names.ts), or undefined
   * while it waits for the name source: a connection whose actual address is public and whose
   * destination has no name known waits until the source's epoch grows past the one noted at
   * its first try (every answer read before then is learnt), at most `nameWaitMs`.
   */
  #labels(c: Conn): DestinationLabels | undefined {
    const names = this.#o.names?.();
    if (names !== undefined && isPublicAddress(c.actual)) {
      const name = names.lookup(c.daddr);
      if (name !== undefined) {
        if (name.byName) {
          return destinationLabels(
            { ip: c.daddr, port: c.dport },
            { ip: c.actual, port: c.aport },
            name,
          );
        }
      } else if (c.namesEpoch === undefined) {
        c.namesEpoch = names.epoch;
        c.namesSinceMs = this.#now();
        return undefined;
      } else if (names.epoch <= c.namesEpoch) {
        if (this.#now() - c.namesSinceMs! <= (this.#o.nameWaitMs ?? 2000)) return undefined;
        this.counters.nameWaitTimeouts++;
      }
    }
    return {
      destination: this.#hostPort(c.daddr, c.dport),
      actualDestination: this.#hostPort(c.actual, c.aport),
    };
  }

  /**
   * `ip:port` label values, made once per address and port rather than per connection: the
   * decoders hand out one string per address, so the lookups allocate nothing.
   */
  #hostPort(ip: string, port: number): string {
    let byPort = this.#hostPorts.get(ip);
    if (byPort === undefined) {
      if (this.#hostPorts.size >= HOST_PORTS_MAX) this.#hostPorts.clear();
      this.#hostPorts.set(ip, byPort = new Map());
    }
    let text = byPort.get(port);
    if (text === undefined) byPort.set(port, text = joinHostPort(ip, port));
    return text;
  }

  /** Brings the destination's counters in step with what is known about the connection. */
  #sync(c: Conn): void {
    if (c.state !== "tracked") return;
    const a = c.applied;
    if (c.failed && !a.failed) {
      a.failed = true;
      const net = c.net!;
      const destination = c.label ?? this.#hostPort(c.daddr, c.dport);
      net.failed.set(destination, (net.failed.get(destination) ?? 0) + 1);
      return;
    }
    const d = c.dest;
    if (d === undefined) return;
    if (c.connected && !a.connect) {
      a.connect = true;
      d.connects++;
      d.connectSeconds += c.durationNs / 1e9;
    }
    const active = c.connected && !c.ended;
    if (active !== a.active) {
      a.active = active;
      d.active += active ? 1 : -1;
    }
    if (c.sent > a.sent) {
      d.bytesSent += c.sent - a.sent;
      a.sent = c.sent;
    }
    if (c.received > a.received) {
      d.bytesReceived += c.received - a.received;
      a.received = c.received;
    }
    if (c.retransmits > a.retransmits) {
      d.retransmits += c.retransmits - a.retransmits;
      a.retransmits = c.retransmits;
    }
  }

  /**
   * The connection followed at socket address `sk`, if it is the one that started at
   * `startNs` (the kernel's SYN_SENT time; 0 for sockets older than the programs). A socket
   * freed and its address reused by another means the first one ended and its end record was
   * lost (a full ring): it is ended now (counted in `repairedEnds`), so the new socket's
   * counters never go to its destination and its active connection does not stay forever.
   */
  #current(sk: number, startNs: number): Conn | undefined {
    const c = this.#conns.get(sk);
    if (c === undefined || c.startNs === startNs) return c;
    this.#conns.delete(sk);
    if (!c.ended) {
      c.ended = true;
      this.#sync(c);
      this.counters.repairedEnds++;
    }
    return undefined;
  }

  #bind(c: Conn, sk: number): void {
    (c as { sk: number }).sk = sk;
    this.#seededByInode.forEach((v, k) => v === c && this.#seededByInode.delete(k));
    this.#seededByTuple.delete(tupleKey(c.netns, c.saddr, c.sport, c.daddr, c.dport));
    this.#conns.set(sk, c);
  }

  #end(e: Readonly<TcpEvent>): void {
    let c = this.#current(e.sk, e.startNs);
    if (c === undefined) {
      const key = tupleKey(e.netns, e.saddr, e.sport, e.daddr, e.dport);
      c = this.#seededByTuple.get(key);
      if (c === undefined) {
        this.counters.untrackedEnds++;
        return;
      }
      this.#bind(c, e.sk);
    }
    this.#conns.delete(e.sk);
    if (c.state === "dropped") return;
    c.sent = Math.max(c.sent, e.bytesSent);
    c.received = Math.max(c.received, e.bytesReceived);
    c.retransmits = Math.max(c.retransmits, e.retransmits);
    c.ended = true;
    this.#sync(c);
    this.#recent.delete(e.sk);
    this.#recent.set(e.sk, c);
    if (this.#recent.size > this.#maxRecent) {
      this.#recent.delete(this.#recent.keys().next().value!);
    }
  }

  /** A CLOSE record: what came after the end (bytes read after the peer's FIN, say). */
  #afterEnd(e: Readonly<TcpEvent>): void {
    if ((e.flags & TcpFlag.AFTER_END) === 0) {
      this.counters.untrackedEnds++;
      return;
    }
    const c = this.#recent.get(e.sk);
    if (c === undefined || c.startNs !== e.startNs) {
      this.counters.untrackedEnds++;
      return;
    }
    this.#recent.delete(e.sk);
    c.sent += e.bytesSent;
    c.received += e.bytesReceived;
    c.retransmits += e.retransmits;
    this.#sync(c);
  }

  // ---- listens ---------------------------------------------------------------------------

  #netOf(id: string): ContainerNet {
    let net = this.#nets.get(id);
    if (net === undefined) this.#nets.set(id, net = new ContainerNet(id));
    return net;
  }

  #listen(netns: number, ip: string, port: number, pid: number, cgroupId: number): void {
    if (this.#o.filter.skipPort(port)) {
      this.counters.filtered.ephemeral_port++;
      return;
    }
    const owner = this.#o.resolve(pid, cgroupId);
    if (owner === undefined) {
      this.counters.filtered.not_a_container++;
      return;
    }
    if (owner === "pending" || owner === "unknown") {
      if (this.#pendingListens.length < this.#maxListens) {
        this.#pendingListens.push({ netns, ip, port, pid, cgroupId, sinceMs: this.#now() });
      } else this.counters.listensOverflow++;
      return;
    }
    const net = this.#netOf(owner.id);
    const key = `${netns}\0${ip}\0${port}`;
    let l = net.listens.get(key);
    if (l === undefined) {
      if (net.listens.size >= this.#maxListens) {
        this.counters.listensOverflow++;
        return;
      }
      net.listens.set(key, l = { netns, ip, port, open: true, closedAtMs: 0 });
    }
    l.open = true;
    this.#listenOwner.set(key, net);
  }

  #listenClose(netns: number, ip: string, port: number): void {
    const key = `${netns}\0${ip}\0${port}`;
    const l = this.#listenOwner.get(key)?.listens.get(key);
    if (l === undefined) return;
    l.open = false;
    l.closedAtMs = this.#now();
  }

  /**
   * Marks the listens of a network namespace that a /proc reading no longer shows as closed,
   * and (re)opens those it shows; `seen` holds `ip \0 port` keys, `owners` their pids.
   */
  reconcileListens(netns: number, seen: ReadonlyMap<string, number>): void {
    for (const [key, net] of this.#listenOwner) {
      if (!key.startsWith(`${netns}\0`)) continue;
      const l = net.listens.get(key);
      if (l && l.open && !seen.has(key.slice(key.indexOf("\0") + 1))) {
        l.open = false;
        l.closedAtMs = this.#now();
      }
    }
    for (const [ipPort, pid] of seen) {
      const sep = ipPort.lastIndexOf("\0");
      const key = `${netns}\0${ipPort}`;
      const l = this.#listenOwner.get(key)?.listens.get(key);
      if (l === undefined || !l.open) {
        this.#listen(netns, ipPort.slice(0, sep), Number(ipPort.slice(sep + 1)), pid, 0);
      }
    }
  }
}
