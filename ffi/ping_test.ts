import { deepEqual, equal, ok, rejects } from "node:assert/strict";
import { BpfError } from "./errors.ts";
import { parseIpAddress } from "./ip_address.ts";
import {
  decodePingResults,
  encodePingTargets,
  ping,
  PING_RESULT_SIZE,
  PING_TARGET_SIZE,
  PingFlag,
  PingResultFlag,
  toPingResult,
} from "./ping.ts";
import type { Native } from "./_native.ts";
import type { OspreySymbols } from "./symbols.ts";

function hex(bytes: Uint8Array): string {
  return [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
}

Deno.test("parseIpAddress() reads IPv4 as IPv4-mapped IPv6 bytes", () => {
  const a = parseIpAddress("10.1.2.254")!;
  equal(a.family, 4);
  equal(hex(a.bytes), "00000000000000000000ffff0a0102fe");
  equal(a.scopeId, 0);
});

Deno.test("parseIpAddress() reads IPv6 with and without compression", () => {
  equal(hex(parseIpAddress("fd00::1")!.bytes), "fd000000000000000000000000000001");
  equal(hex(parseIpAddress("::1")!.bytes), "00000000000000000000000000000001");
  equal(hex(parseIpAddress("::")!.bytes), "00000000000000000000000000000000");
  equal(hex(parseIpAddress("fe80::")!.bytes), "fe800000000000000000000000000000");
  equal(
    hex(parseIpAddress("2001:DB8:0:1:2:3:4:5")!.bytes),
    "20010db8000000010002000300040005",
  );
  equal(hex(parseIpAddress("64:ff9b::10.0.0.1")!.bytes), "0064ff9b00000000000000000a000001");
  equal(parseIpAddress("fd00::1")!.family, 6);
});

Deno.test("parseIpAddress() takes IPv4-mapped IPv6 as IPv4 and a numeric zone", () => {
  const m = parseIpAddress("::ffff:192.168.0.1")!;
  equal(m.family, 4);
  equal(hex(m.bytes), "00000000000000000000ffffc0a80001");
  equal(parseIpAddress("::ffff:c0a8:1")!.family, 4);
  const z = parseIpAddress("fe80::1%7")!;
  equal(z.family, 6);
  equal(z.scopeId, 7);
});

Deno.test("parseIpAddress() refuses what is not an address literal", () => {
  for (
    const bad of [
      "",
      "localhost",
      "10.0.0",
      "10.0.0.256",
      "10.0.0.01",
      "1.2.3.4.5",
      " 10.0.0.1",
      "fd00:::1",
      "fd00::1::2",
      "1:2:3:4:5:6:7",
      "1:2:3:4:5:6:7:8:9",
      "1:2:3:4::5:6:7:8",
      "12345::1",
      "fe80::1%eth0",
      "fe80::1%",
      "::ffff:10.0.0.1%3",
      "10.0.0.1%3",
      "g::1",
      "::1.2.3.4:5",
    ]
  ) {
    equal(parseIpAddress(bad), undefined, bad);
  }
});

Deno.test("encodePingTargets() writes address, family and scope at the C offsets", () => {
  const buf = encodePingTargets([parseIpAddress("10.0.0.1")!, parseIpAddress("fe80::2%3")!]);
  equal(buf.byteLength, 2 * PING_TARGET_SIZE);
  const view = new DataView(buf.buffer);
  equal(hex(buf.subarray(0, 16)), "00000000000000000000ffff0a000001");
  equal(view.getUint32(16, true), 2);
  equal(view.getUint32(20, true), 0);
  equal(hex(buf.subarray(24, 40)), "fe800000000000000000000000000002");
  equal(view.getUint32(40, true), 10);
  equal(view.getUint32(44, true), 3);
});

function resultBytes(rows: Array<[bigint, number, number, number]>): Uint8Array {
  const buf = new Uint8Array(rows.length * PING_RESULT_SIZE);
  const view = new DataView(buf.buffer);
  rows.forEach(([rtt, flags, type, code], i) => {
    view.setBigInt64(i * 16, rtt, true);
    view.setUint32(i * 16 + 8, flags, true);
    view.setUint8(i * 16 + 12, type);
    view.setUint8(i * 16 + 13, code);
  });
  return buf;
}

Deno.test("decodePingResults() and toPingResult() map RTTs, errnos and flags", () => {
  const F = PingResultFlag;
  const raw = decodePingResults(
    resultBytes([
      [123456n, F.SENT | F.TX_KERNEL | F.RX_KERNEL, 0, 0],
      [2000n, F.SENT | F.DGRAM | F.TX_KERNEL | F.TX_SCHED, 0, 0],
      [-110n, F.SENT, 0, 0],
      [-113n, F.SENT | F.DGRAM, 3, 1],
      [-1n, 0, 0, 0],
    ]),
    5,
  );
  deepEqual(raw[0], { rttNs: 123456, flags: 21, icmpType: 0, icmpCode: 0 });
  deepEqual(toPingResult("a", raw[0]), {
    address: "a",
    rttSeconds: 0.000123456,
    socket: "raw",
    txClock: "kernel",
    rxClock: "kernel",
  });
  deepEqual(toPingResult("b", raw[1]), {
    address: "b",
    rttSeconds: 0.000002,
    socket: "datagram",
    txClock: "kernel-sched",
    rxClock: "user",
  });
  deepEqual(toPingResult("c", raw[2]), {
    address: "c",
    error: "ETIMEDOUT",
    errno: 110,
    sent: true,
  });
  deepEqual(toPingResult("d", raw[3]), {
    address: "d",
    error: "EHOSTUNREACH",
    errno: 113,
    sent: true,
    icmp: { type: 3, code: 1 },
  });
  deepEqual(toPingResult("e", raw[4]), { address: "e", error: "EPERM", errno: 1, sent: false });
});

/** A Native whose osp_ping is scripted: records its arguments, answers with `rows`. */
function fakeNative(
  answer: (targets: Uint8Array, out: Uint8Array) => number,
  seen: { path?: string; count?: number; timeout?: number; flags?: number; calls: number },
): Native {
  const symbols = {
    osp_ping(
      path: Uint8Array,
      targets: Uint8Array,
      targetsLen: number,
      out: Uint8Array,
      outCap: number,
      timeoutMs: number,
      flags: number,
    ): Promise<number> {
      seen.calls++;
      seen.path = new TextDecoder().decode(path.subarray(0, path.indexOf(0)));
      seen.count = targetsLen / PING_TARGET_SIZE;
      seen.timeout = timeoutMs;
      seen.flags = flags;
      equal(outCap, seen.count * PING_RESULT_SIZE);
      return Promise.resolve(answer(targets, out));
    },
  } as unknown as OspreySymbols;
  return {
    symbols,
    lastError: () => 'open network namespace "/nope": No such file or directory (errno 2)',
    check: (ret) => ret,
    track: (p) => p,
    text: () => "",
  };
}

Deno.test("ping() fails malformed targets alone and sends only the others", async () => {
  const seen = { calls: 0 } as { calls: number; path?: string; count?: number; flags?: number };
  const native = fakeNative((targets, out) => {
    const view = new DataView(out.buffer);
    // the two valid targets, in order
    equal(hex(targets.subarray(12, 16)), "0a000001");
    equal(hex(targets.subarray(24, 40)), "fd000000000000000000000000000002");
    view.setBigInt64(0, 5000n, true);
    view.setUint32(8, PingResultFlag.SENT, true);
    view.setBigInt64(16, -110n, true);
    view.setUint32(24, PingResultFlag.SENT, true);
    return 1;
  }, seen);
  const r = await ping(native, "/run/netns/x", ["10.0.0.1", "not-an-ip", "fd00::2"], {
    timeoutMs: 250,
    datagramOnly: true,
  });
  equal(seen.calls, 1);
  equal(seen.path, "/run/netns/x");
  equal(seen.count, 2);
  equal(seen.flags, PingFlag.DGRAM_ONLY);
  deepEqual(r, [
    { address: "10.0.0.1", rttSeconds: 0.000005, socket: "raw", txClock: "user", rxClock: "user" },
    { address: "not-an-ip", error: "EINVAL", errno: 22, sent: false },
    { address: "fd00::2", error: "ETIMEDOUT", errno: 110, sent: true },
  ]);
});

Deno.test("ping() makes no call when nothing is valid, and checks its options", async () => {
  const seen = { calls: 0 };
  const native = fakeNative(() => 0, seen);
  deepEqual(await ping(native, "", []), []);
  deepEqual(await ping(native, "", ["x"]), [
    { address: "x", error: "EINVAL", errno: 22, sent: false },
  ]);
  equal(seen.calls, 0);
  await rejects(() => ping(native, "", ["10.0.0.1"], { timeoutMs: 60001 }), RangeError);
  await rejects(() => ping(native, "", ["10.0.0.1"], { timeoutMs: 1.5 }), RangeError);
  await rejects(() => ping(native, "", new Array(65536).fill("10.0.0.1")), RangeError);
  equal(seen.calls, 0);
});

Deno.test("ping() turns a whole-call failure into a BpfError with libosprey's message", async () => {
  const native = fakeNative(() => -2, { calls: 0 });
  await rejects(() => ping(native, "/nope", ["10.0.0.1"]), (err: unknown) => {
    ok(err instanceof BpfError);
    equal(err.code, "ENOENT");
    equal(err.operation, 'ping from network namespace "/nope"');
    ok(err.message.includes("No such file or directory"), err.message);
    return true;
  });
});
