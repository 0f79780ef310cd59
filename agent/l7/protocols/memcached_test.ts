import { deepEqual, equal } from "node:assert/strict";
import {
  isMemcachedRequest,
  memcachedResponseStatus,
  summarizeMemcachedCommand,
} from "./memcached.ts";

const enc = (s: string) => new TextEncoder().encode(s);

Deno.test("isMemcachedRequest() takes the reference's commands ending in CR LF", () => {
  for (
    const c of [
      "set k 0 0 1\r\nx\r\n",
      "add k 0 0 1\r\nx\r\n",
      "cas k 0 0 1 9\r\nx\r\n",
      "get a b c\r\n",
      "gets a b\r\n",
      "gat 10 a b\r\n",
      "gats 10 a\r\n",
      "incr n 1\r\n",
      "decr n 1\r\n",
      "touch k 10\r\n",
      "delete key\r\n",
      "append k 0 0 1\r\nx\r\n",
      "prepend k 0 0 1\r\nx\r\n",
      "replace k 0 0 1\r\nx\r\n",
    ]
  ) equal(isMemcachedRequest(enc(c)), true, c);
  equal(isMemcachedRequest(enc("get a\r\n")), false, "shorter than 9 bytes");
  equal(isMemcachedRequest(enc("get abcdef")), false, "no CR LF at the end");
  equal(isMemcachedRequest(enc("stats\r\n\r\n")), false);
  const big = enc("set k 0 0 5000\r\n" + "x".repeat(5000) + "\r\n");
  equal(isMemcachedRequest(big.subarray(0, 1024), big.length), true, "a cut capture");
  equal(isMemcachedRequest(enc("set k 0 0 5000"), 5000), false, "its first line is cut too");
});

Deno.test("memcachedResponseStatus() maps answers to ok and failed", () => {
  for (
    const a of [
      "VALUE k 0 1\r\nx\r\nEND\r\n",
      "STORED\r\n",
      "DELETED\r\n",
      "TOUCHED\r\n",
      "NOT_FOUND\r\n",
      "NOT_STORED\r\n",
      "EXISTS\r\n",
      "42\r\n",
      "END\r\n",
    ]
  ) {
    equal(memcachedResponseStatus(enc(a)), "ok", a);
  }
  for (const a of ["ERROR\r\n", "CLIENT_ERROR bad\r\n", "SERVER_ERROR oom\r\n"]) {
    equal(memcachedResponseStatus(enc(a)), "failed", a);
  }
  equal(memcachedResponseStatus(enc("STORED")), null);
  equal(memcachedResponseStatus(enc("OK\r\n")), null);
});

Deno.test("summarizeMemcachedCommand() gives the command and its keys", () => {
  deepEqual(summarizeMemcachedCommand(enc("incr 1111 2222\r\n")), {
    command: "incr",
    keys: ["1111"],
  });
  deepEqual(summarizeMemcachedCommand(enc("gets 1111 2222 3333\r\n")), {
    command: "gets",
    keys: ["1111", "2222", "3333"],
  });
  deepEqual(summarizeMemcachedCommand(enc("gat 100 a b\r\n")), {
    command: "gat",
    keys: ["a", "b"],
  });
  deepEqual(summarizeMemcachedCommand(enc("delete k\r\n")), { command: "delete", keys: ["k"] });
  deepEqual(summarizeMemcachedCommand(enc("set k 0 0 1\r\nx\r\n")), {
    command: "set",
    keys: ["k"],
  });
  equal(summarizeMemcachedCommand(enc("stats items\r\n")), null);
  equal(summarizeMemcachedCommand(enc("get abc")), null);
});
