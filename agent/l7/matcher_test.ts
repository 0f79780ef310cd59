import { deepEqual, equal } from "node:assert/strict";
import { emptyL7Event, type L7Event } from "../../ffi/mod.ts";
import { type Completed, L7Matcher } from "./matcher.ts";

const enc = new TextEncoder();

function rec(
  o: {
    sk?: number;
    dir: "read" | "write";
    ts: number;
    data: Uint8Array | string;
    l4?: number;
    /** The syscall's byte count when more than the capture (`data` is then cut). */
    size?: number;
  },
  ports: [number, number] = [40000, 80],
): L7Event {
  const e = emptyL7Event();
  const data = typeof o.data === "string" ? enc.encode(o.data) : o.data;
  Object.assign(e, {
    sk: o.sk ?? 1,
    dir: o.dir,
    tsNs: o.ts,
    payload: data,
    size: o.size ?? data.length,
    l4: o.l4 ?? 6,
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

Deno.test("L7Matcher matches HTTP/1 on the client and the server side with kernel durations", () => {
  const m = new L7Matcher();
  const out = run(m, [
    rec({ dir: "write", ts: 1000, data: "GET /a?x=1 HTTP/1.1\r\nHost: h\r\n\r\n" }),
    rec({ dir: "read", ts: 5000, data: "HTTP/1.1 404 Not Found\r\n\r\n" }),
    rec({ sk: 2, dir: "read", ts: 100, data: "POST /b HTTP/1.1\r\n\r\n" }, [80, 40000]),
    rec({ sk: 2, dir: "write", ts: 350, data: "HTTP/1.1 503 Busy\r\n\r\n" }, [80, 40000]),
  ]);
  deepEqual(out.map((c) => [c.protocol, c.inbound, c.status, c.durationNs, c.path]), [
    ["http", false, "4xx", 4000, "/a?x=1"],
    ["http", true, "5xx", 250, "/b"],
  ]);
});

Deno.test("L7Matcher joins a request line split over two writes and skips interim 100s", () => {
  const m = new L7Matcher();
  const out = run(m, [
    rec({ dir: "write", ts: 10, data: "GE" }),
    rec({ dir: "write", ts: 20, data: "T /split HTTP/1.1\r\n\r\n" }),
    rec({ dir: "read", ts: 30, data: "HTTP/1.1 100 Continue\r\n\r\n" }),
    rec({ dir: "read", ts: 90, data: "HTTP/1.1 200 OK\r\n\r\n" }),
  ]);
  deepEqual(out.map((c) => [c.status, c.durationNs, c.path]), [["2xx", 80, "/split"]]);
  equal(m.counters.joined, 1);
});

Deno.test("L7Matcher counts every command and reply of a pipelined Redis batch", () => {
  const m = new L7Matcher();
  const cmd = (k: string) => `*2\r\n$3\r\nGET\r\n$${k.length}\r\n${k}\r\n`;
  const out = run(m, [
    rec({ dir: "write", ts: 0, data: cmd("a") + cmd("b") + cmd("c") }, [40000, 6379]),
    rec({ dir: "read", ts: 7, data: "$1\r\nx\r\n-ERR no\r\n$-1\r\n" }, [40000, 6379]),
  ]);
  deepEqual(out.map((c) => [c.protocol, c.status]), [
    ["redis", "ok"],
    ["redis", "failed"],
    ["redis", "ok"],
  ]);
});

Deno.test("L7Matcher forgets a connection whose socket address another connection reuses", () => {
  const m = new L7Matcher();
  const out = run(m, [
    // a server socket at address 9 answers one request
    rec({ sk: 9, dir: "read", ts: 0, data: "GET / HTTP/1.1\r\n\r\n" }, [80, 41000]),
    rec({ sk: 9, dir: "write", ts: 1, data: "HTTP/1.1 200 OK\r\n\r\n" }, [80, 41000]),
    // freed; a client socket gets the same address
    rec({ sk: 9, dir: "write", ts: 2, data: "GET /c HTTP/1.1\r\n\r\n" }, [42000, 8080]),
    rec({ sk: 9, dir: "read", ts: 5, data: "HTTP/1.1 201 Created\r\n\r\n" }, [42000, 8080]),
  ]);
  deepEqual(out.map((c) => [c.inbound, c.status]), [[true, "2xx"], [false, "2xx"]]);
  equal(m.counters.reused, 1);
});

function dnsMessage(id: number, response: boolean, rcode: number, answers: number[][]): Uint8Array {
  const name = [7, ...enc.encode("example"), 3, ...enc.encode("com"), 0];
  const head = [
    id >> 8,
    id & 255,
    response ? 0x81 : 1,
    response ? 0x80 | rcode : 0,
    0,
    1,
    0,
    answers.length,
    0,
    0,
    0,
    0,
  ];
  const q = [...name, 0, 1, 0, 1];
  const an = answers.flatMap((ip) => [0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, ...ip]);
  return new Uint8Array([...head, ...q, ...an]);
}

Deno.test("L7Matcher matches DNS over UDP by message id, both directions", () => {
  const m = new L7Matcher();
  const out = run(m, [
    rec({ l4: 17, dir: "write", ts: 0, data: dnsMessage(7, false, 0, []) }, [5353, 53]),
    rec({ l4: 17, dir: "write", ts: 1, data: dnsMessage(8, false, 0, []) }, [5353, 53]),
    rec({ l4: 17, dir: "read", ts: 30, data: dnsMessage(8, true, 3, []) }, [5353, 53]),
    rec({ l4: 17, dir: "read", ts: 40, data: dnsMessage(7, true, 0, [[10, 0, 0, 7]]) }, [
      5353,
      53,
    ]),
  ]);
  deepEqual(out.map((c) => [c.status, c.durationNs, c.dns?.requestType, c.dns?.addresses]), [
    ["nxdomain", 29, "TypeA", []],
    ["ok", 40, "TypeA", ["10.0.0.7"]],
  ]);
});

Deno.test("L7Matcher joins a request line sent in three pieces on a known keep-alive connection", () => {
  const m = new L7Matcher();
  const out = run(m, [
    rec({ dir: "write", ts: 0, data: "GET /a HTTP/1.1\r\nHost: x\r\n\r\n" }),
    rec({ dir: "read", ts: 1, data: "HTTP/1.1 200 OK\r\n\r\n" }),
    rec({ dir: "write", ts: 10, data: "GE" }),
    rec({ dir: "write", ts: 11, data: "T /b" }),
    rec({ dir: "write", ts: 12, data: " HTTP/1.1\r\nHost: x\r\n\r\n" }),
    rec({ dir: "read", ts: 20, data: "HTTP/" }),
    rec({ dir: "read", ts: 21, data: "1.1 404 Not Found\r\n\r\n" }),
  ]);
  deepEqual(out.map((c) => [c.status, c.durationNs, c.path]), [["2xx", 1, "/a"], [
    "4xx",
    11,
    "/b",
  ]]);
});

Deno.test("L7Matcher never joins a short body written while its request waits", () => {
  const m = new L7Matcher();
  const out = run(m, [
    rec({ dir: "write", ts: 0, data: "POST /p HTTP/1.1\r\nContent-Length: 2\r\n\r\n" }),
    rec({ dir: "write", ts: 1, data: "{}" }),
    rec({ dir: "read", ts: 5, data: "HTTP/1.1 201 Created\r\n\r\n" }),
    rec({ dir: "write", ts: 6, data: "GET /next HTTP/1.1\r\n\r\n" }),
    rec({ dir: "read", ts: 9, data: "HTTP/1.1 200 OK\r\n\r\n" }),
  ]);
  deepEqual(out.map((c) => [c.status, c.path]), [["2xx", "/p"], ["2xx", "/next"]]);
});

/** An HTTP/2 frame. */
function h2frame(type: number, flags: number, stream: number, payload: number[]): Uint8Array {
  const l = payload.length;
  return new Uint8Array([
    l >> 16,
    (l >> 8) & 255,
    l & 255,
    type,
    flags,
    0,
    0,
    0,
    stream,
    ...payload,
  ]);
}
const h2lit = (
  n: string,
  v: string,
) => [0x00, n.length, ...enc.encode(n), v.length, ...enc.encode(v)];

Deno.test("L7Matcher recognises an HTTP/2 connection opened before it, on both sides", () => {
  const m = new L7Matcher();
  // 0xbe/0xbf: HPACK entries added before the capture began
  const req = h2frame(1, 5, 9, [0x82, 0x86, ...h2lit(":path", "/x"), 0xbe]);
  const res = h2frame(1, 4, 9, [0x8d, 0xbf]); // :status 404
  const data = h2frame(0, 1, 9, [1]);
  const out = run(m, [
    rec({ dir: "write", ts: 10, data: h2frame(8, 0, 0, [0, 0, 1, 0]) }), // too little to tell
    rec({ dir: "write", ts: 100, data: req }),
    rec({ dir: "read", ts: 350, data: new Uint8Array([...res, ...data]) }),
    // the server's socket, whose first capture is its answer to a request it read before
    rec({ sk: 2, dir: "write", ts: 50, data: h2frame(1, 5, 7, [0x88]) }, [80, 40000]),
    rec({ sk: 2, dir: "read", ts: 120, data: req }, [80, 40000]),
    rec({ sk: 2, dir: "write", ts: 300, data: res }, [80, 40000]),
  ]);
  deepEqual(out.map((c) => [c.protocol, c.inbound, c.status, c.durationNs, c.path]), [
    ["http", false, "4xx", 250, "/x"],
    ["http", true, "4xx", 180, "/x"],
  ]);
  equal(m.counters.http2MidStream, 2);
  equal(m.counters.hpackUnresolved, 4);
});

/** A MySQL packet: 3-byte length, sequence id, body. */
function myPacket(seq: number, body: number[]): Uint8Array {
  const n = body.length;
  return new Uint8Array([n & 255, (n >> 8) & 255, n >> 16, seq, ...body]);
}

Deno.test("L7Matcher joins a header read alone with a body cut at 1 KiB by both syscalls' sizes", () => {
  // a MariaDB server reads a packet's 4-byte header, then its 1,500-byte COM_QUERY body, of
  // which 1,024 bytes are captured: the joined capture is the whole packet's start
  const query = [0x03, ...enc.encode("SELECT '" + "x".repeat(1490) + "'")];
  const packet = myPacket(0, query);
  const m = new L7Matcher();
  const out = run(m, [
    rec({ dir: "read", ts: 10, data: packet.subarray(0, 4) }, [3306, 40000]),
    rec({ dir: "read", ts: 11, data: packet.subarray(4, 4 + 1024), size: query.length }, [
      3306,
      40000,
    ]),
    rec({ dir: "write", ts: 30, data: myPacket(1, [0x01]) }, [3306, 40000]),
  ]);
  deepEqual(out.map((c) => [c.protocol, c.inbound, c.status, c.durationNs]), [
    ["mysql", true, "ok", 20],
  ]);
  equal(m.counters.joined, 1);
});

Deno.test("L7Matcher takes a record alone when the short piece kept before it is not its start", () => {
  const m = new L7Matcher();
  const out = run(m, [
    // a server reads a stray short piece (no request waits), then a whole request
    rec({ dir: "read", ts: 1, data: "\r\n" }, [80, 40000]),
    rec({ dir: "read", ts: 5, data: "GET /x HTTP/1.1\r\nHost: h\r\n\r\n" }, [80, 40000]),
    rec({ dir: "write", ts: 9, data: "HTTP/1.1 200 OK\r\n\r\n" }, [80, 40000]),
    // the client side: a short stray answer piece kept while a request waits, then the answer
    rec({ sk: 2, dir: "write", ts: 20, data: "GET /y HTTP/1.1\r\n\r\n" }),
    rec({ sk: 2, dir: "read", ts: 22, data: "\r\n" }),
    rec({ sk: 2, dir: "read", ts: 26, data: "HTTP/1.1 500 Oops\r\n\r\n" }),
  ]);
  deepEqual(out.map((c) => [c.inbound, c.status, c.durationNs, c.path]), [
    [true, "2xx", 4, "/x"],
    [false, "5xx", 6, "/y"],
  ]);
  equal(m.counters.joined, 0, "nothing was joined");
});

/** A Postgres message: type, big-endian length, body. */
function pgMsg(type: string, body: number[] = []): number[] {
  const n = body.length + 4;
  return [type.charCodeAt(0), n >>> 24, (n >> 16) & 255, (n >> 8) & 255, n & 255, ...body];
}

Deno.test("L7Matcher: a Postgres Parse + Sync answered ParseComplete + ReadyForQuery does not take the next answer", () => {
  const z = [0];
  const parse = new Uint8Array([
    ...pgMsg("P", [...enc.encode("s1"), ...z, ...enc.encode("SELECT $1"), ...z, 0, 0]),
    ...pgMsg("S"),
  ]);
  const execute = new Uint8Array([
    ...pgMsg("B", [...z, ...enc.encode("s1"), ...z, 0, 0, 0, 0, 0, 0]),
    ...pgMsg("E", [...z, 0, 0, 0, 0]),
    ...pgMsg("S"),
  ]);
  const ready = pgMsg("Z", [0x49]);
  const ports: [number, number] = [40000, 5432];
  const m = new L7Matcher();
  const out = run(m, [
    rec({ dir: "write", ts: 0, data: parse }, ports),
    rec({ dir: "read", ts: 2, data: new Uint8Array([...pgMsg("1"), ...ready]) }, ports),
    rec({ dir: "write", ts: 10, data: execute }, ports),
    rec({
      dir: "read",
      ts: 13,
      data: new Uint8Array([
        ...pgMsg("2"),
        ...pgMsg("D", [0, 1, 0, 0, 0, 1, 0x32]),
        ...pgMsg("C", [...enc.encode("SELECT 1"), 0]),
        ...ready,
      ]),
    }, ports),
    rec(
      { dir: "write", ts: 20, data: new Uint8Array(pgMsg("Q", [...enc.encode("BAD"), 0])) },
      ports,
    ),
    rec({ dir: "read", ts: 24, data: new Uint8Array([...pgMsg("E", [0x53, 0]), ...ready]) }, ports),
  ]);
  // the prepare is answered and, as in the reference, not counted; the others pair with theirs
  deepEqual(out.map((c) => [c.status, c.durationNs]), [["ok", 3], ["failed", 4]]);
  equal(m.counters.answeredUncounted, 1);
  equal(m.counters.unmatchedResponses, 0);
});

Deno.test("L7Matcher keeps HTTP/2 state for maxHttp2 connections, forgetting the oldest", () => {
  const m = new L7Matcher({ maxHttp2: 2 });
  const preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
  // three HTTP/2 connections, and an HTTP/1 one between them that keeps its state
  run(m, [
    rec({ sk: 1, dir: "write", ts: 1, data: preface }),
    rec({ sk: 9, dir: "write", ts: 2, data: "GET / HTTP/1.1\r\nHost: h\r\n\r\n" }),
    rec({ sk: 2, dir: "write", ts: 3, data: preface }),
    rec({ sk: 3, dir: "write", ts: 4, data: preface }),
  ]);
  equal(m.counters.http2Evicted, 1);
  const sizes = m.stateSizes();
  equal(sizes.h2Connections, 2);
  equal(sizes.connections, 3, "sockets 2, 3 and 9");
  equal(sizes.pending, 1, "the HTTP/1 request still waits");
});
