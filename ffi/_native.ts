/**
 * What the handle-owning classes need from the opened library. Private to
 * ffi/: the rest of the agent goes through mod.ts.
 *
 * @module
 */

import type { OspreySymbols } from "./symbols.ts";

/** The opened library as seen by BpfObject and RingBuffer. */
export interface Native {
  readonly symbols: OspreySymbols;
  /** osp_last_error() as text. */
  lastError(): string;
  /** Return ret if >= 0, else throw a BpfError with the library's message. */
  check(ret: number, operation: string): number;
  /**
   * Count a nonblocking call until it settles: the library is not unloaded
   * while a pool thread still runs its code.
   */
  track<T>(call: Promise<T>): Promise<T>;
  /** Run a text-producing call with a buffer that grows on -ENOSPC. */
  text(call: (buf: Uint8Array, cap: number) => number, operation: string): string;
}

const encoder = new TextEncoder();

/** A NUL-terminated copy of s, for `const uint8_t *` string parameters. */
export function cString(s: string): Uint8Array {
  const bytes = encoder.encode(s);
  const out = new Uint8Array(bytes.length + 1);
  out.set(bytes);
  return out;
}

/** Parse "key=value" lines. */
export function parseKeyValues(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split("\n")) {
    const eq = line.indexOf("=");
    if (eq > 0) out[line.slice(0, eq)] = line.slice(eq + 1);
  }
  return out;
}
