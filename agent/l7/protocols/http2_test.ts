import { deepEqual, equal, ok, throws } from "node:assert/strict";
import { HTTP2_CLIENT_PREFACE, Http2Connection, looksLikeHttp2, recognizeHttp2 } from "./http2.ts";

const enc = new TextEncoder();

/** A header field as a literal without indexing (new name), or a static index. */
function lit(name: string, value: string): number[] {
  const n = enc.encode(name), v = enc.encode(value);
  return [0x00, n.length, ...n, v.length, ...v];
}
/** A literal with incremental indexing (new name): it enters the dynamic table. */
function litIdx(name: string, value: string): number[] {
  const n = enc.encode(name), v = enc.encode(value);
  return [0x40, n.length, ...n, v.length, ...v];
}
const GET = [0x82], POST = [0x83], PATH_ROOT = [0x84], HTTP = [0x86], STATUS_200 = [0x88];
const STATUS_404 = [0x8d], STATUS_500 = [0x8e];

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
const HEADERS = 1, DATA = 0, RST = 3, SETTINGS = 4, CONT = 9;
const END_STREAM = 1, END_HEADERS = 4, PADDED_FLAG = 8;
const bytes = (...fs: number[][]) => new Uint8Array(fs.flat());

function feed(
  c: Http2Connection,
  side: "client" | "server",
  b: Uint8Array,
  t: number,
  total = b.length,
) {
  return c.feed(side, b, total, t);
}

Deno.test("Http2Connection matches requests to responses by stream id, across captures", () => {
  const c = new Http2Connection();
  const preface = [...enc.encode(HTTP2_CLIENT_PREFACE)];
  equal(
    feed(
      c,
      "client",
      bytes(
        preface,
        frame(SETTINGS, 0, 0, []),
        frame(HEADERS, END_HEADERS | END_STREAM, 1, [
          ...GET,
          ...HTTP,
          ...lit(":path", "/a"),
          ...lit(":authority", "x"),
        ]),
      ),
      1000,
    ).length,
    0,
  );
  feed(
    c,
    "client",
    bytes(frame(HEADERS, END_HEADERS | END_STREAM, 3, [...POST, ...HTTP, ...lit(":path", "/b")])),
    1500,
  );
  equal(c.openStreams, 2);
  const r = feed(
    c,
    "server",
    bytes(
      frame(SETTINGS, 0, 0, []),
      frame(HEADERS, END_HEADERS, 3, STATUS_404),
      frame(DATA, END_STREAM, 3, [1, 2, 3]),
      frame(HEADERS, END_HEADERS, 1, STATUS_200),
    ),
    5000,
  );
  deepEqual(r.map((x) => [x.streamId, x.method, x.path, x.scheme, x.status, x.durationNs]), [
    [3, "POST", "/b", "http", "4xx", 3500],
    [1, "GET", "/a", "http", "2xx", 4000],
  ]);
  equal(c.openStreams, 0);
});

Deno.test("Http2Connection keeps each direction's HPACK table across requests", () => {
  const c = new Http2Connection();
  feed(
    c,
    "client",
    bytes(
      frame(HEADERS, END_HEADERS | END_STREAM, 1, [...GET, ...HTTP, ...litIdx(":path", "/cached")]),
    ),
    0,
  );
  feed(
    c,
    "client",
    bytes(frame(HEADERS, END_HEADERS | END_STREAM, 3, [...GET, ...HTTP, 0xbe])),
    10,
  ); // index 62
  feed(
    c,
    "server",
    bytes(frame(HEADERS, END_HEADERS, 1, [...litIdx("server", "t"), ...STATUS_500])),
    20,
  );
  const r = feed(c, "server", bytes(frame(HEADERS, END_HEADERS, 3, [0xbe, ...STATUS_200])), 30);
  deepEqual(r.map((x) => [x.path, x.status]), [["/cached", "2xx"]]);
});

Deno.test("gRPC: the status comes from grpc-status in the trailers, or a trailers-only answer", () => {
  const c = new Http2Connection();
  const grpcReq = (id: number) =>
    bytes(
      frame(HEADERS, END_HEADERS, id, [
        ...POST,
        ...HTTP,
        ...lit(":path", "/pkg.Svc/Call"),
        ...lit("content-type", "application/grpc"),
      ]),
      frame(DATA, END_STREAM, id, [0, 0, 0, 0, 0]),
    );
  feed(c, "client", grpcReq(1), 100);
  feed(c, "client", grpcReq(3), 100);
  equal(
    feed(
      c,
      "server",
      bytes(
        frame(HEADERS, END_HEADERS, 1, [...STATUS_200, ...lit("content-type", "application/grpc")]),
        frame(DATA, 0, 1, [0, 0, 0, 0, 0]),
      ),
      300,
    ).length,
    0,
    "waits for the trailers",
  );
  const r1 = feed(
    c,
    "server",
    bytes(frame(HEADERS, END_HEADERS | END_STREAM, 1, lit("grpc-status", "0"))),
    900,
  );
  deepEqual(r1.map((x) => [x.status, x.grpcStatus, x.httpStatus, x.durationNs]), [[
    "grpc:OK",
    0,
    200,
    200,
  ]]);
  const r3 = feed(
    c,
    "server",
    bytes(
      frame(HEADERS, END_HEADERS | END_STREAM, 3, [
        ...STATUS_200,
        ...lit("content-type", "application/grpc"),
        ...lit("grpc-status", "14"),
      ]),
    ),
    400,
  );
  deepEqual(r3.map((x) => x.status), ["grpc:UNAVAILABLE"]);
});

Deno.test("HEADERS + CONTINUATION, padding and priority; 1xx is interim", () => {
  const c = new Http2Connection();
  const block = [...GET, ...HTTP, ...lit(":path", "/long/path"), ...lit("x-a", "1")];
  const padded = [3, 0, 0, 0, 0, 16, ...block.slice(0, 5), 9, 9, 9]; // pad 3, priority 5 bytes
  feed(
    c,
    "client",
    bytes(frame(HEADERS, 0x8 | 0x20, 1, padded), frame(CONT, END_HEADERS, 1, block.slice(5))),
    0,
  );
  equal(
    feed(c, "server", bytes(frame(HEADERS, END_HEADERS, 1, lit(":status", "100"))), 5).length,
    0,
  );
  const r = feed(c, "server", bytes(frame(HEADERS, END_HEADERS, 1, STATUS_200)), 7);
  deepEqual(r.map((x) => [x.path, x.status, x.durationNs]), [["/long/path", "2xx", 7]]);
});

Deno.test("frames split over captures at any byte are reassembled", () => {
  const client = bytes(
    frame(HEADERS, END_HEADERS | END_STREAM, 1, [...GET, ...HTTP, ...lit(":path", "/split")]),
  );
  const server = bytes(frame(DATA, 0, 1, [1, 2, 3, 4]), frame(HEADERS, END_HEADERS, 1, STATUS_404));
  for (let cut = 1; cut < client.length; cut++) {
    const c = new Http2Connection();
    feed(c, "client", client.subarray(0, cut), 0);
    feed(c, "client", client.subarray(cut), 1);
    for (let s = 1; s < server.length; s++) {
      const c2 = new Http2Connection();
      feed(c2, "client", client, 0);
      const a = feed(c2, "server", server.subarray(0, s), 5);
      const b = feed(c2, "server", server.subarray(s), 6);
      deepEqual(
        [...a, ...b].map((x) => [x.path, x.status]),
        [["/split", "4xx"]],
        `server cut ${s}`,
      );
    }
    const r = feed(c, "server", server, 9);
    deepEqual(
      r.map((x) => [x.path, x.status, x.durationNs]),
      [["/split", "4xx", 9]],
      `client cut ${cut}`,
    );
  }
});

Deno.test("bytes not captured are skipped by frame length; a lost header block is counted", () => {
  const c = new Http2Connection();
  feed(
    c,
    "client",
    bytes(frame(HEADERS, END_HEADERS | END_STREAM, 1, [...GET, ...HTTP, ...lit(":path", "/big")])),
    0,
  );
  // HEADERS, a 3000-byte DATA frame and a last DATA frame with END_STREAM in one write, of which
  // 1024 bytes are captured: the last frame's header is among the bytes not captured.
  const big = bytes(
    frame(HEADERS, END_HEADERS, 1, STATUS_200),
    frame(DATA, 0, 1, new Array(3000).fill(7)),
    frame(DATA, END_STREAM, 1, [1]),
  );
  const r = feed(c, "server", big.subarray(0, 1024), 10, big.length);
  deepEqual(r.map((x) => x.status), ["2xx"]);
  equal(c.counters.framingLost, 1);
  // The next write starts at a frame boundary, where framing is regained.
  feed(
    c,
    "client",
    bytes(frame(HEADERS, END_HEADERS | END_STREAM, 3, [...GET, ...HTTP, ...lit(":path", "/n")])),
    20,
  );
  const r2 = feed(c, "server", bytes(frame(HEADERS, END_HEADERS, 3, STATUS_200)), 30);
  deepEqual(r2.map((x) => x.path), ["/n"]);
  equal(c.counters.framingLost, 1);
  // A capture cut inside a header block loses that block.
  const h = bytes(
    frame(HEADERS, END_HEADERS | END_STREAM, 5, [
      ...GET,
      ...HTTP,
      ...lit(":path", "/" + "p".repeat(2000)),
    ]),
  );
  feed(c, "client", h.subarray(0, 1024), 40, h.length);
  equal(c.counters.headerBlocksLost, 1);
  equal(c.openStreams, 0);
});

Deno.test("RST_STREAM: an answered stream completes, an unanswered one is dropped and counted", () => {
  const c = new Http2Connection();
  feed(
    c,
    "client",
    bytes(
      frame(HEADERS, END_HEADERS, 1, [...GET, ...HTTP, ...PATH_ROOT]),
      frame(HEADERS, END_HEADERS, 3, [...GET, ...HTTP, ...PATH_ROOT]),
    ),
    0,
  );
  feed(
    c,
    "server",
    bytes(
      frame(HEADERS, END_HEADERS, 1, [...STATUS_200, ...lit("content-type", "application/grpc")]),
    ),
    1,
  );
  const r = feed(
    c,
    "client",
    bytes(frame(RST, 0, 1, [0, 0, 0, 8]), frame(RST, 0, 3, [0, 0, 0, 8])),
    2,
  );
  deepEqual(r.map((x) => [x.streamId, x.status]), [[1, "2xx"]]);
  equal(c.counters.streamsReset, 1);
  equal(c.openStreams, 0);
});

Deno.test("stream state is bounded: the oldest stream goes, counted; expire() drops stale ones", () => {
  const c = new Http2Connection({ maxStreams: 2 });
  for (const id of [1, 3, 5]) {
    feed(c, "client", bytes(frame(HEADERS, END_HEADERS, id, [...GET, ...HTTP, ...PATH_ROOT])), id);
  }
  equal(c.openStreams, 2);
  equal(c.counters.streamsEvicted, 1);
  equal(feed(c, "server", bytes(frame(HEADERS, END_HEADERS, 1, STATUS_200)), 9).length, 0);
  equal(c.expire(1000, 996), 1);
  equal(c.openStreams, 1);
  throws(() => new Http2Connection({ maxStreams: 0 }), RangeError);
});

Deno.test("a connection joined late decodes what refers to entries it saw", () => {
  const c = new Http2Connection();
  // Index 70 was added before the capture began.
  feed(
    c,
    "client",
    bytes(frame(HEADERS, END_HEADERS, 7, [...GET, ...HTTP, ...lit(":path", "/late"), 0xc6])),
    0,
  );
  const r = feed(c, "server", bytes(frame(HEADERS, END_HEADERS, 7, [0xc6, ...STATUS_200])), 3);
  deepEqual(r.map((x) => [x.path, x.status]), [["/late", "2xx"]]);
  equal(c.counters.hpackUnresolved, 2);
});

Deno.test("looksLikeHttp2() applies the reference's test", () => {
  equal(looksLikeHttp2(bytes(frame(SETTINGS, 0, 0, [])), "server"), true);
  equal(looksLikeHttp2(bytes(frame(10, 0, 0, [])), "server"), false);
  equal(looksLikeHttp2(enc.encode(HTTP2_CLIENT_PREFACE), "client"), true);
  equal(looksLikeHttp2(enc.encode(HTTP2_CLIENT_PREFACE), "server"), false);
  equal(looksLikeHttp2(bytes(frame(DATA, 0, 1, [1, 2, 3])).subarray(0, 10), "client"), false);
});

/** A recorded node:http2 (nghttp2) conversation; see testdata/record_http2.ts. */
function recorded(): { side: "client" | "server"; bytes: Uint8Array }[] {
  const raw = JSON.parse(
    Deno.readTextFileSync(new URL("./testdata/http2_node.json", import.meta.url)),
  ) as { side: "client" | "server"; hex: string }[];
  return raw.map(({ side, hex }) => ({
    side,
    bytes: new Uint8Array(hex.match(/../g)!.map((x) => parseInt(x, 16))),
  }));
}

function tally(exchanges: { status: string }[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const x of exchanges) out[x.status] = (out[x.status] ?? 0) + 1;
  return out;
}

const RECORDED_COUNTS = {
  "2xx": 12,
  "4xx": 5,
  "5xx": 3,
  "grpc:OK": 3,
  "grpc:NOT_FOUND": 2,
  "grpc:UNAVAILABLE": 1,
  "grpc:UNIMPLEMENTED": 1,
};

Deno.test("a real node:http2 conversation gives exact counts (HPACK with Huffman and a dynamic table)", () => {
  const c = new Http2Connection();
  const all = [];
  let t = 0;
  for (const { side, bytes } of recorded()) all.push(...c.feed(side, bytes, bytes.length, t += 10));
  deepEqual(tally(all), RECORDED_COUNTS);
  deepEqual(all.slice(0, 2).map((x) => [x.method, x.path, x.scheme]), [["GET", "/200", "http"], [
    "GET",
    "/200",
    "http",
  ]]);
  equal(all.filter((x) => x.path.startsWith("/grpc/") && x.method === "POST").length, 7);
  equal(c.openStreams, 0);
  deepEqual(
    { ...c.counters },
    {
      streamsEvicted: 0,
      streamsExpired: 0,
      streamsReset: 0,
      hpackErrors: 0,
      hpackUnresolved: 0,
      headerBlocksLost: 0,
      framingLost: 0,
    },
  );
});

Deno.test("the same conversation re-cut into 1-to-40-byte captures gives the same counts", () => {
  const chunks = recorded();
  for (const size of [1, 7, 13, 40]) {
    const c = new Http2Connection();
    const all = [];
    let t = 0;
    for (const { side, bytes } of chunks) {
      for (let i = 0; i < bytes.length; i += size) {
        const part = bytes.subarray(i, i + size);
        all.push(...c.feed(side, part, part.length, t++));
      }
    }
    deepEqual(tally(all), RECORDED_COUNTS, `captures of ${size} bytes`);
  }
});

Deno.test("recognizeHttp2() tells who sent whole frames with a request or an answer block", () => {
  const req = frame(HEADERS, END_HEADERS | END_STREAM, 9, [...GET, ...HTTP, ...lit(":path", "/x")]);
  const res = frame(HEADERS, END_HEADERS, 9, [...STATUS_404, 0xbe]); // 0xbe: an unseen entry
  equal(recognizeHttp2(bytes(req)), "client");
  equal(recognizeHttp2(bytes(frame(8, 0, 0, [0, 0, 1, 0]), req)), "client");
  equal(recognizeHttp2(bytes(res, frame(DATA, END_STREAM, 9, [1, 2]))), "server");
  equal(recognizeHttp2(bytes(frame(5, END_HEADERS, 1, [0, 0, 0, 2, ...GET]))), null); // push
  equal(recognizeHttp2(bytes(frame(HEADERS, 0, 2, []))), null); // a block left open
  // a request whose pseudo fields all refer to unseen entries, trailers, frames without a block
  equal(recognizeHttp2(bytes(frame(HEADERS, END_HEADERS, 9, [0xbe, 0xbf]))), null);
  equal(recognizeHttp2(bytes(frame(HEADERS, END_HEADERS | 1, 9, lit("grpc-status", "0")))), null);
  equal(recognizeHttp2(bytes(frame(SETTINGS, 1, 0, []), frame(DATA, 0, 1, [1]))), null);
  // a cut capture: the frames may run past it, not past the syscall's byte count
  const big = bytes(req, frame(DATA, 0, 9, Array(2000).fill(7)));
  equal(recognizeHttp2(big.subarray(0, 1024), big.length), "client");
  equal(recognizeHttp2(big.subarray(0, 1024), big.length - 1), null);
  equal(recognizeHttp2(big.subarray(0, 1024)), null);
});

Deno.test("recognizeHttp2() refuses what is not whole, well-formed frames", () => {
  const req = [...GET, ...HTTP, ...lit(":path", "/x")];
  const no = (b: number[], why: string) => equal(recognizeHttp2(new Uint8Array(b)), null, why);
  no([...frame(HEADERS, END_HEADERS, 9, req), 0], "a byte after the last frame");
  no(frame(HEADERS, END_HEADERS, 9, req).slice(0, -1), "the last frame cut");
  no(frame(HEADERS, END_HEADERS, 8, req), "a request on an even (server) stream");
  no(frame(HEADERS, END_HEADERS | 0x40, 9, req), "a flag HEADERS does not define");
  no(frame(10, 0, 0, []).concat(frame(HEADERS, END_HEADERS, 9, req)), "an unknown type first");
  no(frame(HEADERS, END_HEADERS, 0, req), "HEADERS on stream 0");
  no(
    [...frame(SETTINGS, 0, 0, [0, 3, 0]), ...frame(HEADERS, END_HEADERS, 9, req)],
    "SETTINGS of 3 bytes",
  );
  no([...frame(8, 0, 0, [0, 0, 1]), ...frame(HEADERS, END_HEADERS, 9, req)], "WINDOW_UPDATE of 3");
  no(
    [...frame(CONT, END_HEADERS, 9, [0x84]), ...frame(HEADERS, END_HEADERS, 9, req)],
    "a lone CONTINUATION",
  );
  no(frame(HEADERS, END_HEADERS, 9, [...STATUS_200, ...GET]), "request and answer fields together");
  no(
    frame(HEADERS, END_HEADERS, 9, [...lit("x", "1"), ...GET]),
    "a pseudo field after a regular one",
  );
  no(frame(HEADERS, END_HEADERS, 9, lit(":Method", "GET")), "an upper-case name");
  no(frame(HEADERS, END_HEADERS, 9, lit(":status", "20")), "a status of two digits");
  no(frame(HEADERS, END_HEADERS, 9, [0x80]), "HPACK index 0");
  no(frame(HEADERS, END_HEADERS | PADDED_FLAG, 9, [200, ...req]), "padding longer than the frame");
  const reserved = frame(HEADERS, END_HEADERS, 9, req);
  reserved[5] |= 0x80;
  no(reserved, "the reserved bit set");
  no([...frame(DATA, 0, 1, Array(20000).fill(0))].slice(0, 1024), "nothing but DATA");
  // TLS records, Postgres and MySQL messages
  no([0x16, 3, 1, 0, 0x2f, 1, 0, 0, 0x2b, 3, 3, ...Array(40).fill(1)], "a TLS ClientHello");
  no([0x17, 3, 3, 0, 0x20, ...Array(32).fill(9)], "a TLS application data record");
  no([0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f], "a Postgres SSLRequest");
  no([0x51, 0, 0, 0, 13, ...enc.encode("SELECT 1;"), 0], "a Postgres query");
  no([9, 0, 0, 0, 3, ...enc.encode("SELECT 1")], "a MySQL COM_QUERY");
  no([1, 0, 0, 1, 1], "a MySQL column count");
});

/** Feeds the recording from capture `from` on to a connection joined there (no preface). */
function joinedAt(from: number): { counts: Record<string, number>; c: Http2Connection } {
  const chunks = recorded().slice(from);
  const start = chunks.findIndex(({ bytes }) => recognizeHttp2(bytes) !== null);
  const c = new Http2Connection({ preface: false });
  const all = [];
  let t = 0;
  for (const { side, bytes } of chunks.slice(start)) {
    all.push(...c.feed(side, bytes, bytes.length, t += 10));
  }
  return { counts: tally(all), c };
}

Deno.test("recognizeHttp2() names the recorded conversation's sender of every request and answer", () => {
  const chunks = recorded();
  let told = 0;
  for (const [i, { side, bytes }] of chunks.entries()) {
    const who = recognizeHttp2(bytes);
    if (who !== null) {
      equal(who, side, `capture ${i}`);
      told++;
    }
  }
  // all but the preface (no frames first) and the two GOAWAYs at the end
  equal(told, chunks.length - 3);
});

Deno.test("a connection joined after 10 captures counts every later request exactly", () => {
  // Captures 0 to 9 held streams 1 to 9 (200); the HPACK entries they added are never seen.
  const { counts, c } = joinedAt(10);
  deepEqual(counts, { ...RECORDED_COUNTS, "2xx": RECORDED_COUNTS["2xx"] - 5 });
  equal(c.openStreams, 0);
  equal(c.counters.hpackErrors, 0);
  ok(c.hpackUnresolved > 0);
});

Deno.test("gRPC statuses whose grpc-status field refers to unseen entries are unknown, never guessed", () => {
  // Joined after the three grpc-status 0 answers: the server's encoder then writes
  // "grpc-status" by reference to the entry those added (unseen here), and content-type too.
  const { counts } = joinedAt(45);
  deepEqual(counts, { unknown: 4 });
  // joined before them, every gRPC status is read
  deepEqual(joinedAt(40).counts, {
    "grpc:OK": 3,
    "grpc:NOT_FOUND": 2,
    "grpc:UNAVAILABLE": 1,
    "grpc:UNIMPLEMENTED": 1,
  });
});

Deno.test("a stream that may be gRPC waits for its end; a plain one is answered at its :status", () => {
  const c = new Http2Connection({ preface: false });
  // POST with a hidden field (maybe gRPC), GET with one (never gRPC), POST with all known fields
  feed(c, "client", bytes(frame(HEADERS, END_HEADERS, 1, [...POST, ...HTTP, 0xc0])), 0);
  feed(c, "client", bytes(frame(HEADERS, END_HEADERS | END_STREAM, 3, [...GET, 0xc0])), 0);
  feed(c, "client", bytes(frame(HEADERS, END_HEADERS, 5, [...POST, ...lit("a", "b")])), 0);
  feed(c, "client", bytes(frame(HEADERS, END_HEADERS, 7, [...POST, 0xc1])), 0);
  feed(c, "client", bytes(frame(HEADERS, END_HEADERS, 9, [...POST, 0xc1])), 0);
  const first = feed(
    c,
    "server",
    bytes(
      frame(HEADERS, END_HEADERS, 1, [...STATUS_200, 0xc2]),
      frame(HEADERS, END_HEADERS, 3, [...STATUS_404, 0xc2]),
      frame(HEADERS, END_HEADERS, 5, [...STATUS_500]),
      frame(HEADERS, END_HEADERS, 7, [0xc2, 0xc3]), // :status itself among the hidden fields
      frame(HEADERS, END_HEADERS, 9, [...STATUS_200, ...lit("content-type", "text/plain")]),
    ),
    10,
  );
  deepEqual(first.map((x) => [x.streamId, x.status]), [[3, "4xx"], [5, "5xx"], [9, "2xx"]]);
  const ends = feed(
    c,
    "server",
    bytes(
      frame(HEADERS, END_HEADERS | END_STREAM, 1, [0xc4]), // trailers, all hidden
      frame(DATA, END_STREAM, 7, [1]),
    ),
    20,
  );
  deepEqual(ends.map((x) => [x.streamId, x.status, x.durationNs]), [
    [1, "unknown", 10],
    [7, "unknown", 10],
  ]);
  // a maybe-gRPC stream ended by DATA, and one whose trailers are read
  feed(c, "client", bytes(frame(HEADERS, END_HEADERS, 11, [...POST, 0xc5])), 30);
  feed(c, "client", bytes(frame(HEADERS, END_HEADERS, 13, [...POST, 0xc5])), 30);
  const last = feed(
    c,
    "server",
    bytes(
      frame(HEADERS, END_HEADERS, 11, [...STATUS_200, 0xc6]),
      frame(HEADERS, END_HEADERS, 13, [...STATUS_200, 0xc6]),
      frame(DATA, END_STREAM, 11, [1]),
      frame(HEADERS, END_HEADERS | END_STREAM, 13, [0xc7, ...lit("grpc-status", "13")]),
    ),
    40,
  );
  deepEqual(last.map((x) => [x.streamId, x.status]), [[11, "2xx"], [13, "grpc:INTERNAL"]]);
});
