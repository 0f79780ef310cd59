/**
 * Byte helpers shared by the protocol parsers (private to this folder): text out of payload
 * bytes without a decoder call for the common all-ASCII case, and big/little-endian reads that
 * never run past the end of a buffer.
 *
 * @module
 */

const UTF8 = new TextDecoder("utf-8", { fatal: false, ignoreBOM: true });

/**
 * Text of `buf[start, end)`: one `String.fromCharCode` per byte when every byte is ASCII, else
 * UTF-8 with U+FFFD for each malformed sequence. `end` is clamped to the buffer.
 */
export function text(buf: Uint8Array, start: number, end: number): string {
  if (end > buf.length) end = buf.length;
  if (start >= end) return "";
  let ascii = true;
  for (let i = start; i < end; i++) {
    if (buf[i] >= 0x80) {
      ascii = false;
      break;
    }
  }
  if (!ascii) return UTF8.decode(buf.subarray(start, end));
  if (end - start <= 64) {
    let s = "";
    for (let i = start; i < end; i++) s += String.fromCharCode(buf[i]);
    return s;
  }
  let s = "";
  for (let i = start; i < end; i += 8192) {
    // In slices, so the argument count stays far below the engine's limit.
    const part = buf.subarray(i, Math.min(end, i + 8192));
    s += String.fromCharCode.apply(null, part as unknown as number[]);
  }
  return s;
}

/** Index of the first `byte` in `buf[from, to)`, or -1. */
export function indexOfByte(buf: Uint8Array, byte: number, from: number, to = buf.length): number {
  if (to > buf.length) to = buf.length;
  for (let i = from; i < to; i++) if (buf[i] === byte) return i;
  return -1;
}

/** Index of the first CR LF pair starting in `buf[from, len)`, or -1. */
export function indexOfCrlf(buf: Uint8Array, from: number): number {
  const last = buf.length - 1;
  for (let i = from; i < last; i++) if (buf[i] === 13 && buf[i + 1] === 10) return i;
  return -1;
}

/** Whether `buf` starts with the ASCII text `prefix` at `at`. */
export function startsWithAscii(buf: Uint8Array, prefix: string, at = 0): boolean {
  if (at + prefix.length > buf.length) return false;
  for (let i = 0; i < prefix.length; i++) {
    if (buf[at + i] !== prefix.charCodeAt(i)) return false;
  }
  return true;
}

/** Big-endian unsigned 32-bit read at `at` (caller checks `at + 4 <= buf.length`). */
export function u32be(buf: Uint8Array, at: number): number {
  return ((buf[at] << 24) | (buf[at + 1] << 16) | (buf[at + 2] << 8) | buf[at + 3]) >>> 0;
}

/** Big-endian unsigned 16-bit read at `at` (caller checks `at + 2 <= buf.length`). */
export function u16be(buf: Uint8Array, at: number): number {
  return (buf[at] << 8) | buf[at + 1];
}

/** Little-endian unsigned 32-bit read at `at` (caller checks `at + 4 <= buf.length`). */
export function u32le(buf: Uint8Array, at: number): number {
  return (buf[at] | (buf[at + 1] << 8) | (buf[at + 2] << 16) | (buf[at + 3] << 24)) >>> 0;
}

/** Little-endian unsigned 24-bit read at `at` (caller checks `at + 3 <= buf.length`). */
export function u24le(buf: Uint8Array, at: number): number {
  return buf[at] | (buf[at + 1] << 8) | (buf[at + 2] << 16);
}
