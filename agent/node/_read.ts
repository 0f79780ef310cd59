/**
 * Reading host files for the node collectors: one place that turns a failed read into an error
 * naming the file, and that clears a collector's families when its round fails, so a scrape
 * never serves values left over from an earlier round as if they were current.
 *
 * @module
 */
import { rereadSync } from "../reread.ts";

/**
 * Reads a host text file; a failure names the file and keeps the original as `cause`.
 *
 * Synchronous on purpose: procfs and sysfs files are generated in memory by the kernel and read
 * in a few microseconds, while an asynchronous read costs a hop to Deno's blocking thread pool
 * and back (about 15 µs more per file, measured on the bench host), which dominated a round.
 */
export function readHostText(path: string): string {
  try {
    return Deno.readTextFileSync(path);
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    throw new Error(`Cannot read "${path}": ${why}`, { cause: err });
  }
}

/** Like {@linkcode readHostText} but returns `undefined` when the file does not exist. */
export function readOptionalHostText(path: string): string | undefined {
  try {
    return Deno.readTextFileSync(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return undefined;
    const why = err instanceof Error ? err.message : String(err);
    throw new Error(`Cannot read "${path}": ${why}`, { cause: err });
  }
}

function wrap(path: string, err: unknown): Error {
  const why = err instanceof Error ? err.message : String(err);
  return new Error(`Cannot read "${path}": ${why}`, { cause: err });
}

/**
 * A host file read again every round through a descriptor kept open: procfs regenerates the
 * text when a reader seeks back to 0, so a round costs a seek and a read instead of an open
 * (with Deno's permission check and path canonicalisation) and a close; 25 µs instead of
 * 60 µs for the eight files of a node round on the bench host. If the kept descriptor fails,
 * the file is opened again once.
 */
export class HostFile {
  readonly path: string;
  #file: Deno.FsFile | undefined;

  constructor(path: string) {
    this.path = path;
  }

  /** The current text; throws an error naming the file when it cannot be read. */
  read(): string {
    const text = this.readOptional();
    if (text === undefined) throw wrap(this.path, new Deno.errors.NotFound("No such file"));
    return text;
  }

  /** The current text, or undefined when the file does not exist. */
  readOptional(): string | undefined {
    if (this.#file) {
      try {
        return rereadSync(this.#file);
      } catch {
        this.close(); // e.g. the device went away: open again below
      }
    }
    try {
      this.#file = Deno.openSync(this.path);
    } catch (err) {
      if (err instanceof Deno.errors.NotFound) return undefined;
      throw wrap(this.path, err);
    }
    try {
      return rereadSync(this.#file);
    } catch (err) {
      this.close();
      throw wrap(this.path, err);
    }
  }

  /** Closes the kept descriptor; the next read opens the file again. */
  close(): void {
    try {
      this.#file?.close();
    } catch {
      // already closed
    }
    this.#file = undefined;
  }
}

/** The {@linkcode HostFile}s of a set of collectors, closed together when the module stops. */
export class HostFiles {
  #files = new Map<string, HostFile>();

  /** The kept file for `path` (one per path). */
  get(path: string): HostFile {
    let f = this.#files.get(path);
    if (!f) this.#files.set(path, f = new HostFile(path));
    return f;
  }

  /** Closes and forgets the kept file for `path` (a device or interface that went away). */
  forget(path: string): void {
    this.#files.get(path)?.close();
    this.#files.delete(path);
  }

  /** How many files are kept (open or to be opened on the next read). */
  get size(): number {
    return this.#files.size;
  }

  /** Closes every kept descriptor. */
  close(): void {
    for (const f of this.#files.values()) f.close();
  }
}

/** Anything with `clear()`: a metric family. */
export interface Clearable {
  clear(): void;
}

/**
 * Runs one collector round; when it throws, clears `families` (their series vanish until the
 * next good round, as node_exporter's do when a collector fails) and rethrows, so the scheduler
 * records the failure.
 */
export function round(families: readonly Clearable[], body: () => void): void {
  try {
    body();
  } catch (err) {
    for (const f of families) f.clear();
    throw err;
  }
}

/**
 * The label sets a collector exposed in its last round, so that the series of a device or
 * interface that went away can be removed without re-creating the others every round.
 */
export class LabelSets {
  #last = new Map<string, readonly string[]>();

  /** Records this round's label sets; returns the last round's sets that are gone now. */
  update(current: Iterable<readonly string[]>): (readonly string[])[] {
    const next = new Map<string, readonly string[]>();
    for (const values of current) next.set(values.join("\u0000"), values);
    const gone: (readonly string[])[] = [];
    for (const [key, values] of this.#last) if (!next.has(key)) gone.push(values);
    this.#last = next;
    return gone;
  }

  /** Forgets everything (the families were cleared). */
  clear(): void {
    this.#last.clear();
  }
}

/**
 * Series handles by key, so a round sets values without looking the label values up again.
 * Pass it to {@linkcode round} with its families: a cleared family's handles are stale.
 */
export class SeriesCache<T> {
  #handles = new Map<string, T>();

  /** The handle for `key`, made by `make` the first time. */
  get(key: string, make: () => T): T {
    let h = this.#handles.get(key);
    if (h === undefined) this.#handles.set(key, h = make());
    return h;
  }

  /** Forgets the handle for `key` (its series was removed). */
  delete(key: string): void {
    this.#handles.delete(key);
  }

  /** When `key` has a handle: calls `remove` (which removes its series) and forgets it. */
  drop(key: string, remove: () => void): void {
    if (!this.#handles.has(key)) return;
    remove();
    this.#handles.delete(key);
  }

  /** Forgets every handle. */
  clear(): void {
    this.#handles.clear();
  }
}
