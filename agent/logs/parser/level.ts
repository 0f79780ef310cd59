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
  // ASCII prefix: one byte a unit
  const m = s.length < max ? s.length : max;
  let j = 0;
  while (j < m && s.charCodeAt(j) < 0x80) j++;
  if (j === m) return m;
  let bytes = j;
  for (let i = j; i < s.length; i++) {
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
  let j = 0;
  const len = s.length;
  while (j < len && s.charCodeAt(j) < 0x80) j++;
  if (j === len) return len;
  let n = j;
  for (let i = j; i < len; i++) {
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

/** Packs up to 4 lower-cased ASCII code units; -1 if one is not ASCII. */
function pack(f: string, a: number, n: number): number {
  let v = 0;
  for (let k = 0; k < n; k++) {
    const c = lowerCode(f.charCodeAt(a + k));
    if (c >= 0x80) return -1;
    v = (v << 8) | c;
  }
  return v;
}

function key(s: string): number {
  let v = 0;
  for (let k = 0; k < s.length; k++) v = (v << 8) | s.charCodeAt(k);
  return v;
}

const K3 = new Map<number, Level>([
  [key("dbg"), "debug"],
  [key("trc"), "debug"],
  [key("inf"), "info"],
  [key("wrn"), "warning"],
  [key("err"), "error"],
  [key("ftl"), "critical"],
]);
const K4 = new Map<number, Level>([
  [key("debu"), "debug"],
  [key("info"), "info"],
  [key("noti"), "info"],
  [key("warn"), "warning"],
  [key("erro"), "error"],
  [key("crit"), "critical"],
]);
const K4_CRITICAL5 = new Set([key("emer"), key("fata"), key("aler")]);
const K5_LAST = new Map<number, number>([
  [key("emer"), 0x67], // g
  [key("fata"), 0x6c], // l
  [key("aler"), 0x74], // t
]);
const LEVEL_EQ = [0x6c, 0x65, 0x76, 0x65, 0x6c, 0x3d]; // "level="

/**
 * The level named by one sub-field `f[a, b)`, after lower-casing, trimming leading `"[(<'` and
 * a `level=` prefix; `unknown` if it names none. (The keys are ASCII: a non-ASCII character
 * among the compared ones fails the comparison here as it does in the reference's byte
 * comparison.)
 */
function levelOfWord(f: string, a: number, b: number): Level {
  while (a < b && isLeftTrim(f.charCodeAt(a))) a++;
  if (b - a >= 6) {
    let k = 0;
    while (k < 6 && lowerCode(f.charCodeAt(a + k)) === LEVEL_EQ[k]) k++;
    if (k === 6) a += 6;
  }
  const len = b - a;
  if (len < 3) return "unknown";
  switch (lowerCode(f.charCodeAt(a))) {
    case 0x61: // a
    case 0x63: // c
    case 0x64: // d
    case 0x65: // e
    case 0x66: // f
    case 0x69: // i
    case 0x6e: // n
    case 0x74: // t
    case 0x77: // w
      break;
    default:
      return "unknown";
  }
  if (len === 3) return K3.get(pack(f, a, 3)) ?? "unknown";
  const k4 = pack(f, a, 4);
  const l = K4.get(k4);
  if (l !== undefined) return l;
  if (len >= 5 && K4_CRITICAL5.has(k4) && lowerCode(f.charCodeAt(a + 4)) === K5_LAST.get(k4)) {
    return "critical";
  }
  return "unknown";
}

function glogLevel(f: string, a: number, b: number): Level {
  if (b - a !== 5) return "unknown";
  for (let i = a + 1; i < b; i++) {
    const c = f.charCodeAt(i);
    if (c < 0x30 || c > 0x39) return "unknown";
  }
  switch (f.charCodeAt(a)) {
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

function redisLevel(f: string, a: number, b: number): Level {
  if (b - a !== 1) return "unknown";
  switch (f.charCodeAt(a)) {
    case 0x2e:
      return "debug"; // .
    case 0x2d:
      return "info"; // -
    case 0x2a: // *
    case 0x23: // #
      return "warning";
  }
  return "unknown";
}

/** Start and end of the first 6 fields (reused: the guess is synchronous). */
const bounds = new Int32Array(12);

function redisFormatLevel(s: string, nFields: number): Level {
  if (nFields < 6) return "unknown";
  const a0 = bounds[0], b0 = bounds[1];
  if (s.charCodeAt(a0) === 0x5b && s.charCodeAt(b0 - 1) === 0x5d) {
    return redisLevel(s, bounds[8], bounds[9]);
  }
  const colon = s.indexOf(":", a0);
  if (colon >= 0 && colon < b0) {
    const second = s.indexOf(":", colon + 1);
    if (second < 0 || second >= b0) {
      const f3 = s.slice(bounds[6], bounds[7]);
      return utf8Length(f3) === 4
        ? redisLevel(s, bounds[10], bounds[11])
        : redisLevel(s, bounds[8], bounds[9]);
    }
  }
  return "unknown";
}

/** The end of what the last {@link scanLevel} looked at (its caller checks it against the cut). */
let reach = 0;

/**
 * The level guess on `line[0, n)` in one pass over the characters (fields end at white space,
 * sub-fields also at separators); sets {@link reach}. Field 0's glog check may run after its
 * sub-fields are looked at: a glog field has no separator and no level word.
 */
function scanLevel(line: string, n: number): Level {
  let nf = 0, fieldStart = -1, subStart = -1;
  for (let i = 0; i <= n; i++) {
    const c = i < n ? line.charCodeAt(i) : 0x20;
    if (c === 0x20 || isSpaceCode(c)) {
      if (fieldStart < 0) continue;
      if (subStart >= 0) {
        const l = levelOfWord(line, subStart, i);
        if (l !== "unknown") {
          reach = i;
          return l;
        }
        subStart = -1;
      }
      if (nf < 6) {
        bounds[nf * 2] = fieldStart;
        bounds[nf * 2 + 1] = i;
      }
      if (nf === 0) {
        const g = glogLevel(line, fieldStart, i);
        if (g !== "unknown") {
          reach = i;
          return g;
        }
      }
      fieldStart = -1;
      if (++nf >= LEVEL_GUESS_FIELDS) {
        reach = i + 1;
        return redisFormatLevel(line, nf);
      }
      continue;
    }
    if (fieldStart < 0) fieldStart = i;
    if (isSubfieldSep(c)) {
      if (subStart >= 0) {
        const l = levelOfWord(line, subStart, i);
        if (l !== "unknown") {
          reach = i;
          return l;
        }
        subStart = -1;
      }
    } else if (subStart < 0) subStart = i;
  }
  reach = n + 1; // the field after the last one could have been longer
  return redisFormatLevel(line, nf);
}

/** Code units of the shortest 255-byte window: 85 characters of 3 bytes. */
const SURE_UNITS = Math.floor(LEVEL_GUESS_BYTES / 3);

/**
 * Guesses the level of a message from its first line: a glog prefix (`I`/`W`/`E`/`F` and four
 * digits) in the first field; else a level word in the first 7 fields (each split on
 * `] ) ; | : , .`); else Redis's level markers; else `unknown`. Only the first 255 UTF-8 bytes
 * are looked at. Allocates nothing; the byte window is measured only when the guess looked
 * beyond the first 85 code units.
 */
export function detectLevel(line: string): Level {
  if (line.length <= SURE_UNITS) return scanLevel(line, line.length);
  const m = line.length < LEVEL_GUESS_BYTES ? line.length : LEVEL_GUESS_BYTES;
  const guess = scanLevel(line, m);
  if (reach <= SURE_UNITS) return guess;
  const n = cutUtf8(line, LEVEL_GUESS_BYTES);
  return n === m ? guess : scanLevel(line, n);
}
