/**
 * Redis pipelining for the L7 matcher: how many commands one captured write holds, and the
 * status of each reply one captured read holds (RESP2 and RESP3), so a pipelined batch counts
 * every command (reference §3.5 counts one request per write; the contract's counts are per
 * command). Pure, over the first bytes of a syscall.
 *
 * @module
 */

/** The contract's `status` label value. */
export type Status = string;

/**
 * How many complete RESP command arrays `b` holds back to back (a pipelined batch), at least
 * 1 when it starts with one; commands cut off by the end of the capture count too.
 */
export function redisCommandCount(b: Uint8Array): number {
  let n = 0;
  let at = 0;
  while (at < b.length && b[at] === 0x2a) {
    const next = skipResp(b, at, 0);
    n++;
    if (next < 0) break;
    at = next;
  }
  return n;
}

/**
 * Where each command of a batch {@linkcode redisCommandCount} counts starts: offsets into `b`,
 * one per command (the first is 0).
 */
export function redisCommandStarts(b: Uint8Array): number[] {
  const starts: number[] = [];
  let at = 0;
  while (at < b.length && b[at] === 0x2a) {
    starts.push(at);
    const next = skipResp(b, at, 0);
    if (next < 0) break;
    at = next;
  }
  return starts;
}

/**
 * The status of each top-level RESP reply `b` holds back to back (pipelined answers): `failed`
 * for an error reply, else `ok`; a reply cut off by the end of the capture counts too.
 * Undefined if `b` does not start with a reply.
 */
export function redisReplies(b: Uint8Array): Status[] | undefined {
  if (b.length === 0 || !isRespType(b[0])) return undefined;
  const out: Status[] = [];
  let at = 0;
  while (at < b.length && isRespType(b[at])) {
    out.push(b[at] === 0x2d || b[at] === 0x21 ? "failed" : "ok");
    const next = skipResp(b, at, 0);
    if (next < 0) break;
    at = next;
  }
  return out;
}

function isRespType(c: number): boolean {
  // + - : $ * _ # , ( ! = % ~ > |
  return c === 0x2b || c === 0x2d || c === 0x3a || c === 0x24 || c === 0x2a || c === 0x5f ||
    c === 0x23 || c === 0x2c || c === 0x28 || c === 0x21 || c === 0x3d || c === 0x25 ||
    c === 0x7e || c === 0x3e || c === 0x7c;
}

/** Offset past the RESP value at `at`; -1 if it runs past the capture or is malformed. */
function skipResp(b: Uint8Array, at: number, depth: number): number {
  if (depth > 8 || at >= b.length) return -1;
  const t = b[at];
  let i = at + 1;
  while (i + 1 < b.length && !(b[i] === 13 && b[i + 1] === 10)) i++;
  if (i + 1 >= b.length) return -1;
  const lineEnd = i + 2;
  let num = 0;
  let neg = false;
  for (let k = at + 1; k < i; k++) {
    if (k === at + 1 && b[k] === 0x2d) neg = true;
    else if (b[k] >= 48 && b[k] <= 57) num = num * 10 + b[k] - 48;
  }
  if (neg) num = -num;
  switch (t) {
    case 0x24: // $ bulk
    case 0x21: // ! bulk error
    case 0x3d: // = verbatim
      if (num < 0) return lineEnd;
      return lineEnd + num + 2 <= b.length ? lineEnd + num + 2 : -1;
    case 0x2a: // * array
    case 0x7e: // ~ set
    case 0x3e: // > push
    case 0x25: // % map
    case 0x7c: { // | attribute
      if (num < 0) return lineEnd;
      const items = t === 0x25 || t === 0x7c ? num * 2 : num;
      let p = lineEnd;
      for (let k = 0; k < items; k++) {
        p = skipResp(b, p, depth + 1);
        if (p < 0) return -1;
      }
      return p;
    }
    default:
      return lineEnd;
  }
}
