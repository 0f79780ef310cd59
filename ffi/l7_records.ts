/**
 * Decoder for the l7 object's payload records (`struct osp_l7_event`,
 * bpf/l7.h). Offsets mirror the C struct; `ffi/layout_test.ts` checks them
 * against osp_layout(). Records are variable-sized: the header, then `len`
 * payload bytes.
 *
 * @module
 */
import { formatAddress } from "./ip_address.ts";
import { type FrameBatch, REC_TS_NS, REC_TYPE } from "./records.ts";
import { socketKey } from "./tcp_records.ts";

// --- struct osp_l7_event (bpf/l7.h) ---
export const L7_PAYLOAD_MAX = 1024;
/** Most iovecs of one vectored call a record copies from (OSP_L7_IOV_MAX). */
export const L7_IOV_MAX = 16;
export const L7_SK = 16;
export const L7_CGROUP_ID = 24;
export const L7_SIZE = 32;
export const L7_PID = 40;
export const L7_FD = 44;
export const L7_NETNS = 48;
export const L7_FAMILY = 52;
export const L7_SPORT = 54;
export const L7_DPORT = 56;
export const L7_DIR = 58;
export const L7_L4 = 59;
export const L7_LEN = 60;
export const L7_FLAGS = 62;
export const L7_RESERVED = 64;
export const L7_SADDR = 68;
export const L7_DADDR = 84;
export const L7_PAYLOAD = 100;
export const L7_EVENT_SIZE = L7_PAYLOAD + L7_PAYLOAD_MAX + 4;

/** The l7 object's record type number (enum osp_rec_type). */
export const L7_RECORD_TYPE = 21;

/** osp_l7_event.flags bits (OSP_L7_F_*). */
export const L7Flag = { VECTORED: 1, CUT: 2 } as const;

/** Indexes of the l7 object's counters (enum osp_l7_counter). */
export const L7Counter = {
  ARGS_FULL: 0,
  RECORDS: 1,
  CUT: 2,
  READ_FAULT: 3,
  IOV_LEFT: 4,
  MAX: 5,
} as const;

/** The l7 object's C layout, keyed like osp_layout()'s lines: `[offset, size]`. */
export const L7_EXPECTED_LAYOUT: Readonly<Record<string, readonly [number, number]>> = {
  "osp_l7_event": [0, L7_EVENT_SIZE],
  "osp_l7_event.hdr": [0, 16],
  "osp_l7_event.sk": [L7_SK, 8],
  "osp_l7_event.cgroup_id": [L7_CGROUP_ID, 8],
  "osp_l7_event.size": [L7_SIZE, 8],
  "osp_l7_event.pid": [L7_PID, 4],
  "osp_l7_event.fd": [L7_FD, 4],
  "osp_l7_event.netns": [L7_NETNS, 4],
  "osp_l7_event.family": [L7_FAMILY, 2],
  "osp_l7_event.sport": [L7_SPORT, 2],
  "osp_l7_event.dport": [L7_DPORT, 2],
  "osp_l7_event.dir": [L7_DIR, 1],
  "osp_l7_event.l4": [L7_L4, 1],
  "osp_l7_event.len": [L7_LEN, 2],
  "osp_l7_event.flags": [L7_FLAGS, 2],
  "osp_l7_event.reserved": [L7_RESERVED, 4],
  "osp_l7_event.saddr": [L7_SADDR, 16],
  "osp_l7_event.daddr": [L7_DADDR, 16],
  "osp_l7_event.payload": [L7_PAYLOAD, L7_PAYLOAD_MAX],
};

/** The l7 object's constants, keyed like osp_layout()'s two-field lines. */
export const L7_EXPECTED_CONSTANTS: Readonly<Record<string, number>> = {
  OSP_REC_L7_PAYLOAD: L7_RECORD_TYPE,
  OSP_L7_PAYLOAD_MAX: L7_PAYLOAD_MAX,
  OSP_L7_IOV_MAX: L7_IOV_MAX,
  OSP_L7_DIR_WRITE: 0,
  OSP_L7_DIR_READ: 1,
  OSP_L7_F_VECTORED: L7Flag.VECTORED,
  OSP_L7_F_CUT: L7Flag.CUT,
  OSP_L7_CNT_ARGS_FULL: L7Counter.ARGS_FULL,
  OSP_L7_CNT_RECORDS: L7Counter.RECORDS,
  OSP_L7_CNT_CUT: L7Counter.CUT,
  OSP_L7_CNT_READ_FAULT: L7Counter.READ_FAULT,
  OSP_L7_CNT_IOV_LEFT: L7Counter.IOV_LEFT,
  OSP_L7_CNT_MAX: L7Counter.MAX,
};

/** A decoded `struct osp_l7_event`; `payload` is a view into the drained batch. */
export interface L7Event {
  /** Boot-time clock (CLOCK_BOOTTIME) of the syscall's return, ns. */
  tsNs: number;
  /** The socket's kernel address, low 52 bits (as the tcp records' `sk`). */
  sk: number;
  cgroupId: number;
  /** Bytes the syscall moved. */
  size: number;
  pid: number;
  fd: number;
  netns: number;
  /** 6 (TCP) or 17 (UDP). */
  l4: number;
  /** "write": the process sent it; "read": it received it. */
  dir: "write" | "read";
  /** 4 or 6 (IPv4-mapped addresses count as 4); 0 for an unknown family. */
  ipVersion: 0 | 4 | 6;
  /** Local address as text: filled by {@linkcode fillL7Addresses} only (it costs a string). */
  saddr: string;
  sport: number;
  /** Remote address as text: filled by {@linkcode fillL7Addresses} only. */
  daddr: string;
  /** 0 on an unconnected UDP socket. */
  dport: number;
  /** OSP_L7_F_* bits ({@linkcode L7Flag}). */
  flags: number;
  /** The first bytes moved (a view: valid until the next drain). */
  payload: Uint8Array;
  /** Internal: where the addresses sit, for {@linkcode fillL7Addresses}. */
  addrBytes: Uint8Array;
  addrOffset: number;
}

/** A fresh L7Event to pass as `out` to {@linkcode decodeL7Event}. */
export function emptyL7Event(): L7Event {
  return {
    tsNs: 0,
    sk: 0,
    cgroupId: 0,
    size: 0,
    pid: 0,
    fd: -1,
    netns: 0,
    l4: 0,
    dir: "write",
    ipVersion: 0,
    saddr: "",
    sport: 0,
    daddr: "",
    dport: 0,
    flags: 0,
    payload: new Uint8Array(0),
    addrBytes: new Uint8Array(0),
    addrOffset: 0,
  };
}

/**
 * Formats `saddr` and `daddr` of a decoded record (not done by {@linkcode decodeL7Event}: most
 * records never need them). Valid while the drained batch is.
 */
export function fillL7Addresses(e: L7Event): void {
  e.saddr = e.ipVersion === 0 ? "" : formatAddress(e.addrBytes, e.addrOffset + L7_SADDR);
  e.daddr = e.ipVersion === 0 ? "" : formatAddress(e.addrBytes, e.addrOffset + L7_DADDR);
}

/** The remote address's 16 raw bytes of a decoded record (a copy, valid after the drain). */
export function l7RemoteAddress(e: L7Event): Uint8Array {
  return e.addrBytes.slice(e.addrOffset + L7_DADDR, e.addrOffset + L7_DADDR + 16);
}

/**
 * Whether a decoded record's remote address is `addr` (from {@linkcode l7RemoteAddress}):
 * compared as bytes, with no text made.
 */
export function l7SameRemote(e: L7Event, addr: Uint8Array): boolean {
  const b = e.addrBytes;
  const at = e.addrOffset + L7_DADDR;
  for (let i = 0; i < 16; i++) if (b[at + i] !== addr[i]) return false;
  return true;
}

const TWO_32 = 4294967296;

/** Type number of the record at `offset`, to tell L7 records from others. */
export function l7RecordType(batch: FrameBatch, offset: number): number {
  return batch.view.getUint16(offset + REC_TYPE, true);
}

/**
 * Decode the `struct osp_l7_event` at `offset`.
 *
 * @param batch the drained buffer
 * @param offset the record's offset (past its frame header)
 * @param recordLength the frame's length; a payload claiming more is cut to it
 * @param out an object to fill
 * @returns `out`
 */
export function decodeL7Event(
  batch: FrameBatch,
  offset: number,
  recordLength: number,
  out: L7Event,
): L7Event {
  const view = batch.view;
  const b = batch.bytes;
  out.tsNs = view.getUint32(offset + REC_TS_NS + 4, true) * TWO_32 +
    view.getUint32(offset + REC_TS_NS, true);
  out.sk = socketKey(view, offset + L7_SK);
  out.cgroupId = view.getUint32(offset + L7_CGROUP_ID + 4, true) * TWO_32 +
    view.getUint32(offset + L7_CGROUP_ID, true);
  out.size = view.getUint32(offset + L7_SIZE + 4, true) * TWO_32 +
    view.getUint32(offset + L7_SIZE, true);
  out.pid = view.getUint32(offset + L7_PID, true);
  out.fd = view.getInt32(offset + L7_FD, true);
  out.netns = view.getUint32(offset + L7_NETNS, true);
  out.l4 = b[offset + L7_L4];
  out.dir = b[offset + L7_DIR] === 1 ? "read" : "write";
  const family = view.getUint16(offset + L7_FAMILY, true);
  out.sport = view.getUint16(offset + L7_SPORT, true);
  out.dport = view.getUint16(offset + L7_DPORT, true);
  out.flags = view.getUint16(offset + L7_FLAGS, true);
  let len = view.getUint16(offset + L7_LEN, true);
  const room = Math.max(0, recordLength - L7_PAYLOAD);
  if (len > room) len = room;
  out.payload = b.subarray(offset + L7_PAYLOAD, offset + L7_PAYLOAD + len);
  out.ipVersion = family === 2 ? 4 : family === 10 ? (isV4Mapped(b, offset + L7_DADDR) ? 4 : 6) : 0;
  out.saddr = "";
  out.daddr = "";
  out.addrBytes = b;
  out.addrOffset = offset;
  return out;
}

function isV4Mapped(b: Uint8Array, off: number): boolean {
  for (let i = 0; i < 10; i++) if (b[off + i] !== 0) return false;
  return b[off + 10] === 0xff && b[off + 11] === 0xff;
}
