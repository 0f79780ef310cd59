import { deepEqual, equal } from "node:assert/strict";
import {
  decodeProcEvent,
  emptyProcEvent,
  forEachFrame,
  FRAME_HDR_SIZE,
  FrameBatch,
  PROC_CGROUP_ID,
  PROC_COMM,
  PROC_EVENT_SIZE,
  PROC_EXIT_CODE,
  PROC_FILENAME,
  PROC_FLAGS,
  PROC_PID,
  PROC_PPID,
  ProcFlag,
  REC_CPU,
  REC_SIZE,
  REC_TS_NS,
  REC_TYPE,
  RecordType,
  recordType,
} from "./records.ts";

interface Fields {
  type: number;
  ts?: bigint;
  cpu?: number;
  cgroupId?: bigint;
  pid?: number;
  ppid?: number;
  status?: number;
  flags?: number;
  comm?: Uint8Array | string;
  filename?: string;
  /** record length written in the frame header (default: the struct size) */
  len?: number;
}

const enc = new TextEncoder();

/** Frames as osp_ring_drain() writes them. */
function frames(list: Fields[]): FrameBatch {
  const size = list.reduce(
    (n, f) => n + FRAME_HDR_SIZE + (((f.len ?? PROC_EVENT_SIZE) + 7) & ~7),
    0,
  );
  const batch = new FrameBatch(new Uint8Array(size + 64));
  const v = batch.view;
  let off = 0;
  for (const f of list) {
    const len = f.len ?? PROC_EVENT_SIZE;
    v.setUint32(off, len, true);
    const r = off + FRAME_HDR_SIZE;
    if (len >= PROC_EVENT_SIZE) {
      v.setBigUint64(r + REC_TS_NS, f.ts ?? 0n, true);
      v.setUint16(r + REC_TYPE, f.type, true);
      v.setUint16(r + REC_SIZE, PROC_EVENT_SIZE, true);
      v.setUint32(r + REC_CPU, f.cpu ?? 0, true);
      v.setBigUint64(r + PROC_CGROUP_ID, f.cgroupId ?? 0n, true);
      v.setUint32(r + PROC_PID, f.pid ?? 0, true);
      v.setUint32(r + PROC_PPID, f.ppid ?? 0, true);
      v.setUint32(r + PROC_EXIT_CODE, f.status ?? 0, true);
      v.setUint32(r + PROC_FLAGS, f.flags ?? 0, true);
      const comm = typeof f.comm === "string" ? enc.encode(f.comm) : f.comm ?? new Uint8Array();
      batch.bytes.set(comm.subarray(0, 16), r + PROC_COMM);
      batch.bytes.set(enc.encode(f.filename ?? "").subarray(0, 128), r + PROC_FILENAME);
    } else {
      v.setUint16(r + REC_TYPE, f.type, true);
    }
    off += FRAME_HDR_SIZE + ((len + 7) & ~7);
  }
  batch.length = off;
  return batch;
}

function offsets(batch: FrameBatch): number[] {
  const out: number[] = [];
  forEachFrame(batch, (off) => out.push(off));
  return out;
}

Deno.test("decodeProcEvent() reads every field of an exec record", () => {
  const b = frames([{
    type: RecordType.PROC_EXEC,
    ts: 123456789012345n,
    cpu: 3,
    cgroupId: 0x1_0000_2345n,
    pid: 4242,
    ppid: 1,
    comm: "bash",
    filename: "/usr/bin/env",
  }]);
  const e = decodeProcEvent(b, FRAME_HDR_SIZE);
  deepEqual(e, {
    type: "exec",
    tsNs: 123456789012345,
    cpu: 3,
    pid: 4242,
    ppid: 1,
    cgroupId: 0x1_0000_2345,
    status: 0,
    exitCode: 0,
    signal: 0,
    coreDumped: false,
    oomKilled: false,
    comm: "bash",
    filename: "/usr/bin/env",
    filenameTruncated: false,
  });
});

Deno.test("decodeProcEvent() splits the wait status into exit code, signal and core dump", () => {
  const b = frames([
    { type: RecordType.PROC_EXIT, pid: 10, status: 3 << 8 },
    { type: RecordType.PROC_EXIT, pid: 11, status: 9, flags: ProcFlag.OOM_KILLED },
    { type: RecordType.PROC_EXIT, pid: 12, status: 0x80 | 11 },
  ]);
  const got = offsets(b).map((o) => decodeProcEvent(b, o));
  deepEqual(got.map((e) => [e.type, e.exitCode, e.signal, e.coreDumped, e.oomKilled]), [
    ["exit", 3, 0, false, false],
    ["exit", 0, 9, false, true],
    ["exit", 0, 11, true, false],
  ]);
});

Deno.test("decodeProcEvent() ignores the filename field unless the record is an exec", () => {
  const b = frames([{ type: RecordType.PROC_START, comm: "sh", filename: "stale bytes" }]);
  equal(decodeProcEvent(b, FRAME_HDR_SIZE).filename, "");
});

Deno.test("decodeProcEvent() reports a full filename field as truncated", () => {
  const long = "/" + "x".repeat(126);
  const b = frames([{
    type: RecordType.PROC_EXEC,
    filename: long,
    flags: ProcFlag.FILENAME_TRUNC,
  }]);
  const e = decodeProcEvent(b, FRAME_HDR_SIZE);
  equal(e.filename, long);
  equal(e.filenameTruncated, true);
});

Deno.test("decodeProcEvent() decodes a 16-byte comm without a NUL and UTF-8 comms", () => {
  const b = frames([
    { type: RecordType.PROC_EXEC, comm: "abcdefghijklmnop" },
    { type: RecordType.PROC_EXEC, comm: "café" },
    { type: RecordType.PROC_EXEC, comm: "" },
  ]);
  deepEqual(offsets(b).map((o) => decodeProcEvent(b, o).comm), ["abcdefghijklmnop", "café", ""]);
});

Deno.test("decodeProcEvent() never confuses comms that differ after the NUL or by one byte", () => {
  const a = new Uint8Array(16);
  a.set(enc.encode("worker"));
  const withTail = a.slice();
  withTail[10] = 0x41; // garbage after the NUL: same string
  const b = frames([
    { type: RecordType.PROC_EXEC, comm: a },
    { type: RecordType.PROC_EXEC, comm: withTail },
    { type: RecordType.PROC_EXEC, comm: "workes" },
    { type: RecordType.PROC_EXEC, comm: a },
  ]);
  deepEqual(offsets(b).map((o) => decodeProcEvent(b, o).comm), [
    "worker",
    "worker",
    "workes",
    "worker",
  ]);
});

Deno.test("decodeProcEvent() fills the object it is given", () => {
  const b = frames([
    { type: RecordType.PROC_START, pid: 1 },
    { type: RecordType.BENCH, pid: 2, comm: "osp-bench" },
  ]);
  const out = emptyProcEvent();
  const seen = offsets(b).map((o) => {
    const e = decodeProcEvent(b, o, out);
    equal(e, out);
    return `${e.type}:${e.pid}:${e.comm}`;
  });
  deepEqual(seen, ["start:1:", "bench:2:osp-bench"]);
});

Deno.test("decodeProcEvent() names types it does not know unknown", () => {
  const b = frames([{ type: 77 }, { type: 4000 }]);
  deepEqual(offsets(b).map((o) => decodeProcEvent(b, o).type), ["unknown", "unknown"]);
});

Deno.test("forEachFrame() steps over padding and stops at the valid length", () => {
  const b = frames([
    { type: RecordType.PROC_EXIT, len: 20 }, // padded to 24
    { type: RecordType.PROC_EXEC },
    { type: RecordType.PROC_START, len: 17 },
  ]);
  const seen: Array<[number, number, number]> = [];
  const n = forEachFrame(b, (off, len) => seen.push([off, len, recordType(b, off)]));
  equal(n, 3);
  deepEqual(seen, [
    [8, 20, RecordType.PROC_EXIT],
    [40, PROC_EVENT_SIZE, RecordType.PROC_EXEC],
    [40 + PROC_EVENT_SIZE + 8, 17, RecordType.PROC_START],
  ]);
  b.length = 0;
  equal(forEachFrame(b, () => {}), 0);
});

Deno.test("decodeProcEvent() keeps u64 fields exact up to 2^53", () => {
  const b = frames([{
    type: RecordType.PROC_EXIT,
    ts: 2n ** 53n - 1n,
    cgroupId: 0xffff_ffffn,
  }]);
  const e = decodeProcEvent(b, FRAME_HDR_SIZE);
  equal(e.tsNs, Number.MAX_SAFE_INTEGER);
  equal(e.cgroupId, 0xffff_ffff);
});
