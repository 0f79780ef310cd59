/**
 * HTTP/1.x as the reference reads it (contract §3.5): which payloads are requests, the method and
 * path of a request line, the status code of a status line. Pure functions over captured payload
 * prefixes; none throws, whatever the bytes.
 *
 * @module
 */

import { text } from "./_bytes.ts";

/**
 * How many leading bytes must be present and free of NUL before a payload is looked at: the
 * reference reads the first 16 bytes as a C string and gives up when it is shorter than 15
 * characters (a NUL among them, or the string ending).
 */
export const HTTP1_MIN_PREFIX = 15;

/** The request methods the reference detects, by their first letters (its prefix match). */
const METHOD_PREFIXES = ["GET", "POST", "HEAD", "PUT", "DELETE", "CONNECT", "OPTIONS", "PATCH"];

/** The methods the trace summary accepts as a request line's method (Go's `net/http` set). */
const METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "CONNECT", "OPTIONS", "TRACE"];

/** The method in `buf[0, length)` when it is one of {@link METHODS}, else null. */
function methodOf(buf: Uint8Array, length: number): string | null {
  for (const m of METHODS) {
    if (m.length !== length) continue;
    let i = 0;
    while (i < length && buf[i] === m.charCodeAt(i)) i++;
    if (i === length) return m;
  }
  return null;
}

function hasCleanPrefix(buf: Uint8Array): boolean {
  if (buf.length < HTTP1_MIN_PREFIX) return false;
  for (let i = 0; i < HTTP1_MIN_PREFIX; i++) if (buf[i] === 0) return false;
  return true;
}

/**
 * Whether a payload written by a client (read by a server) starts an HTTP/1.x request: its first
 * 15 bytes are present and hold no NUL, and it starts with `GET`, `POST`, `HEAD`, `PUT`, `DELETE`,
 * `CONNECT`, `OPTIONS` or `PATCH`. As in the reference this is a prefix match (`GETX` counts); no
 * space after the method is required.
 */
export function isHttp1Request(buf: Uint8Array): boolean {
  if (!hasCleanPrefix(buf)) return false;
  const c0 = buf[0];
  for (const m of METHOD_PREFIXES) {
    if (m.charCodeAt(0) !== c0) continue;
    let i = 1;
    while (i < m.length && buf[i] === m.charCodeAt(i)) i++;
    if (i === m.length) return true;
  }
  return false;
}

/**
 * The status code of an HTTP/1.x status line at the start of `buf` (`HTTP/d.d NNN`, the first 15
 * bytes present and NUL-free), or -1 when `buf` does not start with one. The code is any three
 * digits (`000` to `999`); {@linkcode httpStatusClass} turns codes outside 100 to 599 into
 * `unknown`.
 */
export function http1ResponseStatus(buf: Uint8Array): number {
  if (!hasCleanPrefix(buf)) return -1;
  if (buf[0] !== 0x48 || buf[1] !== 0x54 || buf[2] !== 0x54 || buf[3] !== 0x50) return -1; // HTTP
  if (buf[4] !== 0x2f || !isDigit(buf[5]) || buf[6] !== 0x2e || !isDigit(buf[7])) return -1;
  if (buf[8] !== 0x20 || !isDigit(buf[9]) || !isDigit(buf[10]) || !isDigit(buf[11])) return -1;
  return (buf[9] - 48) * 100 + (buf[10] - 48) * 10 + (buf[11] - 48);
}

function isDigit(b: number): boolean {
  return b >= 48 && b <= 57;
}

/** A request line's method and target, as the reference puts them in traces and path filters. */
export interface Http1RequestLine {
  /** `GET`, `POST`, ...: one of Go's nine `net/http` method names. */
  method: string;
  /**
   * The request target up to the next space; when no space follows within the capture, what
   * was captured plus `...` (the reference's mark of a cut target).
   */
  path: string;
}

/**
 * The method and path of the request line at the start of `buf`, or null when the text before
 * the first space is not one of `GET`, `HEAD`, `POST`, `PUT`, `PATCH`, `DELETE`, `CONNECT`,
 * `OPTIONS`, `TRACE` (the reference then records neither). Bytes are taken as they are: the
 * target is not split at CR or LF, only at a space, as in the reference; non-ASCII bytes are
 * read as UTF-8.
 */
export function parseHttp1RequestLine(buf: Uint8Array): Http1RequestLine | null {
  let sp = -1;
  const methodLimit = Math.min(buf.length, 8);
  for (let i = 0; i < methodLimit; i++) {
    if (buf[i] === 0x20) {
      sp = i;
      break;
    }
  }
  if (sp < 3) return null;
  const method = methodOf(buf, sp);
  if (method === null) return null;
  let end = -1;
  for (let i = sp + 1; i < buf.length; i++) {
    if (buf[i] === 0x20) {
      end = i;
      break;
    }
  }
  const path = end < 0 ? text(buf, sp + 1, buf.length) + "..." : text(buf, sp + 1, end);
  return { method, path };
}
