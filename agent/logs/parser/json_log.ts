/**
 * Structured (JSON) log lines: a line that is one JSON object is reduced to its message and
 * level, and its other fields become attributes (contract §5.2, logparser v1.3's JSON logs).
 *
 * - message: the first of `msg`, `message`, `@m`, `@mt`, `body`, `log` that holds a string
 *   (a non-string value there is written as JSON);
 * - level: the first of `level`, `severity`, `loglevel`, `log.level`, `lvl`, `@l`,
 *   `severity_text`, `levelname` ({@link levelOfValue});
 * - timestamp keys (`time`, `timestamp`, `ts`, `@t`, `@timestamp`, `date`, `datetime`) are
 *   dropped;
 * - the rest are flattened with dotted keys into at most {@link MAX_ATTRIBUTES} attributes,
 *   {@link MAX_DEPTH} levels deep, each value at most {@link MAX_ATTRIBUTE_VALUE} UTF-16 units
 *   (arrays and what lies deeper are written as JSON).
 *
 * A line with none of the message keys is not a structured message (it stays as it is).
 *
 * @module
 */
import type { Level } from "./level.ts";

/** Most attributes taken from one line. */
export const MAX_ATTRIBUTES = 100;
/** Deepest nesting flattened. */
export const MAX_DEPTH = 8;
/** Longest attribute value kept. */
export const MAX_ATTRIBUTE_VALUE = 4096;

const MESSAGE_KEYS = ["msg", "message", "@m", "@mt", "body", "log"];
const LEVEL_KEYS = [
  "level",
  "severity",
  "loglevel",
  "log.level",
  "lvl",
  "@l",
  "severity_text",
  "levelname",
];
const TIME_KEYS = new Set(["time", "timestamp", "ts", "@t", "@timestamp", "date", "datetime"]);

/** A structured line, reduced. */
export interface JsonLog {
  message: string;
  /** from the level key; `unknown` if there is none or it names no level */
  level: Level;
  /** the other fields, flattened (only when asked for) */
  attributes?: Record<string, string>;
}

/**
 * The level a JSON level value names: strings by their lower-cased start (`trace`/`debug`,
 * `info`/`notice`, `warn`, `err`, `fatal`/`panic`/`crit`/`alert`/`emerg`, and single letters
 * `d`/`i`/`w`/`e`/`f`), numbers as bunyan/pino levels (10–29 debug, 30 info, 40 warning,
 * 50 error, 60–99 critical, by tens).
 */
export function levelOfValue(v: unknown): Level {
  if (typeof v === "number" || (typeof v === "string" && /^\d+$/.test(v))) {
    const n = Number(v);
    if (n >= 10 && n < 30) return "debug";
    if (n >= 30 && n < 40) return "info";
    if (n >= 40 && n < 50) return "warning";
    if (n >= 50 && n < 60) return "error";
    if (n >= 60 && n < 100) return "critical";
    return "unknown";
  }
  if (typeof v !== "string") return "unknown";
  const s = v.trim().toLowerCase();
  if (s.length === 1) {
    switch (s) {
      case "t":
      case "d":
        return "debug";
      case "i":
        return "info";
      case "w":
        return "warning";
      case "e":
        return "error";
      case "f":
      case "c":
        return "critical";
    }
    return "unknown";
  }
  if (s.startsWith("trac") || s.startsWith("debu") || s === "dbg" || s === "trc") return "debug";
  if (s.startsWith("info") || s.startsWith("noti") || s === "inf") return "info";
  if (s.startsWith("warn") || s === "wrn") return "warning";
  if (s.startsWith("err")) return "error";
  if (
    s.startsWith("fatal") || s.startsWith("panic") || s.startsWith("crit") ||
    s.startsWith("alert") || s.startsWith("emerg") || s === "ftl"
  ) return "critical";
  return "unknown";
}

function valueText(v: unknown): string {
  const s = typeof v === "string" ? v : JSON.stringify(v) ?? String(v);
  return s.length > MAX_ATTRIBUTE_VALUE ? s.slice(0, MAX_ATTRIBUTE_VALUE) : s;
}

function flatten(
  o: Record<string, unknown>,
  prefix: string,
  depth: number,
  skip: Set<string> | null,
  out: Record<string, string>,
  count: { n: number },
): void {
  for (const k in o) {
    if (count.n >= MAX_ATTRIBUTES) return;
    if (skip !== null && skip.has(k)) continue;
    const v = o[k];
    const key = prefix === "" ? k : `${prefix}.${k}`;
    if (
      typeof v === "object" && v !== null && !Array.isArray(v) && depth + 1 < MAX_DEPTH
    ) {
      flatten(v as Record<string, unknown>, key, depth + 1, null, out, count);
      continue;
    }
    if (v === null || v === undefined) continue;
    out[key] = valueText(v);
    count.n++;
  }
}

/**
 * Reads a structured line.
 *
 * @param line one line; only a line whose first and last non-blank characters are `{` and `}`
 *   is tried
 * @param withAttributes whether to build {@link JsonLog.attributes} (only OTLP needs them)
 * @returns the reduced line, or `null` if it is not a JSON object with a message key
 */
export function parseJsonLog(line: string, withAttributes: boolean): JsonLog | null {
  let a = 0, b = line.length;
  while (a < b && line.charCodeAt(a) <= 0x20) a++;
  while (b > a && line.charCodeAt(b - 1) <= 0x20) b--;
  if (b - a < 2 || line.charCodeAt(a) !== 0x7b || line.charCodeAt(b - 1) !== 0x7d) return null;
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch {
    return null; // not JSON: an ordinary line that happens to start with "{"
  }
  if (typeof v !== "object" || v === null || Array.isArray(v)) return null;
  const o = v as Record<string, unknown>;
  let msgKey = "";
  for (const k of MESSAGE_KEYS) {
    if (Object.hasOwn(o, k) && o[k] !== null && o[k] !== undefined) {
      msgKey = k;
      break;
    }
  }
  if (msgKey === "") return null;
  const mv = o[msgKey];
  const message = typeof mv === "string" ? mv : JSON.stringify(mv) ?? "";
  let level: Level = "unknown";
  let levelKey = "";
  for (const k of LEVEL_KEYS) {
    if (Object.hasOwn(o, k)) {
      levelKey = k;
      level = levelOfValue(o[k]);
      break;
    }
  }
  if (!withAttributes) return { message, level };
  const skip = new Set(TIME_KEYS);
  skip.add(msgKey);
  if (levelKey !== "") skip.add(levelKey);
  const attributes: Record<string, string> = {};
  flatten(o, "", 0, skip, attributes, { n: 0 });
  return { message, level, attributes };
}
