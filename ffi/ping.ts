/**
 * The pinger's binding: ICMP/ICMPv6 echo round-trip times measured by
 * libosprey's `osp_ping()` from inside a network namespace (ffi/src/ping.c).
 *
 * Targets cross as `struct osp_ping_target` records (16-byte address, IPv4
 * as `::ffff:a.b.c.d`, family, IPv6 scope) and results come back as
 * `struct osp_ping_result` records (RTT in ns or a negative errno, flags,
 * ICMP type and code). The offsets below mirror ffi/include/osprey.h;
 * `ffi/layout_test.ts` checks them against the compiler's view.
 *
 * @module
 */

import { BpfError, Errno, errnoName } from "./errors.ts";
import { cString, type Native } from "./_native.ts";
import { type IpAddress, parseIpAddress } from "./ip_address.ts";

// --- struct osp_ping_target (ffi/include/osprey.h) ---
export const PING_TARGET_SIZE = 24;
export const PING_TARGET_ADDR = 0;
export const PING_TARGET_ADDR_LEN = 16;
export const PING_TARGET_FAMILY = 16;
export const PING_TARGET_SCOPE_ID = 20;

// --- struct osp_ping_result ---
export const PING_RESULT_SIZE = 16;
export const PING_RESULT_RTT_NS = 0;
export const PING_RESULT_FLAGS = 8;
export const PING_RESULT_ICMP_TYPE = 12;
export const PING_RESULT_ICMP_CODE = 13;
export const PING_RESULT_RESERVED = 14;

/** Most targets one call takes (OSP_PING_MAX_TARGETS: the ICMP sequence is 16 bits). */
export const PING_MAX_TARGETS = 65535;
/** Longest timeout one call takes, in ms (OSP_PING_MAX_TIMEOUT_MS). */
export const PING_MAX_TIMEOUT_MS = 60000;
/** Default deadline of a batch, in ms: the reference pinger's. */
export const DEFAULT_PING_TIMEOUT_MS = 300;

/** Linux address families (AF_INET, AF_INET6). */
export const AddressFamily = { INET: 2, INET6: 10 } as const;

/** enum osp_ping_flags. */
export const PingFlag = { DGRAM_ONLY: 1, USER_CLOCK: 2 } as const;

/** osp_ping_result.flags bits (OSP_PING_R_*). */
export const PingResultFlag = {
  SENT: 1,
  DGRAM: 2,
  TX_KERNEL: 4,
  TX_SCHED: 8,
  RX_KERNEL: 16,
} as const;

/**
 * The C layout these codecs assume, keyed like osp_layout()'s lines:
 * `[offset, size]`. Only for the layout test.
 */
export const EXPECTED_PING_LAYOUT: Readonly<Record<string, readonly [number, number]>> = {
  "osp_ping_target": [0, PING_TARGET_SIZE],
  "osp_ping_target.addr": [PING_TARGET_ADDR, PING_TARGET_ADDR_LEN],
  "osp_ping_target.family": [PING_TARGET_FAMILY, 4],
  "osp_ping_target.scope_id": [PING_TARGET_SCOPE_ID, 4],
  "osp_ping_result": [0, PING_RESULT_SIZE],
  "osp_ping_result.rtt_ns": [PING_RESULT_RTT_NS, 8],
  "osp_ping_result.flags": [PING_RESULT_FLAGS, 4],
  "osp_ping_result.icmp_type": [PING_RESULT_ICMP_TYPE, 1],
  "osp_ping_result.icmp_code": [PING_RESULT_ICMP_CODE, 1],
  "osp_ping_result.reserved": [PING_RESULT_RESERVED, 2],
};

/** Constants mirrored from osprey.h, keyed like osp_layout()'s two-field lines. */
export const EXPECTED_PING_CONSTANTS: Readonly<Record<string, number>> = {
  OSP_PING_MAX_TARGETS: PING_MAX_TARGETS,
  OSP_PING_MAX_TIMEOUT_MS: PING_MAX_TIMEOUT_MS,
  OSP_PING_DGRAM_ONLY: PingFlag.DGRAM_ONLY,
  OSP_PING_USER_CLOCK: PingFlag.USER_CLOCK,
  OSP_PING_R_SENT: PingResultFlag.SENT,
  OSP_PING_R_DGRAM: PingResultFlag.DGRAM,
  OSP_PING_R_TX_KERNEL: PingResultFlag.TX_KERNEL,
  OSP_PING_R_TX_SCHED: PingResultFlag.TX_SCHED,
  OSP_PING_R_RX_KERNEL: PingResultFlag.RX_KERNEL,
  AF_INET: AddressFamily.INET,
  AF_INET6: AddressFamily.INET6,
};

/**
 * Write `struct osp_ping_target` records.
 *
 * @param addresses parsed addresses
 * @returns the records, `addresses.length * PING_TARGET_SIZE` bytes
 */
export function encodePingTargets(addresses: readonly IpAddress[]): Uint8Array {
  const buf = new Uint8Array(addresses.length * PING_TARGET_SIZE);
  const view = new DataView(buf.buffer);
  addresses.forEach((a, i) => {
    const off = i * PING_TARGET_SIZE;
    buf.set(a.bytes, off + PING_TARGET_ADDR);
    view.setUint32(
      off + PING_TARGET_FAMILY,
      a.family === 4 ? AddressFamily.INET : AddressFamily.INET6,
      true,
    );
    view.setUint32(off + PING_TARGET_SCOPE_ID, a.scopeId, true);
  });
  return buf;
}

/** One `struct osp_ping_result`, as the C side wrote it. */
export interface RawPingResult {
  /** >= 0: round-trip time in ns; < 0: -errno. */
  rttNs: number;
  /** OSP_PING_R_* bits ({@linkcode PingResultFlag}). */
  flags: number;
  icmpType: number;
  icmpCode: number;
}

/**
 * Read `count` result records.
 *
 * @param buf what osp_ping() wrote
 * @param count records to read
 * @returns the records in target order
 */
export function decodePingResults(buf: Uint8Array, count: number): RawPingResult[] {
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const out: RawPingResult[] = [];
  for (let i = 0; i < count; i++) {
    const off = i * PING_RESULT_SIZE;
    out.push({
      // an RTT is far below 2^53 ns; errnos are small negatives
      rttNs: Number(view.getBigInt64(off + PING_RESULT_RTT_NS, true)),
      flags: view.getUint32(off + PING_RESULT_FLAGS, true),
      icmpType: view.getUint8(off + PING_RESULT_ICMP_TYPE),
      icmpCode: view.getUint8(off + PING_RESULT_ICMP_CODE),
    });
  }
  return out;
}

/** A target that answered. */
export interface PingReply {
  /** The target as given. */
  address: string;
  /** Round-trip time in seconds. */
  rttSeconds: number;
  /** "raw" (CAP_NET_RAW) or "datagram" (an ICMP "ping" socket). */
  socket: "raw" | "datagram";
  /**
   * Where the send time came from: "kernel" (the driver's software TX
   * timestamp), "kernel-sched" (taken at the qdisc: the device stamps
   * nothing), "user" (clock_gettime before sendto()).
   */
  txClock: "kernel" | "kernel-sched" | "user";
  /** Where the receive time came from: "kernel" (RX timestamp) or "user" (at recvmsg()). */
  rxClock: "kernel" | "user";
}

/** A target without an RTT. */
export interface PingFailure {
  /** The target as given. */
  address: string;
  /**
   * Errno name: "ETIMEDOUT" (no reply by the deadline), "ENETUNREACH",
   * "EHOSTUNREACH", "EACCES" (refused by routing, or an ICMP error came
   * back), "EPERM" (neither raw nor ICMP datagram sockets are allowed in
   * the namespace), "EINVAL" (not an IP address literal), ...
   */
  error: string;
  /** Its number. */
  errno: number;
  /** The echo request was handed to the kernel. */
  sent: boolean;
  /** The ICMP error that ended the probe (type and code), if one came back. */
  icmp?: { type: number; code: number };
}

/** The outcome for one target: `"error" in r` tells them apart. */
export type PingResult = PingReply | PingFailure;

/** Options of {@linkcode ping}. */
export interface PingOptions {
  /**
   * Deadline of the whole batch in ms, from the call; at most
   * {@linkcode PING_MAX_TIMEOUT_MS}.
   * @default {300}
   */
  timeoutMs?: number;
  /**
   * Use ICMP datagram sockets even with CAP_NET_RAW (to exercise that path).
   * @default {false}
   */
  datagramOnly?: boolean;
  /**
   * Ignore kernel timestamps and time with clock_gettime (to exercise that path).
   * @default {false}
   */
  userClock?: boolean;
}

/**
 * Map one raw result to its public shape.
 *
 * @param address the target as given
 * @param r the decoded record
 * @returns a reply or a failure
 */
export function toPingResult(address: string, r: RawPingResult): PingResult {
  if (r.rttNs < 0) {
    const errno = -r.rttNs;
    const failure: PingFailure = {
      address,
      error: errnoName(errno),
      errno,
      sent: (r.flags & PingResultFlag.SENT) !== 0,
    };
    if (r.icmpType !== 0 || r.icmpCode !== 0) {
      failure.icmp = { type: r.icmpType, code: r.icmpCode };
    }
    return failure;
  }
  return {
    address,
    rttSeconds: r.rttNs / 1e9,
    socket: (r.flags & PingResultFlag.DGRAM) !== 0 ? "datagram" : "raw",
    txClock: (r.flags & PingResultFlag.TX_KERNEL) === 0
      ? "user"
      : (r.flags & PingResultFlag.TX_SCHED) !== 0
      ? "kernel-sched"
      : "kernel",
    rxClock: (r.flags & PingResultFlag.RX_KERNEL) !== 0 ? "kernel" : "user",
  };
}

/** Uses its arguments, so the engine keeps them alive up to the call. */
function keepAlive(...buffers: Uint8Array[]): void {
  for (const b of buffers) if (b.byteLength < 0) throw new Error("unreachable");
}

/**
 * Ping a batch of targets from inside a network namespace (used by
 * `OspreyLibrary.ping`). Runs on a pool thread; the namespace is entered on a
 * thread of libosprey's own, never on Deno's.
 *
 * @param native the opened library
 * @param netnsPath a network namespace file ("/proc/<pid>/ns/net" in the
 *   host view, "/run/netns/<name>"); "" for the caller's own namespace
 * @param targets IP address literals; a malformed one fails alone (EINVAL)
 * @param options deadline and path overrides
 * @returns one result per target, in order
 * @throws {RangeError} when timeoutMs or the number of targets is out of range
 * @throws {BpfError} when the whole call failed: ENOENT (no such namespace
 *   file), EINVAL (not a network namespace), EPERM (setns refused: it needs
 *   CAP_SYS_ADMIN), with libosprey's message
 */
export async function ping(
  native: Native,
  netnsPath: string,
  targets: readonly string[],
  options: PingOptions = {},
): Promise<PingResult[]> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_PING_TIMEOUT_MS;
  if (!Number.isInteger(timeoutMs) || timeoutMs < 0 || timeoutMs > PING_MAX_TIMEOUT_MS) {
    throw new RangeError(
      `Cannot ping: timeoutMs must be an integer from 0 to ${PING_MAX_TIMEOUT_MS}, got ${timeoutMs}`,
    );
  }
  if (targets.length > PING_MAX_TARGETS) {
    throw new RangeError(
      `Cannot ping ${targets.length} targets in one call: at most ${PING_MAX_TARGETS}`,
    );
  }
  const results = new Array<PingResult>(targets.length);
  const parsed: IpAddress[] = [];
  const slots: number[] = [];
  targets.forEach((text, i) => {
    const a = parseIpAddress(text);
    if (a) {
      parsed.push(a);
      slots.push(i);
    } else {
      results[i] = { address: text, error: "EINVAL", errno: Errno.EINVAL, sent: false };
    }
  });
  if (parsed.length === 0) return results;

  const flags = (options.datagramOnly ? PingFlag.DGRAM_ONLY : 0) |
    (options.userClock ? PingFlag.USER_CLOCK : 0);
  const path = cString(netnsPath);
  const input = encodePingTargets(parsed);
  const output = new Uint8Array(parsed.length * PING_RESULT_SIZE);
  const ret = await native.track(
    native.symbols.osp_ping(
      path,
      input,
      input.byteLength,
      output,
      output.byteLength,
      timeoutMs,
      flags,
    ),
  );
  // the pool thread used these buffers until now: keep them reachable until here
  keepAlive(path, input);
  if (ret < 0) {
    const where = netnsPath === ""
      ? "the caller's network namespace"
      : `network namespace "${netnsPath}"`;
    throw new BpfError(`ping from ${where}`, -ret, { detail: native.lastError() });
  }
  decodePingResults(output, parsed.length).forEach((r, k) => {
    results[slots[k]] = toPingResult(targets[slots[k]], r);
  });
  return results;
}
