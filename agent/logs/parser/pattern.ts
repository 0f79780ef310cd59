/**
 * Pattern words and `pattern_hash` of a log message, as coroot's logparser computes them
 * (contract §5.2), so Osprey and the reference agree on every hash.
 *
 * The steps, in order:
 * 1. drop quoted text (`'…'`, `"…"`, a quote preceded by a backslash does not count) and the
 *    content of balanced `[…]`, `(…)`, `{…}` (brackets inside quotes are not opened; a closing
 *    bracket that matches nothing stays);
 * 2. split on Unicode white space;
 * 3. per field: trim trailing `= : ] , ;`; drop fields shorter than 2, `0x`+hex, 4 or more hex
 *    digits, UUIDs; delete ASCII digits; keep the field only if it is a "word": an ASCII letter
 *    at both ends and only letters, `.`, `_`, `-` inside;
 * 4. at most 100 words.
 *
 * The hash is the lowercase hex MD5 of the words joined by single spaces (the empty message's
 * hash is MD5 of the empty string).
 *
 * @module
 */
import { createHash } from "node:crypto";

/** Most words a pattern keeps (the reference's limit). */
export const PATTERN_MAX_WORDS = 100;

/** True for the code units Go's `unicode.IsSpace` accepts (all are single UTF-16 units). */
export function isSpaceCode(c: number): boolean {
  if (c <= 0x20) return c === 0x20 || (c >= 0x09 && c <= 0x0d);
  if (c < 0x85) return false;
  return c === 0x85 || c === 0xa0 || c === 0x1680 || (c >= 0x2000 && c <= 0x200a) ||
    c === 0x2028 || c === 0x2029 || c === 0x202f || c === 0x205f || c === 0x3000;
}

function isHexCode(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || (c >= 0x61 && c <= 0x66) || (c >= 0x41 && c <= 0x46);
}

function isLetterCode(c: number): boolean {
  return (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a);
}

const SQUOTE = 0x27, DQUOTE = 0x22, BSLASH = 0x5c;
const LSB = 0x5b, RSB = 0x5d, LPAR = 0x28, RPAR = 0x29, LCUR = 0x7b, RCUR = 0x7d;

/** Reused bracket stack (the extractor is synchronous, so one is enough). */
const stack: number[] = [];

/**
 * The message without quoted text and bracketed content (step 1 above). Returns `s` itself when
 * nothing is removed.
 */
export function removeQuotedAndBrackets(s: string): string {
  let quote = 0;
  stack.length = 0;
  let out = "";
  let runStart = 0; // start of the current run of kept code units
  let removed = false;
  const n = s.length;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    let drop = false;
    switch (c) {
      case LSB:
      case LPAR:
      case LCUR:
        if (quote === 0) stack.push(c);
        break;
      case RSB:
        if (stack.length > 0 && stack[stack.length - 1] === LSB) {
          stack.pop();
          drop = true;
        }
        break;
      case RPAR:
        if (stack.length > 0 && stack[stack.length - 1] === LPAR) {
          stack.pop();
          drop = true;
        }
        break;
      case RCUR:
        if (stack.length > 0 && stack[stack.length - 1] === LCUR) {
          stack.pop();
          drop = true;
        }
        break;
      case DQUOTE:
      case SQUOTE:
        if ((i === 0 || s.charCodeAt(i - 1) !== BSLASH) && stack.length === 0) {
          if (quote === 0) quote = c;
          else if (quote === c) {
            quote = 0;
            drop = true;
          }
        }
        break;
    }
    if (!drop && quote === 0 && stack.length === 0) continue; // kept
    // dropped: close the current kept run
    if (i > runStart) out += s.slice(runStart, i);
    runStart = i + 1;
    removed = true;
  }
  if (!removed) return s;
  if (n > runStart) out += s.slice(runStart, n);
  return out;
}

/** True if `s[a, b)` is `0x` followed by one or more hex digits. */
function isPrefixedHex(s: string, a: number, b: number): boolean {
  if (b - a < 3 || s.charCodeAt(a) !== 0x30 || s.charCodeAt(a + 1) !== 0x78) return false;
  for (let i = a + 2; i < b; i++) if (!isHexCode(s.charCodeAt(i))) return false;
  return true;
}

/** True if `s[a, b)` is 4 or more hex digits. */
function isHexRun(s: string, a: number, b: number): boolean {
  if (b - a < 4) return false;
  for (let i = a; i < b; i++) if (!isHexCode(s.charCodeAt(i))) return false;
  return true;
}

/** True if `s[a, b)` is a UUID (8-4-4-4-12 hex digits). */
function isUuid(s: string, a: number, b: number): boolean {
  if (b - a !== 36) return false;
  for (let i = 0; i < 36; i++) {
    const c = s.charCodeAt(a + i);
    if (i === 8 || i === 13 || i === 18 || i === 23) {
      if (c !== 0x2d) return false;
    } else if (!isHexCode(c)) return false;
  }
  return true;
}

/**
 * The word `s[a, b)` becomes after its digits are deleted, or `null` if it is not a word then
 * (an ASCII letter at both ends, letters, `.`, `_`, `-` inside, at least 2 characters).
 */
function wordOf(s: string, a: number, b: number): string | null {
  let first = -1, len = 0, digits = false;
  for (let i = a; i < b; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x30 && c <= 0x39) {
      digits = true;
      continue;
    }
    if (isLetterCode(c)) {
      if (first < 0) first = i;
    } else if (c === 0x2e || c === 0x5f || c === 0x2d) {
      if (len === 0) return null; // a word starts with a letter
    } else return null;
    len++;
  }
  if (len < 2 || first < 0) return null;
  // the first kept character is a letter (checked above); the last kept one must be too
  if (!isLetterCode(lastKept(s, a, b))) return null;
  return digits ? deleteDigits(s, a, b) : s.slice(a, b);
}

function lastKept(s: string, a: number, b: number): number {
  for (let i = b - 1; i >= a; i--) {
    const c = s.charCodeAt(i);
    if (c < 0x30 || c > 0x39) return c;
  }
  return 0;
}

function deleteDigits(s: string, a: number, b: number): string {
  let out = "";
  let run = a;
  for (let i = a; i < b; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x30 && c <= 0x39) {
      if (i > run) out += s.slice(run, i);
      run = i + 1;
    }
  }
  if (b > run) out += s.slice(run, b);
  return out;
}

function isTrimmedRight(c: number): boolean {
  // = : ] , ;
  return c === 0x3d || c === 0x3a || c === 0x5d || c === 0x2c || c === 0x3b;
}

/**
 * The pattern words of a message (steps 1–4 above).
 *
 * @param message the whole message (every line of a multi-line one)
 * @returns at most {@link PATTERN_MAX_WORDS} words, in order
 */
export function patternWords(message: string): string[] {
  const s = removeQuotedAndBrackets(message);
  const words: string[] = [];
  const n = s.length;
  let i = 0;
  while (i < n) {
    while (i < n && isSpaceCode(s.charCodeAt(i))) i++;
    if (i >= n) break;
    const a = i;
    while (i < n && !isSpaceCode(s.charCodeAt(i))) i++;
    let b = i;
    while (b > a && isTrimmedRight(s.charCodeAt(b - 1))) b--;
    if (b - a < 2) continue;
    if (isPrefixedHex(s, a, b) || isHexRun(s, a, b) || isUuid(s, a, b)) continue;
    const w = wordOf(s, a, b);
    if (w === null) continue;
    words.push(w);
    if (words.length >= PATTERN_MAX_WORDS) break;
  }
  return words;
}

/**
 * The `pattern_hash` of a word list: lowercase hex MD5 of the words joined by single spaces.
 */
export function hashWords(words: readonly string[]): string {
  return createHash("md5").update(words.join(" ")).digest("hex");
}

/** The `pattern_hash` of a message: {@link hashWords} of {@link patternWords}. */
export function patternHash(message: string): string {
  return hashWords(patternWords(message));
}
