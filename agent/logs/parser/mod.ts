/**
 * The log parser of one (container, source): decoder → multiline collector → level → JSON
 * logs → pattern → counters, as contract §5.2 describes coroot's logparser. Pure: no I/O, no
 * timers (the caller calls {@link LogParser.flush} on a timer).
 *
 * @module
 */
import { type Pattern, PatternClassifier } from "./classifier.ts";
import { CriDecoder, DockerJsonDecoder, type LineDecoder, LogDecodeError } from "./decoders.ts";
import { parseJsonLog } from "./json_log.ts";
import { detectLevel, hasPatterns, type Level, LEVELS } from "./level.ts";
import { MultilineCollector, utf8CutIndex } from "./multiline.ts";

export type { Level } from "./level.ts";
export { detectLevel, hasPatterns, levelOfPriority, LEVELS } from "./level.ts";
export {
  containsTimestamp,
  type MessageSink,
  MULTILINE_LIMIT_BYTES,
  MULTILINE_TIMEOUT_MS,
  MultilineCollector,
} from "./multiline.ts";
export { CriDecoder, DockerJsonDecoder, type LineDecoder, LogDecodeError } from "./decoders.ts";
export { hashWords, patternHash, patternWords } from "./pattern.ts";
export { OVERFLOW_HASH, OVERFLOW_SAMPLE, type Pattern, PatternClassifier } from "./classifier.ts";
export { levelOfValue, parseJsonLog } from "./json_log.ts";

/** One line as a source read it. */
export interface LogEntry {
  content: string;
  /** ms since the epoch */
  timestampMs: number;
  /** source-provided, e.g. journald `PRIORITY` */
  level?: Level;
}

/** One complete message (for OTLP export). */
export interface LogMessage {
  content: string;
  level: Level;
  /** ms since the epoch: the runtime's timestamp when the decoder has one, else the caller's */
  timestampMs: number;
  /** empty for unknown/debug/info (no pattern) */
  patternHash: string;
  /** the pattern's sample, cut to `maxLabelLength`; empty for unknown/debug/info */
  sample: string;
  /** the other fields of a JSON log line, flattened */
  attributes?: Record<string, string>;
}

/** A cumulative count of `container_log_messages_total`. */
export interface LogCounter {
  level: Level;
  /** empty for unknown/debug/info */
  patternHash: string;
  /** cut to `maxLabelLength` UTF-8 bytes; empty for unknown/debug/info */
  sample: string;
  messages: number;
}

/** Options of a {@link LogParser}. */
export interface LogParserOptions {
  /** how raw lines are wrapped: plain, Docker json-file, or CRI */
  decoder: "none" | "docker" | "cri";
  /** reduce JSON log lines to message + level (off with `--disable-json-log-parsing`) */
  jsonParsing: boolean;
  /** patterns per level before the overflow pattern (`--log-patterns-per-container`) */
  patternsPerLevel: number;
  /** longest `sample`, UTF-8 bytes (`--max-label-length`) */
  maxLabelLength: number;
  /** receives every message (OTLP export); JSON attributes are built only when this is set */
  onMessage?: (m: LogMessage) => void;
  /** the clock line arrivals are stamped with for the multiline timeout; @default Date.now */
  clock?: () => number;
}

/** Cuts `s` to at most `max` UTF-8 bytes, never inside a character (the reference's rule). */
export function truncateLabel(s: string, max: number): string {
  if (s.length <= max / 3) return s;
  return s.slice(0, utf8CutIndex(s, Math.max(0, max)));
}

/**
 * The parser of one (container, source). Feed it raw lines with {@link push}; read
 * {@link counters} at any time. Odd input is counted in {@link errors}, never thrown.
 */
export class LogParser {
  #decodeErrors = 0;
  #invalidUtf8 = 0;

  #decoder: LineDecoder | null;
  #json: boolean;
  #maxLabel: number;
  #onMessage: ((m: LogMessage) => void) | undefined;
  #multiline: MultilineCollector;
  #plain = new Map<Level, { messages: number }>();
  #classifiers = new Map<Level, PatternClassifier>();
  #patternsPerLevel: number;
  #utf8 = new TextDecoder("utf-8", { fatal: true });

  constructor(opts: LogParserOptions) {
    this.#decoder = opts.decoder === "docker"
      ? new DockerJsonDecoder()
      : opts.decoder === "cri"
      ? new CriDecoder()
      : null;
    this.#json = opts.jsonParsing;
    this.#maxLabel = opts.maxLabelLength;
    this.#onMessage = opts.onMessage;
    this.#patternsPerLevel = opts.patternsPerLevel;
    this.#multiline = new MultilineCollector({
      onMessage: (content, level, ts) => this.#count(content, level, ts, undefined),
      clock: opts.clock,
    });
  }

  /**
   * Adds one raw line as read from the source (no trailing newline).
   *
   * @param line the raw line; a line holding a lone surrogate (text decoded without checks from
   *   invalid UTF-8) is dropped and counted in `errors.invalidUtf8`
   * @param entry the source's timestamp (ms since the epoch; default now) and level
   */
  push(line: string, entry?: { timestampMs?: number; level?: Level }): void {
    if (hasLoneSurrogate(line)) {
      this.#invalidUtf8++;
      return;
    }
    this.#pushText(line, entry?.timestampMs ?? Date.now(), entry?.level ?? "unknown");
  }

  /**
   * Adds one raw line as bytes (no trailing newline): invalid UTF-8 is dropped and counted in
   * `errors.invalidUtf8` (the reference drops such lines too).
   */
  pushBytes(line: Uint8Array, entry?: { timestampMs?: number; level?: Level }): void {
    let text: string;
    try {
      text = this.#utf8.decode(line);
    } catch (e) {
      if (!(e instanceof TypeError)) throw e;
      this.#invalidUtf8++;
      return;
    }
    this.#pushText(text, entry?.timestampMs ?? Date.now(), entry?.level ?? "unknown");
  }

  #pushText(line: string, ts: number, level: Level): void {
    if (this.#decoder !== null) {
      let d;
      try {
        d = this.#decoder.decode(line);
      } catch (e) {
        if (!(e instanceof LogDecodeError)) throw e;
        this.#decodeErrors++;
        return;
      }
      if (d === null) return;
      line = d.content;
      if (!Number.isNaN(d.timestampMs)) ts = d.timestampMs;
    }
    if (this.#json && line.length > 1 && line.charCodeAt(0) === 0x7b) {
      const j = parseJsonLog(line, this.#onMessage !== undefined);
      if (j !== null) {
        this.#multiline.stop(); // a JSON line is a message of its own
        let lv = j.level;
        if (lv === "unknown") lv = detectLevel(j.message);
        if (lv === "unknown") lv = level;
        this.#count(j.message, lv, ts, j.attributes);
        return;
      }
    }
    this.#multiline.add(line, ts, level);
  }

  /**
   * Counted oddities: lines that are not in the decoder's format (`decode`), lines that are not
   * valid UTF-8 (`invalidUtf8`: dropped, as the reference drops them), and cut pieces of
   * over-long lines and messages (`cut`). Cumulative.
   */
  get errors(): { readonly decode: number; readonly invalidUtf8: number; readonly cut: number } {
    return {
      decode: this.#decodeErrors,
      invalidUtf8: this.#invalidUtf8,
      cut: this.#multiline.cut + (this.#decoder?.cut ?? 0),
    };
  }

  /** Emits the pending multi-line message if no line came for 1 s before `nowMs`. */
  flush(nowMs: number): void {
    this.#multiline.flush(nowMs);
  }

  /** Emits what is pending (partial lines, the collected message). */
  stop(): void {
    if (this.#decoder !== null) {
      for (const d of this.#decoder.drain()) {
        this.#multiline.add(d.content, Number.isNaN(d.timestampMs) ? Date.now() : d.timestampMs);
      }
    }
    this.#multiline.stop();
  }

  /** Cumulative counts per (level, pattern), for `container_log_messages_total`. */
  *counters(): Iterable<LogCounter> {
    for (const level of LEVELS) {
      const p = this.#plain.get(level);
      if (p !== undefined) yield { level, patternHash: "", sample: "", messages: p.messages };
      const c = this.#classifiers.get(level);
      if (c === undefined) continue;
      // two patterns can share a hash (their words agree, their shapes do not) and, once cut to
      // the label length, a sample: such a pair is one series, so it is one counter
      const seen = new Map<string, LogCounter>();
      for (const q of c.patterns()) {
        const k = q.hash + "\u0000" + q.sample;
        const prev = seen.get(k);
        if (prev !== undefined) prev.messages += q.messages;
        else seen.set(k, { level, patternHash: q.hash, sample: q.sample, messages: q.messages });
      }
      yield* seen.values();
    }
  }

  #count(content: string, level: Level, ts: number, attributes?: Record<string, string>): void {
    let hash = "", sample = "";
    if (hasPatterns(level)) {
      let c = this.#classifiers.get(level);
      if (c === undefined) {
        c = new PatternClassifier({
          maxPatterns: this.#patternsPerLevel,
          sampleOf: (s) => truncateLabel(s, this.#maxLabel),
        });
        this.#classifiers.set(level, c);
      }
      const p: Pattern = c.classify(content);
      hash = p.hash;
      sample = p.sample;
    } else {
      let p = this.#plain.get(level);
      if (p === undefined) this.#plain.set(level, p = { messages: 0 });
      p.messages++;
    }
    if (this.#onMessage !== undefined) {
      const m: LogMessage = { content, level, timestampMs: ts, patternHash: hash, sample };
      if (attributes !== undefined) m.attributes = attributes;
      this.#onMessage(m);
    }
  }
}

/** True if `s` holds a UTF-16 surrogate without its pair (text that was not valid UTF-8). */
function hasLoneSurrogate(s: string): boolean {
  return !s.isWellFormed();
}
