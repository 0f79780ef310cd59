/**
 * The systemd journal through libsystemd's sd_journal (ffi/src/journal.c). Get a
 * {@linkcode Journal} from `OspreyLibrary.openJournal`.
 *
 * @module
 */

import { BpfError, Errno } from "./errors.ts";
import { cString, type Native } from "./_native.ts";

/** OSP_JOURNAL_ENTRY_HDR. */
const ENTRY_HDR = 24;
/** OSP_JOURNAL_NO_PRIORITY. */
const NO_PRIORITY = 255;
/** OSP_JOURNAL_F_CUT. */
const F_CUT = 1;

/** One journal entry, with the fields the logs module routes and counts by. */
export interface JournalEntry {
  /** `PRIORITY` (0 emerg … 7 debug), or undefined when the entry has none. */
  priority: number | undefined;
  /** Realtime timestamp, in ms since the epoch. */
  timestampMs: number;
  /** `_SYSTEMD_UNIT` ("" when absent). */
  unit: string;
  /** `CONTAINER_ID_FULL` (Podman's and Docker's journald log drivers; "" when absent). */
  containerId: string;
  /** `MESSAGE` as bytes (any bytes: the journal stores binary messages too). */
  message: Uint8Array;
  /** The message was longer than 64 KiB and is cut there. */
  cut: boolean;
}

/** What {@linkcode Journal.wait} saw. */
export type JournalChange = "none" | "append" | "invalidate";

const latin = new TextDecoder("latin1");

/** Uses its arguments, so the engine keeps them alive up to the call. */
function keepAlive(...buffers: Uint8Array[]): void {
  for (const b of buffers) if (b.byteLength < 0) throw new Error("unreachable");
}

/** An open journal directory. Calls must not overlap: await each one. */
export class Journal {
  /** The directory followed. */
  readonly dir: string;
  #native: Native;
  #handle: number;
  #closed = false;
  #onClose: (j: Journal) => void;
  #buf = new Uint8Array(512 * 1024);
  #cursorBuf = new Uint8Array(1024);

  /** Internal: made by {@linkcode openJournal}. */
  constructor(native: Native, handle: number, dir: string, onClose: (j: Journal) => void) {
    this.#native = native;
    this.#handle = handle;
    this.dir = dir;
    this.#onClose = onClose;
  }

  /** True once {@linkcode close} ran. */
  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Sleeps until the journal changes or `timeoutMs` passes (at most 1000), on a pool thread.
   *
   * @throws {BpfError} with sd_journal's errno
   */
  async wait(timeoutMs: number): Promise<JournalChange> {
    if (this.#closed) return "none";
    const t = Math.max(0, Math.min(1000, Math.trunc(timeoutMs)));
    const r = await this.#native.track(this.#native.symbols.osp_journal_wait(this.#handle, t));
    if (this.#closed || r === -Errno.EBADF) return "none";
    if (r < 0) throw new BpfError(`wait on journal "${this.dir}"`, -r);
    return r === 1 ? "append" : r === 2 ? "invalidate" : "none";
  }

  /**
   * The entries written since the last read that carry a MESSAGE, at most `maxEntries`.
   *
   * @throws {BpfError} with sd_journal's errno
   */
  async read(maxEntries = 4096): Promise<JournalEntry[]> {
    if (this.#closed) return [];
    const buf = this.#buf;
    const n = await this.#native.track(
      this.#native.symbols.osp_journal_read(this.#handle, buf, buf.byteLength, maxEntries),
    );
    keepAlive(buf);
    if (this.#closed) return [];
    if (n < 0) throw new BpfError(`read journal "${this.dir}"`, -n);
    return decodeJournalEntries(buf.subarray(0, n));
  }

  /** The cursor of the last entry read ("" before any), to resume after it. */
  cursor(): string {
    if (this.#closed) return "";
    const r = this.#native.symbols.osp_journal_cursor(
      this.#handle,
      this.#cursorBuf,
      this.#cursorBuf.byteLength,
    );
    if (r < 0) return "";
    return latin.decode(this.#cursorBuf.subarray(0, r));
  }

  /** Closes the journal; a wait in progress returns "none". Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#native.symbols.osp_journal_close(this.#handle);
    this.#onClose(this);
  }

  [Symbol.dispose](): void {
    this.close();
  }
}

/**
 * Decodes what osp_journal_read() wrote (see osprey.h for the layout).
 *
 * @throws {BpfError} EBADMSG for a malformed buffer
 */
export function decodeJournalEntries(buf: Uint8Array): JournalEntry[] {
  const out: JournalEntry[] = [];
  const v = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  let off = 0;
  while (off + ENTRY_HDR <= buf.byteLength) {
    const len = v.getUint32(off, true);
    const prio = v.getUint32(off + 4, true);
    const usec = v.getUint32(off + 12, true) * 4294967296 + v.getUint32(off + 8, true);
    const msgLen = v.getUint32(off + 16, true);
    const unitLen = buf[off + 20];
    const cidLen = buf[off + 21];
    const flags = buf[off + 22];
    const body = off + ENTRY_HDR;
    if (
      len < ENTRY_HDR || off + len > buf.byteLength || body + unitLen + cidLen + msgLen > off + len
    ) {
      throw new BpfError("decode journal entries", Errno.EBADMSG, {
        detail: `entry at ${off} claims ${len} bytes`,
      });
    }
    out.push({
      priority: prio === NO_PRIORITY ? undefined : prio,
      timestampMs: Math.floor(usec / 1000),
      unit: latin.decode(buf.subarray(body, body + unitLen)),
      containerId: latin.decode(buf.subarray(body + unitLen, body + unitLen + cidLen)),
      message: buf.slice(body + unitLen + cidLen, body + unitLen + cidLen + msgLen),
      cut: (flags & F_CUT) !== 0,
    });
    off += len;
  }
  return out;
}

/**
 * Opens a journal directory (used by `OspreyLibrary.openJournal`).
 *
 * @throws {BpfError} ENOENT when libsystemd.so.0 cannot be loaded (the message says so), or
 *   sd_journal's errno for the directory
 */
export async function openJournal(
  native: Native,
  dir: string,
  cursor: string,
  onClose: (j: Journal) => void,
): Promise<Journal> {
  const d = cString(dir);
  const c = cString(cursor);
  const h = await native.track(native.symbols.osp_journal_open(d, c));
  keepAlive(d, c);
  return new Journal(native, native.check(h, `open journal "${dir}"`), dir, onClose);
}
