/**
 * Decoder of the logs object's ring records (bpf/logs.h): a file opened for writing where a
 * log may be. Offsets are checked against the C compiler's by ffi/layout_test.ts.
 *
 * @module
 */

/** OSP_REC_FILE_OPEN. */
export const FILE_OPEN_RECORD = 20;

/** OSP_FILE_F_* bits of {@linkcode FileOpenEvent.flags}. */
export const FileOpenFlag = {
  /** The path was relative: only its descriptor says where the file is. */
  RELATIVE: 1,
} as const;

/** enum osp_logs_counter: indexes of the logs object's kernel-side counters. */
export const LogsCounter = { CANDIDATES: 0, NOT_REGULAR: 1, FAILED: 2, MAX: 4 } as const;

const CGROUP_ID = 16;
const PID = 24;
const FD = 28;
const OPEN_FLAGS = 32;
const FLAGS = 36;
/** sizeof(struct osp_file_open_event). */
export const FILE_OPEN_EVENT_SIZE = 40;

/** The layout the decoder assumes, as osp_layout() names it. */
export const FILE_EXPECTED_LAYOUT: Readonly<Record<string, readonly [number, number]>> = {
  "osp_file_open_event": [0, FILE_OPEN_EVENT_SIZE],
  "osp_file_open_event.hdr": [0, 16],
  "osp_file_open_event.cgroup_id": [CGROUP_ID, 8],
  "osp_file_open_event.pid": [PID, 4],
  "osp_file_open_event.fd": [FD, 4],
  "osp_file_open_event.open_flags": [OPEN_FLAGS, 4],
  "osp_file_open_event.flags": [FLAGS, 4],
};

/** The constants the decoders mirror, as osp_layout() names them. */
export const FILE_EXPECTED_CONSTANTS: Readonly<Record<string, number>> = {
  OSP_REC_FILE_OPEN: FILE_OPEN_RECORD,
  OSP_FILE_F_RELATIVE: FileOpenFlag.RELATIVE,
  OSP_LOGS_CNT_CANDIDATES: LogsCounter.CANDIDATES,
  OSP_LOGS_CNT_NOT_REGULAR: LogsCounter.NOT_REGULAR,
  OSP_LOGS_CNT_FAILED: LogsCounter.FAILED,
  OSP_LOGS_CNT_MAX: LogsCounter.MAX,
  OSP_JOURNAL_ENTRY_HDR: 24,
  OSP_JOURNAL_NO_PRIORITY: 255,
  OSP_JOURNAL_F_CUT: 1,
};

/** A file opened for writing: who opened it and the descriptor it got. */
export interface FileOpenEvent {
  /** cgroup v2 id of the opening task. */
  cgroupId: number;
  /** Thread group id of the opener. */
  pid: number;
  /** The descriptor the open returned. */
  fd: number;
  /** The flags passed to the open (O_WRONLY = 1, O_RDWR = 2, O_APPEND = 0o2000, ...). */
  openFlags: number;
  /** {@linkcode FileOpenFlag} bits. */
  flags: number;
}

/**
 * Decodes the record at `off` of a drained batch (after its frame header).
 *
 * @returns undefined when the record is not a file-open record or is too short
 */
export function decodeFileOpenEvent(buf: Uint8Array, off: number): FileOpenEvent | undefined {
  if (off + FILE_OPEN_EVENT_SIZE > buf.byteLength) return undefined;
  const v = new DataView(buf.buffer, buf.byteOffset + off, FILE_OPEN_EVENT_SIZE);
  if (v.getUint16(8, true) !== FILE_OPEN_RECORD) return undefined;
  return {
    cgroupId: v.getUint32(CGROUP_ID + 4, true) * 4294967296 + v.getUint32(CGROUP_ID, true),
    pid: v.getUint32(PID, true),
    fd: v.getUint32(FD, true),
    openFlags: v.getUint32(OPEN_FLAGS, true),
    flags: v.getUint32(FLAGS, true),
  };
}
