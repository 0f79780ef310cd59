/**
 * Lines of host files that a parser skipped, counted in one family for the whole agent,
 * `osprey_parse_errors_total{collector,file}`, and logged with their file, line and reason at
 * most once per `logEveryMs` for each collector and file (how many were not logged rides on
 * the next line as `suppressed`). A file that keeps one odd line would otherwise log it every
 * round.
 *
 * One instance per registry ({@linkcode parseErrors}), so the node and containers modules
 * count into the same family without passing it around.
 *
 * @module
 */
import type { FileFormatError, SkipLine } from "./file_format_error.ts";
import type { Logger } from "./log.ts";
import { silentLogger } from "./log.ts";
import type { Counter, CounterSeries, Registry } from "./metrics/mod.ts";

/** Options of {@linkcode ParseErrors}. */
export interface ParseErrorsOptions {
  /** Where the skipped lines are logged. @default silentLogger */
  readonly log?: Logger;
  /** At most one log line per collector and file this often. @default 600000 (10 min) */
  readonly logEveryMs?: number;
  /** Clock in milliseconds (tests). @default Date.now */
  readonly now?: () => number;
}

interface Slot {
  readonly series: CounterSeries;
  /** When the last log line for this slot was written; -Infinity before the first. */
  lastLogged: number;
  /** Skipped lines not logged since then. */
  suppressed: number;
}

/** What every view of one registry's skipped lines shares: the family and the log pacing. */
interface SharedCounts {
  readonly family: Counter<readonly ["collector", "file"]>;
  readonly every: number;
  readonly now: () => number;
  readonly slots: Map<string, Slot>;
}

/** The family of skipped lines and its log. */
export class ParseErrors {
  readonly #shared: SharedCounts;
  readonly #log: Logger;

  /**
   * @param source the registry to create the family in, or a ParseErrors whose counts and log
   *   pacing this one shares (then only `opts.log` is used)
   */
  constructor(source: Registry | ParseErrors, opts: ParseErrorsOptions = {}) {
    this.#shared = source instanceof ParseErrors ? source.#shared : {
      family: source.counter({
        name: "osprey_parse_errors_total",
        help: "Lines of host files skipped because they could not be parsed (each costs only " +
          "the series it would have fed), by collector and file",
        labelNames: ["collector", "file"] as const,
      }),
      every: opts.logEveryMs ?? 600_000,
      now: opts.now ?? Date.now,
      slots: new Map(),
    };
    this.#log = opts.log ?? silentLogger;
  }

  /** The same counts and log pacing, logged through `log` (so a line names its module). */
  loggingTo(log: Logger): ParseErrors {
    return new ParseErrors(this, { log });
  }

  /**
   * A {@linkcode SkipLine} counting into `{collector, file}`. `file` is the file's kind
   * (`meminfo`, `<pid>/mountinfo`), and its series is created at 0 now; without it, the base
   * name of the problem's path is used (`memory.stat`), which suits cgroup files whose
   * directories vary per container, and a series appears with the first skipped line.
   */
  sink(collector: string, file?: string): SkipLine {
    // A fixed file's series exists from the start at 0, so rate() sees the first skipped line.
    if (file !== undefined) this.#slot(collector, file);
    return (problem) => this.#skipped(collector, file ?? baseName(problem.file), problem);
  }

  #slot(collector: string, file: string): Slot {
    const key = `${collector}\0${file}`;
    const { slots, family } = this.#shared;
    let slot = slots.get(key);
    if (slot === undefined) {
      slot = {
        series: family.labels(collector, file),
        lastLogged: -Infinity,
        suppressed: 0,
      };
      slots.set(key, slot);
    }
    return slot;
  }

  #skipped(collector: string, file: string, problem: FileFormatError): void {
    const slot = this.#slot(collector, file);
    slot.series.inc();
    const t = this.#shared.now();
    if (t - slot.lastLogged < this.#shared.every) {
      slot.suppressed++;
      return;
    }
    const fields: Record<string, unknown> = {
      collector,
      file: problem.file,
      line: problem.line,
      reason: problem.reason,
    };
    if (slot.suppressed > 0) fields.suppressed = slot.suppressed;
    slot.lastLogged = t;
    slot.suppressed = 0;
    this.#log.warn("skipped a line it cannot parse", fields);
  }
}

function baseName(path: string): string {
  const i = path.lastIndexOf("/");
  return i < 0 ? path : path.slice(i + 1);
}

const perRegistry = new WeakMap<Registry, ParseErrors>();

/**
 * The registry's {@linkcode ParseErrors}: the counts and log pacing are made on the first call
 * (with that call's `logEveryMs` and `now`, later ones are ignored); each call's `log` is its
 * own.
 */
export function parseErrors(registry: Registry, opts: ParseErrorsOptions = {}): ParseErrors {
  let p = perRegistry.get(registry);
  if (p === undefined) perRegistry.set(registry, p = new ParseErrors(registry, opts));
  return opts.log === undefined ? p : p.loggingTo(opts.log);
}
