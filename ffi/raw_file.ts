/**
 * Reading a file by the bytes of its path, for host paths that are not UTF-8 (Deno's file APIs
 * cannot open them: a string path is converted lossily, a `file:` URL with `%E9` is refused).
 * Get one from {@linkcode OspreyLibrary.openFile}.
 *
 * @module
 */

import { BpfError, Errno } from "./errors.ts";
import type { Native } from "./_native.ts";

const FIRST_READ = 8192;

/** An open file of libosprey (osp_file_*). Close it, or `using` it. */
export class RawFile {
  /** The path as printable text, for messages. */
  readonly name: string;
  #native: Native;
  #handle: number;
  #closed = false;
  #onClose: (file: RawFile) => void;
  #buf = new Uint8Array(FIRST_READ);

  /** Internal: made by OspreyLibrary.openFile. */
  constructor(native: Native, handle: number, name: string, onClose: (file: RawFile) => void) {
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
   * Reads up to `buf.byteLength` bytes at `offset` (pread(2)).
   *
   * @returns bytes read, 0 at the end
   * @throws {BpfError} with the errno (ENODEV once a cgroup's directory was removed; EBADF
   * when closed)
   */
  pread(buf: Uint8Array, offset: number): number {
    this.#assertOpen("read");
    const n = this.#native.symbols.osp_file_pread(
      this.#handle,
      buf,
      buf.byteLength,
      BigInt(offset),
    );
    if (n < 0) throw new BpfError(`read file "${this.name}"`, -n);
    return n;
  }

  /**
   * The whole file, read from offset 0 to its end (procfs and cgroupfs regenerate the text on
   * each such read). The buffer grows to the largest file read and is reused.
   *
   * @returns a view of the bytes, valid until the next read of this file
   */
  readAll(): Uint8Array {
    let n = 0;
    for (;;) {
      if (n === this.#buf.length) {
        const bigger = new Uint8Array(this.#buf.length * 2);
        bigger.set(this.#buf);
        this.#buf = bigger;
      }
      const got = this.pread(this.#buf.subarray(n), n);
      if (got === 0) break;
      n += got;
    }
    return this.#buf.subarray(0, n);
  }

  /** Closes the file. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#native.symbols.osp_file_close(this.#handle);
    this.#onClose(this);
  }

  [Symbol.dispose](): void {
    this.close();
  }

  #assertOpen(what: string): void {
    if (this.#closed) {
      throw new BpfError(`${what} file "${this.name}"`, Errno.EBADF, { detail: "file is closed" });
    }
  }
}
