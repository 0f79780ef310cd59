/**
 * Request → response matching per connection, from the l7 object's payload records
 * (bpf/l7.bpf.c): one record per read or write, with the kernel's timestamp of the syscall's
 * return. Pure: records go in, completed requests come out through a callback, with their
 * duration in the kernel clock (response record − request record).
 *
 * Roles: the side that writes a request is the client (outbound), the side that reads one is
 * the server (inbound); a connection keeps the role of its first request, and from then on
 * reads the other way are answers, so a reply that happens to look like a request (a Redis
 * array of strings) is never taken for one. Requests wait in a FIFO per connection
 * (pipelining: Redis batches count each command and each reply); DNS waits per message id.
 * A request or answer split over several syscalls is joined when its first part is too short
 * to tell (a header in a separate read).
 *
 * Bounds: connections (`maxConnections`, oldest forgotten first), pending requests per
 * connection (`maxPending`); what does not fit is counted in {@linkcode MatcherCounters}.
 *
 * @module
 */
import type { L7Event } from "../../ffi/mod.ts";
import {
  httpRequest,
  httpResponseCode,
  httpStatusClass,
  isMemcachedRequest,
  isMysqlRequest,
  isPostgresRequest,
  isRedisRequest,
  memcachedStatus,
  mysqlStatus,
  postgresStatus,
  redisCommandCount,
  redisReplies,
  type StreamProtocol,
} from "./detect.ts";
import { type DnsMessage, dnsStatus, parseDns } from "./dns.ts";

/** Every protocol the matcher reports. */
export type Protocol = StreamProtocol | "dns";

/** A request that got its answer. */
export interface Completed {
  protocol: Protocol;
  /** True on the server side (the request was read), false on the client side. */
  inbound: boolean;
  /** The contract's `status` label value. */
  status: string;
  /** From the request's syscall to the answer's, ns (kernel clock). */
  durationNs: number;
  /** HTTP: the request path (for `--exclude-http-requests-by-path`). */
  path?: string;
  /** DNS: the question and the answer's addresses. */
  dns?: { qtype: number; name: string; addresses: string[]; answerCount: number };
}

/** What the matcher counted instead of dropping silently. */
export interface MatcherCounters {
  /** Connections forgotten because the table was full (their pending requests are lost). */
  connectionsEvicted: number;
  /** Requests not remembered because their connection already had `maxPending` waiting. */
  pendingOverflow: number;
  /** Requests answered, by protocol. */
  matched: number;
  /** Answers that came with no request waiting (opened before start, or lost records). */
  unmatchedResponses: number;
  /** Split requests or answers joined from two records. */
  joined: number;
  /** Socket addresses found reused by a new connection (the old state dropped). */
  reused: number;
}

/** Options of {@linkcode L7Matcher}. */
export interface MatcherOptions {
  /** @default 65536 */
  readonly maxConnections?: number;
  /** @default 64 */
  readonly maxPending?: number;
  /** Protocols detected; the others are ignored. @default all */
  readonly protocols?: ReadonlySet<Protocol>;
}

interface Pending {
  ts: number;
  protocol: Protocol;
  path?: string;
}

interface Conn {
  /** The ports it was made with: a socket address reused by another connection differs. */
  sport: number;
  dport: number;
  /** "client": requests are written; "server": requests are read. */
  role?: "client" | "server";
  protocol?: StreamProtocol;
  pending: Pending[];
  /** DNS queries by id. */
  dns?: Map<number, { ts: number; inbound: boolean }>;
  /** A short first part, waiting for the rest: bytes, timestamp, direction. */
  partial?: { bytes: Uint8Array; ts: number; dir: "read" | "write" };
}

/** Below this many bytes an undetected first part is kept for the next record. */
const PARTIAL_MAX = 64;

const ALL: ReadonlySet<Protocol> = new Set([
  "http",
  "postgres",
  "redis",
  "memcached",
  "mysql",
  "dns",
]);

/** Matches requests to responses; see the module doc. */
export class L7Matcher {
  readonly counters: MatcherCounters = {
    connectionsEvicted: 0,
    pendingOverflow: 0,
    matched: 0,
    unmatchedResponses: 0,
    joined: 0,
    reused: 0,
  };
  readonly #conns = new Map<number, Conn>();
  readonly #maxConns: number;
  readonly #maxPending: number;
  readonly #protocols: ReadonlySet<Protocol>;

  constructor(opts: MatcherOptions = {}) {
    this.#maxConns = opts.maxConnections ?? 65_536;
    this.#maxPending = opts.maxPending ?? 64;
    this.#protocols = opts.protocols ?? ALL;
  }

  /** Connections with state now. */
  get connectionCount(): number {
    return this.#conns.size;
  }

  /** Forgets a connection (closed). */
  forget(sk: number): void {
    this.#conns.delete(sk);
  }

  /**
   * Applies one record; calls `done` for each request it answers. `e.payload` is only read
   * during the call.
   */
  handle(e: Readonly<L7Event>, done: (c: Completed) => void): void {
    if (e.l4 === 17) {
      if (this.#protocols.has("dns")) this.#dns(e, e.payload, done);
      return;
    }
    if ((e.dport === 53 || e.sport === 53) && this.#protocols.has("dns")) {
      // DNS over TCP: a 2-byte length, then the message
      if (e.payload.length > 14) this.#dns(e, e.payload.subarray(2), done);
      return;
    }
    let c = this.#conns.get(e.sk);
    if (c !== undefined && (c.sport !== e.sport || c.dport !== e.dport)) {
      // the kernel freed the socket and reused its address for another connection
      this.#conns.delete(e.sk);
      this.counters.reused++;
      c = undefined;
    }
    let bytes = e.payload;
    let ts = e.tsNs;
    if (c?.partial !== undefined) {
      const p = c.partial;
      c.partial = undefined;
      if (p.dir === e.dir) {
        const joined = new Uint8Array(Math.min(p.bytes.length + bytes.length, 1024));
        joined.set(p.bytes);
        joined.set(bytes.subarray(0, joined.length - p.bytes.length), p.bytes.length);
        bytes = joined;
        ts = p.ts;
        this.counters.joined++;
      }
    }
    const requestDir = c?.role === undefined ? undefined : (c.role === "client" ? "write" : "read");
    if (requestDir === undefined || requestDir === e.dir) {
      const found = this.#detect(bytes, c?.protocol);
      if (found !== undefined) {
        if (c === undefined) c = this.#conn(e);
        c.role ??= e.dir === "write" ? "client" : "server";
        if ((c.role === "client") !== (e.dir === "write")) return; // the other side's role
        c.protocol = found.protocol;
        for (let i = 0; i < found.count; i++) {
          if (c.pending.length >= this.#maxPending) {
            this.counters.pendingOverflow++;
            break;
          }
          c.pending.push({ ts, protocol: found.protocol, path: found.path });
        }
        return;
      }
      if (requestDir !== undefined || bytes.length >= PARTIAL_MAX) return;
      // too short to tell, on a connection not known yet or between requests: wait for more
      if (c === undefined) c = this.#conn(e);
      c.partial = { bytes: bytes.slice(), ts, dir: e.dir };
      return;
    }
    // the answer direction
    if (c === undefined || c.protocol === undefined) return;
    const statuses = this.#answer(c.protocol, bytes);
    if (statuses !== undefined && c.pending.length === 0) {
      this.counters.unmatchedResponses++;
      return;
    }
    if (statuses === undefined) {
      // a continuation (body, more rows), or a header cut short: keep it if it is short
      if (bytes.length < 16) c.partial = { bytes: bytes.slice(), ts: e.tsNs, dir: e.dir };
      return;
    }
    const inbound = c.role === "server";
    for (const status of statuses) {
      const req = c.pending.shift();
      if (req === undefined) break;
      this.counters.matched++;
      done({
        protocol: req.protocol,
        inbound,
        status,
        durationNs: Math.max(0, e.tsNs - req.ts),
        path: req.path,
      });
    }
  }

  #conn(e: Readonly<L7Event>): Conn {
    if (this.#conns.size >= this.#maxConns) {
      const oldest = this.#conns.keys().next().value!;
      this.#conns.delete(oldest);
      this.counters.connectionsEvicted++;
    }
    const c: Conn = { sport: e.sport, dport: e.dport, pending: [] };
    this.#conns.set(e.sk, c);
    return c;
  }

  #detect(
    b: Uint8Array,
    known: StreamProtocol | undefined,
  ): { protocol: StreamProtocol; count: number; path?: string } | undefined {
    const p = this.#protocols;
    if ((known === undefined || known === "http") && p.has("http")) {
      const r = httpRequest(b);
      if (r !== undefined) return { protocol: "http", count: 1, path: r.path };
    }
    if ((known === undefined || known === "postgres") && p.has("postgres")) {
      if (isPostgresRequest(b)) return { protocol: "postgres", count: 1 };
    }
    if ((known === undefined || known === "redis") && p.has("redis") && isRedisRequest(b)) {
      return { protocol: "redis", count: redisCommandCount(b) };
    }
    if ((known === undefined || known === "memcached") && p.has("memcached")) {
      if (isMemcachedRequest(b)) return { protocol: "memcached", count: 1 };
    }
    if ((known === undefined || known === "mysql") && p.has("mysql") && isMysqlRequest(b)) {
      return { protocol: "mysql", count: 1 };
    }
    return undefined;
  }

  #answer(protocol: StreamProtocol, b: Uint8Array): string[] | undefined {
    switch (protocol) {
      case "http": {
        const code = httpResponseCode(b);
        // 1xx other than 101 are interim: the final answer follows
        if (code === undefined || (code >= 100 && code < 200 && code !== 101)) return undefined;
        return [httpStatusClass(code)];
      }
      case "postgres": {
        const s = postgresStatus(b);
        return s === undefined ? undefined : [s];
      }
      case "redis":
        return redisReplies(b);
      case "memcached": {
        const s = memcachedStatus(b);
        return s === undefined ? undefined : [s];
      }
      case "mysql": {
        const s = mysqlStatus(b);
        return s === undefined ? undefined : [s];
      }
    }
  }

  #dns(e: Readonly<L7Event>, b: Uint8Array, done: (c: Completed) => void): void {
    const m: DnsMessage | undefined = parseDns(b);
    if (m === undefined) return;
    let c = this.#conns.get(e.sk);
    if (c !== undefined && (c.sport !== e.sport || c.dport !== e.dport)) {
      this.#conns.delete(e.sk);
      this.counters.reused++;
      c = undefined;
    }
    if (!m.response) {
      if (c === undefined) c = this.#conn(e);
      c.dns ??= new Map();
      if (c.dns.size >= this.#maxPending) {
        this.counters.pendingOverflow++;
        return;
      }
      c.dns.set(m.id, { ts: e.tsNs, inbound: e.dir === "read" });
      return;
    }
    const q = c?.dns?.get(m.id);
    if (q === undefined || q.inbound !== (e.dir === "write")) {
      this.counters.unmatchedResponses++;
      return;
    }
    c!.dns!.delete(m.id);
    this.counters.matched++;
    done({
      protocol: "dns",
      inbound: q.inbound,
      status: dnsStatus(m.rcode),
      durationNs: Math.max(0, e.tsNs - q.ts),
      dns: { qtype: m.qtype, name: m.name, addresses: m.addresses, answerCount: m.answerCount },
    });
  }
}
