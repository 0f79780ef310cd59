import { deepEqual, equal } from "node:assert/strict";
import { HeadScanner, parseRequestHead, RequestHeadError } from "./request_head.ts";
import type { HeadLimits, RequestHead } from "./request_head.ts";

function bytes(s: string): Uint8Array {
  return Uint8Array.from(s, (c) => c.charCodeAt(0));
}

/** Scans and parses a whole head given at once. */
function parse(text: string, limits: HeadLimits = {}): RequestHead {
  const buf = bytes(text);
  const found = new HeadScanner(limits).scan(buf, buf.length);
  if (found === undefined) throw new Error("incomplete");
  return parseRequestHead(buf, found.start, found.end, limits);
}

function status(fn: () => unknown): number {
  try {
    fn();
  } catch (e) {
    if (e instanceof RequestHeadError) return e.status;
    throw e;
  }
  return 0;
}

Deno.test("parseRequestHead() reads the request line and fields, trimming whitespace around values", () => {
  deepEqual(
    parse(
      "GET /metrics?x=1 HTTP/1.1\r\nHost: a:9100\r\nAccept:\t text/plain;q=0.5 \r\nX-Empty:\r\n\r\n",
    ),
    {
      method: "GET",
      target: "/metrics?x=1",
      minor: 1,
      fields: [["Host", "a:9100"], ["Accept", "text/plain;q=0.5"], ["X-Empty", ""]],
    },
  );
  equal(parse("HEAD / HTTP/1.0\r\n\r\n").minor, 0);
  equal(parse("GET / HTTP/1.9\r\n\r\n").minor, 1); // a later 1.x is served as 1.1
  deepEqual(parse("GET http://a/b HTTP/1.1\r\n\r\n").target, "http://a/b");
});

Deno.test("parseRequestHead() decodes field values byte for byte (ISO 8859-1, not windows-1252)", () => {
  deepEqual(parse("GET / HTTP/1.1\r\nX: caf\xe9 \x80\xff\r\n\r\n").fields, [[
    "X",
    "caf\xe9 \x80\xff",
  ]]);
});

Deno.test("HeadScanner skips empty lines before the request line and accepts bare LF", () => {
  const text = "\r\n\nGET / HTTP/1.1\nHost: a\n\nGET /next";
  const buf = bytes(text);
  const found = new HeadScanner().scan(buf, buf.length)!;
  deepEqual(found, { start: 3, end: text.indexOf("GET /next") });
  deepEqual(parseRequestHead(buf, found.start, found.end).fields, [["Host", "a"]]);
});

Deno.test("HeadScanner finds the same end whether the head arrives at once or a byte at a time", () => {
  const text = "GET /a HTTP/1.1\r\nHost: a\r\nAccept: */*\r\n\r\nrest";
  const buf = bytes(text);
  const s = new HeadScanner();
  let found;
  for (let n = 1; n <= buf.length && found === undefined; n++) found = s.scan(buf, n);
  deepEqual(found, new HeadScanner().scan(buf, buf.length));
  equal(found!.end, text.indexOf("rest"));
  equal(s.scanned, found!.end);
  s.reset();
  equal(s.scanned, 0);
});

Deno.test("parseRequestHead() refuses malformed heads with 400", () => {
  for (
    const bad of [
      "GET  / HTTP/1.1\r\n\r\n", // two spaces
      " GET / HTTP/1.1\r\n\r\n",
      "GET / HTTP/1.1 \r\n\r\n",
      "G@T / HTTP/1.1\r\n\r\n",
      "GET /\x01 HTTP/1.1\r\n\r\n",
      "GET /\xe9 HTTP/1.1\r\n\r\n",
      "GET / HTTP/1.1\r\nHost : a\r\n\r\n", // whitespace before the colon (RFC 9112 §5.1)
      "GET / HTTP/1.1\r\nHost\r\n\r\n",
      "GET / HTTP/1.1\r\n: a\r\n\r\n",
      "GET / HTTP/1.1\r\nX: a\r\n b\r\n\r\n", // obs-fold
      "GET / HTTP/1.1\r\nX: a\x00b\r\n\r\n",
      "GET / HTTP/1.1\r\nX: a\rb\r\n\r\n", // bare CR
      "GET / HTTP/1.1\r\r\n\r\n",
      "GET / HTTP/1.1\r\nX: a\x7f\r\n\r\n",
      "GET / HTTP/1\r\n\r\n",
      "GET / http/1.1\r\n\r\n",
      "GET /\r\n\r\n",
    ]
  ) {
    equal(status(() => parse(bad)), 400, JSON.stringify(bad));
  }
  equal(status(() => parse("GET / HTTP/2.0\r\n\r\n")), 505);
  equal(status(() => parse("PRI * HTTP/2.0\r\n\r\n")), 505);
});

Deno.test("HeadScanner refuses an overlong request line with 414 and an overlong head with 431, before the end arrives", () => {
  const limits = { maxRequestLineBytes: 32, maxHeadBytes: 64 };
  const line = bytes(`GET /${"a".repeat(40)}`); // no line end yet
  equal(status(() => new HeadScanner(limits).scan(line, line.length)), 414);
  const head = bytes(`GET / HTTP/1.1\r\nX: ${"b".repeat(60)}`);
  equal(status(() => new HeadScanner(limits).scan(head, head.length)), 431);
  const blanks = bytes("\r\n".repeat(40));
  equal(status(() => new HeadScanner(limits).scan(blanks, blanks.length)), 431);
  const fits = bytes(`GET / HTTP/1.1\r\nX: ${"b".repeat(41)}\r\n\r\n`);
  equal(fits.length, 64);
  equal(new HeadScanner(limits).scan(fits, fits.length)?.end, 64);
  const over = bytes(`GET / HTTP/1.1\r\nX: ${"b".repeat(42)}\r\n\r\n`);
  equal(status(() => new HeadScanner(limits).scan(over, over.length)), 431);
  equal(status(() => parse("GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\n\r\n", { maxFields: 1 })), 431);
});
