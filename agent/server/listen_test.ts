import { deepEqual, equal, throws } from "node:assert/strict";
import { formatListen, parseListen } from "./listen.ts";

Deno.test("parseListen() reads IPv4, IPv6, host-name and empty-host forms", () => {
  deepEqual(parseListen("0.0.0.0:80"), { hostname: "0.0.0.0", port: 80 });
  deepEqual(parseListen("127.0.0.1:9100"), { hostname: "127.0.0.1", port: 9100 });
  deepEqual(parseListen("[::]:80"), { hostname: "::", port: 80 });
  deepEqual(parseListen("[::1]:9100"), { hostname: "::1", port: 9100 });
  deepEqual(parseListen("localhost:0"), { hostname: "localhost", port: 0 });
  deepEqual(parseListen(":9100"), { hostname: "0.0.0.0", port: 9100 });
  deepEqual(parseListen(" :80 "), { hostname: "0.0.0.0", port: 80 });
});

Deno.test("parseListen() rejects malformed addresses with the address quoted", () => {
  for (const bad of ["", "9100", "::1:80", "host:", "host:port", "[::1]", "a:b:c", "[::1:80"]) {
    throws(() => parseListen(bad), {
      name: "TypeError",
      message: `Invalid listen address "${bad}": expected host:port, [ipv6]:port or :port`,
    });
  }
});

Deno.test("parseListen() rejects ports above 65535", () => {
  throws(() => parseListen(":65536"), { name: "RangeError", message: /port 65536 is above 65535/ });
  equal(parseListen(":65535").port, 65535);
});

Deno.test("formatListen() brackets IPv6 hosts", () => {
  equal(formatListen({ hostname: "::", port: 80 }), "[::]:80");
  equal(formatListen({ hostname: "127.0.0.1", port: 9100 }), "127.0.0.1:9100");
});
