/**
 * Rules every host-file parser shares: what a kernel counter looks like in text and where a
 * line ends. The kernel prints counters as unsigned 64-bit decimals (`%llu`, `%lu` on 64-bit),
 * so a number longer than 20 digits or above 2^64 − 1 cannot have come from it and makes its
 * line unreadable.
 *
 * Numbers above 2^53 are returned as the nearest double (round half to even, as `Number()`
 * does): Prometheus sample values are doubles, so the exposition could not carry more digits
 * anyway, and the reference agent converts its uint64 values the same way.
 *
 * @module
 */

/** 2^64 − 1, the largest unsigned 64-bit value, as the kernel prints it. */
export const U64_MAX_TEXT = "18446744073709551615";

/**
 * The unsigned decimal integer in `s[from, to)`: ASCII digits (leading zeros allowed), at most
 * 2^64 − 1, as the nearest double; NaN for anything else (empty, a sign, a space, a dot).
 */
export function parseU64(s: string, from: number, to: number): number {
  if (to <= from) return NaN;
  let i = from;
  while (i < to - 1 && s.charCodeAt(i) === 48) i++; // leading zeros
  const digits = to - i;
  if (digits > 20) return NaN;
  if (digits <= 15) {
    let n = 0;
    for (; i < to; i++) {
      const c = s.charCodeAt(i);
      if (c < 48 || c > 57) return NaN;
      n = n * 10 + (c - 48);
    }
    return n;
  }
  for (let j = i; j < to; j++) {
    const c = s.charCodeAt(j);
    if (c < 48 || c > 57) return NaN;
  }
  const text = s.slice(i, to);
  if (digits === 20 && text > U64_MAX_TEXT) return NaN;
  return Number(text); // correctly rounded to the nearest double
}

/** {@linkcode parseU64} of a whole string. */
export function parseU64Text(s: string): number {
  return parseU64(s, 0, s.length);
}

/** Index of the `\n` ending the line that starts at `from`, or the text's length. */
export function lineEnd(text: string, from: number): number {
  const e = text.indexOf("\n", from);
  return e < 0 ? text.length : e;
}

/**
 * The end of a line's content: `end` without a carriage return before it. The kernel never
 * writes one, but a file copied through another system may carry CRLF line ends, and the
 * `\r` must not end up in a number or a label.
 */
export function contentEnd(text: string, start: number, end: number): number {
  return end > start && text.charCodeAt(end - 1) === 13 ? end - 1 : end;
}

/** The lines of `text` without their `\n` and without a `\r` before it. */
export function textLines(text: string): string[] {
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const l = lines[i];
    if (l.length > 0 && l.charCodeAt(l.length - 1) === 13) lines[i] = l.slice(0, -1);
  }
  return lines;
}
