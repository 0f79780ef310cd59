import { equal, ok, throws } from "node:assert/strict";
import { parsePortRanges } from "../flag_syntax.ts";
import {
  isLinkLocalUnicast,
  isLoopback,
  isPrivate,
  isUnspecified,
  joinHostPort,
  parseIp,
  parsePrefix,
  prefixContains,
} from "./address.ts";
import { DestinationFilter } from "./filter.ts";

function ip(text: string) {
  const v = parseIp(text);
  if (!v) throw new Error(`bad test address ${text}`);
  return v;
}

Deno.test("parseIp() reads dotted IPv4 as IPv4-mapped and IPv6 in every RFC 4291 form", () => {
  equal(Array.from(ip("10.1.2.3").slice(10)).join(","), "255,255,10,1,2,3");
  equal(Array.from(ip("::1")).join(","), "0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,1");
  equal(Array.from(ip("fd00::1:2")).slice(0, 2).join(","), "253,0");
  equal(Array.from(ip("::ffff:192.168.1.1").slice(12)).join(","), "192,168,1,1");
  equal(parseIp("1.2.3"), undefined);
  equal(parseIp("256.1.1.1"), undefined);
  equal(parseIp("1::2::3"), undefined);
  equal(parseIp("1:2:3:4:5:6:7:8:9"), undefined);
  equal(parseIp(""), undefined);
});

Deno.test("address classes follow Go's netaddr plus the reference's 100.64/10", () => {
  ok(isLoopback(ip("127.0.0.53")) && isLoopback(ip("::1")) && !isLoopback(ip("::2")));
  ok(isLinkLocalUnicast(ip("169.254.169.254")) && isLinkLocalUnicast(ip("fe80::1")));
  ok(!isLinkLocalUnicast(ip("fec0::1")));
  for (const p of ["10.0.0.1", "172.16.0.1", "172.31.255.255", "192.168.0.1", "100.64.0.1"]) {
    ok(isPrivate(ip(p)), p);
  }
  for (const p of ["172.32.0.1", "100.128.0.1", "8.8.8.8", "2001:db8::1", "fe80::1"]) {
    ok(!isPrivate(ip(p)), p);
  }
  ok(isPrivate(ip("fd12::1")) && isPrivate(ip("fc00::1")));
  ok(isUnspecified(ip("0.0.0.0")) && isUnspecified(ip("::")));
});

Deno.test("prefixContains() keeps IPv4 and IPv6 prefixes apart", () => {
  const all4 = parsePrefix("0.0.0.0/0");
  ok(prefixContains(all4, ip("8.8.8.8")));
  ok(!prefixContains(all4, ip("2001:db8::1")));
  ok(prefixContains(parsePrefix("203.0.113.0/24"), ip("203.0.113.77")));
  ok(!prefixContains(parsePrefix("203.0.113.0/24"), ip("203.0.114.1")));
  ok(prefixContains(parsePrefix("2001:db8::/32"), ip("2001:db8:1::5")));
  ok(prefixContains(parsePrefix("::/0"), ip("2001:db8::1")));
  ok(!prefixContains(parsePrefix("::/0"), ip("8.8.8.8")), "an IPv6 network holds no IPv4");
  ok(!prefixContains(parsePrefix("::ffff:0.0.0.0/96"), ip("8.8.8.8")));
  throws(() => parsePrefix("10.0.0.0/33"), SyntaxError);
  throws(() => parsePrefix("nonsense/8"), SyntaxError);
});

Deno.test("parsePrefix() reads every network the --track-public-network check lets through", () => {
  // netaddr (and so the flag check) reads IPv4 fields with leading zeros as decimal and IPv6
  // groups with more than four digits; a network the check accepts must not fail the module.
  ok(prefixContains(parsePrefix("010.0.0.0/8"), ip("10.9.9.9")));
  ok(!prefixContains(parsePrefix("010.0.0.0/8"), ip("8.0.0.1")));
  ok(prefixContains(parsePrefix("203.000.113.0/24"), ip("203.0.113.77")));
  ok(prefixContains(parsePrefix("0000:00001::/32"), ip("0:1::5")));
  // parsed, though as an IPv6 network it holds no IPv4 address (Go's netip)
  ok(!prefixContains(parsePrefix("::ffff:010.1.2.3/128"), ip("10.1.2.3")));
  ok(prefixContains(parsePrefix("1.2.3.4/+8"), ip("1.9.9.9")));
  throws(() => parsePrefix("1.2.3.4/1e1"), SyntaxError);
  throws(() => parsePrefix("::/0x10"), SyntaxError);
  throws(() => parsePrefix("1.2.3.4/ 8"), SyntaxError);
});

Deno.test("joinHostPort() brackets IPv6", () => {
  equal(joinHostPort("10.0.0.1", 80), "10.0.0.1:80");
  equal(joinHostPort("fd00::1", 443), "[fd00::1]:443");
});

Deno.test("DestinationFilter skips ephemeral ports except 50051", () => {
  const f = new DestinationFilter({
    ephemeralPorts: parsePortRanges("32768-60999"),
    publicNetworks: [parsePrefix("0.0.0.0/0")],
  });
  ok(f.skipPort(32768) && f.skipPort(60999) && f.skipPort(50000));
  ok(!f.skipPort(32767) && !f.skipPort(61000) && !f.skipPort(50051) && !f.skipPort(80));
  const none = new DestinationFilter({ ephemeralPorts: [], publicNetworks: [] });
  ok(!none.skipPort(40000));
});

Deno.test("DestinationFilter keeps private and loopback, drops link-local, tracks public by network", () => {
  const f = new DestinationFilter({
    ephemeralPorts: [],
    publicNetworks: [parsePrefix("0.0.0.0/0")],
  });
  const skip = (d: string, a = d) => f.skipDestination(ip(d), ip(a), d);
  ok(!skip("10.0.0.5") && !skip("127.0.0.1") && !skip("fd00::5"));
  ok(skip("169.254.169.254") && skip("fe80::1"));
  ok(!skip("8.8.8.8"), "public IPv4 is tracked by default");
  ok(skip("2001:db8::1"), "public IPv6 is not, by default");
  ok(!skip("2001:db8::2", "10.0.0.7"), "a public VIP NATed to a private backend is tracked");
  ok(!skip("2001:db8::2"), "... and stays tracked");
  const narrow = new DestinationFilter({
    ephemeralPorts: [],
    publicNetworks: [parsePrefix("203.0.113.0/24")],
    maxLearned: 1,
  });
  ok(narrow.skipDestination(ip("8.8.8.8"), ip("8.8.8.8"), "8.8.8.8"));
  ok(!narrow.skipDestination(ip("203.0.113.9"), ip("203.0.113.9"), "203.0.113.9"));
  ok(!narrow.skipDestination(ip("1.1.1.1"), ip("10.0.0.1"), "1.1.1.1"));
  ok(!narrow.skipDestination(ip("1.0.0.1"), ip("10.0.0.1"), "1.0.0.1"));
  equal(narrow.learnedOverflow, 1);
});
