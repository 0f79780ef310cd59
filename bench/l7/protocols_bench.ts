/**
 * Cost per call of the pure L7 protocol code (agent/l7/protocols/) on typical captures: what the
 * agent pays per request for detection, status, summaries, HPACK and HTTP/2 matching. Each case
 * runs for at least 0.5 s after a warm-up; the figure is wall time per operation on one core
 * (these are synchronous, allocation-light functions, so wall ≈ CPU).
 *
 * Usage: deno run -A bench/l7/protocols_bench.ts
 *
 * @module
 */
import {
  countRedisReplies,
  HpackDecoder,
  http1ResponseStatus,
  Http2Connection,
  isHttp1Request,
  isMemcachedRequest,
  isRedisRequest,
  memcachedResponseStatus,
  mysqlRequestKind,
  mysqlResponse,
  parseDnsResponse,
  parseHttp1RequestLine,
  PathFilter,
  postgresRequestKind,
  postgresResponseStatus,
  redisResponseStatus,
} from "../../agent/l7/protocols/mod.ts";
import { L7Matcher } from "../../agent/l7/matcher.ts";
import { emptyL7Event, type L7Event } from "../../ffi/mod.ts";

const enc = new TextEncoder();
const hex = (s: string) =>
  new Uint8Array(s.replace(/\s+/g, "").match(/../g)!.map((x) => parseInt(x, 16)));

/** Runs `fn` for at least 0.5 s and returns nanoseconds per call. */
function measure(fn: () => unknown): number {
  for (let i = 0; i < 20_000; i++) fn();
  let n = 0;
  const start = performance.now();
  let now = start;
  while (now - start < 500) {
    for (let i = 0; i < 10_000; i++) fn();
    n += 10_000;
    now = performance.now();
  }
  return ((now - start) * 1e6) / n;
}

const results: [string, number][] = [];
function bench(name: string, fn: () => unknown): void {
  results.push([name, measure(fn)]);
}

// HTTP/1
const req = enc.encode(
  "GET /api/v1/users/42?expand=orders HTTP/1.1\r\nHost: api.internal\r\nUser-Agent: curl/8\r\n\r\n",
);
const resp = enc.encode("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n{}");
const filter = new PathFilter(["/healthz", "/static/**", "/{metrics,ready}"]);
bench(
  "http1: isHttp1Request + http1ResponseStatus",
  () => isHttp1Request(req) && http1ResponseStatus(resp),
);
bench("http1: parseHttp1RequestLine", () => parseHttp1RequestLine(req));
bench("http1: PathFilter.excludes (3 globs, no match)", () => filter.excludes("/api/v1/users/42"));

// HPACK: RFC 7541 C.4.3 (Huffman, dynamic references) on a warmed table
const c41 = hex("8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff");
const c43 = hex("8287 85bf 4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf");
const dec = new HpackDecoder();
dec.decode(c41, () => {});
let fields = 0;
const sink = () => void fields++;
bench("hpack: decode a 5-field request block (Huffman, indexed + literal)", () => {
  dec.setMaxTableSize(4096);
  dec.decode(c43, sink);
});

// HTTP/2: one exchange on a long-lived connection (client HEADERS, server HEADERS + DATA)
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
const pathLit = [0x44, 0x0c, ...enc.encode("/api/v1/item")];
const h2 = new Http2Connection();
let stream = 1;
const clientFrames: Uint8Array[] = [];
const serverFrames: Uint8Array[] = [];
for (let i = 0; i < 1024; i++) {
  const id = 1 + 2 * i;
  clientFrames.push(new Uint8Array(frame(1, 5, id, [0x82, 0x86, ...pathLit])));
  serverFrames.push(new Uint8Array([...frame(1, 4, id, [0x88]), ...frame(0, 1, id, [1, 2, 3, 4])]));
}
let t = 0;
bench("http2: one request/response exchange (two captures)", () => {
  const i = stream++ & 1023; // ids repeat after 1024 exchanges; each stream is done by then
  h2.feed("client", clientFrames[i], clientFrames[i].length, t++);
  return h2.feed("server", serverFrames[i], serverFrames[i].length, t++);
});

// DNS: an A answer with a CNAME
const dns = hex(
  "1234 8180 0001 0002 0000 0000 0377 7777 0765 7861 6d70 6c65 0363 6f6d 0000 0100 01" +
    "c00c 0005 0001 0000 003c 0006 0377 6562 c010" +
    "c02d 0001 0001 0000 003c 0004 5db8 d822",
);
bench("dns: parseDnsResponse (CNAME + A)", () => parseDnsResponse(dns));

// Databases
const pgQ = new Uint8Array([0x51, 0, 0, 0, 13, ...enc.encode("SELECT 1"), 0]);
const pgR = new Uint8Array([
  0x54,
  0,
  0,
  0,
  6,
  0,
  0,
  0x43,
  0,
  0,
  0,
  13,
  ...enc.encode("SELECT 1"),
  0,
]);
bench(
  "postgres: request kind + answer status",
  () => postgresRequestKind(pgQ) && postgresResponseStatus(pgR),
);
const myQ = new Uint8Array([9, 0, 0, 0, 3, ...enc.encode("SELECT 1")]);
const myR = new Uint8Array([7, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0]);
bench("mysql: request kind + answer", () => mysqlRequestKind(myQ) && mysqlResponse(myR, "query"));
const rq = enc.encode("*2\r\n$3\r\nGET\r\n$3\r\nkey\r\n");
const rr = enc.encode("$5\r\nhello\r\n");
bench(
  "redis: isRedisRequest + redisResponseStatus",
  () => isRedisRequest(rq) && redisResponseStatus(rr),
);
const pipelined = enc.encode("+OK\r\n$5\r\nhello\r\n:1\r\n".repeat(10));
bench("redis: countRedisReplies (30 replies)", () => countRedisReplies(pipelined));
const mq = enc.encode("get key1 key2\r\n");
const mr = enc.encode("VALUE key1 0 5\r\nhello\r\nEND\r\n");
bench(
  "memcached: isMemcachedRequest + memcachedResponseStatus",
  () => isMemcachedRequest(mq) && memcachedResponseStatus(mr),
);

// The matcher on the records of keep-alive HTTP/1 requests, as the ring delivers them: each
// request is four records (client write and read on one socket, server read and write on the
// other); the figure is per record (README "L7 metrics": decode excluded, matching included).
const matcher = new L7Matcher();
const httpReq = enc.encode("GET /api/items?id=7 HTTP/1.1\r\nHost: shop\r\n\r\n");
const httpResp = enc.encode("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
let ts = 0;
const record = (sk: number, dir: "read" | "write", data: Uint8Array, ports: [number, number]) => {
  const e: L7Event = emptyL7Event();
  Object.assign(e, {
    sk,
    dir,
    payload: data,
    size: data.length,
    l4: 6,
    sport: ports[0],
    dport: ports[1],
  });
  return e;
};
const four = [
  record(1, "write", httpReq, [40000, 80]),
  record(2, "read", httpReq, [80, 40000]),
  record(2, "write", httpResp, [80, 40000]),
  record(1, "read", httpResp, [40000, 80]),
];
let completed = 0;
const countDone = () => completed++;
results.push([
  "matcher: one HTTP/1 record (4 per request, both sides)",
  measure(() => {
    for (const e of four) {
      e.tsNs = ts += 1000;
      matcher.handle(e, countDone);
    }
  }) / 4,
]);

const width = Math.max(...results.map(([n]) => n.length));
for (const [name, ns] of results) {
  console.log(`${name.padEnd(width)}  ${ns.toFixed(0).padStart(6)} ns/op`);
}
console.log(`(${fields} HPACK fields decoded; ${h2.openStreams} HTTP/2 streams left open)`);
console.log(`(${completed} HTTP/1 requests matched by the matcher case)`);
