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
 * connection (`maxPending`), connections with HTTP/2 state (`maxHttp2`: HPACK tables and
 * streams, the oldest forgotten first); what does not fit is counted in
 * {@linkcode MatcherCounters}.
 *
 * Trace summaries: while {@linkcode L7Matcher.traced} is set, each client-side request also
 * gets a {@linkcode RequestSummary} (what its span carries, contract §3.5 "User-space
 * extraction"), built from the request capture with agent/l7/protocols' summary functions and
 * per-connection prepared statements (Postgres, MySQL). Unset, nothing of it is done.
 *
 * @module
 */
import type { L7Event } from "../../ffi/mod.ts";
import {
  type DetectedRequest,
  detectRequest,
  dnsQueryId,
  dnsStatusLabel,
  http1ResponseStatus,
  Http2Connection,
  isDroppedDnsResponse,
  isRedisRequest,
  mysqlResponse,
  MysqlStatements,
  parseDnsResponse,
  parseHttp1RequestLine,
  postgresAnsweredWithoutResult,
  PostgresStatements,
  recognizeHttp2,
  responseStatus,
  summarizeMemcachedCommand,
  summarizeRedisCommand,
} from "./protocols/mod.ts";
import { redisCommandCount, redisCommandStarts, redisReplies } from "./redis_pipeline.ts";

/** The byte-stream protocols matched request by request. */
export type StreamProtocol = "http" | "postgres" | "redis" | "memcached" | "mysql";

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
  /** DNS: the question (`request_type` value, name) and the A/AAAA answers' addresses. */
  dns?: { requestType: string; name: string; addresses: string[] };
  /** A client-side request's span facts, while {@linkcode L7Matcher.traced} is set. */
  summary?: RequestSummary;
}

/**
 * What an outbound request's span carries besides its destination and times (contract §3.5,
 * §8.5). Fields a protocol does not have are left out.
 */
export interface RequestSummary {
  /** `http2` for HTTP/2 and gRPC (whose `Completed.protocol` is `http`). */
  protocol: "http" | "http2" | "postgres" | "mysql" | "redis" | "memcached";
  /** HTTP: the method (`""` on HTTP/2 when not one of Go's nine); Redis, Memcached: the command. */
  method?: string;
  /** HTTP: the request target (HTTP/1, cut ones end in `...`) or `:path` (HTTP/2). */
  path?: string;
  /** HTTP/2: `:scheme` (`http`, `https` or `""`). */
  scheme?: string;
  /** HTTP: the numeric status of the answer's status line or final `:status`; 0 if none. */
  status?: number;
  /** HTTP/2: `grpc-status`, when the answer had one. */
  grpcStatus?: number;
  /** Postgres, MySQL: the statement text; Redis: the first argument (` ...` when more). */
  query?: string;
  /** Memcached: the key(s). */
  items?: string[];
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
  /**
   * Requests answered with nothing to count: a Postgres batch whose answer is only completions
   * and ReadyForQuery (Parse + Sync), which the reference drops.
   */
  answeredUncounted: number;
  /** Socket addresses found reused by a new connection (the old state dropped). */
  reused: number;
  /** HTTP/2 connections recognised from their frames, without the preface (opened before). */
  http2MidStream: number;
  /** HTTP/2 header fields not decoded: they refer to HPACK entries added before the capture. */
  hpackUnresolved: number;
  /** HTTP/2 connections forgotten because `maxHttp2` had state (their open streams are lost). */
  http2Evicted: number;
}

/** Options of {@linkcode L7Matcher}. */
export interface MatcherOptions {
  /** @default 65536 */
  readonly maxConnections?: number;
  /** @default 64 */
  readonly maxPending?: number;
  /**
   * Connections with HTTP/2 state at most (each holds two HPACK tables, 4 KiB by default and
   * 64 KiB at most, and up to 1,024 open streams). @default 1024
   */
  readonly maxHttp2?: number;
  /** Protocols detected; the others are ignored. @default all */
  readonly protocols?: ReadonlySet<Protocol>;
  /**
   * Give HTTP/1 requests their `path` even when not traced (path filters need it); decoding
   * the target costs a string a request. @default true
   */
  readonly paths?: boolean;
}

interface Pending {
  ts: number;
  request: DetectedRequest & { protocol: StreamProtocol };
  path?: string;
  /** Answered but not counted: a Postgres statement close (the contract's rule). */
  uncounted?: boolean;
  /** Its span facts (traced client requests only). */
  summary?: RequestSummary;
  /** A MySQL `COM_STMT_PREPARE` capture, summarized when its answer gives the statement id. */
  prepare?: Uint8Array;
}

/** A request capture as the matcher classified it. */
interface Detected {
  protocol: StreamProtocol;
  request: Pending["request"];
  /** Requests it holds (Redis pipelines: one per command; 0 for a MySQL statement close). */
  count: number;
  path?: string;
  method?: string;
  uncounted?: boolean;
}

/** The HTTP/2 client preface's first bytes. */
const H2_PREFACE = [0x50, 0x52, 0x49, 0x20, 0x2a, 0x20, 0x48, 0x54, 0x54, 0x50, 0x2f, 0x32]; // "PRI * HTTP/2"

function isH2Preface(b: Uint8Array): boolean {
  if (b.length < H2_PREFACE.length) return false;
  for (let i = 0; i < H2_PREFACE.length; i++) if (b[i] !== H2_PREFACE[i]) return false;
  return true;
}

interface Conn {
  /** HTTP/2: frames of both directions, streams, HPACK (agent/l7/protocols/http2.ts). */
  h2?: Http2Connection;
  /** The ports it was made with: a socket address reused by another connection differs. */
  sport: number;
  dport: number;
  /** "client": requests are written; "server": requests are read. */
  role?: "client" | "server";
  protocol?: StreamProtocol;
  pending: Pending[];
  /** DNS queries by id. */
  dns?: Map<number, { ts: number; inbound: boolean }>;
  /**
   * A short first part, waiting for the rest: bytes, timestamp, direction, and the byte count of
   * its syscall(s) (its capture may be cut).
   */
  partial?: { bytes: Uint8Array; ts: number; dir: "read" | "write"; size: number };
  /** Prepared statements, for trace summaries (client side, while traced). */
  pg?: PostgresStatements;
  my?: MysqlStatements;
}

const REDIS = Object.freeze({ protocol: "redis" as const });

/** The status of an answer that ends its request without a count ({@linkcode L7Matcher}). */
const NOT_COUNTED = "\0not counted"; // no label value: "" is one (an unknown gRPC code)
const NOT_COUNTED_ANSWER: readonly string[] = Object.freeze([NOT_COUNTED]);

/** Below this many bytes an undetected first part is kept for the next record. */
const PARTIAL_MAX = 64;
/** Most bytes of two joined parts kept: one capture's worth (bpf/l7.h OSP_L7_PAYLOAD_MAX). */
const JOINED_MAX = 1024;

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
    answeredUncounted: 0,
    reused: 0,
    http2MidStream: 0,
    hpackUnresolved: 0,
    http2Evicted: 0,
  };
  readonly #conns = new Map<number, Conn>();
  readonly #maxConns: number;
  readonly #maxHttp2: number;
  /** Socket addresses given HTTP/2 state, oldest first (some may since be gone or reused). */
  readonly #h2 = new Set<number>();
  readonly #maxPending: number;
  readonly #protocols: ReadonlySet<Protocol>;
  readonly #paths: boolean;
  /**
   * Build a {@linkcode RequestSummary} for each client-side request (the L7 module sets it
   * while a traces sink exists). Requests already waiting when it is switched on get none.
   */
  traced = false;

  constructor(opts: MatcherOptions = {}) {
    this.#maxConns = opts.maxConnections ?? 65_536;
    this.#maxHttp2 = opts.maxHttp2 ?? 1024;
    this.#maxPending = opts.maxPending ?? 64;
    this.#protocols = opts.protocols ?? ALL;
    this.#paths = opts.paths ?? true;
  }

  /** Connections with state now. */
  get connectionCount(): number {
    return this.#conns.size;
  }

  /**
   * The largest per-connection state now (walks every connection: for tests and checks, not the
   * hot path): requests waiting, DNS ids waiting, prepared statements, bytes of a kept part, open
   * HTTP/2 streams, with the number of connections.
   */
  stateSizes(): {
    connections: number;
    pending: number;
    dnsIds: number;
    statements: number;
    partialBytes: number;
    h2Streams: number;
    h2Connections: number;
  } {
    const out = {
      connections: this.#conns.size,
      h2Connections: 0,
      pending: 0,
      dnsIds: 0,
      statements: 0,
      partialBytes: 0,
      h2Streams: 0,
    };
    for (const c of this.#conns.values()) {
      out.pending = Math.max(out.pending, c.pending.length);
      out.dnsIds = Math.max(out.dnsIds, c.dns?.size ?? 0);
      out.statements = Math.max(out.statements, c.pg?.size ?? 0, c.my?.size ?? 0);
      out.partialBytes = Math.max(out.partialBytes, c.partial?.bytes.length ?? 0);
      out.h2Streams = Math.max(out.h2Streams, c.h2?.openStreams ?? 0);
      if (c.h2 !== undefined) out.h2Connections++;
    }
    return out;
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
      if (this.#protocols.has("dns")) this.#dns(e, "udp", done);
      return;
    }
    if ((e.dport === 53 || e.sport === 53) && this.#protocols.has("dns")) {
      // DNS over TCP: a 2-byte length, then the message
      this.#dns(e, "tcp", done);
      return;
    }
    let c = this.#conns.get(e.sk);
    if (c !== undefined && (c.sport !== e.sport || c.dport !== e.dport)) {
      // the kernel freed the socket and reused its address for another connection
      this.#conns.delete(e.sk);
      this.counters.reused++;
      c = undefined;
    }
    if (c?.h2 !== undefined) {
      this.#http2(c, e, done);
      return;
    }
    if (isH2Preface(e.payload) && this.#protocols.has("http")) {
      // the client's preface: the writer is the client, every byte after is frames
      if (c === undefined || c.role !== undefined) {
        if (c !== undefined) this.#conns.delete(e.sk);
        c = this.#conn(e);
      }
      c.role = e.dir === "write" ? "client" : "server";
      this.#startHttp2(c, e.sk, new Http2Connection());
      this.#http2(c, e, done);
      return;
    }
    let bytes = e.payload;
    let ts = e.tsNs;
    /** The byte count the syscall(s) of `bytes` moved (more than `bytes` when cut). */
    let size = Math.max(e.size, bytes.length);
    let joinedParts = false;
    if (c?.partial !== undefined) {
      const p = c.partial;
      c.partial = undefined;
      if (p.dir === e.dir) {
        // the parts as one capture: the first part's time (a request's start), both syscalls'
        // sizes (detection compares declared lengths with them), at most a capture's bytes
        const joined = new Uint8Array(Math.min(p.bytes.length + bytes.length, JOINED_MAX));
        joined.set(p.bytes);
        joined.set(bytes.subarray(0, joined.length - p.bytes.length), p.bytes.length);
        bytes = joined;
        ts = p.ts;
        size += p.size;
        joinedParts = true;
      }
    }
    const requestDir = c?.role === undefined ? undefined : (c.role === "client" ? "write" : "read");
    if (requestDir === undefined || requestDir === e.dir) {
      let found = this.#detect(bytes, size, c?.protocol);
      if (joinedParts) {
        if (found === undefined) {
          // the kept part was not this request's start (a stray piece): the record alone
          found = this.#detect(e.payload, e.size, c?.protocol);
          if (found !== undefined) [bytes, ts, size] = [e.payload, e.tsNs, e.size];
        } else this.counters.joined++;
      }
      if (found !== undefined) {
        if (c === undefined) c = this.#conn(e);
        c.role ??= e.dir === "write" ? "client" : "server";
        if ((c.role === "client") !== (e.dir === "write")) return; // the other side's role
        c.protocol = found.protocol;
        const summaries = this.traced && c.role === "client"
          ? this.#summarize(c, found, bytes)
          : undefined;
        for (let i = 0; i < found.count; i++) {
          if (c.pending.length >= this.#maxPending) {
            this.counters.pendingOverflow++;
            break;
          }
          c.pending.push({
            ts,
            request: found.request,
            path: found.path,
            uncounted: found.uncounted,
            summary: summaries?.[i],
            prepare: summaries?.[i]?.protocol === "mysql" && summaries[i].query === undefined
              ? bytes.slice()
              : undefined,
          });
        }
        return;
      }
      if (c?.protocol === undefined && this.#protocols.has("http")) {
        // HTTP/2 frames without the preface: a connection opened before the capture began
        const sender = recognizeHttp2(e.payload, e.size);
        if (sender !== null) {
          if (c === undefined) c = this.#conn(e);
          c.partial = undefined;
          c.role = (e.dir === "write") === (sender === "client") ? "client" : "server";
          this.#startHttp2(c, e.sk, new Http2Connection({ preface: false }));
          this.counters.http2MidStream++;
          this.#http2(c, e, done);
          return;
        }
      }
      // too short to tell, on a connection not known yet or between requests (not a body
      // written while a request waits): wait for the rest
      if (bytes.length >= PARTIAL_MAX || (c !== undefined && c.pending.length > 0)) return;
      if (c === undefined) c = this.#conn(e);
      c.partial = { bytes: bytes.slice(), ts, dir: e.dir, size };
      return;
    }
    // the answer direction
    if (c === undefined || c.protocol === undefined) return;
    let statuses = this.#answer(c.pending[0]?.request, bytes, size);
    if (joinedParts) {
      if (statuses === undefined) {
        statuses = this.#answer(c.pending[0]?.request, e.payload, e.size);
        if (statuses !== undefined) [bytes, ts, size] = [e.payload, e.tsNs, e.size];
      } else this.counters.joined++;
    }
    if (c.pending.length === 0) {
      if (statuses !== undefined) this.counters.unmatchedResponses++;
      return;
    }
    if (statuses === undefined) {
      // a continuation (body, more rows), or a header cut short: keep it if it is short
      if (bytes.length < 16) c.partial = { bytes: bytes.slice(), ts, dir: e.dir, size };
      return;
    }
    const inbound = c.role === "server";
    for (const status of statuses) {
      const req = c.pending.shift();
      if (req === undefined) break;
      const summary = req.summary;
      if (summary !== undefined) this.#answered(c, req, summary, bytes);
      if (req.uncounted) continue;
      if (status === NOT_COUNTED) {
        this.counters.answeredUncounted++;
        continue;
      }
      this.counters.matched++;
      done({
        protocol: req.request.protocol,
        inbound,
        status,
        // an answer's time is its last part's (the read that completed it)
        durationNs: Math.max(0, e.tsNs - req.ts),
        path: req.path,
        summary,
      });
    }
  }

  /**
   * The span facts of a traced client request (one per command `found.count` stands for);
   * updates the connection's prepared statements on the way. A MySQL prepare's text waits for
   * its answer (the statement id): its summary has no `query` yet.
   */
  #summarize(
    c: Conn,
    found: Detected,
    bytes: Uint8Array,
  ): RequestSummary[] {
    switch (found.protocol) {
      case "http":
        return [{ protocol: "http", method: found.method, path: found.path }];
      case "postgres":
        c.pg ??= new PostgresStatements();
        return [{ protocol: "postgres", query: c.pg.summarize(bytes) }];
      case "mysql": {
        if (found.request.protocol === "mysql" && found.request.kind === "prepare") {
          return [{ protocol: "mysql" }];
        }
        c.my ??= new MysqlStatements();
        return [{ protocol: "mysql", query: c.my.summarize(bytes) }];
      }
      case "memcached": {
        const m = summarizeMemcachedCommand(bytes);
        return [{ protocol: "memcached", method: m?.command, items: m?.keys }];
      }
      case "redis": {
        // each command of a pipelined batch its own summary
        const out: RequestSummary[] = [];
        for (const at of redisCommandStarts(bytes)) {
          const r = summarizeRedisCommand(at === 0 ? bytes : bytes.subarray(at));
          out.push({ protocol: "redis", method: r?.command, query: r?.args });
        }
        return out;
      }
    }
  }

  /** Completes a traced request's summary with what its answer says. */
  #answered(c: Conn, req: Pending, summary: RequestSummary, answer: Uint8Array): void {
    if (summary.protocol === "http") {
      const code = http1ResponseStatus(answer);
      summary.status = code < 0 ? 0 : code;
    } else if (req.prepare !== undefined) {
      c.my ??= new MysqlStatements();
      const id = mysqlResponse(answer, "prepare")?.statementId ?? 0;
      summary.query = c.my.summarize(req.prepare, id);
    }
  }

  /** Feeds one capture to the connection's HTTP/2 state; reports the streams it answered. */
  #http2(c: Conn, e: Readonly<L7Event>, done: (c: Completed) => void): void {
    const fromClient = (e.dir === "write") === (c.role === "client");
    const h2 = c.h2!;
    const unresolved = h2.hpackUnresolved;
    const out = h2.feed(fromClient ? "client" : "server", e.payload, e.size, e.tsNs);
    this.counters.hpackUnresolved += h2.hpackUnresolved - unresolved;
    const traced = this.traced && c.role === "client";
    for (const x of out) {
      this.counters.matched++;
      done({
        protocol: "http",
        inbound: c.role === "server",
        status: x.status,
        durationNs: Math.max(0, x.durationNs),
        path: x.path,
        summary: traced
          ? {
            protocol: "http2",
            method: x.method,
            path: x.path,
            scheme: x.scheme,
            status: x.httpStatus,
            grpcStatus: x.grpcStatus >= 0 ? x.grpcStatus : undefined,
          }
          : undefined,
      });
    }
  }

  /** Gives a connection its HTTP/2 state, forgetting the oldest such one beyond `maxHttp2`. */
  #startHttp2(c: Conn, sk: number, h2: Http2Connection): void {
    this.#h2.delete(sk);
    for (const old of this.#h2) {
      if (this.#h2.size < this.#maxHttp2) break;
      this.#h2.delete(old);
      // gone, or its address reused by a connection without HTTP/2: nothing to forget
      if (this.#conns.get(old)?.h2 === undefined) continue;
      this.#conns.delete(old);
      this.counters.http2Evicted++;
    }
    this.#h2.add(sk);
    c.h2 = h2;
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
    size: number,
    known: StreamProtocol | undefined,
  ): Detected | undefined {
    const p = this.#protocols;
    if (known === "redis" || (known === undefined && isRedisRequest(b))) {
      if (!p.has("redis") || !isRedisRequest(b)) return undefined;
      return { protocol: "redis", request: REDIS, count: redisCommandCount(b) };
    }
    const r = detectRequest(b, size, "tcp");
    if (r === null) return undefined;
    switch (r.protocol) {
      case "http": {
        if (!p.has("http") || (known !== undefined && known !== "http")) return undefined;
        if (!this.#paths && !this.traced) return { protocol: "http", request: r, count: 1 };
        const line = parseHttp1RequestLine(b);
        return { protocol: "http", request: r, count: 1, path: line?.path, method: line?.method };
      }
      case "postgres":
        if (!p.has("postgres") || (known !== undefined && known !== "postgres")) return undefined;
        // a statement close is answered (CloseComplete) but not counted
        return { protocol: "postgres", request: r, count: 1, uncounted: r.kind === "close" };
      case "memcached":
        if (!p.has("memcached") || (known !== undefined && known !== "memcached")) {
          return undefined;
        }
        return { protocol: "memcached", request: r, count: 1 };
      case "mysql":
        if (!p.has("mysql") || (known !== undefined && known !== "mysql")) return undefined;
        // COM_STMT_CLOSE gets no answer: nothing to wait for, nothing to count, but a traced
        // connection forgets the statement (#summarize)
        return { protocol: "mysql", request: r, count: r.kind === "close" ? 0 : 1 };
      default:
        return undefined;
    }
  }

  #answer(
    request: Pending["request"] | undefined,
    b: Uint8Array,
    size: number,
  ): readonly string[] | undefined {
    if (request === undefined) return undefined;
    if (request.protocol === "redis") return redisReplies(b);
    if (request.protocol === "http") {
      // 1xx other than 101 are interim: the final answer follows
      if (b.length >= 12 && b[9] === 0x31 && !(b[10] === 0x30 && b[11] === 0x31)) {
        return undefined;
      }
    }
    const s = responseStatus(request, b, size, "tcp");
    if (s !== null) return [s];
    // a Parse + Sync answered 1, Z: answered, so the next answer is the next request's
    if (request.protocol === "postgres" && postgresAnsweredWithoutResult(b, size)) {
      return NOT_COUNTED_ANSWER;
    }
    return undefined;
  }

  #dns(e: Readonly<L7Event>, transport: "udp" | "tcp", done: (c: Completed) => void): void {
    const b = e.payload;
    let c = this.#conns.get(e.sk);
    if (c !== undefined && (c.sport !== e.sport || c.dport !== e.dport)) {
      this.#conns.delete(e.sk);
      this.counters.reused++;
      c = undefined;
    }
    const id = dnsQueryId(b, transport);
    if (id >= 0) {
      if (c === undefined) c = this.#conn(e);
      c.dns ??= new Map();
      if (c.dns.size >= this.#maxPending) {
        this.counters.pendingOverflow++;
        return;
      }
      c.dns.set(id, { ts: e.tsNs, inbound: e.dir === "read" });
      return;
    }
    const r = parseDnsResponse(b, transport);
    if (r === null) return;
    const q = c?.dns?.get(r.id);
    if (q === undefined || q.inbound !== (e.dir === "write")) {
      this.counters.unmatchedResponses++;
      return;
    }
    c!.dns!.delete(r.id);
    const status = dnsStatusLabel(r.rcode);
    // RCODEs above 5 and empty AAAA answers are not counted (the reference's rules)
    if (status === "" || isDroppedDnsResponse(r)) return;
    this.counters.matched++;
    done({
      protocol: "dns",
      inbound: q.inbound,
      status,
      durationNs: Math.max(0, e.tsNs - q.ts),
      dns: { requestType: r.requestType, name: r.name, addresses: r.ips },
    });
  }
}
