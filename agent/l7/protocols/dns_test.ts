import { deepEqual, equal, throws } from "node:assert/strict";
import {
  dnsQueryId,
  dnsResponseHeader,
  dnsStatusLabel,
  dnsTypeName,
  DomainCap,
  isDroppedDnsResponse,
  normalizeDomain,
  parseDnsResponse,
} from "./dns.ts";

/** Wire form of a name, uncompressed. */
function name(n: string): number[] {
  const out: number[] = [];
  for (const l of n.split(".").filter((x) => x !== "")) {
    out.push(l.length, ...new TextEncoder().encode(l));
  }
  out.push(0);
  return out;
}

function header(id: number, flags: number, rcode: number, qd: number, an: number): number[] {
  return [id >> 8, id & 255, flags, rcode, 0, qd, 0, an, 0, 0, 0, 0];
}

function rr(nameBytes: number[], type: number, rdata: number[]): number[] {
  return [
    ...nameBytes,
    0,
    type,
    0,
    1,
    0,
    0,
    0,
    60,
    rdata.length >> 8,
    rdata.length & 255,
    ...rdata,
  ];
}

const POINTER_TO_QNAME = [0xc0, 12];

Deno.test("dnsQueryId() and dnsResponseHeader() apply the reference's header test", () => {
  const q = new Uint8Array([
    ...header(0xabcd, 0x01, 0x00, 1, 0),
    ...name("example.com"),
    0,
    1,
    0,
    1,
  ]);
  equal(dnsQueryId(q), 0xabcd);
  equal(dnsResponseHeader(q), null);
  const r = new Uint8Array(header(0x1234, 0x81, 0x83, 1, 0));
  deepEqual(dnsResponseHeader(r), { id: 0x1234, rcode: 3 });
  equal(dnsQueryId(r), -1);
  equal(dnsQueryId(new Uint8Array(header(1, 0x08, 0, 1, 0))), -1, "opcode 1 (inverse query)");
  equal(dnsQueryId(new Uint8Array(header(1, 0x00, 0, 2, 0))), -1, "two questions");
  equal(dnsQueryId(new Uint8Array(5)), -1);
  const tcp = new Uint8Array([0, q.length, ...q]);
  equal(dnsQueryId(tcp, "tcp"), 0xabcd);
});

Deno.test("parseDnsResponse() reads the question and A/AAAA answers through pointers", () => {
  const msg = new Uint8Array([
    ...header(7, 0x81, 0x80, 1, 4),
    ...name("www.example.com"),
    0,
    1,
    0,
    1,
    ...rr(POINTER_TO_QNAME, 5, name("web.example.com")), // CNAME
    ...rr([3, 0x77, 0x65, 0x62, 0xc0, 16], 1, [93, 184, 216, 34]), // web + pointer to example.com
    ...rr(POINTER_TO_QNAME, 28, [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]),
    ...rr(POINTER_TO_QNAME, 28, [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 0, 0, 1]),
  ]);
  deepEqual(parseDnsResponse(msg), {
    id: 7,
    rcode: 0,
    requestType: "TypeA",
    name: "www.example.com",
    ips: ["93.184.216.34", "2001:db8::1", "::ffff:10.0.0.1"],
    truncated: false,
  });
  const tcp = new Uint8Array([msg.length >> 8, msg.length & 255, ...msg]);
  deepEqual(parseDnsResponse(tcp, "tcp")?.ips, ["93.184.216.34", "2001:db8::1", "::ffff:10.0.0.1"]);
  const cut = parseDnsResponse(msg.subarray(0, msg.length - 5));
  deepEqual(cut?.ips, ["93.184.216.34", "2001:db8::1"]);
  equal(cut?.truncated, true);
  equal(parseDnsResponse(msg.subarray(0, 20)), null, "the question is cut");
});

Deno.test("parseDnsResponse() refuses pointer loops and over-long names", () => {
  const loop = new Uint8Array([...header(1, 0x81, 0x80, 1, 0), 0xc0, 12, 0, 1, 0, 1]);
  equal(parseDnsResponse(loop), null);
  const long: number[] = [];
  for (let i = 0; i < 5; i++) long.push(63, ...new Array(63).fill(0x61));
  long.push(0);
  equal(
    parseDnsResponse(new Uint8Array([...header(1, 0x81, 0x80, 1, 0), ...long, 0, 1, 0, 1])),
    null,
  );
  const reserved = new Uint8Array([...header(1, 0x81, 0x80, 1, 0), 0x40, 0, 0, 1, 0, 1]);
  equal(parseDnsResponse(reserved), null);
  const root = new Uint8Array([...header(1, 0x81, 0x80, 1, 0), 0, 0, 2, 0, 1]);
  deepEqual(parseDnsResponse(root)?.name, "");
  deepEqual(parseDnsResponse(root)?.requestType, "TypeNS");
});

Deno.test("labels: request_type names, status values, the empty-AAAA rule", () => {
  equal(dnsTypeName(1), "TypeA");
  equal(dnsTypeName(28), "TypeAAAA");
  equal(dnsTypeName(12), "TypePTR");
  equal(dnsTypeName(65), "TypeHTTPS");
  equal(dnsTypeName(99), "99");
  deepEqual([0, 1, 2, 3, 4, 5, 6].map(dnsStatusLabel), [
    "ok",
    "format_error",
    "servfail",
    "nxdomain",
    "not_implemented",
    "refused",
    "",
  ]);
  equal(isDroppedDnsResponse({ requestType: "TypeAAAA", rcode: 0, ips: [] }), true);
  equal(isDroppedDnsResponse({ requestType: "TypeAAAA", rcode: 3, ips: [] }), false);
  equal(isDroppedDnsResponse({ requestType: "TypeAAAA", rcode: 0, ips: ["::1"] }), false);
  equal(isDroppedDnsResponse({ requestType: "TypeA", rcode: 0, ips: [] }), false);
});

Deno.test("normalizeDomain() applies the reference's rules", () => {
  equal(normalizeDomain("4.3.2.1.in-addr.arpa", "TypePTR"), "IP.in-addr.arpa");
  equal(normalizeDomain("coroot.com", "TypeA"), "coroot.com");
  equal(normalizeDomain("ip-172-1-2-3.ec2.internal", "TypeA"), "IP.ec2.internal");
  equal(normalizeDomain("ip-172-1-2-3.ec2", "TypeA"), "IP.ec2");
  equal(normalizeDomain("example.com", "TypeA"), "example.com");
  equal(normalizeDomain("example.com.cluster.local", "TypeA"), "example.com.search_path_suffix");
  equal(
    normalizeDomain("example.com.svc.default.cluster.local", "TypeAAAA"),
    "example.com.search_path_suffix",
  );
  equal(normalizeDomain("example.net.svc", "TypeA"), "example.net.search_path_suffix");
  equal(normalizeDomain("example.org.svc", "TypeA"), "example.org.search_path_suffix");
  equal(normalizeDomain("example.io.svc", "TypeA"), "example.io.search_path_suffix");
  equal(normalizeDomain("com.example.local", "TypeA"), "com.example.local", "first label");
  equal(normalizeDomain("a.b.com", "TypeA"), "a.b.com", "last label");
  equal(normalizeDomain("a.comx.b", "TypeA"), "a.comx.b");
  equal(normalizeDomain("", "TypeA"), "");
});

Deno.test("DomainCap keeps the first N names and buckets the rest as ~other", () => {
  const cap = new DomainCap(2);
  equal(cap.label("a"), "a");
  equal(cap.label("b"), "b");
  equal(cap.label("c"), "~other");
  equal(cap.label("a"), "a");
  equal(cap.label(""), "");
  equal(cap.size, 2);
  equal(cap.overflowed, 1);
  equal(new DomainCap(0).label("x"), "~other");
  throws(() => new DomainCap(-1), RangeError);
});
