/**
 * Delay accounting through libosprey's taskstats calls (ffi/src/taskstats.c): a generic
 * netlink `TASKSTATS` socket, opened in the host's network namespace (the only one the family
 * answers in), asked about a batch of pids per call.
 *
 * Pids cross as little-endian `uint32_t`s; answers come back as `struct osp_taskstats_record`
 * (72 bytes: pid, tgid, a per-pid error, flags, the kernel's struct version, CPU and block I/O
 * delay counts and totals in ns, CPU run time in ns, and with {@linkcode TaskstatsFlag.START}
 * the begin time). The offsets below mirror ffi/include/osprey.h; `ffi/layout_test.ts` checks
 * them against the compiler's view.
 *
 * @module
 */

import { BpfError, Errno, errnoName } from "./errors.ts";
import { cString, type Native, parseKeyValues } from "./_native.ts";
import type { OspreySymbols } from "./symbols.ts";

// --- struct osp_taskstats_record (ffi/include/osprey.h) ---
export const TASKSTATS_RECORD_SIZE = 72;
export const TS_REC_PID = 0;
export const TS_REC_TGID = 4;
export const TS_REC_ERROR = 8;
export const TS_REC_FLAGS = 12;
export const TS_REC_VERSION = 14;
export const TS_REC_CPU_COUNT = 16;
export const TS_REC_CPU_DELAY_NS = 24;
export const TS_REC_BLKIO_COUNT = 32;
export const TS_REC_BLKIO_DELAY_NS = 40;
export const TS_REC_CPU_RUN_REAL_NS = 48;
export const TS_REC_BTIME = 56;
export const TS_REC_ELAPSED_US = 64;

/** Most pids one call takes (OSP_TASKSTATS_MAX_PIDS). */
export const TASKSTATS_MAX_PIDS = 65536;

/** enum osp_taskstats_flags. */
export const TaskstatsFlag = { START: 1 } as const;

/** osp_taskstats_record.flags bits (OSP_TASKSTATS_R_*). */
export const TaskstatsRecordFlag = { DELAYS: 1, START: 2 } as const;

/**
 * The kernel's `struct taskstats` fields the C decoder reads, `[offset, size]` as the
 * compiler sees them (the struct only ever grows at its end). For tests that build answers.
 */
export const KERNEL_TASKSTATS_FIELDS = {
  version: [0, 2],
  cpu_count: [16, 8],
  cpu_delay_total: [24, 8],
  blkio_count: [32, 8],
  blkio_delay_total: [40, 8],
  cpu_run_real_total: [64, 8],
  cpu_run_virtual_total: [72, 8],
  ac_btime: [136, 4],
  ac_etime: [144, 8],
  ac_btime64: [344, 8],
} as const;

/** Generic netlink and taskstats numbers (linux/taskstats.h, linux/netlink.h). */
export const TaskstatsWire = {
  TASKSTATS_CMD_NEW: 2,
  TASKSTATS_TYPE_PID: 1,
  TASKSTATS_TYPE_TGID: 2,
  TASKSTATS_TYPE_STATS: 3,
  TASKSTATS_TYPE_AGGR_PID: 4,
  TASKSTATS_TYPE_AGGR_TGID: 5,
  NLMSG_ERROR: 2,
} as const;

/**
 * The C layout these codecs assume, keyed like osp_layout()'s lines: `[offset, size]`. Only
 * for the layout test.
 */
export const TASKSTATS_EXPECTED_LAYOUT: Readonly<Record<string, readonly [number, number]>> = {
  "osp_taskstats_record": [0, TASKSTATS_RECORD_SIZE],
  "osp_taskstats_record.pid": [TS_REC_PID, 4],
  "osp_taskstats_record.tgid": [TS_REC_TGID, 4],
  "osp_taskstats_record.error": [TS_REC_ERROR, 4],
  "osp_taskstats_record.flags": [TS_REC_FLAGS, 2],
  "osp_taskstats_record.version": [TS_REC_VERSION, 2],
  "osp_taskstats_record.cpu_count": [TS_REC_CPU_COUNT, 8],
  "osp_taskstats_record.cpu_delay_ns": [TS_REC_CPU_DELAY_NS, 8],
  "osp_taskstats_record.blkio_count": [TS_REC_BLKIO_COUNT, 8],
  "osp_taskstats_record.blkio_delay_ns": [TS_REC_BLKIO_DELAY_NS, 8],
  "osp_taskstats_record.cpu_run_real_ns": [TS_REC_CPU_RUN_REAL_NS, 8],
  "osp_taskstats_record.btime": [TS_REC_BTIME, 8],
  "osp_taskstats_record.elapsed_us": [TS_REC_ELAPSED_US, 8],
  ...Object.fromEntries(
    Object.entries(KERNEL_TASKSTATS_FIELDS).map(([k, v]) => [`taskstats.${k}`, v]),
  ),
};

/** Constants mirrored from osprey.h and the kernel headers, keyed like osp_layout()'s lines. */
export const TASKSTATS_EXPECTED_CONSTANTS: Readonly<Record<string, number>> = {
  OSP_TASKSTATS_MAX_PIDS: TASKSTATS_MAX_PIDS,
  OSP_TASKSTATS_START: TaskstatsFlag.START,
  OSP_TASKSTATS_R_DELAYS: TaskstatsRecordFlag.DELAYS,
  OSP_TASKSTATS_R_START: TaskstatsRecordFlag.START,
  ...TaskstatsWire,
};

/** One process's answer. Times in ns unless named otherwise; bigints where they can pass 2^53. */
export interface TaskstatsRecord {
  /** The pid asked about. */
  pid: number;
  /** The thread group the kernel answered for; 0 without an answer. */
  tgid: number;
  /**
   * 0, or the errno (positive) for this pid alone: ESRCH gone, EINVAL not a valid pid,
   * EMSGSIZE truncated answer, EBADMSG malformed answer, ENOBUFS no answer, EPERM refused.
   */
  errno: number;
  /** OSP_TASKSTATS_R_* bits ({@linkcode TaskstatsRecordFlag}). */
  flags: number;
  /** The kernel's `struct taskstats` version. */
  version: number;
  cpuCount: bigint;
  /** Time runnable but waiting for a CPU (`cpu_delay_total`). */
  cpuDelayNs: bigint;
  blkioCount: bigint;
  /** Time waiting for synchronous block I/O (`blkio_delay_total`). */
  blkioDelayNs: bigint;
  /** User plus system CPU time (`cpu_run_real_total`). */
  cpuRunRealNs: bigint;
  /** With START: begin time in seconds since 1970 (`ac_btime64`). */
  btime: number;
  /** With START: µs since it began (`ac_etime`, at the moment of the answer). */
  elapsedUs: number;
}

/**
 * Write pids as `uint32_t`s.
 *
 * @param pids process ids
 * @returns `pids.length * 4` bytes
 */
export function encodePids(pids: ArrayLike<number>): Uint8Array {
  const buf = new Uint8Array(pids.length * 4);
  const view = new DataView(buf.buffer);
  for (let i = 0; i < pids.length; i++) view.setUint32(i * 4, pids[i] >>> 0, true);
  return buf;
}

/**
 * Read one record. Bytes past the end of `buf` read as a {@linkcode RangeError}, never as
 * zeros.
 *
 * @param buf what osp_taskstats_query() wrote
 * @param index which record
 * @returns the record
 * @throws {RangeError} when `buf` does not hold record `index` whole
 */
export function decodeTaskstatsRecord(buf: Uint8Array, index: number): TaskstatsRecord {
  const off = index * TASKSTATS_RECORD_SIZE;
  if (!Number.isInteger(index) || index < 0 || off + TASKSTATS_RECORD_SIZE > buf.byteLength) {
    throw new RangeError(
      `Cannot decode taskstats record ${index}: ${buf.byteLength} bytes hold ` +
        `${Math.floor(buf.byteLength / TASKSTATS_RECORD_SIZE)} whole records`,
    );
  }
  const v = new DataView(buf.buffer, buf.byteOffset + off, TASKSTATS_RECORD_SIZE);
  return {
    pid: v.getUint32(TS_REC_PID, true),
    tgid: v.getUint32(TS_REC_TGID, true),
    errno: v.getInt32(TS_REC_ERROR, true) === 0 ? 0 : -v.getInt32(TS_REC_ERROR, true),
    flags: v.getUint16(TS_REC_FLAGS, true),
    version: v.getUint16(TS_REC_VERSION, true),
    cpuCount: v.getBigUint64(TS_REC_CPU_COUNT, true),
    cpuDelayNs: v.getBigUint64(TS_REC_CPU_DELAY_NS, true),
    blkioCount: v.getBigUint64(TS_REC_BLKIO_COUNT, true),
    blkioDelayNs: v.getBigUint64(TS_REC_BLKIO_DELAY_NS, true),
    cpuRunRealNs: v.getBigUint64(TS_REC_CPU_RUN_REAL_NS, true),
    btime: Number(v.getBigUint64(TS_REC_BTIME, true)),
    elapsedUs: Number(v.getBigUint64(TS_REC_ELAPSED_US, true)),
  };
}

/**
 * Read `count` records.
 *
 * @throws {RangeError} when `buf` holds fewer
 */
export function decodeTaskstatsRecords(buf: Uint8Array, count: number): TaskstatsRecord[] {
  const out: TaskstatsRecord[] = [];
  for (let i = 0; i < count; i++) out.push(decodeTaskstatsRecord(buf, i));
  return out;
}

/** What osp_taskstats_info() says about a socket. */
export interface TaskstatsInfo {
  /** The namespace path given, or "(caller's)". */
  readonly netns: string;
  /** Inode of the network namespace the socket lives in (0 unknown). */
  readonly netnsInode: number;
  /** The TASKSTATS family's id there. */
  readonly familyId: number;
  /** The socket's receive buffer, bytes. */
  readonly rcvbuf: number;
  /** Requests sent per datagram. */
  readonly batch: number;
}

/** Uses its arguments, so the engine keeps them alive up to the call. */
function keepAlive(...buffers: Uint8Array[]): void {
  for (const b of buffers) if (b.byteLength < 0) throw new Error("unreachable");
}

/**
 * A taskstats socket. Get one from `OspreyLibrary.openTaskstats`; close it (or `using` it).
 */
export class TaskstatsSocket {
  /** The namespace path given ("" = the opener's). */
  readonly netns: string;
  #native: Native;
  #handle: number;
  #closed = false;
  #onClose: (s: TaskstatsSocket) => void;

  /** Internal: made by {@linkcode openTaskstats}. */
  constructor(
    native: Native,
    handle: number,
    netns: string,
    onClose: (s: TaskstatsSocket) => void,
  ) {
    this.#native = native;
    this.#handle = handle;
    this.netns = netns;
    this.#onClose = onClose;
  }

  /** True once {@linkcode close} ran. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Where the socket lives and how it batches (osp_taskstats_info()). */
  info(): TaskstatsInfo {
    const op = "describe the taskstats socket";
    this.#assertOpen(op);
    const kv = parseKeyValues(
      this.#native.text(
        (buf, cap) => this.#native.symbols.osp_taskstats_info(this.#handle, buf, cap),
        op,
      ),
    );
    return {
      netns: kv.netns ?? "",
      netnsInode: Number(kv.netns_inode ?? 0),
      familyId: Number(kv.family_id ?? 0),
      rcvbuf: Number(kv.rcvbuf ?? 0),
      batch: Number(kv.batch ?? 0),
    };
  }

  /**
   * Ask about a batch of processes, on Deno's blocking pool. Per-pid failures (the process
   * exited: ESRCH) are in each record's `errno`; the call throws only when it cannot ask at
   * all.
   *
   * @param pids process ids in the agent's PID namespace, at most
   *   {@linkcode TASKSTATS_MAX_PIDS} (split larger sets)
   * @param options `start`: also ask for the begin time (a second request per pid)
   * @returns the raw records, `pids.length * TASKSTATS_RECORD_SIZE` bytes, in pid order
   *   (decode with {@linkcode decodeTaskstatsRecord}), and how many have no error
   * @throws {RangeError} more than TASKSTATS_MAX_PIDS pids
   * @throws {BpfError} the socket is closed (EBADF) or broken, with libosprey's message
   */
  async queryRaw(
    pids: ArrayLike<number>,
    options: { start?: boolean } = {},
  ): Promise<{ records: Uint8Array; ok: number }> {
    const op = `query taskstats of ${pids.length} processes`;
    this.#assertOpen(op);
    if (pids.length > TASKSTATS_MAX_PIDS) {
      throw new RangeError(`Cannot ${op}: at most ${TASKSTATS_MAX_PIDS} per call`);
    }
    const input = encodePids(pids);
    const records = new Uint8Array(pids.length * TASKSTATS_RECORD_SIZE);
    if (pids.length === 0) return { records, ok: 0 };
    const ret = await this.#native.track(
      this.#native.symbols.osp_taskstats_query(
        this.#handle,
        input,
        pids.length,
        records,
        records.byteLength,
        options.start ? TaskstatsFlag.START : 0,
      ),
    );
    keepAlive(input, records);
    if (ret < 0) throw new BpfError(op, -ret, { detail: this.#native.lastError() });
    return { records, ok: ret };
  }

  /**
   * {@linkcode queryRaw}, decoded.
   *
   * @returns one record per pid, in order
   */
  async query(
    pids: ArrayLike<number>,
    options: { start?: boolean } = {},
  ): Promise<TaskstatsRecord[]> {
    const { records } = await this.queryRaw(pids, options);
    return decodeTaskstatsRecords(records, pids.length);
  }

  /** Close the socket; idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#native.symbols.osp_taskstats_close(this.#handle);
    this.#onClose(this);
  }

  [Symbol.dispose](): void {
    this.close();
  }

  #assertOpen(operation: string): void {
    if (this.#closed) {
      throw new BpfError(operation, Errno.EBADF, { detail: "the taskstats socket is closed" });
    }
  }
}

/**
 * Open a taskstats socket (used by `OspreyLibrary.openTaskstats`).
 *
 * @param native the opened library
 * @param netns the host's network namespace file (`<proc>/1/ns/net`), or "" for the caller's
 * @param onClose called once when the socket closes
 * @throws {BpfError} ENOENT (no such path, or no TASKSTATS family in that namespace: not the
 *   initial one), EINVAL (not a network namespace), EPERM (setns needs CAP_SYS_ADMIN)
 */
export async function openTaskstats(
  native: Native,
  netns: string,
  onClose: (s: TaskstatsSocket) => void,
): Promise<TaskstatsSocket> {
  const path = cString(netns);
  const op = netns ? `open taskstats in "${netns}"` : "open taskstats";
  const h = await native.track(native.symbols.osp_taskstats_open(path));
  keepAlive(path);
  return new TaskstatsSocket(native, native.check(h, op), netns, onClose);
}

/**
 * Decode one taskstats answer as received (a netlink message) the way the batched query does,
 * through libosprey's own decoder (for tests of malformed and truncated answers).
 *
 * @param symbols the opened library's symbols (`OspreyLibrary.symbols`)
 * @param msg the message bytes as received (possibly cut short)
 * @param familyId the TASKSTATS family id to expect, 0 for any
 * @returns the record as decoded (pid 0) and the errno name, "" when it decoded
 */
export function decodeTaskstatsAnswer(
  symbols: OspreySymbols,
  msg: Uint8Array,
  familyId = 0,
): { record: TaskstatsRecord; error: string } {
  const rec = new Uint8Array(TASKSTATS_RECORD_SIZE);
  const ret = symbols.osp_taskstats_decode(msg, msg.byteLength, familyId, rec, rec.length);
  return { record: decodeTaskstatsRecord(rec, 0), error: ret === 0 ? "" : errnoName(-ret) };
}
