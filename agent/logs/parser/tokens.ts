/**
 * The token shapes of a message that Osprey groups by (the reference's words only name a
 * pattern: see classifier.ts).
 *
 * A message is split on white space and `|`; its header (time stamp, level, logger or process
 * name: {@link headerLength}) is left out; each further token becomes either itself (a constant)
 * or {@link VAR} (a value), by general token classes, never by dataset:
 * - a token holding a digit (numbers, ids, addresses, times, versions, hex with digits), keeping
 *   its key when it is `key=…` or `name:…` (`pid=<*>`, `port:<*>`);
 * - a token wholly inside quotes (`"…"`, `'…'`, a backquote pair);
 * - an English month or weekday name (time stamps in the text);
 * - a token longer than {@link MAX_TOKEN_UNITS} (blobs);
 *
 * and a run of values with the same letters (`blk_1 blk_2`, `1.2.3.4 5.6.7.8`) is one value
 * (a list of ids is as long as it happens to be). At most {@link MAX_TOKENS} tokens are kept.
 *
 * @module
 */
import { containsTimestamp } from "./multiline.ts";

/** The value token. */
export const VAR = "\u0000";
/** Tokens of a message that are compared (the rest is left out, as the reference keeps 100
 * words); this and {@link MAX_TOKEN_UNITS} bound what a pattern keeps. */
export const MAX_TOKENS = 100;
/** A longer token is a value. */
export const MAX_TOKEN_UNITS = 64;

const DATE_WORDS = new Set([
  "jan",
  "feb",
  "mar",
  "apr",
  "may",
  "jun",
  "jul",
  "aug",
  "sep",
  "sept",
  "oct",
  "nov",
  "dec",
  "january",
  "february",
  "march",
  "april",
  "june",
  "july",
  "august",
  "september",
  "october",
  "november",
  "december",
  "mon",
  "tue",
  "wed",
  "thu",
  "fri",
  "sat",
  "sun",
  "monday",
  "tuesday",
  "wednesday",
  "thursday",
  "friday",
  "saturday",
  "sunday",
]);

/** The first three letters of every month and weekday name, packed (see {@link pack3}). */
const DATE_PREFIXES = new Set([...DATE_WORDS].map((w) => pack3(w, 0)));

/** Three lower-cased ASCII letters packed into a number, or -1. */
function pack3(w: string, a: number): number {
  let v = 0;
  for (let i = a; i < a + 3; i++) {
    const c = w.charCodeAt(i) | 0x20;
    if (c < 0x61 || c > 0x7a) return -1;
    v = (v << 8) | c;
  }
  return v;
}

/** True if `w` is a month or weekday name, maybe with a trailing comma ("Jun," "Mon,"). */
function isDateWord(w: string): boolean {
  let n = w.length;
  if (n > 0 && w.charCodeAt(n - 1) === 0x2c) n--;
  if (n < 3 || n > 9 || !DATE_PREFIXES.has(pack3(w, 0))) return false;
  if (n === 3) return true;
  return DATE_WORDS.has((n === w.length ? w : w.slice(0, n)).toLowerCase());
}

function isKeyCode(c: number): boolean {
  const l = c | 0x20;
  return (l >= 0x61 && l <= 0x7a) || c === 0x2e || c === 0x5f || c === 0x2d;
}

function isQuote(c: number): boolean {
  return c === 0x22 || c === 0x27 || c === 0x60;
}

/** The shape of token `s[a, b)`. */
function shape(s: string, a: number, b: number): string {
  if (b - a > MAX_TOKEN_UNITS) return VAR; // blobs, long ids
  // the key of `key=…` (anything before the first `=`) or of `key:…` (letters, `.`, `_`, `-`)
  let key = -1, keyable = true;
  for (let i = a; i < b; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x30 && c <= 0x39) {
      // a digit: the token is a value (keeping its key)
      return key > a ? s.slice(a, key + 1) + VAR : VAR;
    }
    if (key < 0) {
      // `=` after anything; `:` after a plain name only (not `(a:` or a URL's `http:`)
      if (c === 0x3d || (c === 0x3a && keyable)) key = i;
      else if (!isKeyCode(c)) keyable = false;
    }
  }
  const c0 = s.charCodeAt(a);
  if (b - a >= 2 && isQuote(c0) && s.charCodeAt(b - 1) === c0) return VAR;
  const w = a === 0 && b === s.length ? s : s.slice(a, b);
  return isDateWord(w) ? VAR : w;
}

const LEVEL_WORDS = new Set([
  "trace",
  "debug",
  "dbg",
  "info",
  "inf",
  "notice",
  "warn",
  "warning",
  "wrn",
  "error",
  "err",
  "fatal",
  "critical",
  "crit",
  "severe",
  "alert",
  "emerg",
  "emergency",
  "panic",
]);

/** True if `t` is a level word, alone or in `[]`, `<>`, `()` or followed by `:`. */
function isLevelToken(t: string): boolean {
  let a = 0, b = t.length;
  const c0 = t.charCodeAt(0);
  if ((c0 === 0x5b || c0 === 0x3c || c0 === 0x28) && b > 2) {
    a = 1;
    b--;
  } else if (t.charCodeAt(b - 1) === 0x3a) b--;
  if (b - a < 3 || b - a > 9) return false;
  // every level word starts with one of a c d e f i n p s t w
  switch (t.charCodeAt(a) | 0x20) {
    case 0x61:
    case 0x63:
    case 0x64:
    case 0x65:
    case 0x66:
    case 0x69:
    case 0x6e:
    case 0x70:
    case 0x73:
    case 0x74:
    case 0x77:
      break;
    default:
      return false;
  }
  return LEVEL_WORDS.has(t.slice(a, b).toLowerCase());
}

/** `dd.dd.dd` not inside a longer dotted number (an IP address), a fraction of 4+ digits allowed */
const DOTTED_TIME = /(?:^|[^\d.])\d\d\.\d\d\.\d\d(?:$|[^\d.]|\.\d{4,})/;

/** True if `t` holds a time: `dd:dd:dd` (as the multiline rule finds it) or a dotted one. */
function hasTime(t: string): boolean {
  return containsTimestamp(t) || DOTTED_TIME.test(t);
}

/** White space (Go's `unicode.IsSpace`) and `|`, which separates fields in many formats. */
const SEPARATORS = /[\t-\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000|]+/;

/** Most tokens split off a message: the compared ones after a long header. */
const MAX_SPLIT = MAX_TOKENS + 48;

/** The first {@link MAX_SPLIT} tokens of `s`, separated by white space and `|`. */
function splitFields(s: string): string[] {
  const out = s.split(SEPARATORS, MAX_SPLIT + 1);
  if (out.length > 0 && out[0] === "") out.shift();
  if (out.length > 0 && out[out.length - 1] === "") out.pop();
  if (out.length > MAX_SPLIT) out.length = MAX_SPLIT;
  return out;
}

/** Most tokens a bracketed header group (`[Sun Dec 04 04:47:44 2005]`) may span. */
const MAX_GROUP_TOKENS = 8;

/** Index of the token that closes the `[` group opened at `i`, or -1. */
function groupEnd(r: string[], i: number): number {
  for (let j = i; j < r.length && j < i + MAX_GROUP_TOKENS; j++) {
    if (r[j].charCodeAt(r[j].length - 1) === 0x5d) return j;
  }
  return -1;
}

/**
 * How many leading tokens of `r` are a log line's header: value tokens (time stamps, pids,
 * hosts with digits), level words (alone, bracketed or with a colon), `-` separators and
 * bracketed groups (`[Sun Dec 04 04:47:44 2005]`, `[main]`); then, when no level was seen, up to
 * two words before a level (`RAS KERNEL INFO`); then a logger or process name (`a.b.C:`,
 * `host proc[1]:`, `name -`, `name [ctx]`). A header must hold a time (`dd:dd:dd` or `dd.dd.dd`)
 * or a level word; otherwise nothing is a header and 0 is returned.
 */
export function headerLength(r: string[]): number {
  let i = 0, time = false, level = false;
  while (i < r.length) {
    const t = r[i];
    if (t.charCodeAt(0) === 0x5b) {
      const j = groupEnd(r, i);
      if (j < 0) break;
      const g = j === i ? t : r.slice(i, j + 1).join(" ");
      if (isLevelToken(g)) level = true;
      else if (hasTime(g)) time = true;
      else if (i === 0) break;
      i = j + 1;
      continue;
    }
    if (isLevelToken(t)) {
      level = true;
      i++;
      continue;
    }
    if (t === "-") {
      i++;
      continue;
    }
    if (shape(t, 0, t.length) === VAR) {
      if (!time && hasTime(t)) time = true;
      i++;
      continue;
    }
    break;
  }
  if (!time && !level) return 0;
  if (!level) {
    // "host COMPONENT INFO message": a level within the next three tokens ends the header
    for (let j = i; j < i + 3 && j < r.length; j++) {
      if (isLevelToken(r[j])) {
        i = j + 1;
        level = true;
        break;
      }
    }
  }
  // a logger or process name, with its context
  for (let k = 0; k < 3 && i < r.length; k++) {
    const t = r[i];
    if (t.charCodeAt(0) === 0x5b) {
      const j = groupEnd(r, i);
      if (j < 0) break;
      i = j + 1;
      continue;
    }
    // after a level, a word and a colon may be the message ("ERROR Timeout: …"): only a
    // name-like token (dotted, with a pid, …) is a logger there; after a bare time stamp (syslog)
    // any "process:" or "host process:" is
    const plain = time && !level;
    if (t.length > 1 && t.charCodeAt(t.length - 1) === 0x3a && (plain || nameLike(t))) {
      i++;
      break;
    }
    const u = r[i + 1];
    if (
      k === 0 && u !== undefined && u.length > 1 && u.charCodeAt(u.length - 1) === 0x3a &&
      (plain || nameLike(u))
    ) {
      // "host process[pid]:"
      i += 2;
      break;
    }
    if (i + 1 < r.length && (r[i + 1] === "-" || r[i + 1].charCodeAt(0) === 0x5b) && valueLike(t)) {
      i += r[i + 1] === "-" ? 2 : 1;
      continue;
    }
    break;
  }
  return i;
}

/** True if `a` and `b` have the same letters in the same order (digits and the rest aside). */
function sameLetters(a: string, b: string): boolean {
  let i = 0, j = 0;
  for (;;) {
    while (i < a.length && !isLetter(a.charCodeAt(i))) i++;
    while (j < b.length && !isLetter(b.charCodeAt(j))) j++;
    if (i >= a.length || j >= b.length) return i >= a.length && j >= b.length;
    if ((a.charCodeAt(i) | 0x20) !== (b.charCodeAt(j) | 0x20)) return false;
    i++;
    j++;
  }
}

function isLetter(c: number): boolean {
  const l = c | 0x20;
  return l >= 0x61 && l <= 0x7a;
}

/** True if a `name:` token looks like a logger or process name: dotted, `$`, `_`, `/`, a pid
 * (`[…]`, `(…)`) or digits. */
function nameLike(t: string): boolean {
  for (let i = 0; i < t.length - 1; i++) {
    const c = t.charCodeAt(i);
    if (
      c === 0x2e || c === 0x24 || c === 0x5f || c === 0x2f || c === 0x5b || c === 0x28 ||
      (c >= 0x30 && c <= 0x39)
    ) return true;
  }
  return false;
}

/** The token shapes of a message (see the module doc), its header left out. */
export function messageTokens(message: string): string[] {
  const r = splitFields(message);
  const h = headerLength(r);
  const out: string[] = [];
  for (let i = h; i < r.length && out.length < MAX_TOKENS; i++) {
    const t = shape(r[i], 0, r[i].length);
    // a run of values of the same kind is one value (lists of ids, addresses, numbers)
    if (
      t === VAR && i > h && out[out.length - 1] === VAR && sameLetters(r[i], r[i - 1])
    ) continue;
    out.push(t);
  }
  return out;
}

/**
 * True if a constant token looks like it could be a value (paths, dotted or dashed names,
 * addresses): anything but plain letters with trailing punctuation.
 */
export function valueLike(t: string): boolean {
  let end = t.length;
  while (end > 0 && ",;:.!?)]}".includes(t[end - 1])) end--;
  for (let i = 0; i < end; i++) {
    const c = t.charCodeAt(i);
    if (
      c === 0x2f || c === 0x5c || c === 0x2e || c === 0x40 || c === 0x3a || c === 0x5f ||
      c === 0x2d || c >= 0x80
    ) return true;
  }
  return false;
}

/** How a constant token may differ from another at the same place (see the classifier). */
export const enum TokenKind {
  /** paths, dotted or dashed names, addresses: may differ freely */
  Value,
  /** letters only, or `key=word` (trailing punctuation aside): may differ at most once (a
   * `key=` must be the same) */
  Word,
  /** anything else (`name(`, `<tag>`…): must be equal */
  Strict,
}

/** The kind of constant token `t`. */
export function tokenKind(t: string): TokenKind {
  if (t.charCodeAt(t.length - 1) === 0) return TokenKind.Strict; // `key=<value>`: its key counts
  if (valueLike(t)) return TokenKind.Value;
  let end = t.length;
  while (end > 0 && ",;:.!?)]}".includes(t[end - 1])) end--;
  let eq = -1;
  for (let i = 0; i < end; i++) {
    const c = t.charCodeAt(i);
    if (c === 0x3d && eq < 0) {
      eq = i;
      continue;
    }
    const l = c | 0x20;
    if (l < 0x61 || l > 0x7a) return TokenKind.Strict;
  }
  return TokenKind.Word;
}
