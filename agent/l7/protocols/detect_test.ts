import { deepEqual, equal } from "node:assert/strict";
import { detectRequest, responseStatus } from "./detect.ts";

const enc = (s: string) => new TextEncoder().encode(s);

Deno.test("detectRequest() classifies in the reference's order", () => {
  deepEqual(detectRequest(enc("GET / HTTP/1.1\r\nHost: a\r\n\r\n")), { protocol: "http" });
  deepEqual(detectRequest(new Uint8Array([0x51, 0, 0, 0, 13, ...enc("SELECT 1"), 0])), {
    protocol: "postgres",
    kind: "query",
  });
  deepEqual(detectRequest(enc("*2\r\n$3\r\nGET\r\n$1\r\nk\r\n")), { protocol: "redis" });
  deepEqual(detectRequest(enc("get a b c\r\n")), { protocol: "memcached" });
  deepEqual(detectRequest(new Uint8Array([9, 0, 0, 0, 3, ...enc("SELECT 1")])), {
    protocol: "mysql",
    kind: "query",
  });
  deepEqual(detectRequest(enc("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")), { protocol: "http2" });
  const q = [
    0,
    29,
    0xab,
    0xcd,
    1,
    0,
    0,
    1,
    0,
    0,
    0,
    0,
    0,
    0,
    7,
    ...enc("example"),
    3,
    ...enc("com"),
    0,
    0,
    1,
    0,
    1,
  ];
  deepEqual(detectRequest(new Uint8Array(q), q.length, "tcp"), { protocol: "dns", id: 0xabcd });
  deepEqual(detectRequest(new Uint8Array(q.slice(2)), q.length - 2, "udp"), {
    protocol: "dns",
    id: 0xabcd,
  });
  equal(detectRequest(enc("hello")), null);
});

Deno.test("responseStatus() reads the answer of each protocol", () => {
  equal(responseStatus({ protocol: "http" }, enc("HTTP/1.1 404 Not Found\r\n")), "4xx");
  equal(responseStatus({ protocol: "http" }, enc("garbage garbage garbage")), null);
  equal(responseStatus({ protocol: "redis" }, enc("-ERR x\r\n")), "failed");
  equal(responseStatus({ protocol: "memcached" }, enc("END\r\n")), "ok");
  equal(
    responseStatus(
      { protocol: "mysql", kind: "query" },
      new Uint8Array([3, 0, 0, 1, 0xff, 0x28, 0x04]),
    ),
    "failed",
  );
  equal(
    responseStatus({ protocol: "postgres", kind: "query" }, new Uint8Array([0x45, 0, 0, 0, 4])),
    "failed",
  );
  const r = new Uint8Array([0xab, 0xcd, 0x81, 0x83, 0, 1, 0, 0, 0, 0, 0, 0]);
  equal(responseStatus({ protocol: "dns", id: 0xabcd }, r, r.length, "udp"), "nxdomain");
  equal(responseStatus({ protocol: "dns", id: 0x1111 }, r, r.length, "udp"), null);
  equal(responseStatus({ protocol: "http2" }, r), null);
});
