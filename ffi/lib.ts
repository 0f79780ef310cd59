/**
 * Finding and opening libosprey. Nothing is opened at import time: the agent
 * calls {@linkcode openLibrary} explicitly, so modules that only decode
 * records need no `--allow-ffi`.
 *
 * Resolution order: an explicit path, then `$OSPREY_FFI_LIB`, then
 * `ffi/.output/libosprey.so` next to this module. Paths are made absolute,
 * because a scoped `--allow-ffi=<path>` matches absolute paths.
 *
 * @module
 */

import { OspreyLibrary } from "./library.ts";
import { ABI_VERSION, symbols } from "./symbols.ts";

/** Environment variable naming the library file to open. */
export const LIBRARY_ENV = "OSPREY_FFI_LIB";

/** One path {@linkcode openLibrary} tried, and why it failed. */
export interface LibraryAttempt {
  path: string;
  error: string;
}

/** No candidate library could be opened (or none had the right ABI). */
export class LibraryLoadError extends Error {
  /** Every path tried, in order. */
  readonly attempts: readonly LibraryAttempt[];

  constructor(attempts: LibraryAttempt[], options?: ErrorOptions) {
    const lines = attempts.map((a) => `  ${a.path}: ${a.error}`).join("\n");
    super(
      `Cannot open libosprey; tried:\n${lines}\n` +
        `Build it with "deno task build" or point ${LIBRARY_ENV} at it`,
      options,
    );
    this.name = "LibraryLoadError";
    this.attempts = attempts;
  }
}

/** Absolute path of `ffi/.output/libosprey.so` next to this module, if local. */
export function defaultLibraryPath(): string | undefined {
  const url = new URL("./.output/libosprey.so", import.meta.url);
  return url.protocol === "file:" ? decodeURIComponent(url.pathname) : undefined;
}

/** $OSPREY_FFI_LIB, read only if already granted: no prompt, no throw. */
function envLibraryPath(): string | undefined {
  try {
    const status = Deno.permissions.querySync({ name: "env", variable: LIBRARY_ENV });
    if (status.state !== "granted") return undefined;
    return Deno.env.get(LIBRARY_ENV) || undefined;
  } catch {
    return undefined;
  }
}

function toAbsolute(path: string | URL): string {
  if (path instanceof URL) return decodeURIComponent(path.pathname);
  if (path.startsWith("/")) return path;
  // relative to the working directory, as dlopen would take it
  return new URL(path, `file://${Deno.cwd()}/`).pathname;
}

/**
 * The candidate paths, in the order {@linkcode openLibrary} tries them.
 *
 * @param path an explicit path; when given, it is the only candidate
 * @returns absolute paths, deduplicated
 */
export function libraryCandidates(path?: string | URL): string[] {
  if (path !== undefined) return [toAbsolute(path)];
  const out: string[] = [];
  const env = envLibraryPath();
  if (env) out.push(toAbsolute(env));
  const local = defaultLibraryPath();
  if (local && !out.includes(local)) out.push(local);
  return out;
}

function isPermissionError(err: unknown): boolean {
  return err instanceof Deno.errors.NotCapable || err instanceof Deno.errors.PermissionDenied;
}

/**
 * Open libosprey and check its ABI version.
 *
 * @param path the library file; default: $OSPREY_FFI_LIB, then the local build
 * @returns the opened library; close it (or `using` it) when done
 * @throws {Deno.errors.NotCapable} unchanged when `--allow-ffi` does not cover the path
 * @throws {LibraryLoadError} listing every path tried when none could be used
 */
export function openLibrary(path?: string | URL): OspreyLibrary {
  const attempts: LibraryAttempt[] = [];
  let lastError: unknown;
  for (const candidate of libraryCandidates(path)) {
    let dylib: Deno.DynamicLibrary<typeof symbols>;
    try {
      dylib = Deno.dlopen(candidate, symbols);
    } catch (err) {
      // the user needs to see which flag to add, not our wrapper
      if (isPermissionError(err)) throw err;
      lastError = err;
      attempts.push({ path: candidate, error: err instanceof Error ? err.message : String(err) });
      continue;
    }
    const abi = dylib.symbols.osp_abi_version();
    if (abi !== ABI_VERSION) {
      dylib.close();
      attempts.push({
        path: candidate,
        error: `ABI version ${abi}, but these bindings need ${ABI_VERSION}: rebuild it`,
      });
      continue;
    }
    return new OspreyLibrary(dylib, candidate);
  }
  if (attempts.length === 0) {
    attempts.push({ path: "(none)", error: `no candidate: set ${LIBRARY_ENV}` });
  }
  throw new LibraryLoadError(attempts, lastError === undefined ? undefined : { cause: lastError });
}
