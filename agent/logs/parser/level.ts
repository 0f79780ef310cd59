/**
 * Log levels and how a message's level is guessed from its first line (contract §5.2, as
 * coroot's logparser does it).
 *
 * @module
 */
import { isSpaceCode } from "./pattern.ts";

/** The `level` label values of `container_log_messages_total` (contract §2.7). */
export type Level = "unknown" | "debug" | "info" | "warning" | "error" | "critical";

/** Every level, in label order. */
export const LEVELS: readonly Level[] = [
  "unknown",
  "debug",
  "info",
  "warning",
  "error",
  "critical",
];

/** True for the levels whose messages get patterns (warning, error, critical). */
export function hasPatterns(level: Level): boolean {
  return level === "warning" || level === "error" || level === "critical";
}

/**
 * The level of a syslog/journald `PRIORITY` value: 0–2 critical, 3 error, 4 warning, 5–6 info,
 * 7 debug, anything else unknown.
 */
export function levelOfPriority(priority: string | number): Level {
  switch (String(priority)) {
    case "0":
    case "1":
    case "2":
      return "critical";
    case "3":
      return "error";
    case "4":
      return "warning";
    case "5":
    case "6":
      return "info";
    case "7":
      return "debug";
  }
  return "unknown";
}

/** Bytes of the first line the guess looks at (the reference's limit, in UTF-8 bytes). */
export const LEVEL_GUESS_BYTES = 255;
/** Fields of the first line searched for a level word. */
export const LEVEL_GUESS_FIELDS = 7;

/** Index in `s` where its UTF-8 encoding reaches `max` bytes (a partial character is left out). */
function cutUtf8(s: string, max: number): number {
  if (s.length * 3 <= max) return s.length;
  let bytes = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    let w: number;
    let units = 1;
    if (c < 0x80) w = 1;
    else if (c < 0x800) w = 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        w = 4;
        units = 2;
      } else w = 3;
    } else w = 3;
    if (bytes + w > max) return i;
    bytes += w;
    i += units - 1;
  }
  return s.length;
}

/** The UTF-8 length of `s`. */
export function utf8Length(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        n += 4;
        i++;
      } else n += 3;
    } else n += 3;
  }
  return n;
}

/** Whitespace-separated fields of `s` (Go's `strings.Fields`). */
function fields(s: string): string[] {
  const out: string[] = [];
  const n = s.length;
  let i = 0;
  while (i < n) {
    while (i < n && isSpaceCode(s.charCodeAt(i))) i++;
    if (i >= n) break;
    const a = i;
    while (i < n && !isSpaceCode(s.charCodeAt(i))) i++;
    out.push(s.slice(a, i));
  }
  return out;
}

function isSubfieldSep(c: number): boolean {
  // ] ) ; | : , .
  return c === 0x5d || c === 0x29 || c === 0x3b || c === 0x7c || c === 0x3a || c === 0x2c ||
    c === 0x2e;
}

function isLeftTrim(c: number): boolean {
  // " [ ( < '
  return c === 0x22 || c === 0x5b || c === 0x28 || c === 0x3c || c === 0x27;
}

/** Lower case as Go's `unicode.ToLower` does for the characters that can become ASCII. */
function lowerCode(c: number): number {
  if (c >= 0x41 && c <= 0x5a) return c + 32;
  if (c === 0x130) return 0x69; // İ → i
  if (c === 0x212a) return 0x6b; // Kelvin sign → k
  return c;
}

/**
 * The level named by one sub-field `f[a, b)`, after lower-casing, trimming leading `"[(<'` and
 * a `level=` prefix; `unknown` if it names none.
 */
function levelOfWord(f: string, a: number, b: number): Level {
  while (a < b && isLeftTrim(lowerCode(f.charCodeAt(a)))) a++;
  // "level=" prefix
  if (b - a >= 6) {
    let m = true;
    for (let k = 0; k < 6; k++) {
      if (lowerCode(f.charCodeAt(a + k)) !== "level=".charCodeAt(k)) {
        m = false;
        break;
      }
    }
    if (m) a += 6;
  }
  const len = b - a;
  if (len < 3) return "unknown";
  // any non-ASCII character in the first five makes every comparison below fail (the keys are
  // ASCII), both for Go's byte comparisons and here
  const c0 = lowerCode(f.charCodeAt(a)), c1 = lowerCode(f.charCodeAt(a + 1));
  const c2 = lowerCode(f.charCodeAt(a + 2));
  if (len === 3) {
    // a 3-unit field with a non-ASCII character is 4+ bytes in Go: compared by its 4-byte
    // prefix, which then fails too
    const k = String.fromCharCode(c0, c1, c2);
    switch (k) {
      case "dbg":
      case "trc":
        return "debug";
      case "inf":
        return "info";
      case "wrn":
        return "warning";
      case "err":
        return "error";
      case "ftl":
        return "critical";
    }
    return "unknown";
  }
  const c3 = lowerCode(f.charCodeAt(a + 3));
  const k4 = String.fromCharCode(c0, c1, c2, c3);
  switch (k4) {
    case "debu":
      return "debug";
    case "info":
    case "noti":
      return "info";
    case "warn":
      return "warning";
    case "erro":
      return "error";
    case "crit":
      return "critical";
    case "emer":
    case "fata":
    case "aler": {
      if (len < 5) return "unknown";
      const k5 = k4 + String.fromCharCode(lowerCode(f.charCodeAt(a + 4)));
      if (k5 === "emerg" || k5 === "fatal" || k5 === "alert") return "critical";
      return "unknown";
    }
  }
  return "unknown";
}

function glogLevel(first: string): Level {
  if (first.length !== 5) return "unknown";
  for (let i = 1; i < 5; i++) {
    const c = first.charCodeAt(i);
    if (c < 0x30 || c > 0x39) return "unknown";
  }
  switch (first.charCodeAt(0)) {
    case 0x49:
      return "info"; // I
    case 0x57:
      return "warning"; // W
    case 0x45:
      return "error"; // E
    case 0x46:
      return "critical"; // F
  }
  return "unknown";
}

function redisLevel(f: string): Level {
  switch (f) {
    case ".":
      return "debug";
    case "-":
      return "info";
    case "*":
    case "#":
      return "warning";
  }
  return "unknown";
}

function redisFormatLevel(fs: string[]): Level {
  if (fs.length < 6) return "unknown";
  const f0 = fs[0];
  if (f0.startsWith("[") && f0.endsWith("]")) return redisLevel(fs[4]);
  const colon = f0.indexOf(":");
  if (colon >= 0 && f0.indexOf(":", colon + 1) < 0) {
    return redisLevel(utf8Length(fs[3]) === 4 ? fs[5] : fs[4]);
  }
  return "unknown";
}

/**
 * Guesses the level of a message from its first line: a glog prefix (`I`/`W`/`E`/`F` and four
 * digits) in the first field; else a level word in the first 7 fields (each split on
 * `] ) ; | : , .`); else Redis's level markers; else `unknown`. Only the first 255 UTF-8 bytes
 * are looked at.
 */
export function detectLevel(line: string): Level {
  const cut = cutUtf8(line, LEVEL_GUESS_BYTES);
  const fs = fields(cut === line.length ? line : line.slice(0, cut));
  if (fs.length === 0) return "unknown";
  const g = glogLevel(fs[0]);
  if (g !== "unknown") return g;
  const limit = Math.min(fs.length, LEVEL_GUESS_FIELDS);
  for (let k = 0; k < limit; k++) {
    const f = fs[k];
    let a = 0;
    const n = f.length;
    while (a < n) {
      while (a < n && isSubfieldSep(f.charCodeAt(a))) a++;
      if (a >= n) break;
      const s = a;
      while (a < n && !isSubfieldSep(f.charCodeAt(a))) a++;
      const l = levelOfWord(f, s, a);
      if (l !== "unknown") return l;
    }
  }
  return redisFormatLevel(fs);
}
