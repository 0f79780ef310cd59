/**
 * Reading a BPF ring buffer: wait on a pool thread (nonblocking FFI call),
 * then drain whole records synchronously into one reused buffer.
 *
 * @module
 */

import { BpfError, Errno } from "./errors.ts";
import { FrameBatch } from "./records.ts";
import type { Native } from "./_native.ts";

/** Default size of the buffer {@linkcode RingBuffer.batches} drains into. */
export const DEFAULT_DRAIN_BUFFER = 256 * 1024;

/**
 * Longest wait per call. An in-flight nonblocking call delays process exit,
 * so waits stay short to keep SIGTERM handling prompt.
 */
export const MAX_WAIT_MS = 200;

/** Options of {@linkcode RingBuffer.batches}. */
export interface BatchOptions {
  /**
   * Bytes of the one buffer reused for every drain.
   * @default {262144}
   */
  bufferSize?: number;
  /**
   * Wait per call when the ring is empty, at most {@linkcode MAX_WAIT_MS}.
   * @default {100}
   */
  timeoutMs?: number;
  /** Stops the loop (within one wait timeout). */
  signal?: AbortSignal;
}

/** An open ring buffer. Get one from {@linkcode BpfObject.openRing}. */
export class RingBuffer {
  /** The map's name. */
  readonly name: string;
  #native: Native;
  #handle: number;
  #closed = false;
  #onClose: (ring: RingBuffer) => void;

  /** Internal: made by BpfObject.openRing. */
  constructor(native: Native, handle: number, name: string, onClose: (ring: RingBuffer) => void) {
    this.#native = native;
    this.#handle = handle;
    this.name = name;
    this.#onClose = onClose;
  }

  /** True once {@linkcode close} ran. */
  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Wait until records are pending, on a pool thread.
   *
   * @param timeoutMs at most {@linkcode MAX_WAIT_MS}
   * @returns true when readable; false on timeout or once closed
   */
  async wait(timeoutMs = 100): Promise<boolean> {
    if (this.#closed) return false;
    const t = Math.max(0, Math.min(MAX_WAIT_MS, Math.trunc(timeoutMs)));
    const ret = await this.#native.track(this.#native.symbols.osp_ring_wait(this.#handle, t));
    if (ret === 1) return true;
    if (ret === 0 || this.#closed || ret === -Errno.ECANCELED) return false;
    throw new BpfError(`wait on ring "${this.name}"`, -ret);
  }

  /**
   * Copy whole pending records into `buf` as frames (see records.ts) and
   * free their ring space. Never blocks, never splits or drops a record.
   *
   * @param buf destination; must not be in use by a pending call
   * @returns bytes written, 0 when the ring is empty
   * @throws {BpfError} ENOSPC when one record alone exceeds `buf`
   */
  drain(buf: Uint8Array): number {
    if (this.#closed) {
      throw new BpfError(`drain ring "${this.name}"`, Errno.EBADF, { detail: "ring is closed" });
    }
    const ret = this.#native.symbols.osp_ring_drain(this.#handle, buf, buf.byteLength);
    if (ret >= 0) return ret;
    const detail = ret === -Errno.ENOSPC
      ? `a pending record is larger than the ${buf.byteLength}-byte buffer`
      : "";
    throw new BpfError(`drain ring "${this.name}"`, -ret, { detail });
  }

  /** Bytes produced and not yet drained. */
  pending(): number {
    if (this.#closed) return 0;
    return this.#native.check(
      this.#native.symbols.osp_ring_pending(this.#handle),
      `read pending bytes of ring "${this.name}"`,
    );
  }

  /**
   * Drain forever (until closed or aborted), yielding one batch per drain.
   * The batch and its buffer are reused: decode it before the next step.
   *
   * @param options buffer size, wait timeout, abort signal
   * @returns batches of frames
   */
  async *batches(options: BatchOptions = {}): AsyncGenerator<FrameBatch, void, void> {
    const batch = new FrameBatch(new Uint8Array(options.bufferSize ?? DEFAULT_DRAIN_BUFFER));
    const timeout = options.timeoutMs ?? 100;
    const signal = options.signal;
    while (!this.#closed && !signal?.aborted) {
      const n = this.drain(batch.bytes);
      if (n > 0) {
        batch.length = n;
        yield batch;
        continue;
      }
      await this.wait(timeout);
    }
  }

  /** Close the ring; a pending wait resolves false. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#native.symbols.osp_ring_close(this.#handle);
    this.#onClose(this);
  }

  [Symbol.dispose](): void {
    this.close();
  }
}
