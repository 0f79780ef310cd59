import { deepEqual, equal } from "node:assert/strict";
import { emptyL7Event, type L7Event } from "../../ffi/mod.ts";
import { spanShape } from "../push/otlp_traces.ts";
import { type Completed, L7Matcher } from "./matcher.ts";
import { SpanOptOut, spanRequest, splitHostPort } from "./traces.ts";
import { NO_OPT_OUTS, OptOutCache } from "../opt_outs.ts";

const enc = new TextEncoder();

function rec(
  o: { sk?: number; dir: "read" | "write"; ts: number; data: Uint8Array | string },
  ports: [number, number] = [40000, 80],
): L7Event {
  const e = emptyL7Event();
  const data = typeof o.data === "string" ? enc.encode(o.data) : o.data;
  Object.assign(e, {
    sk: o.sk ?? 1,
    dir: o.dir,
    tsNs: o.ts,
    payload: data,
    size: data.length,
    l4: 6,
    sport: ports[0],
    dport: ports[1],
  });
  return e;
}

function run(m: L7Matcher, events: L7Event[]): Completed[] {
  const out: Completed[] = [];
  for (const e of events) m.handle(e, (c) => out.push(c));
  return out;
}

function cat(...parts: (Uint8Array | number[] | string)[]): Uint8Array {
  const bytes = parts.map((p) =>
    typeof p === "string" ? enc.encode(p) : p instanceof Uint8Array ? p : new Uint8Array(p)
  );
  const out = new Uint8Array(bytes.reduce((n, b) => n + b.length, 0));
  let at = 0;
  for (const b of bytes) {
    out.set(b, at);
    at += b.length;
  }
  return out;
}

/** A Postgres frontend/backend message: type, big-endian length, body. */
function pg(type: string, body: Uint8Array | string = ""): Uint8Array {
  const b = typeof body === "string" ? enc.encode(body) : body;
  const n = b.length + 4;
  return cat(type, [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255], b);
}

/** A MySQL packet: 3-byte little-endian length, sequence id, body. */
function my(seq: number, body: Uint8Array): Uint8Array {
  const n = body.length;
  return cat([n & 255, (n >>> 8) & 255, n >>> 16, seq], body);
}

const u32le = (x: number) => [x & 255, (x >>> 8) & 255, (x >>> 16) & 255, x >>> 24];

Deno.test("L7Matcher builds no summaries unless traced, and none for inbound requests", () => {
  const m = new L7Matcher();
  const http = [
    rec({ dir: "write", ts: 1, data: "GET /a HTTP/1.1\r\n\r\n" }),
    rec({ dir: "read", ts: 2, data: "HTTP/1.1 200 OK\r\n\r\n" }),
  ];
  equal(run(m, http)[0].summary, undefined);
  m.traced = true;
  const inbound = run(m, [
    rec({ sk: 2, dir: "read", ts: 1, data: "GET /b HTTP/1.1\r\n\r\n" }, [80, 40000]),
    rec({ sk: 2, dir: "write", ts: 2, data: "HTTP/1.1 200 OK\r\n\r\n" }, [80, 40000]),
  ]);
  equal(inbound[0].inbound, true);
  equal(inbound[0].summary, undefined);
});

Deno.test("L7Matcher summaries: HTTP/1 method, target and numeric status", () => {
  const m = new L7Matcher();
  m.traced = true;
  const out = run(m, [
    rec({ dir: "write", ts: 1000, data: "DELETE /items/7?x=1 HTTP/1.1\r\nHost: h\r\n\r\n" }),
    rec({ dir: "read", ts: 3000, data: "HTTP/1.1 503 Busy\r\n\r\n" }),
  ]);
  deepEqual(out[0].summary, {
    protocol: "http",
    method: "DELETE",
    path: "/items/7?x=1",
    status: 503,
  });
});

Deno.test("L7Matcher summaries: Postgres queries and prepared statements per connection", () => {
  const m = new L7Matcher();
  m.traced = true;
  const ports: [number, number] = [40000, 5432];
  const bind = (stmt: string) => pg("B", `\0${stmt}\0\0\0\0\0\0\0`);
  const batch = (...msgs: Uint8Array[]) => cat(...msgs, pg("E", "\0\0\0\0\0"), pg("S"));
  const answer = cat(pg("1"), pg("2"), pg("T", "\0\0"), pg("C", "SELECT 1\0"), pg("Z", "I"));
  const out = run(m, [
    rec({ dir: "write", ts: 1, data: pg("Q", "SELECT now()\0") }, ports),
    rec({ dir: "read", ts: 2, data: cat(pg("T", "\0\0"), pg("Z", "I")) }, ports),
    rec({ dir: "write", ts: 3, data: batch(pg("P", "s1\0SELECT $1\0\0\0"), bind("s1")) }, ports),
    rec({ dir: "read", ts: 4, data: answer }, ports),
    rec({ dir: "write", ts: 5, data: batch(bind("s1")) }, ports),
    rec({ dir: "read", ts: 6, data: answer.subarray(5) }, ports),
    rec({ dir: "write", ts: 7, data: batch(bind("s9")) }, ports),
    rec({ dir: "read", ts: 8, data: cat(pg("E", "SERROR\0\0"), pg("Z", "I")) }, ports),
  ]);
  deepEqual(out.map((c) => [c.status, c.summary?.query]), [
    ["ok", "SELECT now()"],
    ["ok", "PREPARE s1 AS SELECT $1"],
    ["ok", "SELECT $1"],
    ["failed", "EXECUTE s9 /* unknown */"],
  ]);
  const req = spanRequest(out[3], { id: "/c", service: "/c" }, { host: "10.0.0.2", port: 5432 }, 9);
  deepEqual(spanShape(req!), {
    name: "query",
    attributes: [
      { key: "db.system", value: { stringValue: "postgresql" } },
      { key: "db.statement", value: { stringValue: "EXECUTE s9 /* unknown */" } },
    ],
    error: true,
  });
});

Deno.test("L7Matcher summaries: a MySQL prepare takes its statement id from the answer", () => {
  const m = new L7Matcher();
  m.traced = true;
  const ports: [number, number] = [40000, 3306];
  const prepare = my(0, cat([0x16], "SELECT ?"));
  // COM_STMT_PREPARE_OK: 0x00, statement id 42, columns, params, filler, warnings
  const prepared = my(1, cat([0x00], u32le(42), [1, 0, 1, 0, 0, 0, 0]));
  const execute = (id: number) => my(0, cat([0x17], u32le(id), [0], u32le(1)));
  const out = run(m, [
    rec({ dir: "write", ts: 1, data: my(0, cat([0x03], "SELECT 1")) }, ports),
    rec({ dir: "read", ts: 2, data: my(1, new Uint8Array([1])) }, ports),
    rec({ dir: "write", ts: 3, data: prepare }, ports),
    rec({ dir: "read", ts: 4, data: prepared }, ports),
    rec({ dir: "write", ts: 5, data: execute(42) }, ports),
    rec({ dir: "read", ts: 6, data: my(1, new Uint8Array([1])) }, ports),
    rec({ dir: "write", ts: 7, data: execute(7) }, ports),
    rec({ dir: "read", ts: 8, data: my(1, cat([0xff], u32le(0))) }, ports),
  ]);
  deepEqual(out.map((c) => [c.status, c.summary?.query]), [
    ["ok", "SELECT 1"],
    ["ok", "PREPARE 42 FROM SELECT ?"],
    ["ok", "SELECT ?"],
    ["failed", "EXECUTE 7 /* unknown */"],
  ]);
});

Deno.test("L7Matcher summaries: a MySQL COM_STMT_CLOSE forgets the statement, is neither waited for nor counted", () => {
  const m = new L7Matcher();
  m.traced = true;
  const ports: [number, number] = [40000, 3306];
  const prepared = my(1, cat([0x00], u32le(42), [1, 0, 1, 0, 0, 0, 0]));
  const execute = my(0, cat([0x17], u32le(42), [0], u32le(1)));
  const ok = my(1, new Uint8Array([1]));
  const out = run(m, [
    rec({ dir: "write", ts: 1, data: my(0, cat([0x16], "SELECT ?")) }, ports),
    rec({ dir: "read", ts: 2, data: prepared }, ports),
    rec({ dir: "write", ts: 3, data: execute }, ports),
    rec({ dir: "read", ts: 4, data: ok }, ports),
    // a lone close (9 bytes, its own write), then the same id executed again
    rec({ dir: "write", ts: 5, data: my(0, cat([0x19], u32le(42))) }, ports),
    rec({ dir: "write", ts: 6, data: execute }, ports),
    rec({ dir: "read", ts: 7, data: ok }, ports),
  ]);
  deepEqual(out.map((c) => [c.status, c.durationNs, c.summary?.query]), [
    ["ok", 1, "PREPARE 42 FROM SELECT ?"],
    ["ok", 1, "SELECT ?"],
    ["ok", 1, "EXECUTE 42 /* unknown */"],
  ]);
});

Deno.test("L7Matcher summaries: each command of a pipelined Redis batch, Memcached keys", () => {
  const m = new L7Matcher();
  m.traced = true;
  const redis: [number, number] = [40000, 6379];
  const out = run(m, [
    rec({
      dir: "write",
      ts: 1,
      data:
        "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n*2\r\n$3\r\nGET\r\n$1\r\nk\r\n*1\r\n$4\r\nPING\r\n",
    }, redis),
    rec({ dir: "read", ts: 2, data: "+OK\r\n$1\r\nv\r\n-ERR no\r\n" }, redis),
    rec({ sk: 2, dir: "write", ts: 3, data: "get a b\r\n" }, [40001, 11211]),
    rec({ sk: 2, dir: "read", ts: 4, data: "VALUE a 0 1\r\nx\r\nEND\r\n" }, [40001, 11211]),
  ]);
  deepEqual(out.map((c) => [c.status, c.summary]), [
    ["ok", { protocol: "redis", method: "SET", query: "k ..." }],
    ["ok", { protocol: "redis", method: "GET", query: "k" }],
    ["failed", { protocol: "redis", method: "PING", query: "" }],
    ["ok", { protocol: "memcached", method: "get", items: ["a", "b"] }],
  ]);
  const owner = { id: "/docker/abc", service: "/docker/abc" };
  const r = spanRequest(out[1], owner, { host: "10.0.0.3", port: 6379 }, 5000)!;
  deepEqual(spanShape(r)?.attributes, [
    { key: "db.system", value: { stringValue: "redis" } },
    { key: "db.operation", value: { stringValue: "GET" } },
    { key: "db.statement", value: { stringValue: "GET k" } },
  ]);
  equal(spanShape(spanRequest(out[2], owner, { host: "h", port: 1 }, 1)!)?.error, true);
});

Deno.test("spanRequest: the exporter's record, with the destination, times and failure", () => {
  const c: Completed = {
    protocol: "http",
    inbound: false,
    status: "4xx",
    durationNs: 2_500_000,
    path: "/p",
    summary: { protocol: "http", method: "GET", path: "/p", status: 404 },
  };
  const owner = { id: "/k8s/ns/web-7d4b9c8f6-x2kqp/app", service: "/k8s/ns/web" };
  deepEqual(spanRequest(c, owner, { host: "fd00::1", port: 8080 }, 1_700_000_000_000), {
    containerId: "/k8s/ns/web-7d4b9c8f6-x2kqp/app",
    serviceName: "/k8s/ns/web",
    protocol: "http",
    peerHost: "fd00::1",
    peerPort: 8080,
    endMs: 1_700_000_000_000,
    durationMs: 2.5,
    method: "GET",
    path: "/p",
    scheme: undefined,
    status: 404,
    grpcStatus: undefined,
    query: undefined,
    items: undefined,
    failed: false,
  });
  equal(spanRequest({ ...c, inbound: true }, owner, { host: "h", port: 1 }, 0), undefined);
  equal(spanRequest({ ...c, summary: undefined }, owner, { host: "h", port: 1 }, 0), undefined);
});

Deno.test("splitHostPort reads the net module's destination labels", () => {
  deepEqual(splitHostPort("10.1.2.3:5432"), { host: "10.1.2.3", port: 5432 });
  deepEqual(splitHostPort("[fd00::1]:443"), { host: "fd00::1", port: 443 });
  deepEqual(splitHostPort("db.example:6379"), { host: "db.example", port: 6379 });
  equal(splitHostPort("10.1.2.3"), undefined);
  equal(splitHostPort(":80"), undefined);
  equal(splitHostPort("h:x"), undefined);
});

Deno.test("SpanOptOut: a container with one opted-out live process makes no spans, read once per process", () => {
  const reads: number[] = [];
  const env: Record<number, boolean> = { 1: false, 2: true, 3: false };
  const cache = new OptOutCache({
    proc: "/unused",
    read: (pid) => {
      reads.push(pid);
      return { ...NO_OPT_OUTS, traces: env[pid] ?? false };
    },
  });
  const gate = new SpanOptOut(cache);
  const container = (id: string, pids: number[]) => ({
    id,
    forEachProcess: (fn: (pid: number, startMs: number) => void) => {
      for (const p of pids) fn(p, 100);
    },
  });
  const mixed = container("a", [1, 2]);
  const clean = container("b", [3]);
  equal(gate.suppress(mixed), true);
  equal(gate.suppress(mixed), true);
  equal(gate.suppress(clean), false);
  equal(gate.suppressed, 2);
  gate.newRound();
  equal(gate.suppress(mixed), true);
  deepEqual(reads, [1, 2, 3], "each environment read once");
  // the opted-out process left: from the next round on, spans again
  gate.newRound();
  equal(gate.suppress(container("a", [1])), false);
  equal(gate.suppressed, 3);
});
