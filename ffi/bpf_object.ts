/**
 * A BPF object embedded in libosprey: open (variants chosen by feature
 * probes) → load → attach programs one by one → open rings → close.
 *
 * @module
 */

import { BpfError, Errno, errnoName } from "./errors.ts";
import { ProcCounter, REC_TYPE_MAX, RecordType } from "./records.ts";
import { RingBuffer } from "./ring_buffer.ts";
import { cString, type Native, parseKeyValues } from "./_native.ts";
import { AttachCode, MapCursor, ProgramFlag, ProgramKind } from "./symbols.ts";
import { MAP_CURSOR_SIZE, TcpRecordType } from "./tcp_records.ts";
import { FILE_OPEN_RECORD } from "./file_records.ts";

/** The BPF objects libosprey embeds. */
export type ObjectKind = "proc" | "bench" | "tcp" | "logs" | "l7";

/** How a program hooks into the kernel. */
export type ProgramVariant = "tp_btf" | "raw_tp" | "fentry" | "fexit" | "syscall" | "other";

/** A program of an object. */
export interface ProgramInfo {
  index: number;
  name: string;
  variant: ProgramVariant;
  /** False when a feature probe switched it off in favour of another variant. */
  autoload: boolean;
  attached: boolean;
}

/** The outcome of attaching one program. */
export interface AttachResult {
  program: string;
  variant: ProgramVariant;
  attached: boolean;
  /**
   * Why it was not attached without an error: "feature-probe" (the other
   * variant of this hook was chosen) or "on-demand" (run by test runs).
   */
  skipped?: "feature-probe" | "on-demand";
  /** Positive errno of a failed attach. */
  errno?: number;
  /** Its name, e.g. "ENOENT". */
  code?: string;
  /** libosprey's and libbpf's explanation. */
  message?: string;
}

/** Records dropped in the kernel because the ring was full. */
export interface LostCounts {
  total: number;
  /** By record type name ("start", "exec", "exit", "bench", "type<N>"); zeros left out. */
  byType: Record<string, number>;
}

/** The proc object's kernel-side counters. */
export interface ProcCounters {
  /** oom/mark_victim hits. */
  oomMarks: number;
  /** EXIT records that carried the OOM flag. */
  oomJoined: number;
  /** Victims the kernel side could not remember (map full). */
  oomMapFull: number;
}

const VARIANTS: Record<number, ProgramVariant> = {
  [ProgramKind.TP_BTF]: "tp_btf",
  [ProgramKind.RAW_TP]: "raw_tp",
  [ProgramKind.SYSCALL]: "syscall",
  [ProgramKind.FENTRY]: "fentry",
  [ProgramKind.FEXIT]: "fexit",
};

const TYPE_NAMES: Record<number, string> = {
  [RecordType.PROC_START]: "start",
  [RecordType.PROC_EXEC]: "exec",
  [RecordType.PROC_EXIT]: "exit",
  [RecordType.BENCH]: "bench",
  [TcpRecordType.CONNECT]: "connect",
  [TcpRecordType.FAILED]: "failed",
  [TcpRecordType.END]: "end",
  [TcpRecordType.CLOSE]: "close",
  [TcpRecordType.LISTEN]: "listen",
  [TcpRecordType.LISTEN_CLOSE]: "listen_close",
  [FILE_OPEN_RECORD]: "file_open",
};

function u64s(buf: Uint8Array, n: number): number[] {
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const out = new Array<number>(n);
  for (let i = 0; i < n; i++) {
    out[i] = view.getUint32(8 * i + 4, true) * 4294967296 + view.getUint32(8 * i, true);
  }
  return out;
}

/** An opened BPF object. Get one from {@linkcode OspreyLibrary.openObject}. */
export class BpfObject {
  /** Which embedded object this is. */
  readonly kind: ObjectKind;
  #native: Native;
  #handle: number;
  #rings = new Set<RingBuffer>();
  #closed = false;
  #onClose: (obj: BpfObject) => void;
  #nameBuf = new Uint8Array(64);

  /** Internal: made by OspreyLibrary.openObject. */
  constructor(native: Native, handle: number, kind: ObjectKind, onClose: (obj: BpfObject) => void) {
    this.#native = native;
    this.#handle = handle;
    this.kind = kind;
    this.#onClose = onClose;
  }

  /** True once {@linkcode close} ran. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Load the programs into the kernel (the verifier runs here) and create the maps. */
  load(): void {
    this.#assertOpen(`load object "${this.kind}"`);
    this.#native.check(
      this.#native.symbols.osp_object_load(this.#handle),
      `load object "${this.kind}"`,
    );
  }

  /**
   * The load-time choices as key/value pairs: `object`, `loaded`, and for
   * proc `attach_mode` (tp_btf, raw_tp or mixed), `mark_victim_arg`,
   * `exit_group_dead_arg`.
   */
  info(): Record<string, string> {
    this.#assertOpen(`describe object "${this.kind}"`);
    return parseKeyValues(
      this.#native.text(
        (buf, cap) => this.#native.symbols.osp_object_info(this.#handle, buf, cap),
        `describe object "${this.kind}"`,
      ),
    );
  }

  /** Every program, in the object's order. */
  programs(): ProgramInfo[] {
    this.#assertOpen(`list programs of "${this.kind}"`);
    const n = this.#native.check(
      this.#native.symbols.osp_program_count(this.#handle),
      `list programs of "${this.kind}"`,
    );
    const out: ProgramInfo[] = [];
    for (let i = 0; i < n; i++) out.push(this.#program(i));
    return out;
  }

  /**
   * Attach one program. A failure is returned, not thrown, so the caller can
   * report each program and keep the others.
   *
   * @param program index or name
   * @returns what happened
   */
  attachProgram(program: number | string): AttachResult {
    this.#assertOpen(`attach a program of "${this.kind}"`);
    const info = typeof program === "number" ? this.#program(program) : this.#byName(program);
    const ret = this.#native.symbols.osp_program_attach(this.#handle, info.index);
    const base = { program: info.name, variant: info.variant };
    if (ret === AttachCode.OK) return { ...base, attached: true };
    if (ret === AttachCode.SKIPPED) return { ...base, attached: false, skipped: "feature-probe" };
    if (ret === AttachCode.ON_DEMAND) return { ...base, attached: false, skipped: "on-demand" };
    const errno = ret < 0 ? -ret : Errno.EINVAL;
    return {
      ...base,
      attached: false,
      errno,
      code: errnoName(errno),
      message: this.#native.lastError(),
    };
  }

  /** Attach every program, one by one; one result per program. */
  attach(): AttachResult[] {
    return this.programs().map((p) => this.attachProgram(p.index));
  }

  /**
   * Open a ring-buffer map of the loaded object for reading.
   *
   * @param mapName e.g. "proc_events"
   * @returns the ring; this object closes it if you do not
   */
  openRing(mapName: string): RingBuffer {
    const op = `open ring "${mapName}" of "${this.kind}"`;
    this.#assertOpen(op);
    const r = this.#native.check(
      this.#native.symbols.osp_ring_open(this.#handle, cString(mapName)),
      op,
    );
    const ring = new RingBuffer(this.#native, r, mapName, (x) => this.#rings.delete(x));
    this.#rings.add(ring);
    return ring;
  }

  /** Records the kernel side could not reserve (ring full), by type. */
  lost(): LostCounts {
    const op = `read lost counters of "${this.kind}"`;
    this.#assertOpen(op);
    const buf = new Uint8Array(REC_TYPE_MAX * 8);
    const n = this.#native.check(
      this.#native.symbols.osp_lost(this.#handle, buf, buf.byteLength),
      op,
    );
    const byType: Record<string, number> = {};
    let total = 0;
    u64s(buf, n).forEach((v, type) => {
      if (v === 0) return;
      byType[TYPE_NAMES[type] ?? `type${type}`] = v;
      total += v;
    });
    return { total, byType };
  }

  /** The object's raw per-CPU-summed "osp_counters" values. */
  counters(): number[] {
    const op = `read counters of "${this.kind}"`;
    this.#assertOpen(op);
    const buf = new Uint8Array(64 * 8);
    const n = this.#native.check(
      this.#native.symbols.osp_counters(this.#handle, buf, buf.byteLength),
      op,
    );
    return u64s(buf, n);
  }

  /** The proc object's counters by name. */
  procCounters(): ProcCounters {
    const c = this.counters();
    return {
      oomMarks: c[ProcCounter.OOM_MARKS] ?? 0,
      oomJoined: c[ProcCounter.OOM_JOINED] ?? 0,
      oomMapFull: c[ProcCounter.OOM_MAP_FULL] ?? 0,
    };
  }

  /**
   * Set the size of one of the object's maps. Only before {@linkcode load}.
   *
   * @throws {BpfError} EBUSY once loaded, ENOENT for an unknown map
   */
  resizeMap(mapName: string, maxEntries: number): void {
    const op = `resize map "${mapName}" of "${this.kind}" to ${maxEntries} entries`;
    this.#assertOpen(op);
    this.#native.check(
      this.#native.symbols.osp_object_resize_map(this.#handle, cString(mapName), maxEntries),
      op,
    );
  }

  /**
   * Read every entry of a hash map, in batches into `buf`: for each batch,
   * `fn(buf, n)` gets n keys (each padded to 8 bytes) followed by n values
   * (each padded likewise). The buffer is reused between batches. One pass
   * over a map that changes meanwhile may miss or repeat an entry.
   *
   * @returns the number of entries read
   * @throws {BpfError} ENOSPC when `buf` cannot hold one hash bucket
   */
  readMap(mapName: string, buf: Uint8Array, fn: (buf: Uint8Array, n: number) => void): number {
    const op = `read map "${mapName}" of "${this.kind}"`;
    this.#assertOpen(op);
    const name = cString(mapName);
    const cursor = new Uint8Array(MAP_CURSOR_SIZE);
    const state = new DataView(cursor.buffer);
    let total = 0;
    while (state.getUint32(0, true) !== MapCursor.DONE) {
      const n = this.#native.check(
        this.#native.symbols.osp_map_read(
          this.#handle,
          name,
          cursor,
          cursor.byteLength,
          buf,
          buf.byteLength,
        ),
        op,
      );
      if (n > 0) fn(buf, n);
      total += n;
    }
    return total;
  }

  /**
   * Bench object only: run the producer on a pool thread until `count`
   * records were offered to "bench_events", pacing itself on free ring space.
   *
   * @param count records to produce
   * @returns count once done
   */
  async produce(count: number): Promise<number> {
    const op = `produce ${count} bench records`;
    this.#assertOpen(op);
    const ret = await this.#native.track(
      this.#native.symbols.osp_bench_produce(this.#handle, count),
    );
    return this.#native.check(ret, op);
  }

  /** Detach every program, close the rings, free the object. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const ring of [...this.#rings]) ring.close();
    this.#native.symbols.osp_object_close(this.#handle);
    this.#onClose(this);
  }

  [Symbol.dispose](): void {
    this.close();
  }

  #program(index: number): ProgramInfo {
    const op = `describe program ${index} of "${this.kind}"`;
    const s = this.#native.symbols;
    const len = this.#native.check(
      s.osp_program_name(this.#handle, index, this.#nameBuf, this.#nameBuf.byteLength),
      op,
    );
    const flags = this.#native.check(s.osp_program_flags(this.#handle, index), op);
    return {
      index,
      name: new TextDecoder().decode(this.#nameBuf.subarray(0, len)),
      variant: VARIANTS[flags & 0xff] ?? "other",
      autoload: (flags & ProgramFlag.AUTOLOAD) !== 0,
      attached: (flags & ProgramFlag.ATTACHED) !== 0,
    };
  }

  #byName(name: string): ProgramInfo {
    const found = this.programs().find((p) => p.name === name);
    if (!found) {
      throw new BpfError(`attach program "${name}"`, Errno.ENOENT, {
        detail: `object "${this.kind}" has no such program`,
      });
    }
    return found;
  }

  #assertOpen(operation: string): void {
    if (this.#closed) {
      throw new BpfError(operation, Errno.EBADF, { detail: "object is closed" });
    }
  }
}
