/**
 * Inspects processes' executables for the runtime facts of {@linkcode readElfFacts}, through
 * the host's procfs (`<proc>/<pid>/exe`, which the kernel opens as the very file the process
 * runs, in whatever mount namespace it lives), with one result per binary kept in a bounded
 * cache.
 *
 * **How files are read.** Deno's own file APIs cannot open `<proc>/<pid>/exe` under scoped
 * permissions: they resolve the link by its text (a path in the process's mount namespace,
 * usually missing from the agent's, or another file) and check and open that. So reads go
 * through a {@linkcode FileReader}: {@linkcode libraryFileReader} (libosprey's
 * `osp_file_read`, the kernel's own resolution; needs `--allow-ffi` for the library) in the
 * agent, {@linkcode nodeFileReader} (node:fs; right only without path-scoped read permissions,
 * as in tests run with `-A`) otherwise. Each read is one open, fstat, pread and close; a file
 * whose identity changes between the reads of one inspection (an exec, a replaced binary) is
 * inspected again later.
 *
 * - **Bounded work.** Only the ELF headers and a few small sections are read (elf.ts). At most
 *   `concurrency` files are read at once; each inspection has a timeout, after which it is
 *   abandoned (a binary on a hung network file system cannot stall the registry). While
 *   `maxStuck` abandoned reads are still pending, no new one starts. Refused and timed-out
 *   inspections give `undefined`: the caller asks again later.
 * - **Cache.** Keyed by the file's device, inode, size, mtime and ctime, so a binary replaced
 *   in place is read again; least recently used entries go first beyond `maxEntries`, each
 *   eviction counted.
 * - **Outcomes.** Every inspection that read (or failed to read) a file is counted by result:
 *   `golang`, `rust`, `dotnet` (the first fact found), `other` (ELF without any), `not_elf`,
 *   `truncated`, `malformed`, `too_large`, `unreadable`; and `timeout` and `busy`. A vanished
 *   process is not counted. None of them is an error for the caller: what cannot be read has
 *   no facts.
 *
 * @module
 */
import { open } from "node:fs/promises";
import {
  BpfError,
  Errno,
  type FileStat,
  type OspreyLibrary,
  type ProcBroker,
} from "../../ffi/mod.ts";
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

/** A file's identity and type, as fstat gives them (the C library's FileStat). */
export type ReadStat = FileStat;

/**
 * Reads up to `buf.length` bytes at `offset` of the file at `path` (opened, described and
 * closed by this one call). Resolves `null` when the file is gone (the process exited);
 * rejects for other failures.
 */
export type FileReader = (
  path: string,
  offset: number,
  buf: Uint8Array,
) => Promise<{ bytesRead: number; stat: ReadStat } | null>;

/**
 * A {@linkcode FileReader} over libosprey's `osp_file_read`, which opens paths as the kernel
 * resolves them: the only way to read `<proc>/<pid>/exe` under scoped Deno permissions.
 */
export function libraryFileReader(lib: OspreyLibrary): FileReader {
  return async (path, offset, buf) => {
    try {
      return await lib.readFile(path, offset, buf);
    } catch (err) {
      if (err instanceof BpfError && (err.errno === Errno.ENOENT || err.errno === Errno.ESRCH)) {
        return null;
      }
      throw err;
    }
  };
}

/** The errno name of a node:fs error (`ENOENT`), or "". */
function errno(err: unknown): string {
  const code = err instanceof Error ? (err as { code?: unknown }).code : undefined;
  return typeof code === "string" ? code : "";
}

/**
 * A {@linkcode FileReader} over node:fs. Under path-scoped read permissions Deno resolves a
 * procfs link by its text before opening it, so this reader is right only where reads are not
 * scoped (tests run with `-A`, an agent run with `--allow-read` for everything).
 */
export function nodeFileReader(): FileReader {
  return async (path, offset, buf) => {
    let file;
    try {
      file = await open(path, "r");
    } catch (err) {
      if (errno(err) === "ENOENT" || errno(err) === "ESRCH") return null;
      throw err;
    }
    try {
      const st = await file.stat({ bigint: true });
      const regular = st.isFile();
      const { bytesRead } = regular && buf.length > 0
        ? await file.read(buf, 0, buf.length, offset)
        : { bytesRead: 0 };
      return {
        bytesRead,
        stat: {
          dev: st.dev,
          ino: st.ino,
          size: Number(st.size),
          mtimeNs: st.mtimeNs,
          ctimeNs: st.ctimeNs,
          mode: Number(st.mode),
        },
      };
    } finally {
      await file.close().catch(() => {});
    }
  };
}

/**
 * A {@linkcode FileReader} over the procfs broker (ffi/broker.ts), for the agent under Landlock,
 * where the kernel refuses `<proc>/<pid>/exe` of processes outside its domain: the path must be
 * `<proc>/<pid>/exe` of the broker's procfs root (anything else is refused with a TypeError, the
 * broker reads nothing else); a long read takes several requests.
 */
export function brokerFileReader(broker: ProcBroker, proc: string): FileReader {
  const prefix = `${proc.replace(/\/$/, "")}/`;
  return async (path, offset, buf) => {
    const m = path.startsWith(prefix) ? /^(\d{1,7})\/exe$/.exec(path.slice(prefix.length)) : null;
    if (m === null) throw new TypeError(`read "${path}": the broker reads only ${prefix}<pid>/exe`);
    const pid = Number(m[1]);
    let got = 0;
    let stat: FileStat | undefined;
    while (got < buf.length) {
      const r = await broker.readExe(pid, offset + got, buf.subarray(got));
      if (r === null) return null;
      stat ??= r.stat;
      got += r.bytesRead;
      if (r.bytesRead === 0) break;
    }
    if (stat === undefined) {
      const r = await broker.readExe(pid, offset, new Uint8Array(0));
      if (r === null) return null;
      stat = r.stat;
    }
    return { bytesRead: got, stat };
  };
}

/** Options of {@linkcode ExeInspector}. */
export interface ExeInspectorOptions {
  /** How files are read. @default nodeFileReader() */
  readonly read?: FileReader;
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
/** Bytes read with the first fstat: the ELF identification and a whole 64-bit header. */
const HEAD = 64;
const S_IFMT = 0o170000, S_IFREG = 0o100000;

function outcomeOf(f: ElfFacts): ExeOutcome {
  return f.go ? "golang" : f.rust ? "rust" : f.dotnetApphost ? "dotnet" : "other";
}

function keyOf(st: ReadStat): string {
  return `${st.dev}:${st.ino}:${st.size}:${st.mtimeNs}:${st.ctimeNs}`;
}

/** The file went away or changed between the reads of one inspection. */
class FileChanged extends Error {
  constructor(path: string) {
    super(`"${path}" changed or went away while it was read`);
    this.name = "FileChanged";
  }
}

/** The executable inspector; one per registry. */
export class ExeInspector {
  readonly #o: ExeInspectorOptions;
  readonly #read: FileReader;
  readonly #max: number;
  readonly #concurrency: number;
  readonly #maxQueued: number;
  readonly #timeoutMs: number;
  readonly #maxStuck: number;
  readonly #cache = new Map<string, ElfFacts>();
  /** Reads under way, by file identity: a second path to the same binary waits for the first. */
  readonly #reading = new Map<string, Promise<ElfFacts | undefined>>();
  readonly #waiting: (() => void)[] = [];
  #running = 0;
  #stuck = 0;

  constructor(opts: ExeInspectorOptions = {}) {
    this.#o = opts;
    this.#read = opts.read ?? nodeFileReader();
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
   *   or stuck), timed out or saw the file change: ask again later
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
      const timeout = new Promise<"timeout">((resolve) => {
        timer = setTimeout(() => resolve("timeout"), this.#timeoutMs);
      });
      const r = await Promise.race([work, timeout]);
      clearTimeout(timer);
      if (r === "timeout") {
        this.#o.onOutcome?.("timeout");
        this.#stuck++;
        work.finally(() => this.#stuck--);
        return undefined;
      }
      return r;
    } finally {
      this.#running--;
      this.#waiting.shift()?.();
    }
  }

  async #inspectNow(path: string): Promise<ElfFacts | undefined> {
    const head = new Uint8Array(HEAD);
    let first;
    try {
      first = await this.#read(path, 0, head);
    } catch {
      this.#o.onOutcome?.("unreadable");
      return NO_FACTS;
    }
    if (first === null) return NO_FACTS; // the process is gone
    const st = first.stat;
    if ((st.mode & S_IFMT) !== S_IFREG) {
      this.#o.onOutcome?.("not_elf");
      return NO_FACTS;
    }
    const key = keyOf(st);
    const hit = this.#cache.get(key);
    if (hit !== undefined) {
      this.#cache.delete(key); // most recently used last
      this.#cache.set(key, hit);
      return hit;
    }
    const pending = this.#reading.get(key);
    if (pending !== undefined) return await pending;
    const reading = this.#readFacts(path, key, head, first.bytesRead, st.size);
    this.#reading.set(key, reading);
    try {
      return await reading;
    } finally {
      this.#reading.delete(key);
    }
  }

  /** Reads and caches the facts of the file `key` names; `head` holds its first `got` bytes. */
  async #readFacts(
    path: string,
    key: string,
    head: Uint8Array,
    got: number,
    size: number,
  ): Promise<ElfFacts | undefined> {
    let facts: ElfFacts;
    try {
      facts = await readElfFacts(async (buf, offset) => {
        if (offset + buf.length <= got) {
          buf.set(head.subarray(offset, offset + buf.length));
          return buf.length;
        }
        const r = await this.#read(path, offset, buf);
        if (r === null || keyOf(r.stat) !== key) throw new FileChanged(path);
        return r.bytesRead;
      }, size);
      this.#o.onOutcome?.(outcomeOf(facts));
    } catch (err) {
      if (err instanceof FileChanged) return undefined;
      if (err instanceof ElfError) {
        this.#o.onOutcome?.(err.problem);
        facts = NO_FACTS;
      } else {
        // a read error (EIO, ESTALE, the process's file system gone)
        this.#o.onOutcome?.("unreadable");
        return NO_FACTS;
      }
    }
    if (this.#cache.size >= this.#max) {
      this.#cache.delete(this.#cache.keys().next().value!);
      this.#o.onEvict?.();
    }
    this.#cache.set(key, facts);
    return facts;
  }
}
