/**
 * Low-level byte writing for the encoder: sample values straight into a `Uint8Array`.
 *
 * Private to `agent/metrics/`.
 *
 * @module
 */
import { formatValue } from "./format_number.ts";

/**
 * Upper bound of the bytes {@linkcode writeValue} writes for one value (the longest shortest
 * round-trip rendering of a float64 is 25 characters, e.g. `-0.0000012345678901234567`).
 */
export const MAX_VALUE_BYTES = 32;

/**
 * Writes `v` as ASCII at `pos` and returns the position after it. Produces exactly
 * {@linkcode formatValue}'s text; non-negative integers up to 2^53 take a division loop that
 * allocates nothing, everything else goes through `String(v)`.
 */
export function writeValue(out: Uint8Array, pos: number, v: number): number {
  if (v >= 0 && v < 2147483648 && (v | 0) === v) {
    if (v < 10) {
      out[pos] = 48 + v;
      return pos + 1;
    }
    let n = 1;
    for (let t = v; t >= 10; t = (t / 10) | 0) n++;
    let p = pos + n;
    let t = v;
    while (p > pos) {
      const q = (t / 10) | 0;
      out[--p] = 48 + (t - q * 10);
      t = q;
    }
    return pos + n;
  }
  if (v >= 0 && v <= 9007199254740991 && Math.floor(v) === v) {
    let n = 1;
    for (let t = v; t >= 10; t = Math.floor(t / 10)) n++;
    let p = pos + n;
    let t = v;
    while (p > pos) {
      const q = Math.floor(t / 10);
      out[--p] = 48 + (t - q * 10);
      t = q;
    }
    return pos + n;
  }
  const s = formatValue(v);
  for (let i = 0; i < s.length; i++) out[pos++] = s.charCodeAt(i);
  return pos;
}

/** Copies `src` to `out` at `pos` and returns the position after it. */
export function writeBytes(out: Uint8Array, pos: number, src: Uint8Array): number {
  const n = src.length;
  if (n < 16) {
    for (let i = 0; i < n; i++) out[pos + i] = src[i];
  } else {
    out.set(src, pos);
  }
  return pos + n;
}
