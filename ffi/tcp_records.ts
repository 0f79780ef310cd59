/**
 * Decoders for the tcp object's records (`struct osp_tcp_event`, bpf/tcp.h)
 * and for the entries of its "tcp_conns" map (`struct osp_tcp_conn`), read
 * with {@linkcode BpfObject.readMap}. Offsets mirror the C structs;
 * `ffi/layout_test.ts` checks them against osp_layout().
 *
 * Addresses are 16 bytes in the kernel records (IPv6, or IPv4-mapped IPv6)
 * and come out as text: `10.0.0.1` for IPv4-mapped, RFC 5952 form for IPv6.
 *
 * @module
 */
import { formatAddress } from "./ip_address.ts";
import { AddressFamily } from "./ping.ts";
import { type FrameBatch, REC_TS_NS, REC_TYPE } from "./records.ts";

// --- struct osp_tcp_event (bpf/tcp.h) ---
export const TCP_EVENT_SIZE = 144;
export const TCP_SK = 16;
export const TCP_CGROUP_ID = 24;
export const TCP_START_NS = 32;
export const TCP_DURATION_NS = 40;
export const TCP_BYTES_SENT = 48;
export const TCP_BYTES_RECEIVED = 56;
export const TCP_PID = 64;
export const TCP_FD = 68;
export const TCP_NETNS = 72;
export const TCP_RETRANSMITS = 76;
export const TCP_FAMILY = 80;
export const TCP_SPORT = 82;
export const TCP_DPORT = 84;
export const TCP_APORT = 86;
export const TCP_FLAGS = 88;
export const TCP_OLD_STATE = 90;
export const TCP_NEW_STATE = 91;
export const TCP_RESERVED = 92;
export const TCP_SADDR = 96;
export const TCP_DADDR = 112;
export const TCP_AADDR = 128;

// --- struct osp_tcp_conn (bpf/tcp.h), the value of "tcp_conns" ---
export const TCP_CONN_SIZE = 64;
export const CONN_START_NS = 0;
export const CONN_CGROUP_ID = 8;
export const CONN_BYTES_SENT = 16;
export const CONN_BYTES_RECEIVED = 24;
export const CONN_INODE = 32;
export const CONN_PID = 40;
export const CONN_FD = 44;
export const CONN_RETRANSMITS = 48;
export const CONN_COPIED_SEQ = 52;
export const CONN_FLAGS = 56;
export const CONN_END_RETRANSMITS = 60;

// --- struct osp_map_cursor (ffi/include/osprey.h) ---
export const MAP_CURSOR_SIZE = 72;
export const MAP_CURSOR_STATE = 0;
export const MAP_CURSOR_RESERVED = 4;
export const MAP_CURSOR_TOKEN = 8;
export const MAP_CURSOR_TOKEN_LEN = 64;

/** The tcp object's record type numbers (enum osp_rec_type). */
export const TcpRecordType = {
  CONNECT: 10,
  FAILED: 11,
  END: 12,
  CLOSE: 13,
  LISTEN: 14,
  LISTEN_CLOSE: 15,
} as const;

/** osp_tcp_event.flags / osp_tcp_conn.flags bits (OSP_TCP_F_*). */
export const TcpFlag = {
  INBOUND: 1,
  UNTRACKED: 2,
  ENDED: 4,
  AFTER_END: 8,
  NAT: 16,
  ACTIVE_AFTER_END: 32,
  FIN_COUNTED: 64,
} as const;

/** Indexes of the tcp object's counters (enum osp_tcp_counter). */
export const TcpCounter = {
  CONN_FULL: 0,
  LAZY: 1,
  CONNECT_UNTRACKED: 2,
  ACCEPTED: 3,
  NAT_SEEN: 4,
  NAT_FULL: 5,
  NAT_USED: 6,
  MAX: 8,
} as const;

/** TCP states as the kernel numbers them (include/net/tcp_states.h). */
export const TcpState = {
  ESTABLISHED: 1,
  SYN_SENT: 2,
  SYN_RECV: 3,
  FIN_WAIT1: 4,
  FIN_WAIT2: 5,
  TIME_WAIT: 6,
  CLOSE: 7,
  CLOSE_WAIT: 8,
  LAST_ACK: 9,
  LISTEN: 10,
  CLOSING: 11,
  NEW_SYN_RECV: 12,
  BOUND_INACTIVE: 13,
} as const;

/** The tcp object's C layout, keyed like osp_layout()'s lines: `[offset, size]`. */
export const TCP_EXPECTED_LAYOUT: Readonly<Record<string, readonly [number, number]>> = {
  "osp_tcp_event": [0, TCP_EVENT_SIZE],
  "osp_tcp_event.hdr": [0, 16],
  "osp_tcp_event.sk": [TCP_SK, 8],
  "osp_tcp_event.cgroup_id": [TCP_CGROUP_ID, 8],
  "osp_tcp_event.start_ns": [TCP_START_NS, 8],
  "osp_tcp_event.duration_ns": [TCP_DURATION_NS, 8],
  "osp_tcp_event.bytes_sent": [TCP_BYTES_SENT, 8],
  "osp_tcp_event.bytes_received": [TCP_BYTES_RECEIVED, 8],
  "osp_tcp_event.pid": [TCP_PID, 4],
  "osp_tcp_event.fd": [TCP_FD, 4],
  "osp_tcp_event.netns": [TCP_NETNS, 4],
  "osp_tcp_event.retransmits": [TCP_RETRANSMITS, 4],
  "osp_tcp_event.family": [TCP_FAMILY, 2],
  "osp_tcp_event.sport": [TCP_SPORT, 2],
  "osp_tcp_event.dport": [TCP_DPORT, 2],
  "osp_tcp_event.aport": [TCP_APORT, 2],
  "osp_tcp_event.flags": [TCP_FLAGS, 2],
  "osp_tcp_event.old_state": [TCP_OLD_STATE, 1],
  "osp_tcp_event.new_state": [TCP_NEW_STATE, 1],
  "osp_tcp_event.reserved": [TCP_RESERVED, 4],
  "osp_tcp_event.saddr": [TCP_SADDR, 16],
  "osp_tcp_event.daddr": [TCP_DADDR, 16],
  "osp_tcp_event.aaddr": [TCP_AADDR, 16],
  "osp_tcp_conn": [0, TCP_CONN_SIZE],
  "osp_tcp_conn.start_ns": [CONN_START_NS, 8],
  "osp_tcp_conn.cgroup_id": [CONN_CGROUP_ID, 8],
  "osp_tcp_conn.bytes_sent": [CONN_BYTES_SENT, 8],
  "osp_tcp_conn.bytes_received": [CONN_BYTES_RECEIVED, 8],
  "osp_tcp_conn.inode": [CONN_INODE, 8],
  "osp_tcp_conn.pid": [CONN_PID, 4],
  "osp_tcp_conn.fd": [CONN_FD, 4],
  "osp_tcp_conn.retransmits": [CONN_RETRANSMITS, 4],
  "osp_tcp_conn.copied_seq": [CONN_COPIED_SEQ, 4],
  "osp_tcp_conn.flags": [CONN_FLAGS, 4],
  "osp_tcp_conn.end_retransmits": [CONN_END_RETRANSMITS, 4],
  "osp_map_cursor": [0, MAP_CURSOR_SIZE],
  "osp_map_cursor.state": [MAP_CURSOR_STATE, 4],
  "osp_map_cursor.reserved": [MAP_CURSOR_RESERVED, 4],
  "osp_map_cursor.token": [MAP_CURSOR_TOKEN, MAP_CURSOR_TOKEN_LEN],
};

/** The tcp object's constants, keyed like osp_layout()'s two-field lines. */
export const TCP_EXPECTED_CONSTANTS: Readonly<Record<string, number>> = {
  OSP_REC_TCP_CONNECT: TcpRecordType.CONNECT,
  OSP_REC_TCP_FAILED: TcpRecordType.FAILED,
  OSP_REC_TCP_END: TcpRecordType.END,
  OSP_REC_TCP_CLOSE: TcpRecordType.CLOSE,
  OSP_REC_TCP_LISTEN: TcpRecordType.LISTEN,
  OSP_REC_TCP_LISTEN_CLOSE: TcpRecordType.LISTEN_CLOSE,
  OSP_TCP_F_INBOUND: TcpFlag.INBOUND,
  OSP_TCP_F_UNTRACKED: TcpFlag.UNTRACKED,
  OSP_TCP_F_ENDED: TcpFlag.ENDED,
  OSP_TCP_F_AFTER_END: TcpFlag.AFTER_END,
  OSP_TCP_F_NAT: TcpFlag.NAT,
  OSP_TCP_F_ACTIVE_AFTER_END: TcpFlag.ACTIVE_AFTER_END,
  OSP_TCP_F_FIN_COUNTED: TcpFlag.FIN_COUNTED,
  OSP_TCP_CNT_CONN_FULL: TcpCounter.CONN_FULL,
  OSP_TCP_CNT_LAZY: TcpCounter.LAZY,
  OSP_TCP_CNT_CONNECT_UNTRACKED: TcpCounter.CONNECT_UNTRACKED,
  OSP_TCP_CNT_ACCEPTED: TcpCounter.ACCEPTED,
  OSP_TCP_CNT_NAT_SEEN: TcpCounter.NAT_SEEN,
  OSP_TCP_CNT_NAT_FULL: TcpCounter.NAT_FULL,
  OSP_TCP_CNT_NAT_USED: TcpCounter.NAT_USED,
  OSP_TCP_CNT_MAX: TcpCounter.MAX,
};

/** What a tcp record says happened. */
export type TcpEventType =
  | "connect"
  | "failed"
  | "end"
  | "close"
  | "listen"
  | "listen_close"
  | "unknown";

const TYPE_NAMES: Readonly<Record<number, TcpEventType>> = {
  [TcpRecordType.CONNECT]: "connect",
  [TcpRecordType.FAILED]: "failed",
  [TcpRecordType.END]: "end",
  [TcpRecordType.CLOSE]: "close",
  [TcpRecordType.LISTEN]: "listen",
  [TcpRecordType.LISTEN_CLOSE]: "listen_close",
};

/** A decoded `struct osp_tcp_event`. */
export interface TcpEvent {
  type: TcpEventType;
  /** Boot-time clock (CLOCK_BOOTTIME) of the record, ns. */
  tsNs: number;
  /**
   * The connection's identity while it lives: the kernel's socket address,
   * its low 52 bits (see {@linkcode socketKey}).
   */
  sk: number;
  /** Cgroup v2 id of the connecting or accepting task; 0 unknown. */
  cgroupId: number;
  /** Boot ns of SYN_SENT (outbound) or of the accept; 0 unknown. */
  startNs: number;
  /** connect, failed: SYN_SENT to ESTABLISHED or CLOSE, ns. */
  durationNs: number;
  /** end: total; close: since end. */
  bytesSent: number;
  /** end: total; close: since end. */
  bytesReceived: number;
  /** Process id (tgid) of the owner; 0 unknown. */
  pid: number;
  /** The owner's descriptor; -1 unknown. */
  fd: number;
  /** Inode number of the socket's network namespace. */
  netns: number;
  /** end: the kernel's total retransmits of the socket; close: since end. */
  retransmits: number;
  /** 4 or 6 (IPv4-mapped addresses count as 4); 0 for an unknown family. */
  ipVersion: 0 | 4 | 6;
  /** Local address as text. */
  saddr: string;
  sport: number;
  /** Remote address as text (listen: ""). */
  daddr: string;
  dport: number;
  /** connect through NAT: the post-NAT address and port; "" and 0 otherwise. */
  aaddr: string;
  aport: number;
  /** OSP_TCP_F_* bits ({@linkcode TcpFlag}). */
  flags: number;
  oldState: number;
  newState: number;
}

/** A fresh TcpEvent to pass as `out` to {@linkcode decodeTcpEvent}. */
export function emptyTcpEvent(): TcpEvent {
  return {
    type: "unknown",
    tsNs: 0,
    sk: 0,
    cgroupId: 0,
    startNs: 0,
    durationNs: 0,
    bytesSent: 0,
    bytesReceived: 0,
    pid: 0,
    fd: -1,
    netns: 0,
    retransmits: 0,
    ipVersion: 0,
    saddr: "",
    sport: 0,
    daddr: "",
    dport: 0,
    aaddr: "",
    aport: 0,
    flags: 0,
    oldState: 0,
    newState: 0,
  };
}

const TWO_32 = 4294967296;

function u64(view: DataView, off: number): number {
  return view.getUint32(off + 4, true) * TWO_32 + view.getUint32(off, true);
}

/**
 * A kernel socket address as a number key: its low 52 bits. Kernel
 * addresses differ only there (the top bits are the canonical sign
 * extension: bits 48-63 with 4-level paging, 57-63 with 5-level, and slab
 * objects live in the direct map, far below 2^52 bytes from its start), and
 * a number key costs no BigInt per record.
 */
export function socketKey(view: DataView, off: number): number {
  return (view.getUint32(off + 4, true) & 0xfffff) * TWO_32 + view.getUint32(off, true);
}

function isV4Mapped(b: Uint8Array, off: number): boolean {
  for (let i = 0; i < 10; i++) if (b[off + i] !== 0) return false;
  return b[off + 10] === 0xff && b[off + 11] === 0xff;
}

function isZero(b: Uint8Array, off: number): boolean {
  for (let i = 0; i < 16; i++) if (b[off + i] !== 0) return false;
  return true;
}

/**
 * Decode the `struct osp_tcp_event` at `offset`. The record must be whole
 * (records from libosprey's rings are; check the frame length against
 * {@linkcode TCP_EVENT_SIZE} for bytes from anywhere else).
 *
 * @param batch the drained buffer
 * @param offset the record's offset (past its frame header)
 * @param out an object to fill instead of allocating one
 * @returns `out`, or a new TcpEvent
 */
export function decodeTcpEvent(batch: FrameBatch, offset: number, out?: TcpEvent): TcpEvent {
  const view = batch.view;
  const b = batch.bytes;
  const e = out ?? emptyTcpEvent();
  const family = view.getUint16(offset + TCP_FAMILY, true);
  e.type = TYPE_NAMES[view.getUint16(offset + REC_TYPE, true)] ?? "unknown";
  e.tsNs = u64(view, offset + REC_TS_NS);
  e.sk = socketKey(view, offset + TCP_SK);
  e.cgroupId = u64(view, offset + TCP_CGROUP_ID);
  e.startNs = u64(view, offset + TCP_START_NS);
  e.durationNs = u64(view, offset + TCP_DURATION_NS);
  e.bytesSent = u64(view, offset + TCP_BYTES_SENT);
  e.bytesReceived = u64(view, offset + TCP_BYTES_RECEIVED);
  e.pid = view.getUint32(offset + TCP_PID, true);
  e.fd = view.getInt32(offset + TCP_FD, true);
  e.netns = view.getUint32(offset + TCP_NETNS, true);
  e.retransmits = view.getUint32(offset + TCP_RETRANSMITS, true);
  e.sport = view.getUint16(offset + TCP_SPORT, true);
  e.dport = view.getUint16(offset + TCP_DPORT, true);
  e.aport = view.getUint16(offset + TCP_APORT, true);
  e.flags = view.getUint16(offset + TCP_FLAGS, true);
  e.oldState = b[offset + TCP_OLD_STATE];
  e.newState = b[offset + TCP_NEW_STATE];
  if (family === AddressFamily.INET || family === AddressFamily.INET6) {
    e.ipVersion = isV4Mapped(b, offset + TCP_SADDR) ? 4 : 6;
    e.saddr = formatAddress(b, offset + TCP_SADDR);
    e.daddr = e.type === "listen" || e.type === "listen_close"
      ? ""
      : formatAddress(b, offset + TCP_DADDR);
  } else {
    e.ipVersion = 0;
    e.saddr = "";
    e.daddr = "";
  }
  e.aaddr = e.aport !== 0 && !isZero(b, offset + TCP_AADDR)
    ? formatAddress(b, offset + TCP_AADDR)
    : "";
  return e;
}

/** One entry of the "tcp_conns" map. */
export interface TcpConnEntry {
  /** The socket address (the key), as {@linkcode socketKey} makes it. */
  sk: number;
  startNs: number;
  cgroupId: number;
  bytesSent: number;
  bytesReceived: number;
  /** Entries of connections older than the programs: the socket's inode; else 0. */
  inode: number;
  pid: number;
  fd: number;
  /** The kernel's total retransmits of the socket at its last retransmit. */
  retransmits: number;
  flags: number;
}

/**
 * Decode `n` entries as {@linkcode BpfObject.readMap} lays them out: n
 * 8-byte keys, then n `struct osp_tcp_conn` values.
 *
 * @param fn called per entry with a reused object
 */
export function forEachTcpConn(
  buf: Uint8Array,
  n: number,
  fn: (entry: Readonly<TcpConnEntry>) => void,
): void {
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const e: TcpConnEntry = {
    sk: 0,
    startNs: 0,
    cgroupId: 0,
    bytesSent: 0,
    bytesReceived: 0,
    inode: 0,
    pid: 0,
    fd: -1,
    retransmits: 0,
    flags: 0,
  };
  const values = n * 8;
  for (let i = 0; i < n; i++) {
    const v = values + i * TCP_CONN_SIZE;
    e.sk = socketKey(view, i * 8);
    e.startNs = u64(view, v + CONN_START_NS);
    e.cgroupId = u64(view, v + CONN_CGROUP_ID);
    e.bytesSent = u64(view, v + CONN_BYTES_SENT);
    e.bytesReceived = u64(view, v + CONN_BYTES_RECEIVED);
    e.inode = u64(view, v + CONN_INODE);
    e.pid = view.getUint32(v + CONN_PID, true);
    e.fd = view.getInt32(v + CONN_FD, true);
    e.retransmits = view.getUint32(v + CONN_RETRANSMITS, true);
    e.flags = view.getUint32(v + CONN_FLAGS, true);
    fn(e);
  }
}
