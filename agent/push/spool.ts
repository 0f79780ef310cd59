/**
 * The remote-write spool: one file per batch under `<wal-dir>/spool`, named
 * `spool-<ms>.done` as the reference names them (so a spool the reference left behind is sent
 * too), written atomically before anything is sent: a temporary file is written and fsynced,
 * renamed into place, and the directory fsynced, so a batch is either whole on disk or absent,
 * even after SIGKILL or a power cut. The oldest batches are dropped when the spool would grow
 * beyond its cap (the newest batch is always kept).
 *
 * @module
 */

const SPOOL_NAME_REGEXP = /^spool-(\d+)\.done$/;
const TMP_PREFIX = ".tmp-";

/** One spooled batch. */
export interface SpoolEntry {
  /** File name inside the spool directory. */
  readonly name: string;
  /** Its timestamp (ms), from the name. */
  readonly ts: number;
  /** Its size in bytes. */
  readonly size: number;
}

/** Thrown when the spool directory cannot be created, listed or written. */
export class SpoolError extends Error {
  override name = "SpoolError";
}

/** What the spool reports to its owner (counters). */
export interface SpoolEvents {
  /** A batch was dropped to keep the spool under its cap. */
  droppedOldest?(entry: SpoolEntry): void;
}

/**
 * A directory of batches, oldest first. All changes go through this object (one writer); the
 * index is built from the directory at {@linkcode Spool.open}, which also removes temporary
 * files a killed agent left.
 */
export class Spool {
  readonly dir: string;
  readonly maxBytes: number;
  #entries: SpoolEntry[] = [];
  #bytes = 0;
  #events: SpoolEvents;

  private constructor(dir: string, maxBytes: number, events: SpoolEvents) {
    this.dir = dir;
    this.maxBytes = maxBytes;
    this.#events = events;
  }

  /**
   * Opens (creating it, mode 0750) `<walDir>/spool` and indexes the batches in it.
   *
   * @throws {SpoolError} when the directory cannot be created or listed.
   */
  static async open(walDir: string, maxBytes: number, events: SpoolEvents = {}): Promise<Spool> {
    const dir = `${walDir.replace(/\/+$/, "")}/spool`;
    const spool = new Spool(dir, maxBytes, events);
    try {
      await Deno.mkdir(dir, { recursive: true, mode: 0o750 });
      for await (const e of Deno.readDir(dir)) {
        if (!e.isFile) continue;
        if (e.name.startsWith(TMP_PREFIX)) {
          await Deno.remove(`${dir}/${e.name}`).catch(() => {});
          continue;
        }
        const m = SPOOL_NAME_REGEXP.exec(e.name);
        if (m === null) continue;
        const st = await Deno.stat(`${dir}/${e.name}`);
        spool.#entries.push({ name: e.name, ts: Number(m[1]), size: st.size });
      }
    } catch (err) {
      throw new SpoolError(`Cannot open the spool directory "${dir}"`, { cause: err });
    }
    spool.#entries.sort((a, b) => a.ts - b.ts);
    spool.#bytes = spool.#entries.reduce((n, e) => n + e.size, 0);
    return spool;
  }

  /** Number of batches. */
  get length(): number {
    return this.#entries.length;
  }

  /** Total bytes of the batches. */
  get bytes(): number {
    return this.#bytes;
  }

  /** The oldest batch, if any. */
  oldest(): SpoolEntry | undefined {
    return this.#entries[0];
  }

  /** Every batch, oldest first (a copy). */
  entries(): SpoolEntry[] {
    return [...this.#entries];
  }

  /**
   * Writes `payload` as the newest batch, stamped `tsMs` (a later stamp than the newest batch
   * if needed, so order is kept), atomically and durably; then drops the oldest batches while
   * the spool is above its cap (never the new one).
   *
   * @throws {SpoolError} when the batch cannot be written (the spool is unchanged then).
   */
  async append(tsMs: number, payload: Uint8Array): Promise<SpoolEntry> {
    const last = this.#entries.at(-1);
    const ts = last !== undefined && last.ts >= tsMs ? last.ts + 1 : Math.floor(tsMs);
    const name = `spool-${ts}.done`;
    const tmp = `${this.dir}/${TMP_PREFIX}${name}`;
    try {
      const f = await Deno.open(tmp, { write: true, create: true, truncate: true, mode: 0o640 });
      try {
        let off = 0;
        while (off < payload.length) off += await f.write(payload.subarray(off));
        await f.sync();
      } finally {
        f.close();
      }
      await Deno.rename(tmp, `${this.dir}/${name}`);
      await this.#syncDir();
    } catch (err) {
      await Deno.remove(tmp).catch(() => {});
      throw new SpoolError(`Cannot write batch "${name}" to the spool "${this.dir}"`, {
        cause: err,
      });
    }
    const entry = { name, ts, size: payload.length };
    this.#entries.push(entry);
    this.#bytes += entry.size;
    while (this.#bytes > this.maxBytes && this.#entries.length > 1) {
      const old = this.#entries[0];
      await this.remove(old);
      this.#events.droppedOldest?.(old);
    }
    return entry;
  }

  /** Reads a batch. @throws {SpoolError} when it cannot be read. */
  async read(entry: SpoolEntry): Promise<Uint8Array> {
    try {
      return await Deno.readFile(`${this.dir}/${entry.name}`);
    } catch (err) {
      throw new SpoolError(`Cannot read batch "${entry.name}" of the spool "${this.dir}"`, {
        cause: err,
      });
    }
  }

  /**
   * Deletes a batch (sent, refused or over the cap); a batch already gone is fine. Returns
   * whether it was still in the index.
   */
  async remove(entry: SpoolEntry): Promise<boolean> {
    const i = this.#entries.findIndex((e) => e.name === entry.name);
    if (i < 0) return false;
    this.#entries.splice(i, 1);
    this.#bytes -= entry.size;
    try {
      await Deno.remove(`${this.dir}/${entry.name}`);
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound)) {
        throw new SpoolError(`Cannot delete batch "${entry.name}" of the spool "${this.dir}"`, {
          cause: err,
        });
      }
    }
    return true;
  }

  async #syncDir(): Promise<void> {
    const d = await Deno.open(this.dir, { read: true });
    try {
      await d.sync();
    } finally {
      d.close();
    }
  }
}
