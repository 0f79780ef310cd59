/**
 * File access for one lookup: every read is recorded as a source, a missing file is a value
 * (undefined) rather than an error, and every other failure becomes a {@linkcode MetadataError}
 * that names the file.
 *
 * @module
 */

import { type HostPaths, under } from "../../paths.ts";
import {
  type ContainerMetadata,
  type ContainerRuntime,
  MetadataError,
  type MetadataErrorReason,
  MetadataParseError,
} from "./types.ts";

/** Runtime state files larger than this are treated as malformed rather than read. */
export const MAX_FILE_BYTES = 32 * 1024 * 1024;

const DECODER = new TextDecoder();

function reasonOf(e: unknown): MetadataErrorReason {
  if (e instanceof Deno.errors.NotFound || e instanceof Deno.errors.NotADirectory) {
    return "not_found";
  }
  return "unreadable";
}

function describe(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** How long a parsed file may be reused while its inode, size and mtime stay the same. */
export const PARSE_CACHE_TTL_MS = 5_000;
/** How many parsed files are kept. */
export const PARSE_CACHE_MAX = 64;

interface CacheEntry {
  key: string;
  at: number;
  value: unknown;
}

/**
 * Parsed shared files (containers.json, images.json, the events log), so that discovering many
 * containers at once parses each once. Keyed by parser and path; an entry is valid while the
 * file's inode, size and mtime are unchanged, for at most {@linkcode PARSE_CACHE_TTL_MS} (mtime
 * is coarse: a same-size rewrite within one tick would otherwise go unseen).
 */
const PARSE_CACHE = new Map<string, CacheEntry>();

/** Empties the parse cache (tests). */
export function clearParseCache(): void {
  PARSE_CACHE.clear();
}

/** State shared by the readers of one `lookupMetadata()` call. */
export class LookupContext {
  readonly runtime: ContainerRuntime;
  readonly id: string;
  readonly paths: HostPaths;
  /** Files read successfully, in order. */
  readonly sources: string[] = [];
  /** What was missing and where it was looked for. */
  readonly notes: string[] = [];

  constructor(runtime: ContainerRuntime, id: string, paths: HostPaths) {
    this.runtime = runtime;
    this.id = id;
    this.paths = paths;
  }

  /** A host path (as the host names it) resolved under the agent's view of the host root. */
  host(hostPath: string): string {
    return under(this.paths.root, hostPath);
  }

  /** Builds the error this lookup rejects with. */
  error(
    reason: MetadataErrorReason,
    message: string,
    file?: string,
    cause?: unknown,
  ): MetadataError {
    return new MetadataError(this.runtime, this.id, reason, message, { file, cause });
  }

  /** Adds a note (deduplicated). */
  note(message: string): void {
    if (!this.notes.includes(message)) this.notes.push(message);
  }

  /**
   * Reads a regular file as text. Resolves undefined when it does not exist; rejects with a
   * MetadataError when it exists but cannot be read, is not a regular file or is too large.
   * With `tailBytes`, reads only the last bytes (starting at a line boundary).
   */
  async text(file: string, opts: { tailBytes?: number } = {}): Promise<string | undefined> {
    let info: Deno.FileInfo;
    try {
      info = await Deno.stat(file);
    } catch (e) {
      if (reasonOf(e) === "not_found") return undefined;
      throw this.error("unreadable", `Cannot stat "${file}": ${describe(e)}`, file, e);
    }
    if (!info.isFile) {
      throw this.error("unreadable", `Cannot read "${file}": not a regular file`, file);
    }
    const tail = opts.tailBytes;
    if (tail === undefined && info.size > MAX_FILE_BYTES) {
      throw this.error(
        "malformed",
        `Cannot read "${file}": ${info.size} bytes exceeds the ${MAX_FILE_BYTES}-byte limit`,
        file,
      );
    }
    try {
      let text: string;
      if (tail !== undefined && info.size > tail) {
        using f = await Deno.open(file, { read: true });
        await f.seek(info.size - tail, Deno.SeekMode.Start);
        const buf = new Uint8Array(tail);
        let got = 0;
        while (got < tail) {
          const n = await f.read(buf.subarray(got));
          if (n === null) break;
          got += n;
        }
        text = DECODER.decode(buf.subarray(0, got));
        const nl = text.indexOf("\n");
        text = nl < 0 ? "" : text.slice(nl + 1);
      } else {
        const bytes = await Deno.readFile(file);
        if (bytes.length > MAX_FILE_BYTES) {
          throw this.error("malformed", `Cannot read "${file}": grew past the size limit`, file);
        }
        text = DECODER.decode(bytes);
      }
      this.sources.push(file);
      return text;
    } catch (e) {
      if (e instanceof MetadataError) throw e;
      if (reasonOf(e) === "not_found") return undefined;
      throw this.error("unreadable", `Cannot read "${file}": ${describe(e)}`, file, e);
    }
  }

  /** Runs a pure parser on a file's text; a parse failure becomes a "malformed" MetadataError. */
  parse<T>(file: string, text: string, parser: (text: string) => T): T {
    return this.guard(file, () => parser(text));
  }

  /** Runs a parsing step over data from `file`; any failure becomes a "malformed" MetadataError. */
  guard<T>(file: string, step: () => T): T {
    try {
      return step();
    } catch (e) {
      if (e instanceof MetadataError) throw e;
      if (e instanceof MetadataParseError) {
        throw this.error("malformed", `Cannot parse "${file}": ${e.message}`, file, e);
      }
      throw this.error("malformed", `Cannot parse "${file}": ${describe(e)}`, file, e);
    }
  }

  /** Reads and parses a file; undefined when it does not exist. */
  async read<T>(file: string, parser: (text: string) => T): Promise<T | undefined> {
    const text = await this.text(file);
    return text === undefined ? undefined : this.parse(file, text, parser);
  }

  /**
   * Like {@linkcode read}, but reuses the parse of an unchanged file (see the parse cache).
   * `fresh` skips the cache, for a caller whose key was missing from a cached parse.
   */
  async readCached<T>(
    file: string,
    parser: (text: string) => T,
    opts: { tailBytes?: number; fresh?: boolean } = {},
  ): Promise<T | undefined> {
    let info: Deno.FileInfo;
    try {
      info = await Deno.stat(file);
    } catch (e) {
      if (reasonOf(e) === "not_found") return undefined;
      throw this.error("unreadable", `Cannot stat "${file}": ${describe(e)}`, file, e);
    }
    const slot = `${parser.name}\u0000${file}`;
    const key = `${info.ino}:${info.size}:${info.mtime?.getTime()}:${opts.tailBytes ?? ""}`;
    const now = Date.now();
    const hit = PARSE_CACHE.get(slot);
    if (!opts.fresh && hit !== undefined && hit.key === key && now - hit.at < PARSE_CACHE_TTL_MS) {
      this.sources.push(file);
      return hit.value as T;
    }
    const text = await this.text(file, opts);
    if (text === undefined) return undefined;
    const value = this.parse(file, text, parser);
    PARSE_CACHE.delete(slot);
    PARSE_CACHE.set(slot, { key, at: now, value });
    if (PARSE_CACHE.size > PARSE_CACHE_MAX) {
      PARSE_CACHE.delete(PARSE_CACHE.keys().next().value!);
    }
    return value;
  }

  /** Names in a directory; undefined when it does not exist or cannot be listed (noted). */
  async list(dir: string): Promise<string[] | undefined> {
    try {
      const names: string[] = [];
      for await (const entry of Deno.readDir(dir)) names.push(entry.name);
      return names;
    } catch (e) {
      if (reasonOf(e) !== "not_found") this.note(`cannot list "${dir}": ${describe(e)}`);
      return undefined;
    }
  }

  /** True when the path exists (any type); stat failures other than "not found" count as absent. */
  async exists(path: string): Promise<boolean> {
    try {
      await Deno.stat(path);
      return true;
    } catch {
      return false;
    }
  }

  /**
   * Runs an enrichment step: its MetadataError is noted instead of failing the lookup, since
   * the primary source already identified the container.
   */
  async optional<T>(what: string, step: () => Promise<T>): Promise<T | undefined> {
    try {
      return await step();
    } catch (e) {
      if (!(e instanceof MetadataError)) throw e;
      this.note(`${what}: ${e.message}`);
      return undefined;
    }
  }
}

/** True when `name` is usable as one path segment: no "/", NUL, "." or "..", not empty. */
export function isSafeSegment(name: string): boolean {
  return name.length > 0 && name.length <= 255 && name !== "." && name !== ".." &&
    !name.includes("/") && !name.includes("\0");
}

/** The fields a reader fills; `runtime`, `id`, `sources`, `notes` and `logFile` come from the context. */
export type MetadataFields =
  & Omit<
    ContainerMetadata,
    "runtime" | "id" | "sources" | "labels" | "notes" | "logFile"
  >
  & { labels?: Record<string, string> };

/** Builds the result of a lookup, leaving out fields that are undefined. */
export function buildMetadata(ctx: LookupContext, fields: MetadataFields): ContainerMetadata {
  const out: ContainerMetadata = {
    runtime: ctx.runtime,
    id: ctx.id,
    labels: fields.labels ?? {},
    sources: [...new Set(ctx.sources)],
  };
  for (const [key, value] of Object.entries(fields)) {
    if (key === "labels" || value === undefined) continue;
    (out as unknown as Record<string, unknown>)[key] = value;
  }
  if (out.logPath !== undefined) out.logFile = ctx.host(out.logPath);
  if (ctx.notes.length > 0) out.notes = [...ctx.notes];
  return out;
}
