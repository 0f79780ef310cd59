import { deepEqual, equal, throws } from "node:assert/strict";
import { addressBytes, formatAddress } from "./ip_address.ts";
import {
  decodeNatResult,
  encodeNatOptions,
  encodeNatQuery,
  NAT_Q_DADDR,
  NAT_Q_DPORT,
  NAT_Q_SADDR,
  NAT_Q_SPORT,
  NAT_Q_START_NS,
  NAT_QUERY_SIZE,
  NAT_R_FLAGS,
  NAT_R_PORT,
  NAT_RESULT_SIZE,
  NatResultFlag,
} from "./nat.ts";

Deno.test("addressBytes() maps IPv4 into IPv6 and parses every IPv6 spelling", () => {
  deepEqual([...addressBytes("10.1.2.3")], [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 255, 255, 10, 1, 2, 3]);
  deepEqual([...addressBytes("::ffff:10.1.2.3")], [...addressBytes("10.1.2.3")]);
  deepEqual([...addressBytes("::")], new Array(16).fill(0));
  deepEqual(
    [...addressBytes("fd00:209:7::9")],
    [0xfd, 0, 0x02, 0x09, 0, 7, 0, 0, 0, 0, 0, 0, 0, 0, 0, 9],
  );
  deepEqual([...addressBytes("1:2:3:4:5:6:7:8")], [0, 1, 0, 2, 0, 3, 0, 4, 0, 5, 0, 6, 0, 7, 0, 8]);
  deepEqual([...addressBytes("FE80::1")], [0xfe, 0x80, ...new Array(13).fill(0), 1]);
  deepEqual([...addressBytes("1::")], [0, 1, ...new Array(14).fill(0)]);
});

Deno.test("addressBytes() refuses what is not an address", () => {
  for (
    const bad of [
      "",
      "10.1.2",
      "10.1.2.3.4",
      "10.01.2.3",
      "256.1.1.1",
      "10.1.2.x",
      ":::",
      "1::2::3",
      "1:2:3:4:5:6:7:8:9",
      "1:2:3:4:5:6:7",
      "12345::",
      "::1.2.3",
      "[::1]",
      "fe80::1%eth0",
    ]
  ) {
    throws(() => addressBytes(bad), TypeError, bad);
  }
});

Deno.test("formatAddress() writes dotted IPv4 for mapped addresses and RFC 5952 IPv6", () => {
  const f = (s: string) => formatAddress(addressBytes(s));
  equal(f("10.1.2.3"), "10.1.2.3");
  equal(f("::"), "::");
  equal(f("::1"), "::1");
  equal(f("FD00:0:0:0:0:0:0:9"), "fd00::9");
  equal(f("1:0:0:2:0:0:0:3"), "1:0:0:2::3"); // the longest zero run
  equal(f("1:0:0:2:0:0:3:4"), "1::2:0:0:3:4"); // the first of equal runs
  equal(f("1:0:2:3:4:5:6:7"), "1:0:2:3:4:5:6:7"); // a single zero group stays
  equal(f("::ffff:0:0"), "0.0.0.0");
  equal(f("::fffe:1:2"), "::fffe:1:2");
  const buf = new Uint8Array(20);
  buf.set(addressBytes("192.168.0.1"), 4);
  equal(formatAddress(buf, 4), "192.168.0.1");
});

Deno.test("encodeNatQuery() writes struct osp_nat_query", () => {
  const buf = new Uint8Array(2 * NAT_QUERY_SIZE).fill(0xaa);
  const view = new DataView(buf.buffer);
  encodeNatQuery(view, NAT_QUERY_SIZE, {
    saddr: "10.0.0.2",
    daddr: addressBytes("fd00::9"),
    sport: 40000,
    dport: 80,
    startNs: 2 ** 40 + 5,
  });
  const at = NAT_QUERY_SIZE;
  deepEqual([...buf.subarray(0, NAT_QUERY_SIZE)], new Array(NAT_QUERY_SIZE).fill(0xaa));
  equal(formatAddress(buf, at + NAT_Q_SADDR), "10.0.0.2");
  equal(formatAddress(buf, at + NAT_Q_DADDR), "fd00::9");
  equal(view.getUint16(at + NAT_Q_SPORT, true), 40000);
  equal(view.getUint16(at + NAT_Q_DPORT, true), 80);
  equal(view.getUint32(at + 36, true), 0);
  equal(view.getBigUint64(at + NAT_Q_START_NS, true), 2n ** 40n + 5n);
  throws(() => encodeNatQuery(view, 0, { saddr: "x", daddr: "::", sport: 1, dport: 1 }), TypeError);
  throws(
    () => encodeNatQuery(view, 0, { saddr: "::", daddr: "::", sport: 65536, dport: 1 }),
    TypeError,
  );
  throws(
    () => encodeNatQuery(view, 0, { saddr: new Uint8Array(4), daddr: "::", sport: 1, dport: 1 }),
    TypeError,
  );
});

Deno.test("decodeNatResult() reads struct osp_nat_result and names the answer's source", () => {
  const buf = new Uint8Array(4 * NAT_RESULT_SIZE);
  const view = new DataView(buf.buffer);
  const put = (i: number, addr: string, port: number, flags: number) => {
    buf.set(addressBytes(addr), i * NAT_RESULT_SIZE);
    view.setUint16(i * NAT_RESULT_SIZE + NAT_R_PORT, port, true);
    view.setUint16(i * NAT_RESULT_SIZE + NAT_R_FLAGS, flags, true);
  };
  put(0, "10.2.0.7", 8080, NatResultFlag.FOUND);
  put(1, "fd00::7", 443, NatResultFlag.FOUND | NatResultFlag.SEEDED);
  put(2, "10.2.0.8", 80, NatResultFlag.FOUND | NatResultFlag.GET);
  put(3, "::", 0, NatResultFlag.GET | NatResultFlag.UNVERIFIED);
  deepEqual([0, 1, 2, 3].map((i) => decodeNatResult(buf, i * NAT_RESULT_SIZE)), [
    {
      found: true,
      addr: "10.2.0.7",
      port: 8080,
      source: "cache",
      unverified: false,
      badQuery: false,
    },
    { found: true, addr: "fd00::7", port: 443, source: "seed", unverified: false, badQuery: false },
    { found: true, addr: "10.2.0.8", port: 80, source: "get", unverified: false, badQuery: false },
    { found: false, addr: "", port: 0, source: "get", unverified: true, badQuery: false },
  ]);
});

Deno.test("encodeNatOptions() writes struct osp_nat_options and refuses out-of-range values", () => {
  const o = encodeNatOptions({ capacity: 4, setEvents: true, noSeed: true, getRate: 0xffffffff });
  const view = new DataView(o.buffer);
  deepEqual([0, 4, 8, 12, 16, 20].map((at) => view.getUint32(at, true)), [
    4,
    1 | 4,
    0,
    0,
    0xffffffff,
    0,
  ]);
  throws(() => encodeNatOptions({ capacity: -1 }), RangeError);
  throws(() => encodeNatOptions({ intervalMs: 1.5 }), RangeError);
});
