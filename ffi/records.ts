/**
 * Decoders for the records libosprey drains out of BPF ring buffers.
 *
 * A drained buffer holds frames: an 8-byte header (u32 record length, u32
 * reserved), the record, then zero padding to a multiple of 8. Every record
 * starts with `struct osp_rec_hdr` (bpf/record.h). Offsets below mirror the
 * C structs; `ffi/layout_test.ts` checks them against the compiler's view
 * (osp_layout()).
 *
 * Decoding is on the hot path, so it reads through one DataView and can fill
 * a caller-owned object instead of allocating one per record.
 *
 * @module
 */

// --- frame (struct osp_frame_hdr, ffi/include/osprey.h) ---
/** Bytes of the frame header before each record. */
export const FRAME_HDR_SIZE = 8;
export const FRAME_LEN = 0;
export const FRAME_RESERVED = 4;

// --- struct osp_rec_hdr (bpf/record.h) ---
export const REC_HDR_SIZE = 16;
export const REC_TS_NS = 0;
export const REC_TYPE = 8;
export const REC_SIZE = 10;
export const REC_CPU = 12;

// --- struct osp_proc_event (bpf/proc.h) ---
export const PROC_EVENT_SIZE = 184;
export const PROC_HDR = 0;
export const PROC_CGROUP_ID = 16;
export const PROC_PID = 24;
export const PROC_PPID = 28;
export const PROC_EXIT_CODE = 32;
export const PROC_FLAGS = 36;
export const PROC_COMM = 40;
export const PROC_COMM_LEN = 16;
export const PROC_FILENAME = 56;
export const PROC_FILENAME_LEN = 128;

/** Record type numbers (enum osp_rec_type). */
export const RecordType = {
  PROC_START: 1,
  PROC_EXEC: 2,
  PROC_EXIT: 3,
  BENCH: 100,
} as const;

/** Lost counters are indexed by record type below this (OSP_REC_TYPE_MAX). */
export const REC_TYPE_MAX = 128;

/** osp_proc_event.flags bits (OSP_PROC_F_*). */
export const ProcFlag = {
  OOM_KILLED: 1,
  FILENAME_TRUNC: 2,
} as const;

/** Indexes of the proc object's counters (enum osp_proc_counter). */
export const ProcCounter = {
  OOM_MARKS: 0,
  OOM_JOINED: 1,
  OOM_MAP_FULL: 2,
  MAX: 4,
} as const;

/**
 * The C layout these decoders assume, keyed like osp_layout()'s lines:
 * `[offset, size]`. Only for the layout test; decoders use the constants.
 */
export const EXPECTED_LAYOUT: Readonly<Record<string, readonly [number, number]>> = {
  "osp_frame_hdr": [0, FRAME_HDR_SIZE],
  "osp_frame_hdr.len": [FRAME_LEN, 4],
  "osp_frame_hdr.reserved": [FRAME_RESERVED, 4],
  "osp_rec_hdr": [0, REC_HDR_SIZE],
  "osp_rec_hdr.ts_ns": [REC_TS_NS, 8],
  "osp_rec_hdr.type": [REC_TYPE, 2],
  "osp_rec_hdr.size": [REC_SIZE, 2],
  "osp_rec_hdr.cpu": [REC_CPU, 4],
  "osp_proc_event": [0, PROC_EVENT_SIZE],
  "osp_proc_event.hdr": [PROC_HDR, REC_HDR_SIZE],
  "osp_proc_event.cgroup_id": [PROC_CGROUP_ID, 8],
  "osp_proc_event.pid": [PROC_PID, 4],
  "osp_proc_event.ppid": [PROC_PPID, 4],
  "osp_proc_event.exit_code": [PROC_EXIT_CODE, 4],
  "osp_proc_event.flags": [PROC_FLAGS, 4],
  "osp_proc_event.comm": [PROC_COMM, PROC_COMM_LEN],
  "osp_proc_event.filename": [PROC_FILENAME, PROC_FILENAME_LEN],
};

/** Constants the decoders mirror, keyed like osp_layout()'s two-field lines. */
export const EXPECTED_CONSTANTS: Readonly<Record<string, number>> = {
  OSP_REC_PROC_START: RecordType.PROC_START,
  OSP_REC_PROC_EXEC: RecordType.PROC_EXEC,
  OSP_REC_PROC_EXIT: RecordType.PROC_EXIT,
  OSP_REC_BENCH: RecordType.BENCH,
  OSP_REC_TYPE_MAX: REC_TYPE_MAX,
  OSP_PROC_F_OOM_KILLED: ProcFlag.OOM_KILLED,
  OSP_PROC_F_FILENAME_TRUNC: ProcFlag.FILENAME_TRUNC,
  OSP_PROC_CNT_OOM_MARKS: ProcCounter.OOM_MARKS,
  OSP_PROC_CNT_OOM_JOINED: ProcCounter.OOM_JOINED,
  OSP_PROC_CNT_OOM_MAP_FULL: ProcCounter.OOM_MAP_FULL,
  OSP_PROC_CNT_MAX: ProcCounter.MAX,
};

/**
 * A drained buffer: the bytes, one DataView over them, and how many bytes
 * are valid. Reused across drains; valid until the next drain into it.
 */
export class FrameBatch {
  /** The whole buffer (frames occupy the first `length` bytes). */
  readonly bytes: Uint8Array;
  /** A DataView over `bytes`, made once. */
  readonly view: DataView;
  /** Valid bytes. */
  length = 0;

  constructor(bytes: Uint8Array) {
    this.bytes = bytes;
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }
}

/**
 * Call `fn` for each record of a batch, in order.
 *
 * @param batch frames written by a drain
 * @param fn receives the record's offset (past the frame header) and length
 * @returns the number of records
 */
export function forEachFrame(
  batch: FrameBatch,
  fn: (recordOffset: number, recordLength: number) => void,
): number {
  const view = batch.view;
  const end = batch.length;
  let n = 0;
  for (let off = 0; off + FRAME_HDR_SIZE <= end;) {
    const len = view.getUint32(off + FRAME_LEN, true);
    fn(off + FRAME_HDR_SIZE, len);
    off += FRAME_HDR_SIZE + ((len + 7) & ~7);
    n++;
  }
  return n;
}

/** Type number of the record at `offset` (past its frame header). */
export function recordType(batch: FrameBatch, offset: number): number {
  return batch.view.getUint16(offset + REC_TYPE, true);
}

/** Kind of a process record; "bench" only comes from the benchmark ring. */
export type ProcEventType = "start" | "exec" | "exit" | "bench" | "unknown";

/** A decoded `struct osp_proc_event`. */
export interface ProcEvent {
  type: ProcEventType;
  /**
   * Boot-time clock (CLOCK_BOOTTIME) in ns. A number: exact below 2^53 ns
   * (104 days of uptime), off by at most a few ns after that.
   */
  tsNs: number;
  /** CPU that produced the record. */
  cpu: number;
  /** Process id (tgid). */
  pid: number;
  /** Parent's process id (tgid of real_parent). */
  ppid: number;
  /**
   * Cgroup v2 id (the cgroup directory's inode number). A number: kernfs
   * ids are far below 2^53.
   */
  cgroupId: number;
  /** exit: raw wait status (exit code << 8 | core dump 0x80 | signal). */
  status: number;
  /** exit: exit code (status bits 8-15), 0 when killed by a signal. */
  exitCode: number;
  /** exit: terminating signal (status bits 0-6), 0 for a normal exit. */
  signal: number;
  /** exit: a core dump was written. */
  coreDumped: boolean;
  /** exit: the OOM killer picked this process. */
  oomKilled: boolean;
  /** Task command name (up to 15 bytes). */
  comm: string;
  /** exec: the executed file as passed to execve, "" otherwise. */
  filename: string;
  /** exec: the filename filled its 128-byte field and may be cut. */
  filenameTruncated: boolean;
}

/** A fresh ProcEvent to pass as `out` to {@linkcode decodeProcEvent}. */
export function emptyProcEvent(): ProcEvent {
  return {
    type: "unknown",
    tsNs: 0,
    cpu: 0,
    pid: 0,
    ppid: 0,
    cgroupId: 0,
    status: 0,
    exitCode: 0,
    signal: 0,
    coreDumped: false,
    oomKilled: false,
    comm: "",
    filename: "",
    filenameTruncated: false,
  };
}

const TYPE_NAMES: readonly ProcEventType[] = (() => {
  const names = new Array<ProcEventType>(REC_TYPE_MAX).fill("unknown");
  names[RecordType.PROC_START] = "start";
  names[RecordType.PROC_EXEC] = "exec";
  names[RecordType.PROC_EXIT] = "exit";
  names[RecordType.BENCH] = "bench";
  return names;
})();

const TWO_32 = 4294967296;
const utf8 = new TextDecoder();

/** Read a u64 as a number (exact below 2^53). */
function u64(view: DataView, off: number): number {
  return view.getUint32(off + 4, true) * TWO_32 + view.getUint32(off, true);
}

/**
 * A NUL-terminated string field. ASCII (the common case) is built from char
 * codes; anything else goes through TextDecoder.
 */
function cString(bytes: Uint8Array, start: number, max: number): string {
  const end = start + max;
  let s = "";
  for (let i = start; i < end; i++) {
    const c = bytes[i];
    if (c === 0) return s;
    if (c >= 0x80) {
      let stop = i;
      while (stop < end && bytes[stop] !== 0) stop++;
      return utf8.decode(bytes.subarray(start, stop));
    }
    s += String.fromCharCode(c);
  }
  return s;
}

/*
 * comm strings repeat endlessly (a few dozen distinct values on a host), so
 * they are interned by their 16 raw bytes in a direct-mapped cache: a hit
 * costs four integer reads and compares, no allocation, no Map lookup. A
 * colliding comm just replaces the slot. All-zero keys with "" are correct
 * from the start (an empty comm decodes to "").
 */
const COMM_SLOTS_LOG2 = 10;
const commKeys = new Int32Array(4 << COMM_SLOTS_LOG2);
const commStrings: string[] = new Array<string>(1 << COMM_SLOTS_LOG2).fill("");

function comm(batch: FrameBatch, off: number): string {
  const view = batch.view;
  const a = view.getInt32(off, true);
  const b = view.getInt32(off + 4, true);
  const c = view.getInt32(off + 8, true);
  const d = view.getInt32(off + 12, true);
  const slot = (Math.imul(a, 0x9e3779b1) ^ Math.imul(b, 0x85ebca6b) ^ Math.imul(c, 0xc2b2ae35) ^
    Math.imul(d, 0x27d4eb2f)) >>> (32 - COMM_SLOTS_LOG2);
  const k = slot << 2;
  if (
    commKeys[k] === a && commKeys[k + 1] === b && commKeys[k + 2] === c && commKeys[k + 3] === d
  ) {
    return commStrings[slot];
  }
  const s = cString(batch.bytes, off, PROC_COMM_LEN);
  commKeys[k] = a;
  commKeys[k + 1] = b;
  commKeys[k + 2] = c;
  commKeys[k + 3] = d;
  commStrings[slot] = s;
  return s;
}

/**
 * Decode the `struct osp_proc_event` at `offset`. The record must be whole:
 * records from libosprey's rings are; check the frame length against
 * {@linkcode PROC_EVENT_SIZE} for bytes from anywhere else.
 *
 * @param batch the drained buffer
 * @param offset the record's offset (past its frame header)
 * @param out an object to fill instead of allocating one (hot loops)
 * @returns `out`, or a new ProcEvent
 */
export function decodeProcEvent(batch: FrameBatch, offset: number, out?: ProcEvent): ProcEvent {
  const view = batch.view;
  const e = out ?? emptyProcEvent();
  const typeCode = view.getUint16(offset + REC_TYPE, true);
  const status = view.getUint32(offset + PROC_EXIT_CODE, true);
  const flags = view.getUint32(offset + PROC_FLAGS, true);
  e.type = typeCode < REC_TYPE_MAX ? TYPE_NAMES[typeCode] : "unknown";
  e.tsNs = u64(view, offset + REC_TS_NS);
  e.cpu = view.getUint32(offset + REC_CPU, true);
  e.cgroupId = u64(view, offset + PROC_CGROUP_ID);
  e.pid = view.getUint32(offset + PROC_PID, true);
  e.ppid = view.getUint32(offset + PROC_PPID, true);
  e.status = status;
  e.exitCode = (status >>> 8) & 0xff;
  e.signal = status & 0x7f;
  e.coreDumped = (status & 0x80) !== 0;
  e.oomKilled = (flags & ProcFlag.OOM_KILLED) !== 0;
  e.filenameTruncated = (flags & ProcFlag.FILENAME_TRUNC) !== 0;
  e.comm = comm(batch, offset + PROC_COMM);
  e.filename = typeCode === RecordType.PROC_EXEC
    ? cString(batch.bytes, offset + PROC_FILENAME, PROC_FILENAME_LEN)
    : "";
  return e;
}
