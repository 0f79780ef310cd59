/**
 * Seeded fuzz of every L7 protocol parser: at least 100,000 inputs each, random bytes and
 * mutations (bit flips, telling bytes, inserts, deletions, cuts, repeats, splices) of valid
 * captures. Each parser must return a well-formed result (statuses from their label sets,
 * counts within the bytes given, addresses that parse as addresses), throw nothing but its
 * declared errors, and keep its state within its bounds. Stateful parsers (HTTP/2 connections,
 * HPACK decoders, prepared-statement maps) are fed long runs of inputs. Seeded, so a failure
 * names its seed and input and reproduces.
 */
import { equal, ok } from "node:assert/strict";
import { checkGlob } from "../../flag_syntax.ts";
import { fuzzInput as input, prng } from "../../_fuzz_testing.ts";
import {
  dnsQueryId,
  dnsResponseHeader,
  dnsStatusLabel,
  normalizeDomain,
  parseDnsResponse,
} from "./dns.ts";
import { detectRequest, responseStatus } from "./detect.ts";
import { HpackDecoder, HpackError } from "./hpack.ts";
import { http1ResponseStatus, isHttp1Request, parseHttp1RequestLine } from "./http1.ts";
import { Http2Connection, looksLikeHttp2, recognizeHttp2 } from "./http2.ts";
import {
  isMemcachedRequest,
  memcachedResponseStatus,
  summarizeMemcachedCommand,
} from "./memcached.ts";
import {
  mysqlHeaderOnly,
  mysqlRequestKind,
  mysqlRequestKindOfBody,
  mysqlResponse,
  MysqlStatements,
} from "./mysql.ts";
import { compileGlob, GlobSyntaxError, type PathGlob } from "./path_glob.ts";
import { postgresRequestKind, postgresResponseStatus, PostgresStatements } from "./postgres.ts";
import {
  countRedisCommands,
  countRedisReplies,
  isRedisRequest,
  redisResponseStatus,
  summarizeRedisCommand,
} from "./redis.ts";

const SEED = Number(Deno.env.get("FUZZ_SEED") ?? 0x17_0009);
const INPUTS = 100_000; // per target

const enc = new TextEncoder();
const b = (s: string) => [...enc.encode(s)];

const QUERY_STATUS = new Set(["ok", "failed", "unknown"]);

/**
 * Runs `check` on INPUTS inputs. `check` returns whether the parser took the input as what it
 * parses (a request, an answer, a decoded block, an exchange); both outcomes must be common, so
 * the mutations reach past the first checks.
 */
function run(
  name: string,
  samples: number[][],
  check: (buf: Uint8Array, rnd: () => number, i: number) => boolean,
): void {
  const rnd = prng(SEED ^ [...name].reduce((h, c) => (h * 31 + c.charCodeAt(0)) >>> 0, 7));
  let accepted = 0;
  for (let i = 0; i < INPUTS; i++) {
    const buf = input(samples, rnd);
    try {
      if (check(buf, rnd, i)) accepted++;
    } catch (err) {
      const hex = [...buf].map((x) => x.toString(16).padStart(2, "0")).join("");
      throw new Error(`${name}: seed ${SEED} input ${i} (${hex}) failed`, { cause: err });
    }
  }
  ok(accepted > INPUTS / 50, `${name}: only ${accepted} inputs accepted`);
  ok(INPUTS - accepted > INPUTS / 50, `${name}: only ${INPUTS - accepted} inputs refused`);
}

// ---- HTTP/1 and globs -----------------------------------------------------------------------

Deno.test("fuzz: HTTP/1 detection, request lines and status lines", () => {
  const samples = [
    b("GET /api/v1/users?id=1 HTTP/1.1\r\nHost: a\r\n\r\n"),
    b("POST /upload HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc"),
    b("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"),
    b("HTTP/1.0 404 Not Found\r\n\r\n"),
    b("DELETE /x HTTP/1.1\r\n\r\n"),
  ];
  const methods = new Set([
    "GET",
    "HEAD",
    "POST",
    "PUT",
    "PATCH",
    "DELETE",
    "CONNECT",
    "OPTIONS",
    "TRACE",
  ]);
  run("http1", samples, (buf) => {
    const req = isHttp1Request(buf);
    if (req) ok(buf.length >= 15);
    const status = http1ResponseStatus(buf);
    ok(status === -1 || (status >= 0 && status <= 999));
    const line = parseHttp1RequestLine(buf);
    if (line !== null) {
      ok(methods.has(line.method));
      ok(!line.path.includes(" "));
    }
    return req || status >= 0;
  });
});

Deno.test("fuzz: path globs compile exactly when the flag check accepts them, and match without throwing", () => {
  const rnd = prng(SEED);
  const alphabet = "ab/*?[]{},!-\\.z\u00e9^$()|+";
  for (let i = 0; i < INPUTS; i++) {
    let p = "";
    for (let n = Math.floor(rnd() * 10); n > 0; n--) {
      p += alphabet[Math.floor(rnd() * alphabet.length)];
    }
    let compiled: PathGlob | null = null;
    try {
      compiled = compileGlob(p);
    } catch (err) {
      ok(err instanceof GlobSyntaxError, `pattern ${JSON.stringify(p)}: ${err}`);
    }
    equal(compiled !== null, checkGlob(p) === undefined, `pattern ${JSON.stringify(p)}`);
    compiled?.test("/ab/z.\u00e9]");
  }
});

// ---- DNS -------------------------------------------------------------------------------------

function dnsName(n: string): number[] {
  const out: number[] = [];
  for (const l of n.split(".")) out.push(l.length, ...b(l));
  return [...out, 0];
}
function rr(type: number, rdata: number[]): number[] {
  return [0xc0, 12, 0, type, 0, 1, 0, 0, 0, 60, 0, rdata.length, ...rdata];
}

Deno.test("fuzz: DNS queries and responses, UDP and TCP", () => {
  const q = [
    0x12,
    0x34,
    0x01,
    0x00,
    0,
    1,
    0,
    0,
    0,
    0,
    0,
    0,
    ...dnsName("www.example.com"),
    0,
    1,
    0,
    1,
  ];
  const r = [
    0x12,
    0x34,
    0x81,
    0x80,
    0,
    1,
    0,
    3,
    0,
    0,
    0,
    0,
    ...dnsName("www.example.com"),
    0,
    28,
    0,
    1,
    ...rr(5, [3, ...b("abc"), 0xc0, 16]),
    ...rr(1, [1, 2, 3, 4]),
    ...rr(28, [0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]),
  ];
  const nx = [
    0,
    7,
    0x81,
    0x83,
    0,
    1,
    0,
    0,
    0,
    0,
    0,
    0,
    ...dnsName("4.3.2.1.in-addr.arpa"),
    0,
    12,
    0,
    1,
  ];
  const samples = [q, r, nx, [0, r.length, ...r], [0, q.length, ...q]];
  run("dns", samples, (buf, rnd) => {
    const transport = rnd() < 0.5 ? "udp" : "tcp";
    const id = dnsQueryId(buf, transport);
    ok(id >= -1 && id <= 0xffff);
    const h = dnsResponseHeader(buf, transport);
    if (h !== null) ok(h.rcode >= 0 && h.rcode <= 15);
    const m = parseDnsResponse(buf, transport);
    if (m === null) return false;
    ok(m.name.length <= 255 * 3, "a name longer than 255 octets");
    for (const ip of m.ips) {
      if (ip.includes(":")) equal(new URL(`http://[${ip}]/`).hostname, `[${ip}]`, ip);
      else ok(/^\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(ip), ip);
    }
    ok(typeof dnsStatusLabel(m.rcode) === "string");
    ok(normalizeDomain(m.name, m.requestType).length <= m.name.length + 20);
    return true;
  });
});

// ---- Postgres, MySQL ---------------------------------------------------------------------------

function pg(type: string, ...parts: number[][]): number[] {
  const body = parts.flat();
  const len = body.length + 4;
  return [type.charCodeAt(0), len >>> 24, (len >> 16) & 255, (len >> 8) & 255, len & 255, ...body];
}

Deno.test("fuzz: Postgres requests, answers and prepared statements", () => {
  const z = [0];
  const samples = [
    pg("Q", b("SELECT 1"), z),
    [
      ...pg("P", b("s1"), z, b("SELECT $1"), z, [0, 0]),
      ...pg("B", z, b("s1"), z, [0, 0, 0, 0, 0, 0]),
      ...pg("E", z, [0, 0, 0, 0]),
      ...pg("S"),
    ],
    [...pg("C", b("Ss1"), z), ...pg("S")],
    [
      ...pg("1"),
      ...pg("2"),
      ...pg("T", [0, 0]),
      ...pg("D", [0, 0]),
      ...pg("C", b("SELECT 1"), z),
      ...pg("Z", b("I")),
    ],
    [...pg("E", b("SERROR"), z, z), ...pg("Z", b("I"))],
  ];
  const statements = new PostgresStatements(16);
  run("postgres", samples, (buf, rnd) => {
    const total = buf.length + (rnd() < 0.3 ? Math.floor(rnd() * 3000) : 0);
    const kind = postgresRequestKind(buf, total);
    ok(kind === null || ["query", "prepare", "execute", "close"].includes(kind));
    const status = postgresResponseStatus(buf, total);
    ok(status === null || QUERY_STATUS.has(status));
    ok(typeof statements.summarize(buf) === "string");
    ok(statements.size <= 16);
    return kind !== null || status !== null;
  });
});

function my(seq: number, ...body: number[][]): number[] {
  const bb = body.flat();
  return [bb.length & 255, (bb.length >> 8) & 255, bb.length >> 16, seq, ...bb];
}

Deno.test("fuzz: MySQL requests, answers and prepared statements", () => {
  const samples = [
    my(0, [3], b("SELECT 1")),
    my(0, [0x16], b("SELECT ?")),
    my(0, [0x17, 1, 0, 0, 0, 0, 1, 0, 0, 0]),
    my(0, [0x19, 1, 0, 0, 0]),
    my(1, [0, 1, 0, 0, 0, 1, 0, 1, 0, 0, 0]),
    my(1, [0xff, 0x28, 0x04], b("#42000bad")),
    my(1, [2]),
    my(1, [1, 1]),
    my(1, [0xfc, 0x2c, 0x01, 1]),
    [...my(0, [0x19, 2, 0, 0, 0]), ...my(0, [0x16], b("SELECT ?"))],
  ];
  const statements = new MysqlStatements(16);
  run("mysql", samples, (buf, rnd) => {
    const total = buf.length + (rnd() < 0.3 ? Math.floor(rnd() * 3000) : 0);
    const kind = mysqlRequestKind(buf, total);
    ok(kind === null || ["query", "prepare", "execute", "close"].includes(kind));
    const h = mysqlHeaderOnly(buf, total);
    ok(h === -1 || (h >= 1 && h <= 0xffffff));
    mysqlRequestKindOfBody(buf, total, Math.floor(rnd() * 64));
    const r = mysqlResponse(buf, kind ?? "prepare");
    if (r !== null) {
      ok(QUERY_STATUS.has(r.status));
      ok(r.statementId >= 0 && r.statementId <= 0xffffffff);
    }
    ok(typeof statements.summarize(buf, Math.floor(rnd() * 40)) === "string");
    ok(statements.size <= 16);
    return kind !== null || r !== null;
  });
});

// ---- Redis, memcached --------------------------------------------------------------------------

function cmd(...args: string[]): string {
  return `*${args.length}\r\n` + args.map((a) => `$${a.length}\r\n${a}\r\n`).join("");
}

Deno.test("fuzz: Redis commands, replies and pipelined counts", () => {
  const samples = [
    b(cmd("SET", "key", "value") + cmd("GET", "key")),
    b(cmd("LLEN", "mylist", "x")),
    b("+OK\r\n$5\r\nhello\r\n:42\r\n-ERR wrong\r\n$-1\r\n"),
    b("*2\r\n$1\r\na\r\n*1\r\n:1\r\n%1\r\n+k\r\n~1\r\n#t\r\n"),
    b("|1\r\n+a\r\n+b\r\n>2\r\n+x\r\n+y\r\n!3\r\nERR\r\n=7\r\ntxt:abc\r\n,1.5\r\n(123\r\n_\r\n"),
  ];
  run("redis", samples, (buf) => {
    const isRequest = isRedisRequest(buf);
    const s = redisResponseStatus(buf);
    ok(s === null || QUERY_STATUS.has(s));
    const c = countRedisCommands(buf);
    ok(c.count >= 0 && c.count * 4 <= buf.length && c.errors === 0);
    const r = countRedisReplies(buf);
    ok(r.count >= 0 && r.count * 3 <= buf.length && r.errors <= r.count);
    const sum = summarizeRedisCommand(buf);
    if (sum !== null) ok(sum.command.length > 0);
    return isRequest || (r.complete && r.count > 0);
  });
});

Deno.test("fuzz: memcached commands, answers and summaries", () => {
  const samples = [
    b("set key 0 0 5\r\nhello\r\n"),
    b("get a b c\r\n"),
    b("gat 100 a b\r\n"),
    b("VALUE a 0 1\r\nx\r\nEND\r\n"),
    b("CLIENT_ERROR bad data chunk\r\n"),
    b("incr n 1\r\n"),
  ];
  run("memcached", samples, (buf, rnd) => {
    const total = buf.length + (rnd() < 0.3 ? Math.floor(rnd() * 3000) : 0);
    const isRequest = isMemcachedRequest(buf, total);
    const s = memcachedResponseStatus(buf, total);
    ok(s === null || QUERY_STATUS.has(s));
    const sum = summarizeMemcachedCommand(buf);
    if (sum !== null) ok(sum.keys.length >= 1 && sum.keys.length <= 64);
    return isRequest || s !== null;
  });
});

// ---- HPACK, HTTP/2 ---------------------------------------------------------------------------

const HPACK_SAMPLES = [
  "8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d",
  "8286 84be 5808 6e6f 2d63 6163 6865",
  "8287 85bf 4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf",
  "4882 6402 5885 aec3 771a 4b61 96d0 7abe 9410 54d4 44a8 2005 9504 0b81 66e0 82a6 2d1b ff6e 919d 29ad 1718 63c7 8f0b 97c8 e9ae 82ae 43d3",
  "3fe11f 1008 7061 7373 776f 7264 0673 6563 7265 74",
].map((h) => h.replace(/\s+/g, "").match(/../g)!.map((x) => parseInt(x, 16)));

Deno.test("fuzz: HPACK blocks decode or throw HpackError, the table stays within its limit", () => {
  let d = new HpackDecoder(8192);
  run("hpack", HPACK_SAMPLES, (buf, _rnd, i) => {
    if (i % 500 === 0) d = new HpackDecoder(8192);
    let decoded = true;
    try {
      d.decode(buf, (name, value) => {
        ok(typeof name === "string" && typeof value === "string");
      });
    } catch (err) {
      if (!(err instanceof HpackError)) throw err;
      decoded = false;
    }
    ok(d.tableSize <= 8192 && d.tableLength <= 8192 / 32);
    return decoded;
  });
});

function frame(type: number, flags: number, stream: number, payload: number[]): number[] {
  const l = payload.length;
  return [
    l >> 16,
    (l >> 8) & 255,
    l & 255,
    type,
    flags,
    stream >>> 24,
    (stream >> 16) & 255,
    (stream >> 8) & 255,
    stream & 255,
    ...payload,
  ];
}

Deno.test("fuzz: HTTP/2 connections fed mutated captures from both sides stay within bounds", () => {
  const lit = (n: string, v: string) => [0x40, n.length, ...b(n), v.length, ...b(v)];
  const samples = [
    [
      ...b("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"),
      ...frame(4, 0, 0, [0, 3, 0, 0, 0, 100]),
      ...frame(1, 5, 1, [0x82, 0x86, ...lit(":path", "/a")]),
    ],
    frame(1, 4, 3, [0x83, 0x86, 0xbe, ...lit("content-type", "application/grpc")]),
    [
      ...frame(1, 4, 1, [0x88, ...lit("content-type", "application/grpc")]),
      ...frame(0, 0, 1, [0, 0, 0, 0, 1, 7]),
      ...frame(1, 5, 1, lit("grpc-status", "2")),
    ],
    [...frame(1, 0x28, 5, [2, 0, 0, 0, 3, 9, 0x82, 0x86, 0, 0]), ...frame(9, 4, 5, [0x84])],
    [
      ...frame(3, 0, 3, [0, 0, 0, 8]),
      ...frame(8, 0, 0, [0, 0, 1, 0]),
      ...frame(7, 0, 0, [0, 0, 0, 1, 0, 0, 0, 0]),
    ],
    ...HPACK_SAMPLES.map((h) => frame(1, 4, 7, h)),
  ];
  const statuses = /^(1xx|2xx|3xx|4xx|5xx|unknown|grpc:[A-Z_]+|)$/;
  let c = new Http2Connection({ maxStreams: 64, maxHeaderBlock: 4096 });
  let t = 0;
  run("http2", samples, (buf, rnd, i) => {
    if (i % 2000 === 0) c = new Http2Connection({ maxStreams: 64, maxHeaderBlock: 4096 });
    const side = rnd() < 0.5 ? "client" : "server";
    looksLikeHttp2(buf, side);
    const total = buf.length + (rnd() < 0.2 ? Math.floor(rnd() * 20000) : 0);
    t += Math.floor(rnd() * 1000);
    const exchanges = c.feed(side, buf, total, t);
    for (const x of exchanges) {
      ok(statuses.test(x.status), x.status);
      ok(x.durationNs >= 0);
    }
    ok(c.openStreams <= 64);
    if (i % 1000 === 999) c.expire(t, 100_000);
    return exchanges.length > 0 || c.openStreams > 0;
  });
});

Deno.test("fuzz: detectRequest() and responseStatus() over every protocol's samples", () => {
  const samples = [
    b("GET / HTTP/1.1\r\nHost: a\r\n\r\n"),
    b("HTTP/1.1 500 Internal Server Error\r\n\r\n"),
    pg("Q", b("SELECT 1"), [0]),
    [...pg("E", b("SERROR"), [0], [0]), ...pg("Z", b("I"))],
    my(0, [3], b("SELECT 1")),
    my(1, [0xff, 0x28, 0x04], b("#42000bad")),
    b(cmd("GET", "k")),
    b("-ERR x\r\n"),
    b("get a b\r\n"),
    b("END\r\n"),
    [0, 12, 0xab, 0xcd, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0],
    [0, 12, 0xab, 0xcd, 0x81, 0x83, 0, 1, 0, 0, 0, 0, 0, 0],
    [...b("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"), ...frame(4, 0, 0, [])],
  ];
  const labels =
    /^(1xx|2xx|3xx|4xx|5xx|unknown|ok|failed|format_error|servfail|nxdomain|not_implemented|refused|)$/;
  let last = detectRequest(new Uint8Array(samples[0]));
  run("detect", samples, (buf, rnd) => {
    const total = buf.length + (rnd() < 0.2 ? Math.floor(rnd() * 3000) : 0);
    const transport = rnd() < 0.5 ? "udp" : "tcp";
    const req = detectRequest(buf, total, transport);
    if (last !== null) {
      const s = responseStatus(last, buf, total, transport);
      if (s !== null) ok(labels.test(s), s);
    }
    if (req !== null) last = req;
    return req !== null;
  });
});

Deno.test("fuzz: recognizeHttp2() on mutated frames; a connection joined there stays within bounds", () => {
  const lit = (n: string, v: string) => [0x40, n.length, ...b(n), v.length, ...b(v)];
  const samples = [
    frame(1, 5, 7, [0x82, 0x86, 0x04, 3, ...b("/ok"), 0xbe]),
    [...frame(8, 0, 0, [0, 0, 1, 0]), ...frame(1, 4, 9, [0x83, 0x86, 0xbf, ...lit("te", "x")])],
    [...frame(1, 4, 9, [0x88, 0xc0]), ...frame(0, 0, 9, [0, 0, 0, 0, 0])],
    [...frame(0, 1, 3, [1]), ...frame(1, 5, 5, [0x8d, ...lit("grpc-status", "5")])],
    [...frame(1, 0x2d, 11, [1, 0, 0, 0, 1, 9, 0x82, 0x84, 0]), ...frame(4, 1, 0, [])],
    [...frame(1, 0, 13, [0x82]), ...frame(9, 4, 13, [0x86, 0x84])],
    frame(5, 4, 3, [0, 0, 0, 4, 0x82, 0x84]),
  ];
  const statuses = /^(1xx|2xx|3xx|4xx|5xx|unknown|grpc:[A-Z_]+|)$/;
  let t = 0;
  run("http2 recognised", samples, (buf, rnd) => {
    const total = buf.length + (rnd() < 0.2 ? Math.floor(rnd() * 20000) : 0);
    const who = recognizeHttp2(buf, total);
    if (who === null) return false;
    const c = new Http2Connection({ preface: false, maxStreams: 64, maxHeaderBlock: 4096 });
    for (let k = 0; k < 4; k++) {
      const next = k === 0 ? buf : input(samples, rnd);
      const side = k === 0 ? who : rnd() < 0.5 ? "client" : "server";
      for (const x of c.feed(side, next, k === 0 ? total : next.length, t += 10)) {
        ok(statuses.test(x.status), x.status);
        ok(x.durationNs >= 0);
      }
      ok(c.openStreams <= 64);
    }
    return true;
  });
});

Deno.test("fuzz: random bytes, TLS, Postgres, MySQL and the other protocols are never taken for HTTP/2", () => {
  const tls = (
    type: number,
    body: number[],
  ) => [type, 3, 3, body.length >> 8, body.length & 255, ...body];
  const notH2 = [
    tls(0x16, [1, 0, 0, 0x2b, 3, 3, ...Array(32).fill(0x5a), 0, 0, 2, 0x13, 1, 1, 0]),
    tls(0x17, Array(64).fill(0x33)),
    tls(0x15, [2, 40]),
    [0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f], // Postgres SSLRequest
    [
      0,
      0,
      0,
      0x29,
      0,
      3,
      0,
      0,
      ...b("user"),
      0,
      ...b("postgres"),
      0,
      ...b("database"),
      0,
      ...b("x"),
      0,
      0,
    ],
    pg("Q", b("SELECT 1"), [0]),
    [
      ...pg("P", [0], b("SELECT $1"), [0], [0, 0]),
      ...pg("B", [0, 0], [0, 0, 0, 0, 0, 0]),
      ...pg("S"),
    ],
    [...pg("T", [0, 1], b("a"), [0], Array(18).fill(0)), ...pg("D", [0, 1, 0, 0, 0, 1], b("1"))],
    [...pg("C", b("SELECT 1"), [0]), ...pg("Z", b("I"))],
    my(0, [3], b("SELECT 1")),
    my(0, [0x16], b("SELECT ?")),
    my(0, [0x17, 1, 0, 0, 0, 0, 1, 0, 0, 0]),
    my(1, [0xff, 0x28, 0x04], b("#42000bad")),
    my(1, [1]),
    my(0, [0x0a], b("10.11.6-MariaDB"), [0], Array(40).fill(0x41)),
    b("GET / HTTP/1.1\r\nHost: a\r\n\r\n"),
    b("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"),
    b(cmd("SET", "k", "v")),
    b("+OK\r\n"),
    b("get a\r\n"),
    [0, 12, 0xab, 0xcd, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0],
  ];
  const rnd = prng(SEED ^ 0x4832);
  for (let i = 0; i < INPUTS; i++) {
    const buf = input(notH2, rnd);
    const total = buf.length + (rnd() < 0.2 ? Math.floor(rnd() * 3000) : 0);
    if (recognizeHttp2(buf, total) !== null) {
      const hex = [...buf].map((x) => x.toString(16).padStart(2, "0")).join("");
      throw new Error(`seed ${SEED} input ${i} (${hex}, ${total} bytes) taken for HTTP/2`);
    }
  }
  for (const s of notH2) equal(recognizeHttp2(new Uint8Array(s)), null);
});
