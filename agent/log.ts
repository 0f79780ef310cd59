/**
 * The agent's own log: structured lines on stderr, rate-limited by a token bucket so a storm
 * of failures cannot flood the node's log pipeline. What the limit drops is counted, and the
 * count is reported in the next line that gets through.
 *
 * This is the only module that writes to the console.
 *
 * @module
 */

/** Severity of a log line. */
export type Level = "debug" | "info" | "warn" | "error";

const LEVEL_RANK: Record<Level, number> = { debug: 10, info: 20, warn: 30, error: 40 };

/** Structured fields attached to a log line. */
export type Fields = Record<string, unknown>;

/** The logging surface the agent's modules receive. */
export interface Logger {
  debug(msg: string, fields?: Fields): void;
  info(msg: string, fields?: Fields): void;
  warn(msg: string, fields?: Fields): void;
  error(msg: string, fields?: Fields): void;
  /** A logger that adds `fields` to every line. */
  with(fields: Fields): Logger;
}

/** Options for {@linkcode createLogger}. */
export interface LoggerOptions {
  /** Lowest level written. @default "info" */
  level?: Level;
  /** `json` (one object a line) or `text` (logfmt-like). @default "text" */
  format?: "json" | "text";
  /** Sustained lines per second. @default 10 */
  perSecond?: number;
  /** Lines allowed in a burst. @default 100 */
  burst?: number;
  /** Where lines go; stderr by default. Tests pass an array sink. */
  write?: (line: string) => void;
  /** Clock in milliseconds, for tests. */
  now?: () => number;
}

/** Counts what the rate limit dropped; read by the self-metrics. */
export interface LogStats {
  written: number;
  dropped: number;
}

function formatValue(v: unknown): string {
  if (v instanceof Error) return JSON.stringify(v.message);
  if (typeof v === "string") return /^[\w./:@+-]+$/.test(v) ? v : JSON.stringify(v);
  if (typeof v === "bigint") return v.toString();
  return JSON.stringify(v) ?? "undefined";
}

function toJsonable(fields: Fields): Fields {
  const out: Fields = {};
  for (const [k, v] of Object.entries(fields)) {
    out[k] = v instanceof Error ? v.message : typeof v === "bigint" ? v.toString() : v;
  }
  return out;
}

/** Creates the root logger and the stats object the limiter updates. */
export function createLogger(opts: LoggerOptions = {}): { log: Logger; stats: LogStats } {
  const minRank = LEVEL_RANK[opts.level ?? "info"];
  const format = opts.format ?? "text";
  const perSecond = opts.perSecond ?? 10;
  const burst = Math.max(1, opts.burst ?? 100);
  const now = opts.now ?? Date.now;
  const encoder = new TextEncoder();
  const write = opts.write ??
    ((line: string) => Deno.stderr.writeSync(encoder.encode(line + "\n")));
  const stats: LogStats = { written: 0, dropped: 0 };
  let tokens = burst;
  let last = now();
  let droppedSinceLast = 0;

  function allow(): boolean {
    const t = now();
    tokens = Math.min(burst, tokens + ((t - last) / 1000) * perSecond);
    last = t;
    if (tokens >= 1) {
      tokens -= 1;
      return true;
    }
    return false;
  }

  function emit(level: Level, msg: string, base: Fields, fields?: Fields): void {
    if (LEVEL_RANK[level] < minRank) return;
    if (!allow()) {
      stats.dropped++;
      droppedSinceLast++;
      return;
    }
    const all: Fields = { ...base, ...fields };
    if (droppedSinceLast > 0) {
      all.suppressed = droppedSinceLast;
      droppedSinceLast = 0;
    }
    const ts = new Date(now()).toISOString();
    let line: string;
    if (format === "json") {
      line = JSON.stringify({ ts, level, msg, ...toJsonable(all) });
    } else {
      line = `ts=${ts} level=${level} msg=${JSON.stringify(msg)}`;
      for (const [k, v] of Object.entries(all)) line += ` ${k}=${formatValue(v)}`;
    }
    stats.written++;
    write(line);
  }

  function make(base: Fields): Logger {
    return {
      debug: (m, f) => emit("debug", m, base, f),
      info: (m, f) => emit("info", m, base, f),
      warn: (m, f) => emit("warn", m, base, f),
      error: (m, f) => emit("error", m, base, f),
      with: (f) => make({ ...base, ...f }),
    };
  }
  return { log: make({}), stats };
}

/** A logger that drops everything, for tests that don't look at logs. */
export const silentLogger: Logger = {
  debug() {},
  info() {},
  warn() {},
  error() {},
  with() {
    return silentLogger;
  },
};
