/**
 * NAT actual destinations: a {@linkcode NatWatcher} watches conntrack in one
 * network namespace (libosprey's conntrack.c) and says, for connection
 * tuples as the application connected, where they really go (the DNAT
 * target: a Kubernetes Service's pod, a published port's container).
 *
 * Records cross as fixed-layout bytes (ffi/include/osprey.h): queries are
 * `struct osp_nat_query` (48 bytes: the 40 of bpf/tcp.h's `osp_tcp_tuple`
 * plus the connection's start time), answers `struct osp_nat_result` (24).
 * `ffi/layout_test.ts` checks the offsets below against `osp_layout()`.
 *
 * @module
 */

import { BpfError, Errno } from "./errors.ts";
import { addressBytes, formatAddress } from "./ip_address.ts";
import { cString, type Native, parseKeyValues } from "./_native.ts";

// --- struct osp_nat_options ---
export const NAT_OPTIONS_SIZE = 24;
export const NAT_OPT_CAPACITY = 0;
export const NAT_OPT_FLAGS = 4;
export const NAT_OPT_RCVBUF = 8;
export const NAT_OPT_INTERVAL_MS = 12;
export const NAT_OPT_GET_RATE = 16;
export const NAT_OPT_RESERVED = 20;

// --- struct osp_nat_query ---
/** Bytes of one query. */
export const NAT_QUERY_SIZE = 48;
export const NAT_Q_SADDR = 0;
export const NAT_Q_DADDR = 16;
export const NAT_Q_SPORT = 32;
export const NAT_Q_DPORT = 34;
export const NAT_Q_RESERVED = 36;
export const NAT_Q_START_NS = 40;

// --- struct osp_nat_result ---
/** Bytes of one result. */
export const NAT_RESULT_SIZE = 24;
export const NAT_R_ADDR = 0;
export const NAT_R_PORT = 16;
export const NAT_R_FLAGS = 18;
export const NAT_R_RESERVED = 20;

/** struct osp_nat_stats fields, in order (u64 each). */
const STATS_FIELDS = [
  "events",
  "nat_events",
  "dumped",
  "seeded",
  "cached",
  "capacity",
  "evicted",
  "overruns",
  "dropped",
  "truncated",
  "lookups",
  "hits",
  "misses",
  "gets",
  "get_found",
  "get_errors",
  "unverified",
  "drains",
  "thread_cpu_ns",
  "last_loss_ns",
] as const;
export const NAT_STATS_SIZE = STATS_FIELDS.length * 8;

/** enum osp_nat_flags. */
export const NatOpenFlag = { SET_EVENTS: 1, NO_EVENTS: 2, NO_SEED: 4 } as const;

/** enum osp_nat_result_flags. */
export const NatResultFlag = {
  FOUND: 1,
  GET: 2,
  SEEDED: 4,
  UNVERIFIED: 8,
  BAD_QUERY: 16,
} as const;

/** The C layout of the NAT records, keyed like osp_layout()'s lines: `[offset, size]`. */
export const NAT_EXPECTED_LAYOUT: Readonly<Record<string, readonly [number, number]>> = {
  "osp_nat_options": [0, NAT_OPTIONS_SIZE],
  "osp_nat_options.capacity": [NAT_OPT_CAPACITY, 4],
  "osp_nat_options.flags": [NAT_OPT_FLAGS, 4],
  "osp_nat_options.rcvbuf": [NAT_OPT_RCVBUF, 4],
  "osp_nat_options.interval_ms": [NAT_OPT_INTERVAL_MS, 4],
  "osp_nat_options.get_rate": [NAT_OPT_GET_RATE, 4],
  "osp_nat_options.reserved": [NAT_OPT_RESERVED, 4],
  "osp_nat_query": [0, NAT_QUERY_SIZE],
  "osp_nat_query.saddr": [NAT_Q_SADDR, 16],
  "osp_nat_query.daddr": [NAT_Q_DADDR, 16],
  "osp_nat_query.sport": [NAT_Q_SPORT, 2],
  "osp_nat_query.dport": [NAT_Q_DPORT, 2],
  "osp_nat_query.reserved": [NAT_Q_RESERVED, 4],
  "osp_nat_query.start_ns": [NAT_Q_START_NS, 8],
  "osp_nat_result": [0, NAT_RESULT_SIZE],
  "osp_nat_result.addr": [NAT_R_ADDR, 16],
  "osp_nat_result.port": [NAT_R_PORT, 2],
  "osp_nat_result.flags": [NAT_R_FLAGS, 2],
  "osp_nat_result.reserved": [NAT_R_RESERVED, 4],
  "osp_nat_stats": [0, NAT_STATS_SIZE],
  ...Object.fromEntries(STATS_FIELDS.map((f, i) => [`osp_nat_stats.${f}`, [i * 8, 8] as const])),
};

/** The NAT constants of osp_layout(). */
export const NAT_EXPECTED_CONSTANTS: Readonly<Record<string, number>> = {
  OSP_NAT_SET_EVENTS: NatOpenFlag.SET_EVENTS,
  OSP_NAT_NO_EVENTS: NatOpenFlag.NO_EVENTS,
  OSP_NAT_NO_SEED: NatOpenFlag.NO_SEED,
  OSP_NAT_R_FOUND: NatResultFlag.FOUND,
  OSP_NAT_R_GET: NatResultFlag.GET,
  OSP_NAT_R_SEEDED: NatResultFlag.SEEDED,
  OSP_NAT_R_UNVERIFIED: NatResultFlag.UNVERIFIED,
  OSP_NAT_R_BAD_QUERY: NatResultFlag.BAD_QUERY,
};

// --- addresses ---

// --- records ---

/** One connection to resolve, in the original direction (as the application connected). */
export interface NatQuery {
  /** Local address: text, or 16 bytes (IPv6 or IPv4-mapped). */
  saddr: string | Uint8Array;
  /** Remote address as connected, e.g. a Service VIP. */
  daddr: string | Uint8Array;
  sport: number;
  dport: number;
  /**
   * CLOCK_BOOTTIME ns when the connect began (a TCP record's start_ns), or
   * 0 / absent when unknown. Decides whether a miss must be verified with a
   * GET because an event may have been lost since (see osprey.h).
   */
  startNs?: number;
}

/** Where a connection really goes. */
export interface NatResult {
  /** A DNAT entry exists: `addr`:`port` is the actual destination. */
  found: boolean;
  /** The actual destination's address ("" when not found). */
  addr: string;
  port: number;
  /**
   * Where the answer came from: "cache" (an event), "seed" (the dump at
   * open), "get" (a ctnetlink GET), "none" (a certain miss: not NATed).
   */
  source: "cache" | "seed" | "get" | "none";
  /**
   * Not found, but an event may have been lost and no GET could check it
   * (budget spent or the GET failed): treated as not NATed, counted in
   * `stats().unverified`.
   */
  unverified: boolean;
  /** The query mixed an IPv4 and an IPv6 address and was not looked up. */
  badQuery: boolean;
}

/**
 * Write one `struct osp_nat_query` at `offset`.
 *
 * @param view a DataView over the query buffer
 * @param offset byte offset (a multiple of {@linkcode NAT_QUERY_SIZE})
 * @param q the query; text addresses are parsed
 * @throws {TypeError} for an unparsable address or a port outside 0..65535
 */
export function encodeNatQuery(view: DataView, offset: number, q: NatQuery): void {
  writeAddress(view, offset + NAT_Q_SADDR, q.saddr);
  writeAddress(view, offset + NAT_Q_DADDR, q.daddr);
  if (!isPort(q.sport) || !isPort(q.dport)) {
    throw new TypeError(`Ports ${q.sport} and ${q.dport} must be integers from 0 to 65535`);
  }
  view.setUint16(offset + NAT_Q_SPORT, q.sport, true);
  view.setUint16(offset + NAT_Q_DPORT, q.dport, true);
  view.setUint32(offset + NAT_Q_RESERVED, 0, true);
  const start = Math.max(0, Math.trunc(q.startNs ?? 0));
  view.setUint32(offset + NAT_Q_START_NS, start % 4294967296, true);
  view.setUint32(offset + NAT_Q_START_NS + 4, Math.floor(start / 4294967296), true);
}

function isPort(p: number): boolean {
  return Number.isInteger(p) && p >= 0 && p <= 65535;
}

const scratch = new Uint8Array(16);

function writeAddress(view: DataView, at: number, a: string | Uint8Array): void {
  if (typeof a === "string") {
    a = addressBytes(a, scratch);
  } else if (a.byteLength !== 16) {
    throw new TypeError(`An address must be 16 bytes, not ${a.byteLength}`);
  }
  for (let i = 0; i < 16; i++) view.setUint8(at + i, a[i]);
}

/**
 * Read one `struct osp_nat_result` at `offset`.
 *
 * @param bytes the result buffer
 * @param offset byte offset (a multiple of {@linkcode NAT_RESULT_SIZE})
 * @returns the decoded result
 */
export function decodeNatResult(bytes: Uint8Array, offset: number): NatResult {
  // little-endian host order, as every supported target
  const flags = bytes[offset + NAT_R_FLAGS] | (bytes[offset + NAT_R_FLAGS + 1] << 8);
  const found = (flags & NatResultFlag.FOUND) !== 0;
  return {
    found,
    addr: found ? formatAddress(bytes, offset + NAT_R_ADDR) : "",
    port: found ? bytes[offset + NAT_R_PORT] | (bytes[offset + NAT_R_PORT + 1] << 8) : 0,
    source: flags & NatResultFlag.GET
      ? "get"
      : flags & NatResultFlag.SEEDED
      ? "seed"
      : found
      ? "cache"
      : "none",
    unverified: (flags & NatResultFlag.UNVERIFIED) !== 0,
    badQuery: (flags & NatResultFlag.BAD_QUERY) !== 0,
  };
}

/** Options of {@linkcode OspreyLibrary.openNatWatcher}; 0 or absent takes the default. */
export interface NatWatcherOptions {
  /**
   * NAT entries cached; the oldest go first when full (counted).
   * @default {65536}
   */
  capacity?: number;
  /**
   * Write 1 to `net.netfilter.nf_conntrack_events` in the namespace when
   * it is 0 (as the reference agent does). Otherwise it is only read.
   * @default {false}
   */
  setEvents?: boolean;
  /**
   * Do not subscribe to events: every miss is a ctnetlink GET.
   * @default {false}
   */
  noEvents?: boolean;
  /**
   * Do not seed the cache from a dump of the table at open.
   * @default {false}
   */
  noSeed?: boolean;
  /**
   * Receive buffer of the event socket, bytes (the kernel reports double).
   * @default {8388608}
   */
  rcvbuf?: number;
  /**
   * The event thread's pause after each drain, ms: it wakes at most
   * 1000 / intervalMs times a second.
   * @default {20}
   */
  intervalMs?: number;
  /**
   * ctnetlink GETs per second at most (burst: one second's worth);
   * 4294967295 (2^32-1): no limit.
   * @default {2000}
   */
  getRate?: number;
}

/** Encode {@linkcode NatWatcherOptions} as `struct osp_nat_options`. */
export function encodeNatOptions(o: NatWatcherOptions): Uint8Array {
  const out = new Uint8Array(NAT_OPTIONS_SIZE);
  const view = new DataView(out.buffer);
  const u32 = (at: number, v: number | undefined, name: string) => {
    const n = v ?? 0;
    if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) {
      throw new RangeError(`NAT watcher option ${name} must be an integer from 0 to 2^32-1`);
    }
    view.setUint32(at, n, true);
  };
  u32(NAT_OPT_CAPACITY, o.capacity, "capacity");
  u32(
    NAT_OPT_FLAGS,
    (o.setEvents ? NatOpenFlag.SET_EVENTS : 0) | (o.noEvents ? NatOpenFlag.NO_EVENTS : 0) |
      (o.noSeed ? NatOpenFlag.NO_SEED : 0),
    "flags",
  );
  u32(NAT_OPT_RCVBUF, o.rcvbuf, "rcvbuf");
  u32(NAT_OPT_INTERVAL_MS, o.intervalMs, "intervalMs");
  u32(NAT_OPT_GET_RATE, o.getRate, "getRate");
  return out;
}

/** A NAT watcher's counters (struct osp_nat_stats). */
export interface NatStats {
  /** Conntrack NEW events read. */
  events: number;
  /** ... of them TCP with a changed destination (cached). */
  natEvents: number;
  /** Entries in the dump at open. */
  dumped: number;
  /** ... of them cached. */
  seeded: number;
  /** Entries in the cache now. */
  cached: number;
  capacity: number;
  /** Entries pushed out by newer ones. */
  evicted: number;
  /** ENOBUFS reports: the kernel dropped events. */
  overruns: number;
  /** Events the kernel dropped (the socket's drop counter). */
  dropped: number;
  /** Event messages too large for a receive slot. */
  truncated: number;
  lookups: number;
  hits: number;
  misses: number;
  /** ctnetlink GETs made for misses. */
  gets: number;
  getFound: number;
  getErrors: number;
  /** Misses that needed a GET and got none. */
  unverified: number;
  /** Times the event thread woke and drained. */
  drains: number;
  /** CPU time of the event thread, ns. */
  threadCpuNs: number;
  /** CLOCK_BOOTTIME ns of the last possible event loss; 0 none. */
  lastLossNs: number;
}

/** Decode `struct osp_nat_stats`. */
export function decodeNatStats(bytes: Uint8Array): NatStats {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const v = (f: typeof STATS_FIELDS[number]) => {
    const at = STATS_FIELDS.indexOf(f) * 8;
    return view.getUint32(at + 4, true) * 4294967296 + view.getUint32(at, true);
  };
  return {
    events: v("events"),
    natEvents: v("nat_events"),
    dumped: v("dumped"),
    seeded: v("seeded"),
    cached: v("cached"),
    capacity: v("capacity"),
    evicted: v("evicted"),
    overruns: v("overruns"),
    dropped: v("dropped"),
    truncated: v("truncated"),
    lookups: v("lookups"),
    hits: v("hits"),
    misses: v("misses"),
    gets: v("gets"),
    getFound: v("get_found"),
    getErrors: v("get_errors"),
    unverified: v("unverified"),
    drains: v("drains"),
    threadCpuNs: v("thread_cpu_ns"),
    lastLossNs: v("last_loss_ns"),
  };
}

/**
 * What {@linkcode NatWatcher.info} reports: the namespace, the sysctl as
 * read, and how misses are answered.
 */
export interface NatWatcherInfo {
  /** The path given, or "(caller's)". */
  netns: string;
  /** Inode of the watched network namespace. */
  netnsInode: number;
  /**
   * `net.netfilter.nf_conntrack_events` there: 0 off (no events), 1 on,
   * 2 on while someone listens (the watcher does); -1 unreadable.
   */
  conntrackEvents: number;
  /** The watcher wrote 1 there (option `setEvents`). */
  eventsSet: boolean;
  /** "events": misses are answered from the cache; "get": each miss is a GET. */
  mode: "events" | "get";
  capacity: number;
  rcvbuf: number;
  intervalMs: number;
  getRate: number;
  /** Thread id of the event thread (named "osp-nat"). */
  threadId: number;
}

/**
 * Where TCP connections in one network namespace really go. Get one from
 * {@linkcode OspreyLibrary.openNatWatcher}; close it (or `using` it).
 */
export class NatWatcher {
  /** The namespace path given ("" = the opener's). */
  readonly netns: string;
  #native: Native;
  #handle: number;
  #closed = false;
  #onClose: (w: NatWatcher) => void;
  #queries = new Uint8Array(0);
  #results = new Uint8Array(0);
  #stats = new Uint8Array(NAT_STATS_SIZE);

  /** Internal: made by OspreyLibrary.openNatWatcher. */
  constructor(native: Native, handle: number, netns: string, onClose: (w: NatWatcher) => void) {
    this.#native = native;
    this.#handle = handle;
    this.netns = netns;
    this.#onClose = onClose;
  }

  /** True once {@linkcode close} ran. */
  get closed(): boolean {
    return this.#closed;
  }

  /**
   * The library's handle number, valid in every thread of the process (a
   * Worker may pass it to `osp_nat_lookup` itself); stale once closed.
   */
  get handle(): number {
    return this.#handle;
  }

  /** The namespace, the sysctl and the mode (osp_nat_info()). */
  info(): NatWatcherInfo {
    const op = "describe the NAT watcher";
    this.#assertOpen(op);
    const kv = parseKeyValues(
      this.#native.text(
        (buf, cap) => this.#native.symbols.osp_nat_info(this.#handle, buf, cap),
        op,
      ),
    );
    return {
      netns: kv.netns,
      netnsInode: Number(kv.netns_inode),
      conntrackEvents: Number(kv.nf_conntrack_events),
      eventsSet: kv.events_set === "1",
      mode: kv.mode === "events" ? "events" : "get",
      capacity: Number(kv.capacity),
      rcvbuf: Number(kv.rcvbuf),
      intervalMs: Number(kv.interval_ms),
      getRate: Number(kv.get_rate),
      threadId: Number(kv.thread_tid),
    };
  }

  /**
   * Resolve connections, in order.
   *
   * @param queries tuples as the applications connected
   * @returns one result per query
   * @throws {TypeError} for a bad address or port in a query
   */
  lookup(queries: readonly NatQuery[]): NatResult[] {
    const n = queries.length;
    if (this.#queries.byteLength < n * NAT_QUERY_SIZE) {
      this.#queries = new Uint8Array(n * NAT_QUERY_SIZE);
      this.#results = new Uint8Array(n * NAT_RESULT_SIZE);
    }
    const view = new DataView(this.#queries.buffer);
    for (let i = 0; i < n; i++) encodeNatQuery(view, i * NAT_QUERY_SIZE, queries[i]);
    this.lookupRaw(this.#queries, n, this.#results);
    const out: NatResult[] = [];
    for (let i = 0; i < n; i++) out.push(decodeNatResult(this.#results, i * NAT_RESULT_SIZE));
    return out;
  }

  /**
   * Resolve `count` encoded queries into `results` without allocating (hot
   * path: encode with {@linkcode encodeNatQuery}, decode with
   * {@linkcode decodeNatResult}).
   *
   * @param queries at least count * {@linkcode NAT_QUERY_SIZE} bytes
   * @param count queries to resolve
   * @param results at least count * {@linkcode NAT_RESULT_SIZE} bytes
   * @returns count
   */
  lookupRaw(queries: Uint8Array, count: number, results: Uint8Array): number {
    const op = `look up ${count} NAT tuples`;
    this.#assertOpen(op);
    if (queries.byteLength < count * NAT_QUERY_SIZE) {
      throw new RangeError(`${count} queries need ${count * NAT_QUERY_SIZE} bytes`);
    }
    return this.#native.check(
      this.#native.symbols.osp_nat_lookup(
        this.#handle,
        queries,
        count,
        results,
        results.byteLength,
      ),
      op,
    );
  }

  /** The watcher's counters. */
  stats(): NatStats {
    const op = "read NAT watcher counters";
    this.#assertOpen(op);
    this.#native.check(
      this.#native.symbols.osp_nat_stats(this.#handle, this.#stats, this.#stats.byteLength),
      op,
    );
    return decodeNatStats(this.#stats);
  }

  /** Stop the event thread and free the watcher. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#native.symbols.osp_nat_close(this.#handle);
    this.#onClose(this);
  }

  [Symbol.dispose](): void {
    this.close();
  }

  #assertOpen(operation: string): void {
    if (this.#closed) {
      throw new BpfError(operation, Errno.EBADF, { detail: "NAT watcher is closed" });
    }
  }
}

/**
 * Open a watcher (used by OspreyLibrary.openNatWatcher).
 *
 * @internal
 */
export async function openNatWatcher(
  native: Native,
  netns: string,
  options: NatWatcherOptions,
  onClose: (w: NatWatcher) => void,
): Promise<NatWatcher> {
  const path = cString(netns);
  const opts = encodeNatOptions(options);
  const op = netns ? `watch conntrack in "${netns}"` : "watch conntrack";
  const h = await native.track(native.symbols.osp_nat_open(path, opts, opts.byteLength));
  return new NatWatcher(native, native.check(h, op), netns, onClose);
}
