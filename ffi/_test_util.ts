/**
 * Test helpers for ffi/ tests that need the built library (not root).
 *
 * @module
 */

import { defaultLibraryPath } from "./lib.ts";

/** Absolute path of the built library, or undefined when not built. */
export function builtLibrary(): string | undefined {
  const path = defaultLibraryPath();
  if (!path) return undefined;
  try {
    return Deno.statSync(path).isFile ? path : undefined;
  } catch {
    return undefined;
  }
}

/** Why library tests are ignored, printed once; "" when they run. */
export function libraryIgnoreReason(): string {
  return builtLibrary() ? "" : "libosprey not built (run: deno task build)";
}
