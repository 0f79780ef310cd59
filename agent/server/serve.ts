/**
 * The agent's HTTP/1.1 server on `Deno.listen`, the only place the server opens a socket. Each
 * request goes to the app as `app.fetch(new Request(...))`, so every route stays testable with
 * `app.request()`.
 *
 * Why not `Deno.serve` (Deno 2.9.6, measured): it has no header-read or idle timeout (a
 * connection that sent half a request line was still open after 120 s, an idle keep-alive one
 * after 200 s), no connection cap, and an accept error such as EMFILE ends it: `finished`
 * rejects with "Too many open files" and the port stops answering, whatever an
 * `unhandledrejection` handler does. `node:http` on Deno ignores `headersTimeout` too.
 *
 * What this server bounds (RFC 9112 framing, GET/HEAD-sized requests):
 * - a new connection must deliver a complete request head within `headerTimeoutMs`; so must
 *   each later request from its first byte; a keep-alive connection may wait `idleTimeoutMs`
 *   for that first byte; a response must be written within `writeTimeoutMs`. A connection past
 *   its deadline is closed.
 * - at most `maxConnections` connections: a new one beyond the cap closes the oldest connection
 *   that is idle or still sending its head (`evicted`), or, when every connection is busy with
 *   a response, is closed at once (`over_limit`). Slow clients cannot lock out a scraper.
 * - request line, head size and field count ({@linkcode HeadLimits}): 414, 431, 400 or 505,
 *   then close. A request body is read and dropped up to `maxBodyBytes` (the connection stays
 *   open); a longer or chunked one is answered and the connection closed.
 * - an accept error (EMFILE, ENFILE, ...) is counted and logged at most every 10 s; accepting
 *   resumes after a backoff from 5 ms to 1 s, so the server serves again once descriptors free
 *   up. Nothing here throws past its caller: under EMFILE an uncaught error even makes Deno
 *   2.9.6 panic (its stack-limit probe cannot open /proc/self/maps).
 *
 * Responses carry `Content-Length`: taken from the app's `Content-Length` header when it sets
 * one (the body is then streamed as the app's stream yields it, and a body the app ends early
 * or late closes the connection), else counted after reading the whole body.
 *
 * @module
 */
import { formatListen, type ListenAddress } from "./listen.ts";
import {
  type HeadLimits,
  HeadScanner,
  parseRequestHead,
  type RequestHead,
  RequestHeadError,
} from "./request_head.ts";

/** Anything with a fetch handler, such as a Hono app. */
export interface FetchApp {
  fetch(request: Request): Response | Promise<Response>;
}

/** Why the server closed a connection: the `reason` label of its counter. */
export type CloseReason =
  | "peer"
  | "done"
  | "idle_timeout"
  | "header_timeout"
  | "write_timeout"
  | "bad_request"
  | "over_limit"
  | "evicted"
  | "shutdown";

/** Every {@linkcode CloseReason}, for pre-creating series. */
export const CLOSE_REASONS: readonly CloseReason[] = [
  "peer",
  "done",
  "idle_timeout",
  "header_timeout",
  "write_timeout",
  "bad_request",
  "over_limit",
  "evicted",
  "shutdown",
];

/** The `reason` of a failed accept: the errno name, or `other`. */
export type AcceptErrorReason = "emfile" | "enfile" | "enobufs" | "enomem" | "other";

/** Every {@linkcode AcceptErrorReason}. */
export const ACCEPT_ERROR_REASONS: readonly AcceptErrorReason[] = [
  "emfile",
  "enfile",
  "enobufs",
  "enomem",
  "other",
];

/** Where the server reports what it does; every method is called synchronously. */
export interface ServerMetrics {
  /** The number of open connections changed. */
  connectionsOpen(n: number): void;
  /** A connection was closed, with why. */
  connectionClosed(reason: CloseReason): void;
  /** `accept()` failed. */
  acceptError(reason: AcceptErrorReason): void;
}

/** The part of the agent's logger the server uses. */
export interface ServeLog {
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
}

/** Timeouts and caps of the server. */
export interface ServerLimits extends HeadLimits {
  /** Time a connection has to send a complete request head. @default 10000 */
  readonly headerTimeoutMs?: number;
  /** Time a keep-alive connection may wait for its next request. @default 120000 */
  readonly idleTimeoutMs?: number;
  /** Time the server has to write one response. @default 30000 */
  readonly writeTimeoutMs?: number;
  /** Connections open at once. @default 128 */
  readonly maxConnections?: number;
  /** Longest request body read (and dropped) to keep a connection open. @default 65536 */
  readonly maxBodyBytes?: number;
}

/** Options of {@linkcode serve}. */
export interface ServeOptions {
  /** Address to bind, e.g. from {@linkcode parseListen}. */
  hostname: string;
  /** Port to bind; 0 lets the kernel pick (see `onListen` / `addr`). */
  port: number;
  /** Aborting it stops accepting connections and lets in-flight requests finish. */
  signal?: AbortSignal;
  /** Called once the socket is bound, with the actual address. */
  onListen?: (addr: ListenAddress) => void;
  limits?: ServerLimits;
  metrics?: ServerMetrics;
  log?: ServeLog;
}

/** A listening server. */
export interface RunningServer {
  /** The bound address (the real port when 0 was asked for). */
  readonly addr: ListenAddress;
  /** Settles when the server has shut down. */
  readonly finished: Promise<void>;
  /** Stops accepting connections, closes idle ones and waits for in-flight responses. */
  shutdown(): Promise<void>;
}

const DEFAULTS = {
  headerTimeoutMs: 10_000,
  idleTimeoutMs: 120_000,
  writeTimeoutMs: 30_000,
  maxConnections: 128,
  maxBodyBytes: 65_536,
  maxHeadBytes: 16_384,
};

const ACCEPT_LOG_EVERY_MS = 10_000;
const LINGER_MS = 2000;
const LINGER_BYTES = 262_144;

/**
 * Binds `opts.hostname:opts.port` and serves `app` until `signal` aborts.
 *
 * @throws {Deno.errors.AddrInUse} when the address is taken, saying which.
 * @throws {Deno.errors.NotCapable} when net permission is missing, naming the
 *   `--allow-net=host:port` flag that grants it.
 * @throws {Deno.errors.AddrNotAvailable} when the host has no such address.
 * @throws {RangeError} when a limit is not a positive number.
 */
// deno-lint-ignore require-await
export async function serve(app: FetchApp, opts: ServeOptions): Promise<RunningServer> {
  const limits = { ...DEFAULTS, ...opts.limits };
  for (
    const k of [
      "headerTimeoutMs",
      "idleTimeoutMs",
      "writeTimeoutMs",
      "maxConnections",
      "maxHeadBytes",
    ] as const
  ) {
    if (!(limits[k] > 0)) {
      throw new RangeError(`Cannot serve with ${k} ${limits[k]}: it must be a positive number`);
    }
  }
  const where = formatListen(opts);
  let listener: Deno.TcpListener;
  try {
    listener = Deno.listen({ hostname: opts.hostname, port: opts.port, transport: "tcp" });
  } catch (e) {
    if (e instanceof Deno.errors.AddrInUse) {
      throw new Deno.errors.AddrInUse(
        `Cannot listen on ${where}: the address is already in use (another agent or exporter?)`,
        { cause: e },
      );
    }
    if (e instanceof Deno.errors.NotCapable) {
      throw new Deno.errors.NotCapable(
        `Cannot listen on ${where}: network permission is missing; run with --allow-net=${where}`,
        { cause: e },
      );
    }
    if (e instanceof Deno.errors.AddrNotAvailable) {
      throw new Deno.errors.AddrNotAvailable(
        `Cannot listen on ${where}: this host has no such address`,
        { cause: e },
      );
    }
    throw e;
  }
  const server = new Http1Server(app, listener, limits, opts);
  const addr = { hostname: listener.addr.hostname, port: listener.addr.port };
  opts.onListen?.(addr);
  if (opts.signal?.aborted) void server.shutdown();
  else opts.signal?.addEventListener("abort", () => void server.shutdown(), { once: true });
  return { addr, finished: server.finished, shutdown: () => server.shutdown() };
}

type Limits = typeof DEFAULTS & HeadLimits;

/** One accepted connection. */
class Connection {
  readonly conn: Deno.Conn;
  /** `idle`: waiting for a request's first byte; `head`: reading it; `busy`: answering. */
  phase: "idle" | "head" | "busy" = "head";
  /** When the current phase started (ms, monotonic), to pick the oldest for eviction. */
  since = performance.now();
  #timer: ReturnType<typeof setTimeout> | undefined;
  /** Set once closed by the server, with why. */
  closedFor: CloseReason | undefined;
  readonly #onClose: (c: Connection, reason: CloseReason) => void;

  constructor(conn: Deno.Conn, onClose: (c: Connection, reason: CloseReason) => void) {
    this.conn = conn;
    this.#onClose = onClose;
  }

  enter(phase: Connection["phase"], deadlineMs: number, reason: CloseReason): void {
    this.phase = phase;
    this.since = performance.now();
    this.arm(deadlineMs, reason);
  }

  arm(ms: number, reason: CloseReason): void {
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => this.close(reason), ms);
  }

  disarm(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  /** Closes the socket once (pending reads and writes then reject) and reports why. */
  close(reason: CloseReason): void {
    if (this.closedFor !== undefined) return;
    this.closedFor = reason;
    this.disarm();
    try {
      this.conn.close();
    } catch {
      // already closed
    }
    this.#onClose(this, reason);
  }
}

class Http1Server {
  readonly #app: FetchApp;
  readonly #listener: Deno.TcpListener;
  readonly #limits: Limits;
  readonly #metrics?: ServerMetrics;
  readonly #log?: ServeLog;
  readonly #conns = new Set<Connection>();
  readonly #done = Promise.withResolvers<void>();
  readonly #wake = new AbortController();
  #stopping = false;
  #accepting = true;
  readonly finished: Promise<void>;

  constructor(app: FetchApp, listener: Deno.TcpListener, limits: Limits, opts: ServeOptions) {
    this.#app = app;
    this.#listener = listener;
    this.#limits = limits;
    this.#metrics = opts.metrics;
    this.#log = opts.log;
    this.finished = this.#done.promise;
    this.#metrics?.connectionsOpen(0);
    void this.#acceptLoop();
  }

  shutdown(): Promise<void> {
    if (!this.#stopping) {
      this.#stopping = true;
      this.#wake.abort();
      try {
        this.#listener.close();
      } catch {
        // already closed
      }
      for (const c of [...this.#conns]) if (c.phase !== "busy") c.close("shutdown");
      this.#settle();
    }
    return this.finished;
  }

  #settle(): void {
    if (this.#stopping && !this.#accepting && this.#conns.size === 0) this.#done.resolve();
  }

  #closed = (c: Connection, reason: CloseReason): void => {
    if (this.#conns.delete(c)) {
      this.#metrics?.connectionClosed(reason);
      this.#metrics?.connectionsOpen(this.#conns.size);
    }
    this.#settle();
  };

  async #acceptLoop(): Promise<void> {
    let backoffMs = 0;
    let failures = 0; // since "accepting connections again" was last logged
    let unlogged = 0; // since "cannot accept connections" was last logged
    let warned = false; // "cannot accept connections" logged, recovery not yet
    let lastLog = -Infinity; // not reset on recovery: at the descriptor limit accept flaps
    while (!this.#stopping) {
      let conn: Deno.Conn;
      try {
        conn = await this.#listener.accept();
      } catch (err) {
        if (this.#stopping || err instanceof Deno.errors.BadResource) break;
        const reason = acceptErrorReason(err);
        this.#metrics?.acceptError(reason);
        failures++;
        unlogged++;
        const now = performance.now();
        if (now - lastLog >= ACCEPT_LOG_EVERY_MS) {
          this.#log?.warn("cannot accept connections; retrying", {
            reason,
            error: err instanceof Error ? err.message : String(err),
            errors: unlogged,
            open_connections: this.#conns.size,
          });
          lastLog = now;
          unlogged = 0;
          warned = true;
        }
        backoffMs = Math.min(backoffMs === 0 ? 5 : backoffMs * 2, 1000);
        await sleep(backoffMs, this.#wake.signal);
        continue;
      }
      if (warned) {
        this.#log?.info("accepting connections again", { failed_accepts: failures });
        failures = 0;
        warned = false;
      }
      backoffMs = 0;
      this.#admit(conn);
    }
    this.#accepting = false;
    this.#settle();
  }

  #admit(conn: Deno.Conn): void {
    if (this.#stopping) {
      conn.close();
      return;
    }
    if (this.#conns.size >= this.#limits.maxConnections) {
      let victim: Connection | undefined;
      for (const c of this.#conns) {
        if (c.phase !== "busy" && (victim === undefined || c.since < victim.since)) victim = c;
      }
      if (victim === undefined) {
        try {
          conn.close();
        } catch {
          // already closed
        }
        this.#metrics?.connectionClosed("over_limit");
        return;
      }
      victim.close("evicted");
    }
    const c = new Connection(conn, this.#closed);
    this.#conns.add(c);
    this.#metrics?.connectionsOpen(this.#conns.size);
    c.enter("head", this.#limits.headerTimeoutMs, "header_timeout");
    void this.#serveConnection(c);
  }

  async #serveConnection(c: Connection): Promise<void> {
    const l = this.#limits;
    const scanner = new HeadScanner(l);
    let buf = new Uint8Array(4096);
    let len = 0;
    let reason: CloseReason = "peer";
    try {
      for (;;) {
        // ---- the request head
        let found: { start: number; end: number } | undefined;
        for (;;) {
          found = scanner.scan(buf, len);
          if (found) break;
          if (len === buf.length) {
            const bigger = new Uint8Array(Math.min(buf.length * 2, l.maxHeadBytes + 1024));
            bigger.set(buf);
            buf = bigger;
          }
          const n = await c.conn.read(buf.subarray(len));
          if (n === null) return; // the peer closed (between requests, or mid-head)
          if (c.phase === "idle") c.enter("head", l.headerTimeoutMs, "header_timeout");
          len += n;
        }
        c.phase = "busy";
        c.disarm();
        const head = parseRequestHead(buf, found.start, found.end, l);
        const framing = requestFraming(head, l.maxBodyBytes);
        let consumed = found.end;
        if (framing.discard > 0) {
          c.arm(l.headerTimeoutMs, "header_timeout");
          const got = await this.#skipBody(c, buf, len, consumed, framing.discard);
          if (got === undefined) return;
          ({ buf, len, consumed } = got);
        }
        // ---- the response, handled and written within the write timeout
        const request = toRequest(head, c.conn.localAddr as Deno.NetAddr);
        c.arm(l.writeTimeoutMs, "write_timeout");
        const response = await this.#respond(head, request);
        const close = framing.close || !keepAlive(head) || this.#stopping;
        const complete = await writeResponse(c.conn, response, {
          head: head.method === "HEAD",
          close,
          keepAlive10: head.minor === 0 && !close,
        });
        c.disarm();
        if (close || !complete || this.#stopping) {
          reason = this.#stopping ? "shutdown" : "done";
          if (framing.unread) await linger(c);
          return;
        }
        // ---- the next request: keep what was read beyond this one (pipelining)
        buf.copyWithin(0, consumed, len);
        len -= consumed;
        scanner.reset();
        if (len > 0) c.enter("head", l.headerTimeoutMs, "header_timeout");
        else c.enter("idle", l.idleTimeoutMs, "idle_timeout");
      }
    } catch (err) {
      if (err instanceof RequestHeadError && c.closedFor === undefined) {
        reason = "bad_request";
        c.phase = "busy";
        c.arm(l.writeTimeoutMs, "write_timeout");
        await writeResponse(c.conn, plainResponse(err.status, err.message), {
          head: false,
          close: true,
          keepAlive10: false,
        }).catch(() => {});
        c.disarm();
        await linger(c);
      }
      // else: a read or write failed (the peer reset, or a deadline closed the socket)
    } finally {
      c.close(reason);
    }
  }

  /** Reads and drops `n` body bytes; returns the buffer state after them, or undefined on EOF. */
  async #skipBody(
    c: Connection,
    buf: Uint8Array<ArrayBuffer>,
    len: number,
    consumed: number,
    n: number,
  ): Promise<{ buf: Uint8Array<ArrayBuffer>; len: number; consumed: number } | undefined> {
    const inBuf = Math.min(n, len - consumed);
    consumed += inBuf;
    let left = n - inBuf;
    if (left === 0) return { buf, len, consumed };
    buf.copyWithin(0, consumed, len); // nothing left there after a partial body
    len = 0;
    consumed = 0;
    while (left > 0) {
      const got = await c.conn.read(buf.subarray(0, Math.min(buf.length, left)));
      if (got === null) return undefined;
      left -= got;
    }
    return { buf, len, consumed };
  }

  async #respond(head: RequestHead, request: Request | TypeError): Promise<Response> {
    if (request instanceof TypeError) {
      // new Request() refuses CONNECT, TRACE and TRACK, and header bytes Headers cannot hold
      const forbidden = /^(connect|trace|track)$/i.test(head.method);
      return plainResponse(forbidden ? 501 : 400, request.message);
    }
    if (request.method !== head.method) {
      // new Request() upper-cases get, head, post, put, delete and options; methods are
      // case-sensitive (RFC 9110 §9.1), so `get` is not GET.
      const refused = plainResponse(405, `method ${head.method} not allowed; use GET or HEAD`);
      refused.headers.set("allow", "GET, HEAD");
      return refused;
    }
    try {
      return await this.#app.fetch(request);
    } catch (err) {
      this.#log?.warn("request failed", {
        method: head.method,
        target: head.target.slice(0, 200),
        error: err instanceof Error ? err.message : String(err),
      });
      return plainResponse(500, "internal server error");
    }
  }
}

function acceptErrorReason(err: unknown): AcceptErrorReason {
  const code = (err as { code?: unknown })?.code;
  switch (code) {
    case "EMFILE":
      return "emfile";
    case "ENFILE":
      return "enfile";
    case "ENOBUFS":
      return "enobufs";
    case "ENOMEM":
      return "enomem";
    default:
      return "other";
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal.removeEventListener("abort", done);
      resolve();
    }
    signal.addEventListener("abort", done, { once: true });
  });
}

/** Comma-separated tokens of every field named `name`, lower-cased. */
function tokens(head: RequestHead, name: string): string[] {
  const out: string[] = [];
  for (const [k, v] of head.fields) {
    if (k.toLowerCase() !== name) continue;
    for (const t of v.split(",")) {
      const s = t.trim().toLowerCase();
      if (s !== "") out.push(s);
    }
  }
  return out;
}

/** RFC 9112 §9.3: HTTP/1.1 persists unless `close`; HTTP/1.0 only with `keep-alive`. */
function keepAlive(head: RequestHead): boolean {
  const conn = tokens(head, "connection");
  if (conn.includes("close")) return false;
  return head.minor === 1 || conn.includes("keep-alive");
}

/**
 * How the request body is framed (RFC 9112 §6): bytes to read and drop, and whether the
 * connection must close after the response (a body not read: chunked, or too long).
 *
 * @throws {RequestHeadError} 400 for an invalid or conflicting Content-Length.
 */
function requestFraming(
  head: RequestHead,
  maxBody: number,
): { discard: number; close: boolean; unread: boolean } {
  const te = head.fields.some(([k]) => k.toLowerCase() === "transfer-encoding");
  const lengths = tokens(head, "content-length");
  if (te) {
    // §6.1: Transfer-Encoding overrides Content-Length, and with both (or in HTTP/1.0) the
    // framing is suspect; the body is not read either way.
    return { discard: 0, close: true, unread: true };
  }
  if (lengths.length === 0) return { discard: 0, close: false, unread: false };
  if (!lengths.every((v) => /^\d{1,15}$/.test(v) && v === lengths[0])) {
    throw new RequestHeadError(400, "The Content-Length is invalid");
  }
  const n = Number(lengths[0]);
  if (n <= maxBody) return { discard: n, close: false, unread: false };
  return { discard: 0, close: true, unread: true };
}

const HOST_REGEXP = /^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9\-._~!$&'()*+,;=%]*)(?::\d{0,5})?$/;

/**
 * The request the app sees: URL from the target and `Host` (RFC 9112 §3.2–§3.3), the header
 * fields, no body. Returns the TypeError of `new Request()` when it refuses the method
 * (CONNECT, TRACE, TRACK) or a header.
 *
 * @throws {RequestHeadError} 400 for a missing, repeated or malformed Host, or a target form
 *   other than origin or absolute.
 */
export function toRequest(head: RequestHead, local: Deno.NetAddr): Request | TypeError {
  const hosts = head.fields.filter(([k]) => k.toLowerCase() === "host").map(([, v]) => v);
  if (hosts.length > 1 || (head.minor === 1 && hosts.length === 0)) {
    throw new RequestHeadError(400, "The request needs exactly one Host field");
  }
  let url: URL;
  try {
    if (head.target.startsWith("/")) {
      const host = hosts[0] || formatListen(local);
      if (!HOST_REGEXP.test(host)) throw new RequestHeadError(400, "The Host field is malformed");
      url = new URL(`http://${host}${head.target}`);
    } else if (/^https?:\/\//i.test(head.target)) {
      url = new URL(head.target);
    } else {
      throw new RequestHeadError(400, "The request target is neither a path nor an http URL");
    }
  } catch (err) {
    if (err instanceof RequestHeadError) throw err;
    throw new RequestHeadError(400, "The request target or Host is not a valid URL");
  }
  try {
    return new Request(url, { method: head.method, headers: head.fields as [string, string][] });
  } catch (err) {
    if (err instanceof TypeError) return err;
    throw err;
  }
}

const REASONS: Record<number, string> = {
  200: "OK",
  204: "No Content",
  304: "Not Modified",
  400: "Bad Request",
  404: "Not Found",
  405: "Method Not Allowed",
  413: "Content Too Large",
  414: "URI Too Long",
  431: "Request Header Fields Too Large",
  500: "Internal Server Error",
  501: "Not Implemented",
  503: "Service Unavailable",
  505: "HTTP Version Not Supported",
};

/** Headers this server sets itself (framing and connection management). */
const HOP_BY_HOP = new Set(["connection", "keep-alive", "transfer-encoding", "content-length"]);

function plainResponse(status: number, message: string): Response {
  return new Response(`${message}\n`, {
    status,
    headers: { "content-type": "text/plain; charset=utf-8" },
  });
}

let dateSecond = -1;
let dateText = "";
/** The `Date` field value, formatted once a second. */
function httpDate(): string {
  const now = Date.now();
  const s = Math.floor(now / 1000);
  if (s !== dateSecond) {
    dateSecond = s;
    dateText = new Date(now).toUTCString();
  }
  return dateText;
}

function latin1Bytes(s: string): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}

async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  let off = 0;
  while (off < bytes.length) off += await conn.write(bytes.subarray(off));
}

/**
 * Writes `res` as an HTTP/1.1 response. Resolves true when the whole declared body was written,
 * false when the app's stream ended early or ran long (the connection must then close); rejects
 * when the socket fails. Always releases the body (read to its end or cancelled).
 */
async function writeResponse(
  conn: Deno.Conn,
  res: Response,
  o: { head: boolean; close: boolean; keepAlive10: boolean },
): Promise<boolean> {
  const status = res.status;
  const bodiless = o.head || status === 204 || status === 304 || status < 200;
  let text = `HTTP/1.1 ${status} ${REASONS[status] ?? res.statusText}\r\n`;
  let hasDate = false;
  for (const [k, v] of res.headers) {
    if (HOP_BY_HOP.has(k)) continue;
    if (k === "date") hasDate = true;
    text += `${k}: ${v}\r\n`;
  }
  if (!hasDate) text += `date: ${httpDate()}\r\n`;
  if (o.close) text += "connection: close\r\n";
  else if (o.keepAlive10) text += "connection: keep-alive\r\n";
  const declaredText = res.headers.get("content-length");
  const declared = declaredText !== null && /^\d{1,15}$/.test(declaredText)
    ? Number(declaredText)
    : undefined;

  if (bodiless) {
    await res.body?.cancel().catch(() => {});
    if (o.head && declared !== undefined) text += `content-length: ${declared}\r\n`;
    else if (!o.head && status !== 204 && status >= 200 && status !== 304) {
      text += "content-length: 0\r\n";
    }
    await writeAll(conn, latin1Bytes(text + "\r\n"));
    return true;
  }
  if (res.body === null) {
    await writeAll(conn, latin1Bytes(text + "content-length: 0\r\n\r\n"));
    return true;
  }
  const reader = res.body.getReader();
  let finished = false;
  try {
    if (declared === undefined) {
      // a small body of unknown length: read it all, then send head and body in one write
      const chunks: Uint8Array[] = [];
      let total = 0;
      for (;;) {
        const r = await reader.read();
        if (r.done) break;
        chunks.push(r.value);
        total += r.value.length;
      }
      finished = true;
      const headBytes = latin1Bytes(text + `content-length: ${total}\r\n\r\n`);
      const out = new Uint8Array(headBytes.length + total);
      out.set(headBytes);
      let off = headBytes.length;
      for (const ch of chunks) {
        out.set(ch, off);
        off += ch.length;
      }
      await writeAll(conn, out);
      return true;
    }
    await writeAll(conn, latin1Bytes(text + `content-length: ${declared}\r\n\r\n`));
    let left = declared;
    for (;;) {
      // the next read comes only after the previous chunk was written: a stream that holds a
      // resource until it is drained (a scrape slot) keeps it until its last byte is written
      const r = await reader.read();
      if (r.done) {
        finished = true;
        return left === 0;
      }
      if (r.value.length > left) {
        await writeAll(conn, r.value.subarray(0, left));
        return false;
      }
      await writeAll(conn, r.value);
      left -= r.value.length;
    }
  } finally {
    if (!finished) await reader.cancel().catch(() => {});
    reader.releaseLock();
  }
}

/**
 * Closes gracefully after a response to a request whose body was not read: shuts the write
 * side, then drops what the client still sends for a short while, so that closing with unread
 * data (which makes the kernel send a reset) does not destroy the response in flight.
 */
async function linger(c: Connection): Promise<void> {
  if (c.closedFor !== undefined) return;
  try {
    await c.conn.closeWrite();
  } catch {
    return;
  }
  c.arm(LINGER_MS, "done");
  const sink = new Uint8Array(16_384);
  let total = 0;
  try {
    while (total < LINGER_BYTES) {
      const n = await c.conn.read(sink);
      if (n === null) break;
      total += n;
    }
  } catch {
    // closed by the timer
  }
  c.disarm();
}
