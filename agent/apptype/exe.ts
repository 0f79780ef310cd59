/**
 * Inspects processes' executables for the runtime facts of {@linkcode readElfFacts}, through
 * the host's procfs (`<proc>/<pid>/exe`, which opens the very file the process runs, in whatever
 * mount namespace it lives), with one result per binary kept in a bounded cache.
 *
 * - **Bounded work.** Only the ELF headers and a few small sections are read (elf.ts). At most
 *   `concurrency` files are read at once; each inspection has a timeout, after which it is
 *   abandoned (a binary on a hung network file system cannot stall the registry). While
 *   `maxStuck` abandoned reads are still pending, no new one starts. Refused and timed-out
 *   inspections give `undefined`: the caller asks again later.
 * - **Cache.** Keyed by the open file's device, inode, size, mtime and ctime, so a binary
 *   replaced in place is read again; least recently used entries go first beyond `maxEntries`,
 *   each eviction counted.
 * - **Outcomes.** Every inspection that read (or failed to read) a file is counted by result:
 *   `golang`, `rust`, `dotnet` (the first fact found), `other` (ELF without any), `not_elf`,
 *   `truncated`, `malformed`, `too_large`, `unreadable`; and `timeout` and `busy`. Only a
 *   vanished process (`NotFound`) is not counted. None of them is an error for the caller:
 *   what cannot be read has no facts.
 *
 * @module
 */
import { ElfError, type ElfFacts, readElfFacts } from "./elf.ts";

/** How an inspection ended, for the outcome counter. */
export type ExeOutcome =
  | "golang"
  | "rust"
  | "dotnet"
  | "other"
  | "not_elf"
  | "truncated"
  | "malformed"
  | "too_large"
  | "unreadable"
  | "timeout"
  | "busy";

/** Options of {@linkcode ExeInspector}. */
export interface ExeInspectorOptions {
  /** Binaries whose facts are kept. @default 4096 */
  readonly maxEntries?: number;
  /** Files read at once. @default 2 */
  readonly concurrency?: number;
  /** Inspections waiting for a slot; more are refused (`busy`). @default 256 */
  readonly maxQueued?: number;
  /** One inspection's timeout. @default 2000 */
  readonly timeoutMs?: number;
  /** Abandoned reads still pending beyond which nothing new starts. @default 4 */
  readonly maxStuck?: number;
  /** Called once per counted inspection. */
  readonly onOutcome?: (outcome: ExeOutcome) => void;
  /** Called when a cache entry is evicted to make room. */
  readonly onEvict?: () => void;
}

const NO_FACTS: ElfFacts = Object.freeze({ go: false, rust: false, dotnetApphost: false });

function outcomeOf(f: ElfFacts): ExeOutcome {
  return f.go ? "golang" : f.rust ? "rust" : f.dotnetApphost ? "dotnet" : "other";
}

/** The executable inspector; one per registry. */
export class ExeInspector {
  readonly #o: ExeInspectorOptions;
  readonly #max: number;
  readonly #concurrency: number;
  readonly #maxQueued: number;
  readonly #timeoutMs: number;
  readonly #maxStuck: number;
  readonly #cache = new Map<string, ElfFacts>();
  readonly #waiting: (() => void)[] = [];
  #running = 0;
  #stuck = 0;

  constructor(opts: ExeInspectorOptions = {}) {
    this.#o = opts;
    this.#max = Math.max(1, opts.maxEntries ?? 4096);
    this.#concurrency = Math.max(1, opts.concurrency ?? 2);
    this.#maxQueued = opts.maxQueued ?? 256;
    this.#timeoutMs = opts.timeoutMs ?? 2000;
    this.#maxStuck = Math.max(1, opts.maxStuck ?? 4);
  }

  /** Binaries in the cache. */
  get size(): number {
    return this.#cache.size;
  }

  /** Inspections that timed out and are still pending. */
  get stuck(): number {
    return this.#stuck;
  }

  /**
   * The runtime facts of the file at `path` (typically `<proc>/<pid>/exe`).
   *
   * @returns the facts (all false for a file that is not a usable ELF file or cannot be read,
   *   or whose process is gone); `undefined` when the inspection was refused (too many waiting
   *   or stuck) or timed out: ask again later
   */
  async inspect(path: string): Promise<ElfFacts | undefined> {
    if (this.#stuck >= this.#maxStuck || this.#waiting.length >= this.#maxQueued) {
      this.#o.onOutcome?.("busy");
      return undefined;
    }
    while (this.#running >= this.#concurrency) {
      await new Promise<void>((resolve) => this.#waiting.push(resolve));
    }
    this.#running++;
    try {
      const work = this.#inspectNow(path);
      let timer: ReturnType<typeof setTimeout> | undefined;
      const timeout = new Promise<undefined>((resolve) => {
        timer = setTimeout(() => resolve(undefined), this.#timeoutMs);
      });
      const r = await Promise.race([work, timeout]);
      clearTimeout(timer);
      if (r === undefined) {
        this.#o.onOutcome?.("timeout");
        this.#stuck++;
        work.finally(() => this.#stuck--);
      }
      return r;
    } finally {
      this.#running--;
      this.#waiting.shift()?.();
    }
  }

  async #inspectNow(path: string): Promise<ElfFacts> {
    let file: Deno.FsFile;
    try {
      file = await Deno.open(path, { read: true });
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound)) this.#o.onOutcome?.("unreadable");
      return NO_FACTS;
    }
    try {
      const st = await file.stat();
      if (!st.isFile) {
        this.#o.onOutcome?.("not_elf");
        return NO_FACTS;
      }
      const key = `${st.dev}:${st.ino}:${st.size}:${st.mtime?.getTime()}:${st.ctime?.getTime()}`;
      const hit = this.#cache.get(key);
      if (hit !== undefined) {
        this.#cache.delete(key); // most recently used last
        this.#cache.set(key, hit);
        return hit;
      }
      let facts: ElfFacts;
      try {
        facts = await readElfFacts(async (buf, offset) => {
          await file.seek(offset, Deno.SeekMode.Start);
          return (await file.read(buf)) ?? 0;
        }, st.size);
        this.#o.onOutcome?.(outcomeOf(facts));
      } catch (err) {
        if (!(err instanceof ElfError)) throw err;
        this.#o.onOutcome?.(err.problem);
        facts = NO_FACTS;
      }
      if (this.#cache.size >= this.#max) {
        this.#cache.delete(this.#cache.keys().next().value!);
        this.#o.onEvict?.();
      }
      this.#cache.set(key, facts);
      return facts;
    } catch (err) {
      // a read error (EIO, ESTALE, the process's file system gone)
      if (err instanceof Deno.errors.NotFound) return NO_FACTS;
      this.#o.onOutcome?.("unreadable");
      return NO_FACTS;
    } finally {
      file.close();
    }
  }
}
