/**
 * The memcached text protocol as the reference reads it (contract §2.4, §3.5): which writes are
 * commands, which reads answer them and how, and the command and keys traces carry. Pure code
 * over captured payload prefixes; nothing here throws on bytes.
 *
 * @module
 */

import { indexOfByte, indexOfCrlf, startsWithAscii, text } from "./_bytes.ts";
import type { QueryStatus } from "./status.ts";

/** Command prefixes the reference detects (`gets`, `gats`, `prepend`, `replace` need no space). */
const COMMAND_PREFIXES = [
  "set ",
  "add ",
  "cas ",
  "get ",
  "gets",
  "gat ",
  "gats",
  "incr ",
  "decr ",
  "touch ",
  "delete ",
  "append ",
  "prepend",
  "replace",
];

function endsWithCrlf(buf: Uint8Array, totalLength: number): boolean {
  if (totalLength === buf.length) {
    return buf.length >= 2 && buf[buf.length - 2] === 13 && buf[buf.length - 1] === 10;
  }
  // The end of the write was not captured: the command line must at least be complete.
  return indexOfCrlf(buf, 0) >= 0;
}

/**
 * Whether a write (`totalLength` bytes, `buf` its captured start) is a memcached command: at
 * least 9 bytes, one of `set`, `add`, `cas`, `get`, `gets`, `gat`, `gats`, `incr`, `decr`,
 * `touch`, `delete`, `append`, `prepend`, `replace`, and it ends with CR LF. When the capture is
 * cut before the end of the write (a large `set`), the end cannot be seen and a complete first
 * line stands for it (the reference's kernel test reads bytes 1021 and 1022 of such a write
 * instead, and misses most of them).
 */
export function isMemcachedRequest(buf: Uint8Array, totalLength: number = buf.length): boolean {
  if (totalLength < buf.length) totalLength = buf.length;
  if (totalLength < 9 || buf.length < 7) return false;
  let known = false;
  for (const p of COMMAND_PREFIXES) {
    if (startsWithAscii(buf, p)) {
      known = true;
      break;
    }
  }
  return known && endsWithCrlf(buf, totalLength);
}

/**
 * The status of a read answering a command, or null when it is not an answer; the read must end
 * with CR LF (its first line, when cut). `VALUE`, `STORED`, `DELETED`, `TOUCHED`, `NOT_STORED`,
 * `NOT_FOUND`, `EXISTS`, a number (`incr`/`decr`) and `END` are `ok`; `ERROR`, `CLIENT_ERROR`,
 * `SERVER_ERROR` are `failed`. (`END` alone is the answer to a `get` that found nothing: the
 * reference does not recognise it and drops such a request uncounted; Osprey counts it `ok`.)
 */
export function memcachedResponseStatus(
  buf: Uint8Array,
  totalLength: number = buf.length,
): QueryStatus | null {
  if (totalLength < buf.length) totalLength = buf.length;
  if (buf.length < 3 || !endsWithCrlf(buf, totalLength)) return null;
  const a = buf[0], b = buf[1], c = buf[2];
  if (a >= 48 && a <= 57) return "ok";
  if (
    (a === 0x56 && b === 0x41 && c === 0x4c) || // VAL
    (a === 0x53 && b === 0x54 && c === 0x4f) || // STO
    (a === 0x44 && b === 0x45 && c === 0x4c) || // DEL
    (a === 0x54 && b === 0x4f && c === 0x55) || // TOU
    (a === 0x4e && b === 0x4f && c === 0x54) || // NOT
    (a === 0x45 && b === 0x58 && c === 0x49) || // EXI
    (a === 0x45 && b === 0x4e && c === 0x44) // END
  ) {
    return "ok";
  }
  if (
    (a === 0x45 && b === 0x52 && c === 0x52) || // ERR
    (a === 0x43 && b === 0x4c && c === 0x49) || // CLI
    (a === 0x53 && b === 0x45 && c === 0x52) // SER
  ) {
    return "failed";
  }
  return null;
}

/** The command and keys of a command, as the reference puts them in traces. */
export interface MemcachedSummary {
  /** `set`, `get`, `gats`, ... */
  command: string;
  /** The key of a one-key command, or every key of `get`/`gets`/`gat`/`gats`. */
  keys: string[];
}

const ONE_KEY = new Set([
  "set",
  "add",
  "cas",
  "append",
  "prepend",
  "replace",
  "delete",
  "incr",
  "decr",
  "touch",
]);

/** Longest key list kept (memcached accepts many keys per `get`; traces need no more). */
const MAX_KEYS = 64;

/**
 * The command and keys of the command line in `payload`, or null when it is not one of the
 * commands above or its line is cut. A one-key command's key ends at a space or at CR LF (the
 * reference requires a space after it, so `delete k` has no key there); the keys of `get`/`gets`
 * run to CR LF, those of `gat`/`gats` after the expiry time; at most 64 keys are listed.
 */
export function summarizeMemcachedCommand(payload: Uint8Array): MemcachedSummary | null {
  const lineEnd = indexOfCrlf(payload, 0);
  const sp = indexOfByte(payload, 0x20, 0, lineEnd < 0 ? payload.length : lineEnd);
  if (sp < 0 || lineEnd < 0) return null;
  const command = text(payload, 0, sp);
  if (ONE_KEY.has(command)) {
    const keyEnd = indexOfByte(payload, 0x20, sp + 1, lineEnd);
    return { command, keys: [text(payload, sp + 1, keyEnd < 0 ? lineEnd : keyEnd)] };
  }
  let from = sp + 1;
  if (command === "gat" || command === "gats") {
    const exp = indexOfByte(payload, 0x20, from, lineEnd);
    if (exp < 0) return null;
    from = exp + 1;
  } else if (command !== "get" && command !== "gets") {
    return null;
  }
  const keys: string[] = [];
  while (keys.length < MAX_KEYS) {
    const e = indexOfByte(payload, 0x20, from, lineEnd);
    keys.push(text(payload, from, e < 0 ? lineEnd : e));
    if (e < 0) break;
    from = e + 1;
  }
  return { command, keys };
}
