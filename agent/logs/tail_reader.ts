/**
 * Follows one log file as it is written, line by line, without losing or repeating a line
 * (reference §5.1 "Tail reader", extended).
 *
 * | what happens to the file                   | what the reader does                                                        |
 * |--------------------------------------------|-----------------------------------------------------------------------------|
 * | exists when the reader starts              | starts at its end (or at a kept {@linkcode TailPosition} of the same file)   |
 * | appears later                              | reads it from its start                                                      |
 * | grows                                      | reads the new bytes, at most `maxBytesPerPoll` per {@linkcode TailReader.poll} |
 * | renamed away, a new file at the path       | finishes the old file to its end, then reads the new one from its start      |
 * | truncated (`> file`, copy-truncate)        | reads from the start again; counted in `truncations`                         |
 * | truncated and written again past the point | seen from the bytes before the kept offset changing; read from the start     |
 * | deleted                                    | finishes the open file, then waits for a file at the path                   |
 * | a line longer than `maxLineBytes`          | its first `maxLineBytes` (cut at a character boundary); counted in `cut`     |
 * | bytes that are not UTF-8 (binary data)     | the line is dropped; counted in `invalidUtf8`                                |
 * | no newline yet at the end                  | the partial line waits for its newline (or for the file to be finished)     |
 *
 * The reader owns no timer: its owner calls {@linkcode TailReader.poll} (on a timer, or when
 * inotify says the file changed), so many readers share one loop and a slow file never stalls
 * the others. A poll reads at most `maxBytesPerPoll` bytes and reports whether more is waiting.
 *
 * @module
 */

/** Where a reader stands in a file: kept per source, so a new reader resumes there. */
export interface TailPosition {
  /** Device and inode of the file (Deno's `stat().dev` and `.ino`). */
  readonly dev: number;
  readonly ino: number;
  /** Byte offset just after the last complete line handed out. */
  readonly offset: number;
}

/** What a reader counted; every field only grows. */
export interface TailStats {
  /** Lines handed out. */
  lines: number;
  /** Bytes read. */
  bytes: number;
  /** Lines longer than `maxLineBytes`, handed out cut. */
  cut: number;
  /** Lines dropped because they were not UTF-8. */
  invalidUtf8: number;
  /** A new file took the path (rename rotation, or delete and create). */
  rotations: number;
  /** The file shrank or was rewritten from its start in place (truncation, copy-truncate). */
  truncations: number;
  /** Reads or stats that failed with an error other than "not found". */
  errors: number;
}

/** Options of {@linkcode TailReader}. */
export interface TailReaderOptions {
  /** Called once per complete line, without its newline. */
  onLine(line: string): void;
  /**
   * Where a reader of the same source stopped: used when the file at the path is still that
   * file (same device and inode, at least that long); otherwise the reader starts at the end.
   */
  resume?: TailPosition;
  /** Longest line kept, in bytes; longer ones are cut. @default 65536 */
  maxLineBytes?: number;
  /** Most bytes one {@linkcode TailReader.poll} reads. @default 4194304 */
  maxBytesPerPoll?: number;
  /** Read buffer, in bytes. @default 262144 */
  chunkBytes?: number;
  /** Start at the start of a file that exists already (tests, `cat`-like use). @default false */
  fromStart?: boolean;
}

/** Bytes before the kept offset compared on every poll, to see a file rewritten in place. */
const FINGERPRINT_BYTES = 64;

/**
 * The length of `bytes` without an incomplete UTF-8 sequence at its end (what is left of a
 * character that a cut split). Bytes that are not UTF-8 at all are left as they are.
 */
export function completeUtf8Length(bytes: Uint8Array): number {
  const n = bytes.length;
  for (let i = n - 1; i >= 0 && i >= n - 4; i--) {
    const b = bytes[i];
    if ((b & 0xc0) === 0x80) continue; // continuation: look further back
    const need = b < 0x80 ? 1 : (b & 0xe0) === 0xc0 ? 2 : (b & 0xf0) === 0xe0 ? 3 : 4;
    return i + need > n ? i : n;
  }
  return n;
}

function sameFile(a: Deno.FileInfo, dev: number, ino: number): boolean {
  return a.dev === dev && a.ino === ino;
}

/** Follows one file; see the module documentation. */
export class TailReader {
  /** The path followed (as the agent opens it). */
  readonly path: string;
  readonly stats: TailStats = {
    lines: 0,
    bytes: 0,
    cut: 0,
    invalidUtf8: 0,
    rotations: 0,
    truncations: 0,
    errors: 0,
  };
  readonly #onLine: (line: string) => void;
  readonly #maxLine: number;
  readonly #maxPerPoll: number;
  readonly #buf: Uint8Array;
  readonly #decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
  readonly #encoder = new TextEncoder();
  #file: Deno.FsFile | undefined;
  #dev = 0;
  #ino = 0;
  /** Offset of the next byte to read. */
  #offset = 0;
  /** Bytes of a line still without its newline (at most maxLine). */
  #pending: Uint8Array;
  #pendingLen = 0;
  /** The current line passed maxLine: its further bytes are skipped until the newline. */
  #cutting = false;
  /** The FINGERPRINT_BYTES before #offset, as last read. */
  #fingerprint = new Uint8Array(FINGERPRINT_BYTES);
  #fingerprintLen = 0;
  #started = false;
  #resume: TailPosition | undefined;
  #fromStart: boolean;
  #lastError = "";
  #closed = false;

  constructor(path: string, opts: TailReaderOptions) {
    this.path = path;
    this.#onLine = opts.onLine;
    this.#maxLine = Math.max(16, opts.maxLineBytes ?? 65_536);
    this.#maxPerPoll = Math.max(1, opts.maxBytesPerPoll ?? 4 << 20);
    this.#buf = new Uint8Array(Math.max(4096, opts.chunkBytes ?? 256 * 1024));
    this.#pending = new Uint8Array(Math.min(this.#maxLine, 4096));
    this.#resume = opts.resume;
    this.#fromStart = opts.fromStart ?? false;
  }

  /**
   * Where the reader stands: the file and the offset just after the last line handed out
   * (a partial line is read again by a reader that resumes here). Undefined while no file is
   * open.
   */
  get position(): TailPosition | undefined {
    if (this.#file === undefined) return undefined;
    return { dev: this.#dev, ino: this.#ino, offset: this.#offset - this.#pendingLen };
  }

  /** True while a file is open. */
  get open(): boolean {
    return this.#file !== undefined;
  }

  /** The last error other than "not found" (empty if none), for a log line. */
  get lastError(): string {
    return this.#lastError;
  }

  /**
   * Reads what was written since the last poll (at most `maxBytesPerPoll` bytes), handles
   * rotation, truncation and deletion, and hands out every complete line.
   *
   * @returns true when more bytes are waiting (poll again soon)
   */
  async poll(): Promise<boolean> {
    if (this.#closed) return false;
    if (!this.#started) {
      this.#started = true;
      await this.#openAtStart();
      if (this.#file === undefined) return false;
    }
    if (this.#file === undefined) {
      // waiting for the file to appear (late, or after deletion): read it from its start
      if (!(await this.#openNew())) return false;
    }
    let budget = this.#maxPerPoll;
    // read the open file; then look at what the path names now
    const more = await this.#readOpen(budget);
    if (more.remaining) return true;
    budget = more.budget;
    let st: Deno.FileInfo | undefined;
    try {
      st = await Deno.stat(this.path);
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound)) this.#fail(err);
    }
    if (st === undefined || !sameFile(st, this.#dev, this.#ino)) {
      // deleted, or another file took the path: the old one was read to its end above
      if (st !== undefined) this.stats.rotations++;
      this.#finishFile();
      if (st === undefined) return false;
      if (!(await this.#openNew())) return false;
      return (await this.#readOpen(budget)).remaining;
    }
    return false;
  }

  /** Closes the file. A partial line is dropped (a reader that resumes reads it again). */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#file?.close();
    this.#file = undefined;
  }

  [Symbol.dispose](): void {
    this.close();
  }

  #fail(err: unknown): void {
    this.stats.errors++;
    this.#lastError = err instanceof Error ? err.message : String(err);
  }

  async #openAtStart(): Promise<void> {
    let f: Deno.FsFile;
    try {
      f = await Deno.open(this.path, { read: true });
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound)) this.#fail(err);
      return; // waits for it; a file that appears later is read from its start
    }
    try {
      const st = await f.stat();
      if (!st.isFile) {
        f.close();
        this.#fail(new Error(`${this.path} is not a regular file`));
        return;
      }
      const r = this.#resume;
      let at = this.#fromStart ? 0 : st.size;
      if (r !== undefined && sameFile(st, r.dev, r.ino) && r.offset <= st.size) at = r.offset;
      this.#attach(f, st);
      await this.#seek(at);
    } catch (err) {
      f.close();
      this.#file = undefined;
      this.#fail(err);
    }
  }

  /** Opens the file now at the path from its start; false when there is none. */
  async #openNew(): Promise<boolean> {
    let f: Deno.FsFile;
    try {
      f = await Deno.open(this.path, { read: true });
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound)) this.#fail(err);
      return false;
    }
    try {
      const st = await f.stat();
      if (!st.isFile) {
        f.close();
        return false;
      }
      this.#attach(f, st);
      await this.#seek(0);
      return true;
    } catch (err) {
      f.close();
      this.#file = undefined;
      this.#fail(err);
      return false;
    }
  }

  #attach(f: Deno.FsFile, st: Deno.FileInfo): void {
    this.#file = f;
    this.#dev = st.dev;
    this.#ino = st.ino ?? 0;
    this.#pendingLen = 0;
    this.#cutting = false;
  }

  async #seek(at: number): Promise<void> {
    const f = this.#file!;
    await f.seek(at, Deno.SeekMode.Start);
    this.#offset = at;
    this.#fingerprintLen = 0;
    if (at > 0) {
      const n = Math.min(FINGERPRINT_BYTES, at);
      await f.seek(at - n, Deno.SeekMode.Start);
      const got = await this.#readFull(this.#fingerprint.subarray(0, n));
      this.#fingerprintLen = got;
      await f.seek(at, Deno.SeekMode.Start);
    }
  }

  async #readFull(into: Uint8Array): Promise<number> {
    let got = 0;
    while (got < into.length) {
      const n = await this.#file!.read(into.subarray(got));
      if (n === null) break;
      got += n;
    }
    return got;
  }

  /**
   * Sees truncation and in-place rewrites of the open file, then reads up to `budget` bytes.
   */
  async #readOpen(budget: number): Promise<{ remaining: boolean; budget: number }> {
    const f = this.#file!;
    let size: number;
    try {
      size = (await f.stat()).size;
    } catch (err) {
      this.#fail(err);
      return { remaining: false, budget };
    }
    if (size < this.#offset || (size > this.#offset && !(await this.#sameBefore()))) {
      // shrank, or rewritten from the start past where we were (copy-truncate then writes)
      this.stats.truncations++;
      this.#flushPartial();
      await this.#seek(0);
    }
    while (budget > 0) {
      const want = Math.min(this.#buf.length, budget);
      let n: number | null;
      try {
        n = await f.read(this.#buf.subarray(0, want));
      } catch (err) {
        this.#fail(err);
        return { remaining: false, budget };
      }
      if (n === null || n === 0) return { remaining: false, budget };
      budget -= n;
      this.stats.bytes += n;
      this.#consume(this.#buf.subarray(0, n));
      this.#offset += n;
      this.#noteFingerprint(this.#buf.subarray(0, n));
    }
    try {
      return { remaining: (await f.stat()).size > this.#offset, budget };
    } catch {
      return { remaining: false, budget };
    }
  }

  /** Whether the bytes before the offset are still the ones read there. */
  async #sameBefore(): Promise<boolean> {
    const n = this.#fingerprintLen;
    if (n === 0) return true;
    const f = this.#file!;
    const now = new Uint8Array(n);
    await f.seek(this.#offset - n, Deno.SeekMode.Start);
    const got = await this.#readFull(now);
    await f.seek(this.#offset, Deno.SeekMode.Start);
    if (got !== n) return false;
    for (let i = 0; i < n; i++) if (now[i] !== this.#fingerprint[i]) return false;
    return true;
  }

  #noteFingerprint(chunk: Uint8Array): void {
    const fp = this.#fingerprint;
    if (chunk.length >= FINGERPRINT_BYTES) {
      fp.set(chunk.subarray(chunk.length - FINGERPRINT_BYTES));
      this.#fingerprintLen = FINGERPRINT_BYTES;
      return;
    }
    const keep = Math.min(this.#fingerprintLen, FINGERPRINT_BYTES - chunk.length);
    fp.copyWithin(0, this.#fingerprintLen - keep, this.#fingerprintLen);
    fp.set(chunk, keep);
    this.#fingerprintLen = keep + chunk.length;
  }

  /** The file is done with (rotated away, deleted): its partial last line is a line. */
  #finishFile(): void {
    this.#flushPartial();
    this.#file?.close();
    this.#file = undefined;
  }

  #flushPartial(): void {
    if (this.#pendingLen > 0 || this.#cutting) this.#emitPending();
  }

  /** Splits a chunk into lines; see deno-notes §8 for why one decode per chunk. */
  #consume(chunk: Uint8Array): void {
    let start = 0;
    const end = chunk.length;
    while (start < end) {
      const nl = chunk.indexOf(10, start);
      if (nl < 0) {
        this.#appendPending(chunk.subarray(start));
        return;
      }
      if (this.#pendingLen > 0 || this.#cutting) {
        this.#appendPending(chunk.subarray(start, nl));
        this.#emitPending();
        start = nl + 1;
        continue;
      }
      // a run of whole lines: one decode
      const last = chunk.lastIndexOf(10);
      this.#emitBlock(chunk.subarray(start, last));
      start = last + 1;
    }
  }

  /** Hands out the lines of `block` (lines joined by newlines, without the final one). */
  #emitBlock(block: Uint8Array): void {
    let text: string;
    try {
      text = this.#decoder.decode(block);
    } catch {
      // not all UTF-8: line by line, so only the bad lines go
      let s = 0;
      while (s <= block.length) {
        let e = block.indexOf(10, s);
        if (e < 0) e = block.length;
        this.#emitBytes(block.subarray(s, e));
        s = e + 1;
      }
      return;
    }
    let st = 0;
    for (;;) {
      const i = text.indexOf("\n", st);
      const line = i < 0 ? text.slice(st) : text.slice(st, i);
      // a UTF-16 unit is at most 3 UTF-8 bytes: only long strings need measuring
      if (line.length * 3 > this.#maxLine) {
        this.#emitBytes(this.#encoder.encode(line));
      } else {
        this.stats.lines++;
        this.#onLine(line);
      }
      if (i < 0) break;
      st = i + 1;
    }
  }

  /** One line's bytes: cut when too long, dropped when not UTF-8. */
  #emitBytes(bytes: Uint8Array): void {
    let b = bytes;
    if (b.length > this.#maxLine) {
      b = b.subarray(0, this.#maxLine);
      b = b.subarray(0, completeUtf8Length(b));
      this.stats.cut++;
    }
    this.#emitDecoded(b);
  }

  #emitDecoded(b: Uint8Array): void {
    let line: string;
    try {
      line = this.#decoder.decode(b);
    } catch {
      this.stats.invalidUtf8++;
      return;
    }
    this.stats.lines++;
    this.#onLine(line);
  }

  #appendPending(bytes: Uint8Array): void {
    if (this.#cutting) return;
    const room = this.#maxLine - this.#pendingLen;
    let take = bytes;
    if (bytes.length > room) {
      take = bytes.subarray(0, room);
      this.#cutting = true;
    }
    if (this.#pendingLen + take.length > this.#pending.length) {
      const grown = new Uint8Array(
        Math.min(this.#maxLine, Math.max(this.#pending.length * 2, this.#pendingLen + take.length)),
      );
      grown.set(this.#pending.subarray(0, this.#pendingLen));
      this.#pending = grown;
    }
    this.#pending.set(take, this.#pendingLen);
    this.#pendingLen += take.length;
  }

  #emitPending(): void {
    let b = this.#pending.subarray(0, this.#pendingLen);
    if (this.#cutting) {
      b = b.subarray(0, completeUtf8Length(b));
      this.stats.cut++;
    }
    this.#pendingLen = 0;
    this.#cutting = false;
    this.#emitDecoded(b);
    if (this.#pending.length > 65_536) this.#pending = new Uint8Array(4096);
  }
}
