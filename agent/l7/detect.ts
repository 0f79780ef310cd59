/**
 * Request detection and response status for the byte-stream protocols the L7 module matches
 * in TypeScript (reference §3.5): HTTP/1.x, Postgres, Redis, Memcached and MySQL. Pure
 * functions over the first bytes of one read or write (what bpf/l7.bpf.c captured), no
 * allocation on the hot path.
 *
 * These are the capture side's own minimal detectors; the fuzzed parsers of
 * `agent/l7/protocols/` (another branch) replace them where they cover the same ground.
 *
 * @module
 */

/** The protocols detected here, in the reference's detection order. */
export type StreamProtocol = "http" | "postgres" | "redis" | "memcached" | "mysql";

/** Outcome of a response: the contract's `status` label value. */
export type Status = string;

const HTTP_METHODS = [
  "GET ",
  "POST ",
  "HEAD ",
  "PUT ",
  "DELETE ",
  "CONNECT ",
  "OPTIONS ",
  "PATCH ",
];
const MEMCACHED_COMMANDS = [
  "set ",
  "add ",
  "cas ",
  "get ",
  "gets ",
  "gat ",
  "gats ",
  "incr ",
  "decr ",
  "touch ",
  "delete ",
  "append ",
  "prepend ",
  "replace ",
];

function startsWith(b: Uint8Array, text: string, at = 0): boolean {
  if (b.length < at + text.length) return false;
  for (let i = 0; i < text.length; i++) if (b[at + i] !== text.charCodeAt(i)) return false;
  return true;
}

function u32be(b: Uint8Array, at: number): number {
  return ((b[at] << 24) | (b[at + 1] << 16) | (b[at + 2] << 8) | b[at + 3]) >>> 0;
}

function endsWithCrlf(b: Uint8Array): boolean {
  return b.length >= 2 && b[b.length - 2] === 13 && b[b.length - 1] === 10;
}

/** An HTTP/1.x request line's method and path, or undefined. */
export function httpRequest(b: Uint8Array): { method: string; path: string } | undefined {
  for (const m of HTTP_METHODS) {
    if (!startsWith(b, m)) continue;
    let end = m.length;
    while (end < b.length && b[end] !== 32 && b[end] !== 13 && b[end] !== 63) end++;
    let path = "";
    for (let i = m.length; i < end; i++) path += String.fromCharCode(b[i]);
    return { method: m.slice(0, -1), path };
  }
  return undefined;
}

/** `HTTP/d.d NNN` → NNN; undefined if `b` does not start a response. */
export function httpResponseCode(b: Uint8Array): number | undefined {
  if (b.length < 12 || !startsWith(b, "HTTP/1.") || b[8] !== 32) return undefined;
  let code = 0;
  for (let i = 9; i < 12; i++) {
    const d = b[i] - 48;
    if (d < 0 || d > 9) return undefined;
    code = code * 10 + d;
  }
  return code;
}

/** The contract's HTTP status class: `1xx` … `5xx`, or `unknown`. */
export function httpStatusClass(code: number): Status {
  return code >= 100 && code < 600 ? `${Math.floor(code / 100)}xx` : "unknown";
}

/**
 * Postgres frontend messages that expect an answer: a simple query (`Q` whose length matches),
 * or an extended-protocol batch ending in Sync. A batch that only closes a statement (`C`
 * first) is not a query (the contract does not count statement close).
 */
export function isPostgresRequest(b: Uint8Array): boolean {
  if (b.length >= 5 && b[0] === 0x51 /* Q */ && u32be(b, 1) + 1 === b.length) return true;
  if (b.length < 5) return false;
  const n = b.length;
  const sync = b[n - 5] === 0x53 && b[n - 4] === 0 && b[n - 3] === 0 && b[n - 2] === 0 &&
    b[n - 1] === 4;
  if (!sync) return false;
  const first = b[0];
  // Parse, Bind, Describe, Execute start a batch; Close (C) alone is a statement close
  return first === 0x50 || first === 0x42 || first === 0x44 || first === 0x45;
}

/** Postgres backend answer: `E` failed; a result, completion or bind/parse completion ok. */
export function postgresStatus(b: Uint8Array): Status | undefined {
  if (b.length < 5) return undefined;
  // ParseComplete '1', BindComplete '2' may precede the real answer in the same read
  let at = 0;
  while (at + 5 <= b.length && (b[at] === 0x31 || b[at] === 0x32) && u32be(b, at + 1) === 4) {
    at += 5;
  }
  if (at >= b.length) return at > 0 ? "ok" : undefined;
  switch (b[at]) {
    case 0x45: // E
      return "failed";
    case 0x74: // t ParameterDescription
    case 0x54: // T RowDescription
    case 0x44: // D DataRow
    case 0x43: // C CommandComplete
    case 0x6e: // n NoData
    case 0x49: // I EmptyQueryResponse
    case 0x73: // s PortalSuspended
      return "ok";
    default:
      return undefined;
  }
}

/** A RESP command array: `*N\r\n$M\r\n` then a letter. */
export function isRedisRequest(b: Uint8Array): boolean {
  if (b.length < 8 || b[0] !== 0x2a) return false;
  let i = 1;
  while (i < b.length && b[i] >= 48 && b[i] <= 57) i++;
  if (i === 1 || b[i] !== 13 || b[i + 1] !== 10 || b[i + 2] !== 0x24) return false;
  i += 3;
  const d = i;
  while (i < b.length && b[i] >= 48 && b[i] <= 57) i++;
  if (i === d || b[i] !== 13 || b[i + 1] !== 10) return false;
  const c = b[i + 2] | 0x20;
  return c >= 0x61 && c <= 0x7a;
}

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

/** A memcached text command that gets an answer, ending in CRLF. */
export function isMemcachedRequest(b: Uint8Array): boolean {
  if (!endsWithCrlf(b)) return false;
  for (const c of MEMCACHED_COMMANDS) if (startsWith(b, c)) return !/ noreply\r\n/.test(head(b));
  return false;
}

function head(b: Uint8Array): string {
  let s = "";
  const n = Math.min(b.length, 256);
  for (let i = 0; i < n; i++) {
    if (b[i] === 10) return s + "\n";
    s += String.fromCharCode(b[i]);
  }
  return s;
}

const MEMCACHED_OK = [
  "VALUE ",
  "END\r\n",
  "STORED\r\n",
  "DELETED\r\n",
  "TOUCHED\r\n",
  "NOT_STORED\r\n",
  "NOT_FOUND\r\n",
  "EXISTS\r\n",
  "OK\r\n",
];
const MEMCACHED_FAILED = ["ERROR\r\n", "CLIENT_ERROR ", "SERVER_ERROR "];

/** Memcached answer status; undefined if `b` does not start one. */
export function memcachedStatus(b: Uint8Array): Status | undefined {
  for (const p of MEMCACHED_OK) if (startsWith(b, p)) return "ok";
  for (const p of MEMCACHED_FAILED) if (startsWith(b, p)) return "failed";
  if (b.length >= 3 && b[0] >= 48 && b[0] <= 57 && endsWithCrlf(b)) return "ok"; // incr/decr
  return undefined;
}

/** MySQL command numbers (include/my_command.h). */
const COM_QUERY = 0x03;
const COM_STMT_PREPARE = 0x16;
const COM_STMT_EXECUTE = 0x17;
const COM_STMT_CLOSE = 0x19;

/**
 * A MySQL client command that gets an answer: a packet with sequence 0 whose length matches,
 * carrying COM_QUERY, COM_STMT_PREPARE or COM_STMT_EXECUTE (COM_STMT_CLOSE gets no answer and
 * is not counted).
 */
export function isMysqlRequest(b: Uint8Array): boolean {
  if (b.length < 5 || b[3] !== 0) return false;
  const len = b[0] | (b[1] << 8) | (b[2] << 16);
  if (len + 4 < b.length || len === 0) return false;
  const cmd = b[4];
  if (cmd === COM_STMT_CLOSE) return false;
  return cmd === COM_QUERY || cmd === COM_STMT_PREPARE || cmd === COM_STMT_EXECUTE;
}

/** MySQL answer: sequence > 0; `0xFF` failed, anything else ok. */
export function mysqlStatus(b: Uint8Array): Status | undefined {
  if (b.length < 5 || b[3] === 0) return undefined;
  return b[4] === 0xff ? "failed" : "ok";
}
