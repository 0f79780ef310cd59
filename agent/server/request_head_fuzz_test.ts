/**
 * Fuzz: request heads as Prometheus, curl and promtool send them, mutated byte-wise (inserted
 * CR, LF, SP, colons, NUL, 0x80–0xFF, deletions, duplicated runs, truncation), fed to the
 * scanner in random chunk sizes and to the parser and `toRequest`. Only RequestHeadError may
 * escape (and the TypeError `new Request` returns for a method it refuses); chunked feeding finds
 * the same end as feeding all at once; what parses holds no byte a field may not hold. Seeded,
 * so a failure reproduces.
 */
import { deepEqual, equal, ok } from "node:assert/strict";
import { HeadScanner, parseRequestHead, RequestHeadError } from "./request_head.ts";
import type { RequestHead } from "./request_head.ts";
import { toRequest } from "./serve.ts";
import { prng } from "../_fuzz_testing.ts";

const ITERATIONS = 20_000;
const SEED = 0x7e4d;
const LIMITS = { maxRequestLineBytes: 256, maxHeadBytes: 1024, maxFields: 20 };

const SEEDS = [
  "GET /metrics HTTP/1.1\r\nHost: 10.0.0.1:9100\r\nUser-Agent: Prometheus/2.42.0\r\n" +
  "Accept: application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5,*/*;q=0.1\r\n" +
  "Accept-Encoding: gzip\r\nX-Prometheus-Scrape-Timeout-Seconds: 10\r\n\r\n",
  "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1:9100\r\nUser-Agent: curl/7.88.1\r\nAccept: */*\r\n\r\n",
  "HEAD /healthz HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
  "POST /metrics HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello",
  "GET http://a:80/readyz HTTP/1.1\nHost: a\n\n",
];

const SPECIAL = [0x0d, 0x0a, 0x20, 0x09, 0x3a, 0x00, 0x7f, 0x80, 0xe9, 0xff, 0x2c, 0x2f, 0x3f];

function mutate(rand: () => number, input: Uint8Array): Uint8Array {
  let b = Array.from(input);
  const n = 1 + Math.floor(rand() * 3);
  for (let k = 0; k < n; k++) {
    const at = Math.floor(rand() * (b.length + 1));
    switch (Math.floor(rand() * 6)) {
      case 0:
        b.splice(at, 0, SPECIAL[Math.floor(rand() * SPECIAL.length)]);
        break;
      case 1:
        b.splice(at, 0, Math.floor(rand() * 256));
        break;
      case 2:
        b.splice(at, 1 + Math.floor(rand() * 4));
        break;
      case 3: {
        const len = 1 + Math.floor(rand() * 40);
        b.splice(at, 0, ...b.slice(at, at + len));
        break;
      }
      case 4:
        b = b.slice(0, at);
        break;
      default:
        b[Math.min(at, b.length - 1)] = SPECIAL[Math.floor(rand() * SPECIAL.length)];
    }
  }
  return Uint8Array.from(b);
}

type Outcome = { end: number } | { status: number } | "incomplete";

function scanAll(buf: Uint8Array): Outcome {
  try {
    const f = new HeadScanner(LIMITS).scan(buf, buf.length);
    return f === undefined ? "incomplete" : { end: f.end };
  } catch (e) {
    if (e instanceof RequestHeadError) return { status: e.status };
    throw e;
  }
}

function scanChunked(rand: () => number, buf: Uint8Array): Outcome {
  const s = new HeadScanner(LIMITS);
  let n = 0;
  try {
    while (n < buf.length) {
      n = Math.min(buf.length, n + 1 + Math.floor(rand() * 16));
      const f = s.scan(buf, n);
      if (f !== undefined) return { end: f.end };
    }
    return "incomplete";
  } catch (e) {
    if (e instanceof RequestHeadError) return { status: e.status };
    throw e;
  }
}

function checkHead(h: RequestHead): void {
  ok(/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/.test(h.method), h.method);
  ok(/^[\x21-\x7e]+$/.test(h.target), h.target);
  for (const [k, v] of h.fields) {
    ok(/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/.test(k), k);
    for (const ch of v) {
      const c = ch.charCodeAt(0);
      ok(c === 0x09 || (c >= 0x20 && c !== 0x7f && c <= 0xff), JSON.stringify(v));
    }
    ok(!/^[ \t]|[ \t]$/.test(v), JSON.stringify(v));
  }
}

Deno.test("request head fuzz: only RequestHeadError escapes and chunking does not change the outcome", () => {
  const rand = prng(SEED);
  const seeds = SEEDS.map((s) => Uint8Array.from(s, (c) => c.charCodeAt(0)));
  const local = { transport: "tcp" as const, hostname: "127.0.0.1", port: 9100 };
  const tally = { parsed: 0, refused: 0, incomplete: 0, requests: 0 };
  for (let i = 0; i < ITERATIONS; i++) {
    const buf = mutate(rand, seeds[i % seeds.length]);
    const whole = scanAll(buf);
    // The same end, or the same refusal, however the bytes arrive.
    const chunked = scanChunked(rand, buf);
    deepEqual(chunked, whole, `case ${i}: ${JSON.stringify(String.fromCharCode(...buf))}`);
    if (whole === "incomplete") {
      tally.incomplete++;
      continue;
    }
    if ("status" in whole) {
      tally.refused++;
      continue;
    }
    let head: RequestHead;
    try {
      head = parseRequestHead(buf, 0, whole.end, LIMITS);
    } catch (e) {
      if (!(e instanceof RequestHeadError)) throw e;
      ok([400, 431, 505].includes(e.status));
      tally.refused++;
      continue;
    }
    tally.parsed++;
    checkHead(head);
    try {
      const r = toRequest(head, local);
      if (r instanceof Request) {
        tally.requests++;
        equal(
          r.method,
          head.method.match(/^(get|head|post|put|delete|options|patch)$/i)
            ? head.method.toUpperCase() // fetch's method normalisation
            : head.method,
        );
        equal(new URL(r.url).protocol, "http:");
      } else ok(r instanceof TypeError);
    } catch (e) {
      if (!(e instanceof RequestHeadError)) throw e;
      equal(e.status, 400);
    }
  }
  // the mutations reach every outcome, so the fuzz exercises more than the error paths
  for (const [k, v] of Object.entries(tally)) ok(v > 100, `${k}: ${v}`);
  if (Deno.env.get("FUZZ_VERBOSE")) console.log(tally);
});
