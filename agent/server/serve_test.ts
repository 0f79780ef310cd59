import { equal, match, ok, rejects } from "node:assert/strict";
import { Registry } from "../metrics/mod.ts";
import { createApp } from "./app.ts";
import { serve } from "./serve.ts";
import type {
  AcceptErrorReason,
  CloseReason,
  FetchApp,
  ServerLimits,
  ServerMetrics,
} from "./serve.ts";

Deno.test("serve() listens on port 0, answers, and shuts down when the signal aborts", async () => {
  const ctl = new AbortController();
  let announced: { hostname: string; port: number } | undefined;
  const server = await serve(createApp({ registry: new Registry(), ready: () => true }), {
    hostname: "127.0.0.1",
    port: 0,
    signal: ctl.signal,
    onListen: (addr) => announced = addr,
  });
  equal(server.addr.hostname, "127.0.0.1");
  equal(announced?.port, server.addr.port);
  const res = await fetch(`http://127.0.0.1:${server.addr.port}/healthz`);
  equal(await res.text(), "ok\n");
  ctl.abort();
  await server.finished;
  await rejects(fetch(`http://127.0.0.1:${server.addr.port}/healthz`));
});

Deno.test("serve() says the address is in use", async () => {
  using taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (taken.addr as Deno.NetAddr).port;
  await rejects(
    () => serve({ fetch: () => new Response() }, { hostname: "127.0.0.1", port }),
    (e: unknown) => {
      equal(e instanceof Deno.errors.AddrInUse, true);
      match(
        (e as Error).message,
        new RegExp(`^Cannot listen on 127\\.0\\.0\\.1:${port}: the address is already in use`),
      );
      return true;
    },
  );
});

Deno.test({
  name: "serve() names the --allow-net flag when net permission is missing",
  permissions: { net: false },
  async fn() {
    await rejects(
      () => serve({ fetch: () => new Response() }, { hostname: "::", port: 9 }),
      (e: unknown) => {
        equal(e instanceof Deno.errors.NotCapable, true);
        equal(
          (e as Error).message,
          "Cannot listen on [::]:9: network permission is missing; run with --allow-net=[::]:9",
        );
        return true;
      },
    );
  },
});

// ---- the server's own HTTP/1.1 handling, over real loopback sockets ----------------------

const enc = new TextEncoder();
const dec = new TextDecoder();

/** Counts closes and accept errors; `closed(reason)` resolves once that many were seen. */
class Recorder implements ServerMetrics {
  open = 0;
  readonly counts = new Map<string, number>();
  readonly #waiters: { reason: string; n: number; resolve: () => void }[] = [];
  connectionsOpen(n: number): void {
    this.open = n;
  }
  connectionClosed(reason: CloseReason): void {
    this.counts.set(reason, (this.counts.get(reason) ?? 0) + 1);
    this.#check();
  }
  acceptError(reason: AcceptErrorReason): void {
    this.counts.set(`accept_${reason}`, (this.counts.get(`accept_${reason}`) ?? 0) + 1);
  }
  count(reason: string): number {
    return this.counts.get(reason) ?? 0;
  }
  closed(reason: CloseReason, n = 1): Promise<void> {
    const p = Promise.withResolvers<void>();
    this.#waiters.push({ reason, n, resolve: p.resolve });
    this.#check();
    return p.promise;
  }
  #check(): void {
    for (const w of [...this.#waiters]) {
      if (this.count(w.reason) >= w.n) {
        this.#waiters.splice(this.#waiters.indexOf(w), 1);
        w.resolve();
      }
    }
  }
}

async function startServer(
  limits: ServerLimits,
  app: FetchApp = createApp({ registry: new Registry(), ready: () => true }),
): Promise<{ port: number; rec: Recorder; [Symbol.asyncDispose](): Promise<void> }> {
  const rec = new Recorder();
  const ctl = new AbortController();
  const server = await serve(app, {
    hostname: "127.0.0.1",
    port: 0,
    signal: ctl.signal,
    limits,
    metrics: rec,
  });
  return {
    port: server.addr.port,
    rec,
    async [Symbol.asyncDispose]() {
      ctl.abort();
      await server.finished;
    },
  };
}

function connect(port: number): Promise<Deno.TcpConn> {
  return Deno.connect({ hostname: "127.0.0.1", port });
}

/** One request on a new connection that the server closes after answering; the raw answer. */
async function get(port: number, path: string): Promise<string> {
  using conn = await connect(port);
  await send(conn, `GET ${path} HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n`);
  return await readToEnd(conn);
}

async function send(conn: Deno.Conn, text: string): Promise<void> {
  const b = enc.encode(text);
  let off = 0;
  while (off < b.length) off += await conn.write(b.subarray(off));
}

/** Reads until the server closes the connection; returns everything as text. */
async function readToEnd(conn: Deno.Conn): Promise<string> {
  const buf = new Uint8Array(65536);
  let out = "";
  for (;;) {
    let n: number | null;
    try {
      n = await conn.read(buf);
    } catch (e) {
      if (e instanceof Deno.errors.ConnectionReset) break;
      throw e;
    }
    if (n === null) break;
    out += dec.decode(buf.subarray(0, n), { stream: true });
  }
  return out;
}

/** Reads one response with a Content-Length body (or none) from a kept-alive connection. */
class ResponseReader {
  #buf = new Uint8Array(0);
  constructor(readonly conn: Deno.Conn) {}
  async #more(): Promise<boolean> {
    const chunk = new Uint8Array(65536);
    const n = await this.conn.read(chunk);
    if (n === null) return false;
    const next = new Uint8Array(this.#buf.length + n);
    next.set(this.#buf);
    next.set(chunk.subarray(0, n), this.#buf.length);
    this.#buf = next;
    return true;
  }
  async next(
    head = false,
  ): Promise<{ status: number; headers: Map<string, string>; body: Uint8Array }> {
    let end: number;
    while ((end = dec.decode(this.#buf).indexOf("\r\n\r\n")) < 0) {
      if (!await this.#more()) throw new Error("connection closed before a response head");
    }
    const lines = dec.decode(this.#buf.subarray(0, end)).split("\r\n");
    const status = Number(lines[0].split(" ")[1]);
    const headers = new Map(
      lines.slice(1).map((l) => {
        const i = l.indexOf(":");
        return [l.slice(0, i).toLowerCase(), l.slice(i + 1).trim()] as [string, string];
      }),
    );
    const length = head ? 0 : Number(headers.get("content-length") ?? 0);
    while (this.#buf.length < end + 4 + length) {
      if (!await this.#more()) throw new Error("connection closed inside a response body");
    }
    const body = this.#buf.slice(end + 4, end + 4 + length);
    this.#buf = this.#buf.slice(end + 4 + length);
    return { status, headers, body };
  }
}

Deno.test("serve() keeps connections alive, answers pipelined requests in order, HEAD without a body", async () => {
  await using s = await startServer({});
  using conn = await connect(s.port);
  await send(
    conn,
    "GET /healthz HTTP/1.1\r\nHost: a\r\n\r\nHEAD /metrics HTTP/1.1\r\nHost: a\r\n\r\n" +
      "GET /readyz HTTP/1.1\nHost: a\n\n", // bare LF line ends are accepted (RFC 9112 §2.2)
  );
  const r = new ResponseReader(conn);
  const a = await r.next();
  equal(a.status, 200);
  equal(dec.decode(a.body), "ok\n");
  equal(a.headers.get("content-length"), "3");
  equal(a.headers.get("connection"), undefined);
  match(a.headers.get("date")!, /GMT$/);
  const b = await r.next(true);
  equal(b.status, 200);
  equal(b.headers.get("content-type"), "text/plain; version=0.0.4; charset=utf-8");
  const c = await r.next();
  equal(dec.decode(c.body), "ready\n");
  await send(conn, "GET /healthz HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n");
  const d = await r.next();
  equal(d.headers.get("connection"), "close");
  equal(await readToEnd(conn), "");
  await s.rec.closed("done");
});

Deno.test("serve() closes HTTP/1.0 connections unless asked to keep them alive", async () => {
  await using s = await startServer({});
  {
    using conn = await connect(s.port);
    await send(conn, "GET /healthz HTTP/1.0\r\n\r\n");
    match(
      await readToEnd(conn),
      /^HTTP\/1\.1 200 OK\r\n[^]*connection: close\r\n[^]*\r\n\r\nok\n$/,
    );
  }
  using conn = await connect(s.port);
  await send(conn, "GET /healthz HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
  const r = new ResponseReader(conn);
  equal((await r.next()).headers.get("connection"), "keep-alive");
  await send(conn, "GET /readyz HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
  equal(dec.decode((await r.next()).body), "ready\n");
});

Deno.test("serve() answers malformed heads with their status and closes", async () => {
  await using s = await startServer({ maxRequestLineBytes: 64, maxHeadBytes: 256, maxFields: 3 });
  const cases: [string, RegExp][] = [
    ["GET /x HTTP/2.0\r\nHost: a\r\n\r\n", /^HTTP\/1\.1 505 HTTP Version Not Supported\r\n/],
    ["GET /x\r\nHost: a\r\n\r\n", /^HTTP\/1\.1 400 Bad Request\r\n/],
    ["GET /healthz HTTP/1.1\r\n\r\n", /^HTTP\/1\.1 400 [^]*exactly one Host/],
    ["GET /healthz HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", /^HTTP\/1\.1 400 /],
    ["GET /healthz HTTP/1.1\r\nHost : a\r\n\r\n", /^HTTP\/1\.1 400 /],
    ["GET /healthz HTTP/1.1\r\nHost: a\r\n folded\r\n\r\n", /^HTTP\/1\.1 400 [^]*obs-fold/],
    ["GET /healthz HTTP/1.1\r\nHost: a/b\r\n\r\n", /^HTTP\/1\.1 400 /],
    [`GET /${"a".repeat(80)} HTTP/1.1\r\n`, /^HTTP\/1\.1 414 URI Too Long\r\n/],
    [`GET / HTTP/1.1\r\nHost: a\r\nX: ${"b".repeat(300)}\r\n\r\n`, /^HTTP\/1\.1 431 /],
    ["GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n", /^HTTP\/1\.1 431 /],
    ["GET /healthz HTTP/1.1\r\nHost: a\r\nContent-Length: 1, 2\r\n\r\n", /^HTTP\/1\.1 400 /],
  ];
  for (const [request, want] of cases) {
    using conn = await connect(s.port);
    await send(conn, request);
    const got = await readToEnd(conn);
    match(got, want, JSON.stringify(request));
    match(got, /\r\nconnection: close\r\n/);
  }
  await s.rec.closed("bad_request", cases.length);
  equal(s.rec.count("bad_request"), cases.length);
});

Deno.test("serve() drops a short request body and keeps the connection; a chunked one closes it", async () => {
  await using s = await startServer({ maxBodyBytes: 16 });
  using conn = await connect(s.port);
  await send(conn, "POST /metrics HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello");
  await send(conn, "GET /healthz HTTP/1.1\r\nHost: a\r\n\r\n");
  const r = new ResponseReader(conn);
  const refused = await r.next();
  equal(refused.status, 405);
  equal(refused.headers.get("allow"), "GET, HEAD");
  equal(dec.decode((await r.next()).body), "ok\n");
  using chunked = await connect(s.port);
  await send(
    chunked,
    "POST /metrics HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n",
  );
  const got = await readToEnd(chunked);
  match(got, /^HTTP\/1\.1 405 Method Not Allowed\r\n[^]*connection: close\r\n/);
});

Deno.test("serve() takes methods case-sensitively: get and head are not GET and HEAD", async () => {
  // new Request() upper-cases six method names; the app must see the method as sent.
  await using s = await startServer({});
  using conn = await connect(s.port);
  await send(
    conn,
    "get /metrics HTTP/1.1\r\nHost: a\r\n\r\nhead /healthz HTTP/1.1\r\nHost: a\r\n\r\n" +
      "Post /metrics HTTP/1.1\r\nHost: a\r\n\r\nGET /healthz HTTP/1.1\r\nHost: a\r\n\r\n",
  );
  const r = new ResponseReader(conn);
  for (const method of ["get", "head", "Post"]) {
    const refused = await r.next();
    equal(refused.status, 405, method);
    equal(refused.headers.get("allow"), "GET, HEAD", method);
  }
  equal(dec.decode((await r.next()).body), "ok\n");
});

Deno.test("serve() closes a connection that sends half a request line after the header timeout and keeps serving others", async () => {
  await using s = await startServer({ headerTimeoutMs: 300 });
  const slow = await Promise.all([1, 2, 3].map(() => connect(s.port)));
  for (const c of slow) await send(c, "GET /metr");
  // meanwhile a normal scrape is answered
  const res = await fetch(`http://127.0.0.1:${s.port}/metrics`);
  equal(res.status, 200);
  await res.text();
  for (const c of slow) {
    equal(await readToEnd(c), ""); // closed without a response
    c.close();
  }
  await s.rec.closed("header_timeout", 3);
  equal(s.rec.count("header_timeout"), 3);
});

Deno.test("serve() closes an idle keep-alive connection after the idle timeout", async () => {
  await using s = await startServer({ idleTimeoutMs: 300 });
  using conn = await connect(s.port);
  await send(conn, "GET /healthz HTTP/1.1\r\nHost: a\r\n\r\n");
  equal((await new ResponseReader(conn).next()).status, 200);
  equal(await readToEnd(conn), "");
  await s.rec.closed("idle_timeout");
  equal(s.rec.count("header_timeout"), 0);
});

Deno.test("serve() at its connection cap evicts the oldest connection still sending its head", async () => {
  await using s = await startServer({ maxConnections: 3, headerTimeoutMs: 60_000 });
  const slow: Deno.TcpConn[] = [];
  for (let i = 0; i < 3; i++) {
    const c = await connect(s.port);
    await send(c, "GET /metr");
    slow.push(c);
  }
  // A new scrape takes the place of the oldest slow connection...
  match(await get(s.port, "/healthz"), /^HTTP\/1\.1 200 OK\r\n[^]*\r\n\r\nok\n$/);
  equal(await readToEnd(slow[0]), "");
  // ...the place it left is taken by a newer slow one, and the next scrape evicts the oldest
  const late = await connect(s.port);
  await send(late, "GET /metr");
  slow.push(late);
  match(await get(s.port, "/healthz"), /^HTTP\/1\.1 200 OK\r\n/);
  equal(await readToEnd(slow[1]), "");
  equal(s.rec.count("evicted"), 2);
  equal(s.rec.open, 2); // slow[2] and the late one
  for (const c of slow) c.close();
});

Deno.test("serve() at its cap with every connection busy closes new ones at once", async () => {
  const gate = Promise.withResolvers<void>();
  let started = 0;
  const bothStarted = Promise.withResolvers<void>();
  const app: FetchApp = {
    async fetch() {
      if (++started === 2) bothStarted.resolve();
      await gate.promise;
      return new Response("late\n");
    },
  };
  await using s = await startServer({ maxConnections: 2 }, app);
  const busy = await Promise.all([connect(s.port), connect(s.port)]);
  for (const c of busy) await send(c, "GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n");
  await bothStarted.promise;
  using extra = await connect(s.port);
  equal(await readToEnd(extra), "");
  equal(s.rec.count("over_limit"), 1);
  gate.resolve();
  for (const c of busy) {
    match(await readToEnd(c), /\r\n\r\nlate\n$/);
    c.close();
  }
});

Deno.test("serve() holds a scrape slot while a slow reader has not taken the body, until the write timeout", async () => {
  // A body far larger than the socket buffers, so the writer blocks on a reader that does not read.
  const reg = new Registry();
  const c = reg.counter({ name: "osprey_big_total", help: "B", labelNames: ["k"] });
  for (let i = 0; i < 120_000; i++) c.labels(`series-${i}-${"x".repeat(40)}`).inc(i);
  const app = createApp({ registry: reg, ready: () => true, maxConcurrentScrapes: 1 });
  await using s = await startServer({ writeTimeoutMs: 1000 }, app);
  using stalled = await connect(s.port);
  await send(stalled, "GET /metrics HTTP/1.1\r\nHost: a\r\n\r\n");
  // Until its body is written (it cannot be: nobody reads) the slot is taken.
  let refused = "";
  while (refused === "") {
    const r = await get(s.port, "/metrics");
    if (r.startsWith("HTTP/1.1 503 ")) refused = r;
  }
  match(refused, /\r\nretry-after: 1\r\n/);
  // The write timeout closes the stalled connection and frees the slot.
  await s.rec.closed("write_timeout");
  using conn = await connect(s.port);
  await send(conn, "GET /metrics HTTP/1.1\r\nHost: a\r\n\r\n");
  const ok = await new ResponseReader(conn).next();
  equal(ok.status, 200);
  equal(ok.body.length, Number(ok.headers.get("content-length")));
  match(dec.decode(ok.body.subarray(0, 40)), /^# HELP osprey_big_total B\n/);
});

Deno.test("serve() frees a scrape slot once a slow reader has read the whole body", async () => {
  const reg = new Registry();
  const c = reg.counter({ name: "osprey_big_total", help: "B", labelNames: ["k"] });
  for (let i = 0; i < 120_000; i++) c.labels(`series-${i}-${"x".repeat(40)}`).inc(i);
  const app = createApp({ registry: reg, ready: () => true, maxConcurrentScrapes: 1 });
  await using s = await startServer({ writeTimeoutMs: 60_000 }, app);
  using slowReader = await connect(s.port);
  await send(slowReader, "GET /metrics HTTP/1.1\r\nHost: a\r\n\r\n");
  match(await get(s.port, "/metrics"), /^HTTP\/1\.1 503 /);
  const got = await new ResponseReader(slowReader).next();
  equal(got.status, 200);
  equal(got.body.length, Number(got.headers.get("content-length")));
  match(await get(s.port, "/metrics"), /^HTTP\/1\.1 200 OK\r\n/);
});

Deno.test("serve() survives mutated request heads on real sockets and keeps answering", async () => {
  await using s = await startServer({ headerTimeoutMs: 500 });
  let seed = 0x5eed;
  const rand = () => {
    seed ^= seed << 13;
    seed >>>= 0;
    seed ^= seed >>> 17;
    seed ^= seed << 5;
    seed >>>= 0;
    return seed / 0x1_0000_0000;
  };
  const base = enc.encode(
    "GET /metrics HTTP/1.1\r\nHost: a\r\nAccept: application/openmetrics-text\r\n" +
      "Accept-Encoding: gzip\r\n\r\nGET /healthz HTTP/1.1\r\nHost: a\r\n\r\n",
  );
  const special = [0x0d, 0x0a, 0x20, 0x3a, 0x00, 0xff, 0x2c];
  for (let i = 0; i < 200; i++) {
    const b = Array.from(base);
    for (let k = 0; k < 3; k++) {
      const at = Math.floor(rand() * b.length);
      if (rand() < 0.5) b.splice(at, 0, special[Math.floor(rand() * special.length)]);
      else b.splice(at, 1);
    }
    using conn = await connect(s.port);
    await conn.write(Uint8Array.from(b));
    await conn.closeWrite();
    const answer = await readToEnd(conn);
    // every answer is a whole number of HTTP/1.1 responses, or nothing (an incomplete head)
    ok(answer === "" || answer.startsWith("HTTP/1.1 "), JSON.stringify(answer.slice(0, 80)));
  }
  match(await get(s.port, "/healthz"), /^HTTP\/1\.1 200 OK\r\n/);
  while (s.rec.open > 0) await new Promise((r) => setTimeout(r, 10));
  equal(s.rec.count("write_timeout"), 0);
});

Deno.test("serve() logs accept failures at most every 10 s, also when accept fails and recovers by turns", async () => {
  // At the descriptor limit, each closed connection lets one accept through and the next fails:
  // recovering must not restart the log interval, or every turn logs two lines.
  const realListen = Deno.listen;
  let calls = 0;
  // deno-lint-ignore no-explicit-any
  (Deno as any).listen = (opts: Deno.TcpListenOptions) => {
    const real = realListen(opts);
    return new Proxy(real, {
      get(target, key) {
        if (key !== "accept") {
          const v = Reflect.get(target, key, target);
          return typeof v === "function" ? v.bind(target) : v;
        }
        return () => {
          if (++calls % 2 === 1) {
            return Promise.reject(
              Object.assign(new Error("Too many open files"), { code: "EMFILE" }),
            );
          }
          return target.accept();
        };
      },
    });
  };
  const lines: string[] = [];
  const log = { info: (msg: string) => lines.push(msg), warn: (msg: string) => lines.push(msg) };
  const rec = new Recorder();
  const ctl = new AbortController();
  try {
    const server = await serve(createApp({ registry: new Registry(), ready: () => true }), {
      hostname: "127.0.0.1",
      port: 0,
      signal: ctl.signal,
      metrics: rec,
      log,
    });
    for (let i = 0; i < 5; i++) match(await get(server.addr.port, "/healthz"), /^HTTP\/1\.1 200 /);
    ctl.abort();
    await server.finished;
  } finally {
    Deno.listen = realListen;
  }
  ok(rec.count("accept_emfile") >= 5);
  equal(
    lines.filter((l) => l === "cannot accept connections; retrying").length,
    1,
    lines.join("; "),
  );
  ok(lines.filter((l) => l === "accepting connections again").length <= 1, lines.join("; "));
});
