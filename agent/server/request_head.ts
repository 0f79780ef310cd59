/**
 * The HTTP/1.1 request head (RFC 9112 §2–§5): finding where it ends in the bytes read so far, and
 * parsing the request line and the header fields, strictly and within size limits. Pure: no
 * socket here, so the parser is unit-tested and fuzzed on byte strings.
 *
 * Accepted: CRLF or a bare LF as line ends (§2.2), empty lines before the request line (§2.2),
 * `HTTP/1.x` versions. Refused with the status to answer: a bare CR, whitespace around the method
 * or target, a field name with whitespace before its colon (§5.1), obs-fold (§5.2), control
 * bytes in a field value, an overlong request line (414), an overlong head or too many fields
 * (431), an HTTP version other than 1.x (505).
 *
 * @module
 */

/** Size limits of a request head. */
export interface HeadLimits {
  /** Longest request line in bytes (method, target and version). @default 8192 */
  readonly maxRequestLineBytes?: number;
  /** Longest head in bytes, from the request line to the empty line included. @default 16384 */
  readonly maxHeadBytes?: number;
  /** Most header fields. @default 100 */
  readonly maxFields?: number;
}

/** A parsed request head. */
export interface RequestHead {
  /** The method token as sent (case-sensitive, RFC 9110 §9.1). */
  readonly method: string;
  /** The request target as sent: origin form (`/path?q`), absolute form, `*` or authority. */
  readonly target: string;
  /** Minor version of HTTP/1.x: 0 or 1 (higher minor versions are answered as 1.1). */
  readonly minor: 0 | 1;
  /** Field names (as sent) and values (latin-1 decoded, surrounding whitespace removed). */
  readonly fields: readonly (readonly [string, string])[];
}

/** A head that cannot be served, with the status code to answer before closing. */
export class RequestHeadError extends Error {
  /** 400, 414, 431 or 505. */
  readonly status: 400 | 414 | 431 | 505;

  constructor(status: 400 | 414 | 431 | 505, message: string) {
    super(message);
    this.name = "RequestHeadError";
    this.status = status;
  }
}

const LF = 0x0a;
const CR = 0x0d;
const SP = 0x20;
const HT = 0x09;
const COLON = 0x3a;

/** RFC 9110 §5.6.2 tchar. */
const TCHAR = new Uint8Array(256);
for (const c of "!#$%&'*+-.^_`|~") TCHAR[c.charCodeAt(0)] = 1;
for (let c = 0x30; c <= 0x39; c++) TCHAR[c] = 1;
for (let c = 0x41; c <= 0x5a; c++) TCHAR[c] = 1;
for (let c = 0x61; c <= 0x7a; c++) TCHAR[c] = 1;

/** Field value bytes: HTAB, SP, VCHAR, obs-text (RFC 9110 §5.5). */
function valueByte(b: number): boolean {
  return b === HT || (b >= SP && b !== 0x7f);
}

/** ISO 8859-1: each byte is the code point (a TextDecoder's "latin1" is windows-1252). */
function latin1(buf: Uint8Array, s: number, e: number): string {
  let out = "";
  for (let i = s; i < e; i += 4096) {
    out += String.fromCharCode(...buf.subarray(i, Math.min(e, i + 4096)));
  }
  return out;
}

/**
 * Finds the end of a request head in a growing buffer, scanning each byte once however the head
 * arrives (one byte per read costs no more than one read in all).
 */
export class HeadScanner {
  readonly #maxLine: number;
  readonly #maxHead: number;
  /** Where the head starts (after empty lines before the request line). */
  #start = 0;
  #lineStart = 0;
  #scanned = 0;
  #sawRequestLine = false;

  constructor(limits: HeadLimits = {}) {
    this.#maxLine = limits.maxRequestLineBytes ?? 8192;
    this.#maxHead = limits.maxHeadBytes ?? 16384;
  }

  /** Bytes already looked at; nonzero once any byte of the next request arrived. */
  get scanned(): number {
    return this.#scanned;
  }

  /**
   * Looks at `buf[0, length)` (the bytes received so far, the start of a request). Returns the
   * head's `[start, end)` (`end` just after the empty line) once complete, `undefined` when
   * more bytes are needed.
   *
   * @throws {RequestHeadError} 414 or 431 as soon as a limit is passed.
   */
  scan(buf: Uint8Array, length: number): { start: number; end: number } | undefined {
    for (let i = this.#scanned; i < length; i++) {
      if (buf[i] !== LF) continue;
      const lineEnd = i > this.#lineStart && buf[i - 1] === CR ? i - 1 : i;
      const empty = lineEnd === this.#lineStart;
      if (i + 1 - this.#start > this.#maxHead) throw tooLongHead(this.#maxHead);
      if (!this.#sawRequestLine) {
        if (empty) this.#start = i + 1; // an empty line before the request line (§2.2)
        else {
          this.#sawRequestLine = true;
          if (lineEnd - this.#lineStart > this.#maxLine) throw tooLongLine(this.#maxLine);
        }
      } else if (empty) {
        this.#scanned = i + 1;
        return { start: this.#start, end: i + 1 };
      }
      this.#lineStart = i + 1;
    }
    this.#scanned = length;
    if (!this.#sawRequestLine && length - this.#lineStart > this.#maxLine) {
      throw tooLongLine(this.#maxLine);
    }
    if (length - this.#start > this.#maxHead) throw tooLongHead(this.#maxHead);
    // Empty lines before a request are allowed, but not without end: they count as head bytes.
    if (this.#start > this.#maxHead) throw tooLongHead(this.#maxHead);
    return undefined;
  }

  /** Starts over for the next request, whose first bytes are at offset 0 again. */
  reset(): void {
    this.#start = 0;
    this.#lineStart = 0;
    this.#scanned = 0;
    this.#sawRequestLine = false;
  }
}

function tooLongLine(max: number): RequestHeadError {
  return new RequestHeadError(414, `The request line is longer than ${max} bytes`);
}

function tooLongHead(max: number): RequestHeadError {
  return new RequestHeadError(431, `The request head is longer than ${max} bytes`);
}

function bad(message: string): RequestHeadError {
  return new RequestHeadError(400, message);
}

/**
 * Parses a complete head, `buf[start, end)` as found by {@linkcode HeadScanner.scan}.
 *
 * @throws {RequestHeadError} 400 for malformed syntax, 431 for too many fields, 505 for a
 *   version other than HTTP/1.x.
 */
export function parseRequestHead(
  buf: Uint8Array,
  start: number,
  end: number,
  limits: HeadLimits = {},
): RequestHead {
  const maxFields = limits.maxFields ?? 100;
  const lines: [number, number][] = [];
  let lineStart = start;
  for (let i = start; i < end; i++) {
    const b = buf[i];
    if (b === LF) {
      const lineEnd = i > lineStart && buf[i - 1] === CR ? i - 1 : i;
      lines.push([lineStart, lineEnd]);
      lineStart = i + 1;
    } else if (b === CR && buf[i + 1] !== LF) {
      throw bad("A bare CR in the request head");
    }
  }
  // The last line is the empty one that ends the head.
  if (lines.length < 2 || lines.at(-1)![0] !== lines.at(-1)![1]) {
    throw bad("The request head does not end with an empty line");
  }
  const [method, target, minor] = requestLine(buf, lines[0][0], lines[0][1]);
  const fieldLines = lines.slice(1, -1);
  if (fieldLines.length > maxFields) {
    throw new RequestHeadError(431, `The request has more than ${maxFields} header fields`);
  }
  const fields = fieldLines.map(([s, e]) => field(buf, s, e));
  return { method, target, minor, fields };
}

function requestLine(buf: Uint8Array, s: number, e: number): [string, string, 0 | 1] {
  const sp1 = buf.indexOf(SP, s);
  if (sp1 < 0 || sp1 >= e) throw bad("The request line has no target");
  const sp2 = buf.indexOf(SP, sp1 + 1);
  if (sp2 < 0 || sp2 >= e) throw bad("The request line has no HTTP version");
  if (sp1 === s) throw bad("The request line starts with whitespace");
  for (let i = s; i < sp1; i++) if (!TCHAR[buf[i]]) throw bad("The method is not a token");
  if (sp2 === sp1 + 1) throw bad("The request target is empty");
  for (let i = sp1 + 1; i < sp2; i++) {
    const b = buf[i];
    if (b <= SP || b >= 0x7f) throw bad("The request target has a byte outside visible ASCII");
  }
  const version = latin1(buf, sp2 + 1, e);
  const m = /^HTTP\/(\d)\.(\d)$/.exec(version);
  if (m === null) throw bad(`The HTTP version ${JSON.stringify(version)} is malformed`);
  if (m[1] !== "1") throw new RequestHeadError(505, `HTTP version ${version} is not supported`);
  return [
    latin1(buf, s, sp1),
    latin1(buf, sp1 + 1, sp2),
    m[2] === "0" ? 0 : 1,
  ];
}

function field(buf: Uint8Array, s: number, e: number): [string, string] {
  if (buf[s] === SP || buf[s] === HT) throw bad("A header field is folded (obs-fold)");
  let colon = s;
  while (colon < e && TCHAR[buf[colon]]) colon++;
  if (colon === s || colon >= e || buf[colon] !== COLON) {
    throw bad("A header field name is not a token followed by a colon");
  }
  let vs = colon + 1;
  let ve = e;
  while (vs < ve && (buf[vs] === SP || buf[vs] === HT)) vs++;
  while (ve > vs && (buf[ve - 1] === SP || buf[ve - 1] === HT)) ve--;
  for (let i = vs; i < ve; i++) {
    if (!valueByte(buf[i])) throw bad("A header field value has a control byte");
  }
  return [latin1(buf, s, colon), latin1(buf, vs, ve)];
}
