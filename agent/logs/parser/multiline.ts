/**
 * Joins the lines of one log message (stack traces, pretty-printed JSON, Python tracebacks)
 * into one message, as coroot's logparser does (contract §5.2).
 *
 * A line continues the message being collected if it is empty, is `}`, starts with a tab or two
 * spaces, or (unless the message's first line holds a `dd:dd:dd` time) starts with
 * `Caused by: ` or `for call at`, or belongs to a Python traceback. When the first line holds a
 * time in its first 100 bytes, only a line that holds one too starts a new message. A message is
 * emitted when the next one starts, after {@link MULTILINE_TIMEOUT_MS} without a new line
 * ({@link MultilineCollector.flush}), or on {@link MultilineCollector.stop}. Each message is cut
 * at {@link MULTILINE_LIMIT_BYTES} (UTF-8 bytes, never inside a character); what is cut is
 * counted.
 *
 * @module
 */
import { detectLevel, type Level, utf8Length } from "./level.ts";
import { isSpaceCode } from "./pattern.ts";

/** A message is emitted after this long without a new line (the reference's 1 s). */
export const MULTILINE_TIMEOUT_MS = 1000;
/** Most UTF-8 bytes a message keeps (each line counts one more for its newline). */
export const MULTILINE_LIMIT_BYTES = 64 * 1024;
/** Bytes of a line searched for a `dd:dd:dd` time. */
export const TIMESTAMP_SEARCH_BYTES = 100;

/** One complete message out of the collector. */
export interface CollectedMessage {
  /** the lines joined by `\n`, surrounding white space trimmed */
  content: string;
  /** guessed from the first line; else the first line's source-provided level; else unknown */
  level: Level;
  /** the first line's timestamp (ms since the epoch) */
  timestampMs: number;
}

/**
 * True if the first 100 bytes of `line` hold a `dd:dd:dd` time (two digits, colon, two digits,
 * colon, two digits; a run of digits restarts every third digit as the reference counts them).
 */
export function containsTimestamp(line: string): boolean {
  // the reference looks at bytes; a non-ASCII character resets its state like any other
  // non-digit, non-colon byte, so code units give the same answer as long as the window is cut
  // at the same place
  let n = line.length > TIMESTAMP_SEARCH_BYTES ? TIMESTAMP_SEARCH_BYTES : line.length;
  let exact = false; // n is exact once a character of more than one byte was seen
  let digits = 0, colons = 0;
  for (let i = 0; i < n; i++) {
    const c = line.charCodeAt(i);
    if (c >= 0x80 && !exact) {
      // a character of more than one byte: the window ends before 100 code units
      n = windowUnits(line);
      exact = true;
      if (i >= n) break;
    }
    if (c >= 0x30 && c <= 0x39) {
      digits++;
      if (digits > 2) digits = 0;
      if (digits === 2 && colons === 2) return true;
    } else if (c === 0x3a) {
      if (digits === 2) colons++;
      digits = 0;
    } else {
      digits = 0;
      colons = 0;
    }
  }
  return false;
}

/** Code units of `line` that lie within its first 100 UTF-8 bytes (a cut character counts). */
function windowUnits(line: string): number {
  let bytes = 0;
  for (let i = 0; i < line.length; i++) {
    if (bytes >= TIMESTAMP_SEARCH_BYTES) return i;
    const c = line.charCodeAt(i);
    // a surrogate counts 2 (a pair is 4 bytes), other characters their UTF-8 length
    bytes += c < 0x80 ? 1 : c < 0x800 ? 2 : (c >= 0xd800 && c <= 0xdfff) ? 2 : 3;
  }
  return line.length;
}

const PY_CAUSE = "The above exception was the direct cause of the following exception:";
const PY_DURING = "During handling of the above exception, another exception occurred:";

/** Index in `s` where its UTF-8 encoding reaches `max` bytes, never inside a character. */
export function utf8CutIndex(s: string, max: number): number {
  if (s.length * 3 <= max) return s.length;
  let bytes = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    let w = 3, units = 1;
    if (c < 0x80) w = 1;
    else if (c < 0x800) w = 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        w = 4;
        units = 2;
      }
    }
    if (bytes + w > max) return i;
    bytes += w;
    i += units - 1;
  }
  return s.length;
}

/** Trims Unicode white space at both ends (Go's `strings.TrimSpace`). */
export function trimSpace(s: string): string {
  let a = 0, b = s.length;
  while (a < b && isSpaceCode(s.charCodeAt(a))) a++;
  while (b > a && isSpaceCode(s.charCodeAt(b - 1))) b--;
  return a === 0 && b === s.length ? s : s.slice(a, b);
}

/**
 * Receives each complete message (arguments, not an object: one allocation less a message).
 *
 * @param content the lines joined by `\n`, surrounding white space trimmed
 * @param level guessed from the first line; else its source-provided level; else unknown
 * @param timestampMs the first line's timestamp (ms since the epoch)
 */
export type MessageSink = (content: string, level: Level, timestampMs: number) => void;

/** A {@link MessageSink} that collects {@link CollectedMessage} objects into `out` (tests). */
export function collectInto(out: CollectedMessage[]): MessageSink {
  return (content, level, timestampMs) => out.push({ content, level, timestampMs });
}

/** Options of a {@link MultilineCollector}. */
export interface MultilineOptions {
  /** receives every complete message */
  onMessage: MessageSink;
  /** @default MULTILINE_LIMIT_BYTES */
  limitBytes?: number;
  /** @default MULTILINE_TIMEOUT_MS */
  timeoutMs?: number;
  /** the clock a line's arrival is stamped with (ms); @default Date.now */
  clock?: () => number;
}

/** Collects lines into messages; see the module doc. Not thread-safe (nothing here is). */
export class MultilineCollector {
  #onMessage: MessageSink;
  #limit: number;
  #timeout: number;
  #clock: () => number;
  #lines: string[] = [];
  #size = 0;
  #exact = false;
  #level: Level = "unknown";
  #ts = 0;
  #lastReceive = 0;
  #firstHasTime = false;
  /** the last line searched for a time by the next-message rule, and the answer */
  #timeLine = "";
  #timeLineHas = false;
  #pyTraceback = false;
  #pyTracebackExpected = false;
  /** lines (or their tails) left out because the message reached its size limit */
  cut = 0;

  constructor(opts: MultilineOptions) {
    this.#onMessage = opts.onMessage;
    this.#limit = opts.limitBytes ?? MULTILINE_LIMIT_BYTES;
    this.#timeout = opts.timeoutMs ?? MULTILINE_TIMEOUT_MS;
    this.#clock = opts.clock ?? Date.now;
  }

  /** True while a message is being collected. */
  get pending(): boolean {
    return this.#lines.length > 0;
  }

  /**
   * Adds one line (a trailing `\n` is dropped).
   *
   * @param line the line, valid text (the caller drops invalid UTF-8 and counts it)
   * @param timestampMs when the source says it was written (ms since the epoch)
   * @param level the source-provided level (journald `PRIORITY`), used when the text names none
   */
  add(line: string, timestampMs: number, level: Level = "unknown"): void {
    if (line.length > 0 && line.charCodeAt(line.length - 1) === 0x0a) line = line.slice(0, -1);
    if (line === "") {
      if (this.#lines.length > 0) this.#append(line, timestampMs, level);
      return;
    }
    if (this.#isNextMessage(line)) {
      const py = this.#pyTraceback;
      this.#emit();
      this.#pyTraceback = py;
    }
    this.#append(line, timestampMs, level);
  }

  /** Emits the pending message if no line arrived for the timeout before `nowMs`. */
  flush(nowMs: number): void {
    if (this.#lines.length > 0 && nowMs - this.#lastReceive >= this.#timeout) this.#emit();
  }

  /** Emits the pending message now. */
  stop(): void {
    this.#emit();
  }

  #append(line: string, ts: number, level: Level): void {
    if (this.#lines.length === 0) {
      this.#ts = ts;
      this.#level = detectLevel(line);
      if (this.#level === "unknown") this.#level = level;
      // the line was just checked for a time if it ended the previous message that way
      this.#firstHasTime = line === this.#timeLine ? this.#timeLineHas : containsTimestamp(line);
      this.#timeLine = ""; // holds no line longer than needed
    }
    // #size is exact once #exact is set; before that it is an upper bound (3 bytes a code unit)
    // that is still within the limit, so no line needs measuring while messages are short
    if (!this.#exact && this.#size + line.length * 3 + 1 > this.#limit) {
      let exact = 0;
      for (const l of this.#lines) exact += utf8Length(l) + 1;
      this.#size = exact;
      this.#exact = true;
    }
    if (!this.#exact) {
      this.#lines.push(line);
      this.#size += line.length * 3 + 1;
      this.#lastReceive = this.#clock();
      return;
    }
    const remaining = this.#limit - this.#size;
    if (remaining <= 0) {
      this.cut++;
      return;
    }
    let bytes = utf8Length(line);
    if (bytes > remaining) {
      const at = utf8CutIndex(line, remaining);
      this.cut++;
      if (at === 0) return;
      line = line.slice(0, at);
      bytes = utf8Length(line);
    }
    this.#lines.push(line);
    this.#size += bytes + 1;
    this.#lastReceive = this.#clock();
  }

  #isNextMessage(l: string): boolean {
    const c0 = l.charCodeAt(0);
    if (l === "}" || c0 === 0x09 || (c0 === 0x20 && l.charCodeAt(1) === 0x20)) return false;
    if (this.#firstHasTime) {
      this.#timeLine = l;
      return this.#timeLineHas = containsTimestamp(l);
    }
    if (l.startsWith("Caused by: ") || l.startsWith("for call at")) return false;
    if (l.startsWith("Traceback ")) {
      this.#pyTraceback = true;
      if (this.#pyTracebackExpected) {
        this.#pyTracebackExpected = false;
        return false;
      }
      return this.#lines.length > 0;
    }
    if (l === PY_CAUSE || l === PY_DURING) {
      this.#pyTracebackExpected = true;
      return false;
    }
    if (this.#pyTraceback) {
      this.#pyTraceback = false;
      return false;
    }
    return true;
  }

  #emit(): void {
    if (this.#lines.length === 0) return;
    const content = trimSpace(this.#lines.length === 1 ? this.#lines[0] : this.#lines.join("\n"));
    const level = this.#level, ts = this.#ts;
    this.#lines.length = 0;
    this.#size = 0;
    this.#exact = false;
    this.#level = "unknown";
    this.#ts = 0;
    this.#firstHasTime = false;
    this.#pyTraceback = false;
    this.#pyTracebackExpected = false;
    this.#onMessage(content, level, ts);
  }
}
