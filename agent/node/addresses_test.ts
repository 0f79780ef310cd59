import { deepEqual, equal, throws } from "node:assert/strict";
import type { FileFormatError } from "../file_format_error.ts";
import { FIXTURES, variant } from "./_testing.ts";
import {
  assignIpv4,
  formatIpv6,
  ipv4ToNumber,
  isLinkLocalOrMulticast,
  numberToIpv4,
  parseFibTrieLocal,
  parseIfInet6,
  parseRoutes,
  selectAddresses,
} from "./addresses.ts";
import { isContractInterface as contract } from "./filters.ts";
const host = (f: string) => Deno.readTextFileSync(`${FIXTURES}/host/proc/1/net/${f}`);

Deno.test("parseFibTrieLocal lists the local addresses of the recorded host", () => {
  deepEqual(parseFibTrieLocal(host("fib_trie")), ["127.0.0.1", "192.0.2.2"]);
});

Deno.test("parseFibTrieLocal reads every table once, with tos and policy tables", () => {
  deepEqual(parseFibTrieLocal(variant("fib_trie_multi.txt")), [
    "10.0.0.5",
    "10.0.0.6",
    "127.0.0.1",
    "169.254.10.20",
    "172.17.0.1",
  ]);
});

Deno.test("parseRoutes decodes little-endian hex and skips nothing", () => {
  const r = parseRoutes(host("route"), "/proc/net/route", { littleEndian: true });
  deepEqual(r.map((x) => [x.iface, numberToIpv4(x.destination), numberToIpv4(x.gateway)]), [
    ["eth0", "0.0.0.0", "192.0.2.1"],
    ["eth0", "192.0.2.0", "0.0.0.0"],
  ]);
  equal(numberToIpv4(r[1].mask), "255.255.255.0");
  const be = parseRoutes(
    "Iface\tDestination\tGateway\tFlags\tRefCnt\tUse\tMetric\tMask\n" +
      "eth0\tC0000200\t00000000\t0001\t0\t0\t0\tFFFFFF00\n",
    "route",
    { littleEndian: false },
  );
  equal(numberToIpv4(be[0].destination), "192.0.2.0");
});

Deno.test("assignIpv4 gives each address the interface of its prefix route", () => {
  const locals = parseFibTrieLocal(host("fib_trie"));
  deepEqual(assignIpv4(locals, parseRoutes(host("route"))), [
    { iface: "lo", ip: "127.0.0.1" },
    { iface: "eth0", ip: "192.0.2.2" },
  ]);
  const multi = assignIpv4(
    parseFibTrieLocal(variant("fib_trie_multi.txt")),
    parseRoutes(variant("route_multi.txt")),
  );
  deepEqual(multi, [
    { iface: "eth0", ip: "10.0.0.5" },
    { iface: "eth0", ip: "10.0.0.6" },
    { iface: "lo", ip: "127.0.0.1" },
    { iface: "eth0", ip: "169.254.10.20" },
    { iface: "docker0", ip: "172.17.0.1" },
  ]);
});

Deno.test("assignIpv4: a /32 address without its own prefix route takes the covering route's device", () => {
  // GCP style: 10.128.0.9/32 on ens4, a host route to the gateway and the default route.
  deepEqual(
    assignIpv4(
      parseFibTrieLocal(variant("fib_trie_gcp.txt")),
      parseRoutes(variant("route_gcp.txt")),
    ),
    [{ iface: "ens4", ip: "10.128.0.9" }, { iface: "lo", ip: "127.0.0.1" }],
  );
  // No route contains the address: it is left out rather than guessed.
  deepEqual(assignIpv4(["203.0.113.7"], []), []);
});

Deno.test("formatIpv6 writes RFC 5952 text", () => {
  equal(formatIpv6("00000000000000000000000000000001"), "::1");
  equal(formatIpv6("00000000000000000000000000000000"), "::");
  equal(formatIpv6("fe8000000000000000fc00fffe000001"), "fe80::fc:ff:fe00:1");
  equal(formatIpv6("20010db8000000010000000000000006"), "2001:db8:0:1::6");
  equal(formatIpv6("20010db8000100000001000000000001"), "2001:db8:1:0:1::1");
  equal(formatIpv6("20010db8000000000001000000000001"), "2001:db8::1:0:0:1");
  equal(formatIpv6("20010db8aaaabbbbccccddddeeee0000"), "2001:db8:aaaa:bbbb:cccc:dddd:eeee:0");
});

Deno.test("parseIfInet6 reads the recorded host file", () => {
  deepEqual(parseIfInet6(host("if_inet6")).map((a) => [a.iface, a.ip, a.scope, a.prefixLength]), [
    ["lo", "::1", 0x10, 128],
    ["eth0", "fe80::fc:ff:fe00:1", 0x20, 64],
    ["eth0", "fd00::2", 0, 64],
  ]);
  throws(() => parseIfInet6("fe80 02 40 20 80 eth0\n", "/proc/1/net/if_inet6"), /if_inet6" line 1/);
});

Deno.test("isLinkLocalOrMulticast", () => {
  for (
    const ip of ["169.254.1.1", "224.0.0.1", "239.255.255.250", "fe80::1", "febf::1", "ff02::1"]
  ) {
    equal(isLinkLocalOrMulticast(ip), true, ip);
  }
  for (
    const ip of [
      "10.0.0.1",
      "192.0.2.2",
      "223.255.255.255",
      "fd00::2",
      "2001:db8::1",
      "fec0::1",
      "::1",
    ]
  ) {
    equal(isLinkLocalOrMulticast(ip), false, ip);
  }
  equal(ipv4ToNumber("256.0.0.1"), undefined);
});

Deno.test("selectAddresses filters interfaces, link-local and multicast, and dedupes", () => {
  const all = [
    ...assignIpv4(
      parseFibTrieLocal(variant("fib_trie_multi.txt")),
      parseRoutes(variant("route_multi.txt")),
    ),
    ...parseIfInet6(variant("if_inet6_multi.txt")),
  ];
  deepEqual(selectAddresses(all, contract), [
    { iface: "eth0", ip: "10.0.0.5" },
    { iface: "eth0", ip: "10.0.0.6" },
    { iface: "eth0", ip: "2001:db8::5" },
    { iface: "eth0", ip: "2001:db8:0:1::6" },
    { iface: "eth0", ip: "fd00::2" },
  ]);
});

Deno.test("parseFibTrieLocal names file and line of garbage", () => {
  throws(
    () => parseFibTrieLocal(variant("fib_trie_garbled.txt"), "/proc/1/net/fib_trie"),
    /"\/proc\/1\/net\/fib_trie" line 5: leaf is not an IPv4 address/,
  );
  throws(
    () => parseFibTrieLocal("Main:\n        /32 host LOCAL\n"),
    /line 2: route entry outside a leaf/,
  );
  throws(() => parseFibTrieLocal("Main:\n  ** junk\n"), /line 2: unexpected line/);
  throws(() => parseRoutes("bogus\n"), /line 1: missing the header line/);
});

Deno.test("the address parsers skip odd lines with a callback and keep the rest", () => {
  const skipped: [number, string][] = [];
  const skip = (e: FileFormatError) => skipped.push([e.line, e.reason]);
  // A garbled leaf: its route entries are left out with it, the next leaf is read.
  deepEqual(
    parseFibTrieLocal(
      "Local:\n  +-- 10.0.0.0/8 2 0 2\n     |-- 10.0.0.x\n        /32 host LOCAL\n" +
        "     |-- 10.0.0.6\n        /32 host LOCAL\n        /8 link BROADCAST\n" +
        "  ** junk\n        /32 host LOCAL\n",
      "fib_trie",
      skip,
    ),
    ["10.0.0.6"],
  );
  deepEqual(skipped, [
    [3, 'leaf is not an IPv4 address: "     |-- 10.0.0.x"'],
    [8, 'unexpected line "  ** junk"'],
  ]);
  skipped.length = 0;
  const routes = parseRoutes(
    "Iface\tDestination\tGateway\tFlags\tRefCnt\tUse\tMetric\tMask\n" +
      "eth0\tC0000200\t00000000\t0001\t0\t0\t0\tFFFFFF00\n" +
      "eth1\tC00002\t00000000\t0001\t0\t0\t0\tFFFFFF00\n" +
      "eth2\tC0000300\t00000000\t0001\t0\t0\n",
    "route",
    { littleEndian: false, skip },
  );
  deepEqual(routes.map((r) => r.iface), ["eth0"]);
  deepEqual(skipped.map(([l]) => l), [3, 4]);
  skipped.length = 0;
  const v6 = parseIfInet6(
    "fd000000000000000000000000000002 02 40 00 80     eth0\n" +
      "fd00000000000000000000000000003 02 40 00 80     eth0\n" +
      "20010db8000000000000000000000009 02 40 00 00     eth1\r\n",
    "if_inet6",
    skip,
  );
  deepEqual(v6.map((a) => [a.iface, a.ip]), [["eth0", "fd00::2"], ["eth1", "2001:db8::9"]]);
  deepEqual(skipped.map(([l]) => l), [2]);
});
