/**
 * Opening cgroup files whose paths are not UTF-8 through libosprey (`osp_file_open`, by the
 * path's bytes), for {@linkcode KeptFiles}. Deno's file APIs cannot open such paths at all, so
 * this is the only way to read, say, `system.slice/caf\xe9.service`; every UTF-8 path stays on
 * Deno's APIs.
 *
 * The library is opened on the first such path only, and only when `--allow-ffi` grants it.
 * A read through the library is not checked by Deno's read permission, so only paths below the
 * given roots (the cgroupfs root, which the containers module needs read on anyway) are opened.
 *
 * @module
 */
import { BpfError, Errno, openLibrary, type OspreyLibrary } from "../../ffi/mod.ts";
import { encodeHostPath, printableHostPath } from "../paths.ts";
import { type RawOpenFile, type RawPathFiles, RawPathsUnavailable } from "./read.ts";

/** Options of {@linkcode LibraryRawFiles}. */
export interface LibraryRawFilesOptions {
  /** Absolute path of libosprey.so (what `--allow-ffi` must name). */
  libraryPath: string;
  /** Only files below these directories are opened (the cgroupfs root). */
  roots: readonly string[];
}

/** A path outside the roots, or with `.`/`..` components: refused before any open. */
export class RawPathRefused extends Error {
  constructor(path: string) {
    super(`Refusing to open "${printableHostPath(path)}" through libosprey: not below the roots`);
    this.name = "RawPathRefused";
  }
}

/** {@linkcode RawPathFiles} backed by libosprey. Close it when done. */
export class LibraryRawFiles implements RawPathFiles {
  readonly #o: LibraryRawFilesOptions;
  #lib: OspreyLibrary | undefined;
  #failed: string | undefined;

  constructor(o: LibraryRawFilesOptions) {
    this.#o = o;
  }

  /** The Deno flag that lets the agent open such paths. */
  get flag(): string {
    return `--allow-ffi=${this.#o.libraryPath}`;
  }

  /**
   * Undefined when paths that are not UTF-8 can be opened (the library is granted; it loads on
   * first use), else why not, naming the flag that fixes it.
   */
  unavailable(): string | undefined {
    if (this.#failed !== undefined) return this.#failed;
    const state = Deno.permissions.querySync({ name: "ffi", path: this.#o.libraryPath }).state;
    if (state !== "granted") {
      return `libosprey opens such paths and ${this.flag} is not granted`;
    }
    return undefined;
  }

  open(path: string): RawOpenFile | undefined {
    const why = this.unavailable();
    if (why !== undefined) throw new RawPathsUnavailable(why);
    if (!this.#allowed(path)) throw new RawPathRefused(path);
    const lib = this.#library();
    try {
      return lib.openFile(encodeHostPath(path), printableHostPath(path));
    } catch (err) {
      if (err instanceof BpfError && err.errno === Errno.ENOENT) return undefined;
      throw err;
    }
  }

  /** Closes every file and the library. */
  close(): void {
    this.#lib?.close();
    this.#lib = undefined;
  }

  #library(): OspreyLibrary {
    if (this.#lib !== undefined) return this.#lib;
    try {
      return this.#lib = openLibrary(this.#o.libraryPath);
    } catch (err) {
      this.#failed = `libosprey opens such paths and could not be loaded: ${
        err instanceof Error ? err.message.split("\n")[0] : String(err)
      }`;
      throw new RawPathsUnavailable(this.#failed, { cause: err });
    }
  }

  #allowed(path: string): boolean {
    if (path.includes("/../") || path.includes("/./") || path.endsWith("/..")) return false;
    return this.#o.roots.some((r) => path.startsWith(r.endsWith("/") ? r : `${r}/`));
  }
}
