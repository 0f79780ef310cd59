import { deepEqual, equal } from "node:assert/strict";
import { http1ResponseStatus, isHttp1Request, parseHttp1RequestLine } from "./http1.ts";
import { httpStatusClass } from "./status.ts";

const enc = (s: string) => new TextEncoder().encode(s);

Deno.test("isHttp1Request() takes the reference's eight method prefixes", () => {
  for (const m of ["GET", "POST", "HEAD", "PUT", "DELETE", "CONNECT", "OPTIONS", "PATCH"]) {
    equal(isHttp1Request(enc(`${m} / HTTP/1.1\r\nHost: a\r\n\r\n`)), true, m);
  }
  equal(isHttp1Request(enc("GETX /abcdefghijklmn")), true); // a prefix match, as the reference
  equal(isHttp1Request(enc("TRACE / HTTP/1.1\r\n\r\n")), false);
  equal(isHttp1Request(enc("get / HTTP/1.1\r\n\r\n")), false);
  equal(isHttp1Request(enc("GET / HTTP/1.1")), false, "14 bytes: shorter than 15");
  equal(isHttp1Request(enc("GET / HTTP/1.1\r")), true, "15 bytes");
  const nul = enc("GET / HTTP/1.1\r\n\r\n");
  nul[10] = 0;
  equal(isHttp1Request(nul), false, "a NUL in the first 15 bytes");
  nul[10] = 0x31;
  nul[16] = 0;
  equal(isHttp1Request(nul), true, "a NUL after them is fine");
  equal(isHttp1Request(new Uint8Array(0)), false);
});

Deno.test("http1ResponseStatus() reads HTTP/d.d NNN", () => {
  equal(http1ResponseStatus(enc("HTTP/1.1 200 OK\r\n\r\n")), 200);
  equal(http1ResponseStatus(enc("HTTP/1.0 404 Not Found\r\n")), 404);
  equal(http1ResponseStatus(enc("HTTP/1.1 503 \r\n")), 503);
  equal(http1ResponseStatus(enc("HTTP/1.1 999 Odd\r\n")), 999);
  equal(http1ResponseStatus(enc("HTTP/2 200 OK\r\n\r\n")), -1);
  equal(http1ResponseStatus(enc("HTTP/1.1 20 OK\r\n\r\n")), -1);
  equal(http1ResponseStatus(enc("HTTP/1.1 200")), -1, "shorter than 15 bytes");
  equal(http1ResponseStatus(enc("http/1.1 200 OK\r\n")), -1);
  equal(httpStatusClass(999), "unknown");
  equal(httpStatusClass(0), "unknown");
  equal(httpStatusClass(100), "1xx");
  equal(httpStatusClass(599), "5xx");
});

Deno.test("parseHttp1RequestLine() gives method and path, marking a cut path with ...", () => {
  deepEqual(parseHttp1RequestLine(enc("HEAD /1 HTTP/1.1\nHost: 127.0.0.1\n\n")), {
    method: "HEAD",
    path: "/1",
  });
  deepEqual(parseHttp1RequestLine(enc("GET /too-long-uri")), {
    method: "GET",
    path: "/too-long-uri...",
  });
  deepEqual(parseHttp1RequestLine(enc("TRACE * HTTP/1.1\r\n")), { method: "TRACE", path: "*" });
  deepEqual(parseHttp1RequestLine(enc("GET /caf\u00e9 HTTP/1.1\r\n")), {
    method: "GET",
    path: "/caf\u00e9",
  });
  equal(parseHttp1RequestLine(enc("GETX / HTTP/1.1\r\n")), null);
  equal(parseHttp1RequestLine(enc("GET")), null);
  equal(parseHttp1RequestLine(enc("")), null);
});

Deno.test("parseHttp1RequestLine() reads a long target (decoded in slices)", () => {
  const path = "/" + "a".repeat(100_000);
  deepEqual(parseHttp1RequestLine(enc(`GET ${path} HTTP/1.1\r\n`)), { method: "GET", path });
});
