/**
 * Follows one log file as it is written, line by line, without losing or repeating a line
 * (reference §5.1 "Tail reader", extended).
 *
 * | what happens to the file                   | what the reader does                                                        |
 * |--------------------------------------------|-----------------------------------------------------------------------------|
 * | exists when the reader starts              | starts at its end (or at a kept {@linkcode TailPosition} of the same file)   |
 * | appears later                              | reads it from its start                                                      |
 * | grows                                      | reads the new bytes, at most `maxBytesPerPoll` per {@linkcode TailReader.poll} |
 * | renamed away, a new file at the path       | reads the new one from its start, and the old one until it stayed idle `drainMs` (a program writes to it until it reopens the path) |
 * | truncated (`> file`, copy-truncate)        | reads from the start again; counted in `truncations`                         |
 * | truncated and written again past the point | seen from the bytes before the kept offset changing; read from the start     |
 * | deleted                                    | reads the open file until it stayed idle `drainMs`, and waits for a file at the path |
 * | a line longer than `maxLineBytes`          | its first `maxLineBytes` (cut at a character boundary); counted in `cut`     |
 * | bytes that are not UTF-8 (binary data)     | the line is dropped; counted in `invalidUtf8`                                |
 * | no newline yet at the end                  | the partial line waits for its newline (or for the file to be finished)     |
 *
 * The reader owns no timer: its owner calls {@linkcode TailReader.poll} on a timer, so many
 * readers share one loop and a slow file never stalls
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
  /** A new file took the path (rename rotation, or delete and create, however late). */
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
  /**
   * How long a file that left the path (renamed, deleted) is still read after it last grew:
   * the program may write to it until it reopens the path. Its partial last line is a line
   * then. @default 3000
   */
  drainMs?: number;
  /** The clock for `drainMs`, in ms. @default Date.now */
  clock?: () => number;
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

/** One open file and where the reader stands in it. */
class Followed {
  readonly file: Deno.FsFile;
  readonly dev: number;
  readonly ino: number;
  /** Offset of the next byte to read. */
  offset = 0;
  /** Bytes of a line still without its newline (at most maxLine). */
  pending: Uint8Array;
  pendingLen = 0;
  /** The current line passed maxLine: its further bytes are skipped until the newline. */
  cutting = false;
  /** The FINGERPRINT_BYTES before offset, as last read. */
  readonly fingerprint = new Uint8Array(FINGERPRINT_BYTES);
  fingerprintLen = 0;
  /** When it last grew (for draining). */
  grewAt = 0;

  constructor(file: Deno.FsFile, st: Deno.FileInfo) {
    this.file = file;
    this.dev = st.dev;
    this.ino = st.ino ?? 0;
    this.pending = new Uint8Array(4096);
  }
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
  readonly #drainMs: number;
  readonly #clock: () => number;
  readonly #buf: Uint8Array;
  readonly #decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
  readonly #encoder = new TextEncoder();
  /** The file at the path. */
  #cur: Followed | undefined;
  /** Files that left the path, read until idle. */
  #draining: Followed[] = [];
  #started = false;
  /** The file left the path and no other took it yet (a new one there is a rotation). */
  #leftPath = false;
  #resume: TailPosition | undefined;
  #fromStart: boolean;
  #lastError = "";
  /** True while the path holds something other than a regular file (counted once). */
  #notRegular = false;
  #closed = false;

  constructor(path: string, opts: TailReaderOptions) {
    this.path = path;
    this.#onLine = opts.onLine;
    this.#maxLine = Math.max(16, opts.maxLineBytes ?? 65_536);
    this.#maxPerPoll = Math.max(1, opts.maxBytesPerPoll ?? 4 << 20);
    this.#drainMs = Math.max(0, opts.drainMs ?? 3000);
    this.#clock = opts.clock ?? Date.now;
    this.#buf = new Uint8Array(Math.max(4096, opts.chunkBytes ?? 256 * 1024));
    this.#resume = opts.resume;
    this.#fromStart = opts.fromStart ?? false;
  }

  /**
   * Where the reader stands: the file at the path and the offset just after the last line
   * handed out (a partial line is read again by a reader that resumes here). Undefined while
   * no file is open. A file still drained after rotation is not part of it.
   */
  get position(): TailPosition | undefined {
    const f = this.#cur;
    if (f === undefined) return undefined;
    return { dev: f.dev, ino: f.ino, offset: f.offset - f.pendingLen };
  }

  /** True while the file at the path is open. */
  get open(): boolean {
    return this.#cur !== undefined;
  }

  /** Files that left the path and are still read. */
  get draining(): number {
    return this.#draining.length;
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
    let budget = this.#maxPerPoll;
    // files that left the path first: their lines came before the new file's
    for (const f of [...this.#draining]) {
      const r = await this.#readFile(f, budget, false);
      budget = r.budget;
      if (r.remaining) return true;
      if (this.#clock() - f.grewAt >= this.#drainMs) {
        this.#finish(f);
        this.#draining = this.#draining.filter((x) => x !== f);
      }
    }
    if (!this.#started) {
      this.#started = true;
      await this.#openAtStart();
      if (this.#cur === undefined) return false;
    }
    if (this.#cur === undefined) {
      // waiting for the file to appear (late, or after deletion): read it from its start
      this.#cur = await this.#openNew();
      if (this.#cur === undefined) return false;
      if (this.#leftPath) this.stats.rotations++; // renamed away, then made again
      this.#leftPath = false;
    }
    const r = await this.#readFile(this.#cur, budget, true);
    if (r.remaining) return true;
    budget = r.budget;
    let st: Deno.FileInfo | undefined;
    try {
      st = await Deno.stat(this.path);
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound)) this.#fail(err);
    }
    const cur = this.#cur;
    if (st !== undefined && st.dev === cur.dev && st.ino === cur.ino) return false;
    // deleted, or another file took the path: read the old one a while longer
    cur.grewAt = this.#clock();
    this.#draining.push(cur);
    this.#cur = undefined;
    if (st === undefined) {
      this.#leftPath = true;
      return false;
    }
    this.stats.rotations++;
    this.#cur = await this.#openNew();
    if (this.#cur === undefined) return false;
    return (await this.#readFile(this.#cur, budget, true)).remaining;
  }

  /** Closes the files. A partial line is dropped (a reader that resumes reads it again). */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#cur?.file.close();
    this.#cur = undefined;
    for (const f of this.#draining) f.file.close();
    this.#draining = [];
  }

  [Symbol.dispose](): void {
    this.close();
  }

  #fail(err: unknown): void {
    this.stats.errors++;
    this.#lastError = err instanceof Error ? err.message : String(err);
  }

  /**
   * Whether the path is a regular file, asked before opening it: opening a FIFO blocks until a
   * writer comes (a thread of Deno's pool forever). False when there is nothing at the path yet
   * (waited for) or something else is there (counted as an error).
   */
  async #isRegularFile(): Promise<boolean> {
    try {
      if ((await Deno.stat(this.path)).isFile) {
        this.#notRegular = false;
        return true;
      }
      // counted once while it stays so, not at every poll
      if (!this.#notRegular) this.#fail(new Error(`${this.path} is not a regular file`));
      this.#notRegular = true;
    } catch (err) {
      this.#notRegular = false;
      if (!(err instanceof Deno.errors.NotFound)) this.#fail(err);
    }
    return false;
  }

  async #openAtStart(): Promise<void> {
    if (!(await this.#isRegularFile())) return;
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
      if (r !== undefined && st.dev === r.dev && st.ino === r.ino && r.offset <= st.size) {
        at = r.offset;
      }
      const followed = new Followed(f, st);
      await this.#seek(followed, at);
      this.#cur = followed;
    } catch (err) {
      f.close();
      this.#fail(err);
    }
  }

  /** Opens the file now at the path, at its start; undefined when there is none. */
  async #openNew(): Promise<Followed | undefined> {
    if (!(await this.#isRegularFile())) return undefined;
    let f: Deno.FsFile;
    try {
      f = await Deno.open(this.path, { read: true });
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound)) this.#fail(err);
      return undefined;
    }
    try {
      const st = await f.stat();
      if (!st.isFile) {
        f.close();
        return undefined;
      }
      const followed = new Followed(f, st);
      await this.#seek(followed, 0);
      return followed;
    } catch (err) {
      f.close();
      this.#fail(err);
      return undefined;
    }
  }

  async #seek(f: Followed, at: number): Promise<void> {
    f.offset = at;
    f.fingerprintLen = 0;
    if (at > 0) {
      const n = Math.min(FINGERPRINT_BYTES, at);
      await f.file.seek(at - n, Deno.SeekMode.Start);
      f.fingerprintLen = await this.#readFull(f, f.fingerprint.subarray(0, n));
    }
    await f.file.seek(at, Deno.SeekMode.Start);
  }

  async #readFull(f: Followed, into: Uint8Array): Promise<number> {
    let got = 0;
    while (got < into.length) {
      const n = await f.file.read(into.subarray(got));
      if (n === null) break;
      got += n;
    }
    return got;
  }

  /**
   * Reads up to `budget` bytes of a file; for the file at the path, first sees truncation and
   * in-place rewrites.
   */
  async #readFile(
    f: Followed,
    budget: number,
    atPath: boolean,
  ): Promise<{ remaining: boolean; budget: number }> {
    let size: number;
    try {
      size = (await f.file.stat()).size;
    } catch (err) {
      this.#fail(err);
      return { remaining: false, budget };
    }
    if (atPath && (size < f.offset || (size > f.offset && !(await this.#sameBefore(f))))) {
      // shrank, or rewritten from the start past where we were (copy-truncate then writes)
      this.stats.truncations++;
      this.#flushPartial(f);
      await this.#seek(f, 0);
    }
    while (budget > 0) {
      const want = Math.min(this.#buf.length, budget);
      let n: number | null;
      try {
        n = await f.file.read(this.#buf.subarray(0, want));
      } catch (err) {
        this.#fail(err);
        return { remaining: false, budget };
      }
      if (n === null || n === 0) return { remaining: false, budget };
      budget -= n;
      f.grewAt = this.#clock();
      this.stats.bytes += n;
      this.#consume(f, this.#buf.subarray(0, n));
      f.offset += n;
      this.#noteFingerprint(f, this.#buf.subarray(0, n));
    }
    try {
      return { remaining: (await f.file.stat()).size > f.offset, budget };
    } catch {
      return { remaining: false, budget };
    }
  }

  /** Whether the bytes before the offset are still the ones read there. */
  async #sameBefore(f: Followed): Promise<boolean> {
    const n = f.fingerprintLen;
    if (n === 0) return true;
    const now = new Uint8Array(n);
    await f.file.seek(f.offset - n, Deno.SeekMode.Start);
    const got = await this.#readFull(f, now);
    await f.file.seek(f.offset, Deno.SeekMode.Start);
    if (got !== n) return false;
    for (let i = 0; i < n; i++) if (now[i] !== f.fingerprint[i]) return false;
    return true;
  }

  #noteFingerprint(f: Followed, chunk: Uint8Array): void {
    const fp = f.fingerprint;
    if (chunk.length >= FINGERPRINT_BYTES) {
      fp.set(chunk.subarray(chunk.length - FINGERPRINT_BYTES));
      f.fingerprintLen = FINGERPRINT_BYTES;
      return;
    }
    const keep = Math.min(f.fingerprintLen, FINGERPRINT_BYTES - chunk.length);
    fp.copyWithin(0, f.fingerprintLen - keep, f.fingerprintLen);
    fp.set(chunk, keep);
    f.fingerprintLen = keep + chunk.length;
  }

  /** A file is done with (drained after rotation or deletion): its partial line is a line. */
  #finish(f: Followed): void {
    this.#flushPartial(f);
    f.file.close();
  }

  #flushPartial(f: Followed): void {
    if (f.pendingLen > 0 || f.cutting) this.#emitPending(f);
  }

  /** Splits a chunk into lines; see deno-notes §8 for why one decode per chunk. */
  #consume(f: Followed, chunk: Uint8Array): void {
    let start = 0;
    const end = chunk.length;
    while (start < end) {
      const nl = chunk.indexOf(10, start);
      if (nl < 0) {
        this.#appendPending(f, chunk.subarray(start));
        return;
      }
      if (f.pendingLen > 0 || f.cutting) {
        this.#appendPending(f, chunk.subarray(start, nl));
        this.#emitPending(f);
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

  #appendPending(f: Followed, bytes: Uint8Array): void {
    if (f.cutting) return;
    const room = this.#maxLine - f.pendingLen;
    let take = bytes;
    if (bytes.length > room) {
      take = bytes.subarray(0, room);
      f.cutting = true;
    }
    if (f.pendingLen + take.length > f.pending.length) {
      const grown = new Uint8Array(
        Math.min(this.#maxLine, Math.max(f.pending.length * 2, f.pendingLen + take.length)),
      );
      grown.set(f.pending.subarray(0, f.pendingLen));
      f.pending = grown;
    }
    f.pending.set(take, f.pendingLen);
    f.pendingLen += take.length;
  }

  #emitPending(f: Followed): void {
    let b = f.pending.subarray(0, f.pendingLen);
    if (f.cutting) {
      b = b.subarray(0, completeUtf8Length(b));
      this.stats.cut++;
    }
    f.pendingLen = 0;
    f.cutting = false;
    this.#emitDecoded(b);
    if (f.pending.length > 65_536) f.pending = new Uint8Array(4096);
  }
}
