/**
 * Redis RESP2/RESP3 as the reference reads it (contract §2.4, §3.5): which writes are commands,
 * which reads answer them and how, how many commands a pipelined write holds and how many replies
 * (and error replies) a read holds, and the command summary traces carry. Pure code over captured
 * payload prefixes; nothing here throws on bytes.
 *
 * @module
 */

import { indexOfCrlf, text } from "./_bytes.ts";
import type { QueryStatus } from "./status.ts";

function isDigit(b: number): boolean {
  return b >= 48 && b <= 57;
}

function isLetter(b: number): boolean {
  return (b >= 65 && b <= 90) || (b >= 97 && b <= 122);
}

/**
 * Whether `buf` starts like a command as clients send them: `*<1-2 digits>\r\n$<1-2
 * digits>\r\n` and a letter, all within the first 12 bytes, and at least 11 bytes captured (the
 * reference's test; inline commands are not detected).
 */
export function isRedisRequest(buf: Uint8Array): boolean {
  if (buf.length < 11) return false;
  if (buf[0] !== 0x2a || !isDigit(buf[1])) return false;
  let p: number;
  if (buf[2] === 13 && buf[3] === 10) p = 4;
  else if (isDigit(buf[2]) && buf[3] === 13 && buf[4] === 10) p = 5;
  else return false;
  if (buf[p] !== 0x24 || !isDigit(buf[p + 1])) return false;
  let cmd: number;
  if (buf[p + 2] === 13 && buf[p + 3] === 10) cmd = p + 4;
  else if (p + 4 < 12 && isDigit(buf[p + 2]) && buf[p + 3] === 13 && buf[p + 4] === 10) {
    cmd = p + 5;
  } else return false;
  return cmd < 12 && cmd < buf.length && isLetter(buf[cmd]);
}

/**
 * The status of a read that answers a command, or null when it is not a reply (at least 3 bytes;
 * an array shaped like a command is not a reply): a first byte of `+ : $ * _ # , ( = ~ > %` or
 * `|` is `ok`, `-` or `!` (errors) is `failed`.
 */
export function redisResponseStatus(buf: Uint8Array): QueryStatus | null {
  if (buf.length < 3) return null;
  const t = buf[0];
  if (t === 0x2a && isRedisRequest(buf)) return null;
  switch (t) {
    case 0x2a: // *
    case 0x24: // $
    case 0x3a: // :
    case 0x2b: // +
    case 0x5f: // _
    case 0x23: // #
    case 0x2c: // ,
    case 0x28: // (
    case 0x3d: // =
    case 0x7e: // ~
    case 0x3e: // >
    case 0x25: // %
    case 0x7c: // |
      return "ok";
    case 0x2d: // -
    case 0x21: // !
      return "failed";
  }
  return null;
}

/** What a scan of pipelined messages found. */
export interface RedisScan {
  /** Whole top-level messages in the capture. */
  count: number;
  /** Of those, error replies (`-` or `!`); 0 for commands. */
  errors: number;
  /**
   * Whether the capture ended exactly after the last whole message. False when a message is cut
   * (a capture shorter than the write, or a message continued in the next write) or the bytes
   * stop parsing as RESP; `count` then holds the messages before that point.
   */
  complete: boolean;
}

/** Deepest nesting of aggregates followed; deeper replies stop the scan (complete = false). */
const MAX_DEPTH = 32;

/** Reads a decimal integer (optional `-`) from `buf[from, end)`; NaN when it is not one. */
function decimal(buf: Uint8Array, from: number, end: number): number {
  let i = from;
  let neg = false;
  if (buf[i] === 0x2d) {
    neg = true;
    i++;
  }
  if (i >= end || end - i > 15) return NaN;
  let n = 0;
  for (; i < end; i++) {
    const b = buf[i];
    if (!isDigit(b)) return NaN;
    n = n * 10 + (b - 48);
  }
  return neg ? -n : n;
}

/**
 * Counts the commands in a write: RESP arrays of bulk strings, one after another (pipelining).
 * An inline command or any other RESP value ends the scan with `complete: false`.
 */
export function countRedisCommands(buf: Uint8Array): RedisScan {
  let pos = 0;
  let count = 0;
  while (pos < buf.length) {
    if (buf[pos] !== 0x2a) return { count, errors: 0, complete: false };
    const lineEnd = indexOfCrlf(buf, pos + 1);
    if (lineEnd < 0) return { count, errors: 0, complete: false };
    const n = decimal(buf, pos + 1, lineEnd);
    if (!(n >= 0)) return { count, errors: 0, complete: false };
    pos = lineEnd + 2;
    for (let k = 0; k < n; k++) {
      if (pos >= buf.length || buf[pos] !== 0x24) return { count, errors: 0, complete: false };
      const e = indexOfCrlf(buf, pos + 1);
      if (e < 0) return { count, errors: 0, complete: false };
      const len = decimal(buf, pos + 1, e);
      if (!(len >= 0)) return { count, errors: 0, complete: false };
      pos = e + 2 + len + 2;
      if (pos > buf.length) return { count, errors: 0, complete: false };
      if (buf[pos - 2] !== 13 || buf[pos - 1] !== 10) return { count, errors: 0, complete: false };
    }
    count++;
  }
  return { count, errors: 0, complete: true };
}

/**
 * Counts the replies in a read (RESP2 and RESP3), and how many are errors. Attributes (`|`) are
 * skipped with the reply they annotate, and out-of-band pushes (`>`) are not replies to a command,
 * so neither counts. Aggregates are followed to a depth of 32.
 */
export function countRedisReplies(buf: Uint8Array): RedisScan {
  // pending[d]: elements still to read in the aggregate open at depth d; attribute[d]: whether
  // that aggregate is an attribute (which annotates the next value and is not one itself).
  const pending = new Array<number>(MAX_DEPTH + 1);
  const attribute = new Uint8Array(MAX_DEPTH + 1);
  let depth = 0;
  let pos = 0;
  let count = 0;
  let errors = 0;
  let topIsError = false;
  let topIsPush = false;
  while (pos < buf.length) {
    const t = buf[pos];
    const lineEnd = indexOfCrlf(buf, pos + 1);
    if (lineEnd < 0) return { count, errors, complete: false };
    let children = 0;
    let next = lineEnd + 2;
    switch (t) {
      case 0x2b: // + simple string
      case 0x3a: // : integer
      case 0x5f: // _ null
      case 0x23: // # boolean
      case 0x2c: // , double
      case 0x28: // ( big number
      case 0x2d: // - simple error
        break;
      case 0x24: // $ bulk string
      case 0x21: // ! bulk error
      case 0x3d: { // = verbatim string
        const len = decimal(buf, pos + 1, lineEnd);
        if (Number.isNaN(len) || len < -1) return { count, errors, complete: false };
        if (len >= 0) {
          next = lineEnd + 2 + len + 2;
          if (next > buf.length) return { count, errors, complete: false };
        }
        break;
      }
      case 0x2a: // * array
      case 0x7e: // ~ set
      case 0x3e: // > push
      case 0x25: // % map
      case 0x7c: { // | attribute
        const n = decimal(buf, pos + 1, lineEnd);
        if (Number.isNaN(n) || n < -1) return { count, errors, complete: false };
        children = n < 0 ? 0 : (t === 0x25 || t === 0x7c) ? 2 * n : n;
        break;
      }
      default:
        return { count, errors, complete: false };
    }
    pos = next;
    if (depth === 0 && t !== 0x7c) {
      topIsError = t === 0x2d || t === 0x21;
      topIsPush = t === 0x3e;
    }
    if (children > 0) {
      if (depth >= MAX_DEPTH) return { count, errors, complete: false };
      pending[++depth] = children;
      attribute[depth] = t === 0x7c ? 1 : 0;
      continue;
    }
    // A value is finished: it fills a slot of the aggregate around it, which may finish too.
    let finishedAttribute = t === 0x7c;
    for (;;) {
      if (finishedAttribute) break; // an attribute fills no slot
      if (depth === 0) {
        if (!topIsPush) {
          count++;
          if (topIsError) errors++;
        }
        break;
      }
      if (--pending[depth] > 0) break;
      finishedAttribute = attribute[depth] === 1;
      depth--;
    }
  }
  return { count, errors, complete: depth === 0 };
}

/** The command and first argument of a command, as the reference puts them in traces. */
export interface RedisSummary {
  /** The first bulk string (`GET`, `SET`, ...) as sent. */
  command: string;
  /** The second bulk string, plus ` ...` when more follow; `""` for a lone command. */
  args: string;
}

/**
 * The summary of the first command in `payload` (`*N`, then `$len` lines each followed by its
 * string line), or null when it does not read as one.
 */
export function summarizeRedisCommand(payload: Uint8Array): RedisSummary | null {
  const first = indexOfCrlf(payload, 0);
  if (first < 0 || payload[0] !== 0x2a) return null;
  const n = decimal(payload, 1, first);
  if (!(n >= 0) || n > 0xffffffff) return null;
  let pos = first + 2;
  const readString = (): string => {
    const h = indexOfCrlf(payload, pos);
    if (h < 0 || payload[pos] !== 0x24) return "";
    const e = indexOfCrlf(payload, h + 2);
    if (e < 0) return "";
    pos = e + 2;
    return text(payload, h + 2, e);
  };
  const command = readString();
  if (command === "") return null;
  let args = "";
  if (n > 1) {
    args = readString();
    if (n > 2) args += " ...";
  }
  return { command, args };
}
