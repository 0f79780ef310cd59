/**
 * What every metric family shares: validated names, the series map keyed by label values,
 * pre-rendered series prefixes kept in one byte arena per family, and cached header lines.
 *
 * Private to `agent/metrics/`: other folders use the {@linkcode Counter}, {@linkcode Gauge} and
 * {@linkcode Histogram} types from `mod.ts`.
 *
 * @module
 */
import { escapeHelp, escapeLabelValue } from "./escape.ts";
import { assertLabelName, assertMetricName } from "./names.ts";

/** Encodes the family into a buffer; returns the new position. Used by the registry only. */
export const ENCODE: unique symbol = Symbol("encode");
/** Upper bound of the bytes {@linkcode ENCODE} writes. Used by the registry only. */
export const BOUND: unique symbol = Symbol("bound");
/** Re-renders every series with new constant labels. Used by the registry only. */
export const SET_CONST_LABELS: unique symbol = Symbol("setConstLabels");
/** Names this family puts on the wire, to detect clashes. Used by the registry only. */
export const CLAIMS: unique symbol = Symbol("claims");
/** The first of some label names the family cannot take as constant labels. Registry only. */
export const CONFLICT: unique symbol = Symbol("conflict");

/** The three metric types. */
export type MetricType = "counter" | "gauge" | "histogram";

/** Label values given positionally, one per label name, in the order of `labelNames`. */
export type LabelValues<L extends readonly string[]> = { readonly [K in keyof L]: string };

/** Options shared by every metric family. */
export interface MetricOptions<L extends readonly string[]> {
  /** Metric name, `[a-zA-Z_:][a-zA-Z0-9_:]*`. Counters should end in `_total`. */
  name: string;
  /** Docstring for the `# HELP` line. An empty help omits the line. */
  help: string;
  /** Label names, in the order `labels()` takes values. @default [] */
  labelNames?: L;
}

/** The part of a series every family type has. */
export interface SeriesBase {
  /** The series' label values, in the order of the family's label names. */
  readonly labelValues: readonly string[];
}

/**
 * Internal series state: the series key (from which the label values are decoded, so a
 * series holds no copy of them) and where its pre-rendered prefix sits in the arena.
 */
export class Cell implements SeriesBase {
  /** The series' key in the family map, see {@linkcode seriesKey}. */
  readonly key: string;
  /** The family's label names (shared). */
  readonly names: readonly string[];
  /** Offset of the pre-rendered prefix in the family's arena. */
  off = 0;
  /** Byte length of the pre-rendered prefix. */
  len = 0;

  constructor(key: string, names: readonly string[]) {
    this.key = key;
    this.names = names;
  }

  /** The series' label values, in the order of the family's label names. */
  get labelValues(): readonly string[] {
    return keyValues(this.key, this.names.length);
  }
}

// NUL and U+0001 are exactly the characters the key encoding reserves.
// deno-lint-ignore no-control-regex
const KEY_ESCAPE_REGEXP = /[\0\u0001]/;
// deno-lint-ignore no-control-regex
const KEY_ESCAPE_GLOBAL_REGEXP = /[\0\u0001]/g;
// deno-lint-ignore no-control-regex
const KEY_UNESCAPE_REGEXP = /\u0001[\u0002\u0003]/g;
const ARENA_MIN = 256;
const COMPACT_MIN_GARBAGE = 1 << 16;
const encoder = new TextEncoder();

function escapeKeyChar(c: string): string {
  return c === "\0" ? "\u0001\u0003" : "\u0001\u0002";
}

/**
 * The series map key of a label value list. Values are joined with NUL. A list where some
 * value contains NUL or U+0001 gets a key that starts with U+0001 and has those characters
 * escaped, so no two distinct lists share a key.
 */
export function seriesKey(values: readonly string[]): string {
  const n = values.length;
  if (n === 0) return "";
  let plain = true;
  for (let i = 0; i < n; i++) {
    if (KEY_ESCAPE_REGEXP.test(values[i])) {
      plain = false;
      break;
    }
  }
  if (plain) {
    // String() keeps a stray number (from untyped callers) on the same key as its text.
    return n === 1 ? String(values[0]) : n === 2 ? values[0] + "\0" + values[1] : values.join("\0");
  }
  return "\u0001" +
    values.map((v) => v.replace(KEY_ESCAPE_GLOBAL_REGEXP, escapeKeyChar)).join("\0");
}

function unescapeKeyChar(pair: string): string {
  return pair === "\u0001\u0003" ? "\0" : "\u0001";
}

/** The label values a {@linkcode seriesKey} was made from; `n` is the number of labels. */
export function keyValues(key: string, n: number): string[] {
  if (n === 0) return [];
  if (key.charCodeAt(0) !== 1) return n === 1 ? [key] : key.split("\0");
  return key.slice(1).split("\0").map((v) => v.replace(KEY_UNESCAPE_REGEXP, unescapeKeyChar));
}

/** How a family spells itself in each format, decided by its subclass. */
export interface FamilyShape {
  type: MetricType;
  /** Family name and type on the OpenMetrics `# TYPE` / `# HELP` lines. */
  omName: string;
  omType: string;
  /** Every sample name the family writes. */
  sampleNames: readonly string[];
  /** Label names this family type reserves, e.g. `le`. */
  reservedLabels?: readonly string[];
}

/** The base class of {@linkcode Counter}, {@linkcode Gauge} and {@linkcode Histogram}. */
export abstract class Family<L extends readonly string[], S extends SeriesBase> {
  /** Registered metric name. */
  readonly name: string;
  /** Docstring. */
  readonly help: string;
  /** Label names, in the order `labels()` takes values. */
  readonly labelNames: L;
  /** Metric type. */
  readonly type: MetricType;

  /** Series by key; iteration order is creation order. */
  protected readonly cells: Map<string, S & Cell> = new Map();
  /** Pre-rendered series prefixes; a cell's bytes are `arena[off, off + len)`. */
  protected arena: Uint8Array = new Uint8Array(ARENA_MIN);
  /** Sum of the live cells' `len`. */
  protected arenaLive = 0;
  #arenaEnd = 0;
  #constLabels = "";
  readonly #head: readonly [text: Uint8Array, om: Uint8Array];
  readonly #shape: FamilyShape;

  constructor(opts: MetricOptions<L>, shape: FamilyShape) {
    assertMetricName(opts?.name, `register ${shape.type}`);
    if (typeof opts.help !== "string") {
      throw new TypeError(`Cannot register ${shape.type} "${opts.name}": help must be a string`);
    }
    const labelNames = (opts.labelNames ?? []) as unknown as L;
    if (!Array.isArray(labelNames)) {
      throw new TypeError(
        `Cannot register ${shape.type} "${opts.name}": labelNames must be an array`,
      );
    }
    const seen = new Set<string>();
    for (const l of labelNames as readonly string[]) {
      assertLabelName(l, `${shape.type} "${opts.name}"`);
      if (shape.reservedLabels?.includes(l)) {
        throw new TypeError(
          `Invalid label name "${l}" for ${shape.type} "${opts.name}": the name is reserved for this type`,
        );
      }
      if (seen.has(l)) {
        throw new TypeError(`Duplicate label name "${l}" for ${shape.type} "${opts.name}"`);
      }
      seen.add(l);
    }
    this.name = opts.name;
    this.help = opts.help;
    this.labelNames = Object.freeze([...labelNames]) as unknown as L;
    this.type = shape.type;
    this.#shape = shape;
    const textHelp = opts.help === ""
      ? ""
      : `# HELP ${opts.name} ${escapeHelp(opts.help, false)}\n`;
    const omHelp = opts.help === ""
      ? ""
      : `# HELP ${shape.omName} ${escapeHelp(opts.help, true)}\n`;
    this.#head = [
      encoder.encode(`${textHelp}# TYPE ${opts.name} ${shape.type}\n`),
      encoder.encode(`# TYPE ${shape.omName} ${shape.omType}\n${omHelp}`),
    ];
  }

  /**
   * Returns the series with these label values, creating it (at zero) if it does not exist.
   * Keep the handle: repeated calls with the same values return the same object.
   *
   * @throws {TypeError} when the number of values differs from the number of label names.
   */
  labels(...values: LabelValues<L>): S {
    const key = this.#key(values as readonly string[]);
    let cell = this.cells.get(key);
    if (cell === undefined) {
      cell = this.createCell(key, this.labelNames as readonly string[]);
      this.#render(cell, values as readonly string[]);
      this.cells.set(key, cell);
    }
    return cell;
  }

  /** Whether a series with these label values exists. */
  has(...values: LabelValues<L>): boolean {
    return this.cells.has(this.#key(values as readonly string[]));
  }

  /**
   * Removes the series with these label values. A handle to it that is still held keeps
   * working but is no longer exposed (until `labels()` creates a new series).
   *
   * @returns whether a series was removed.
   */
  remove(...values: LabelValues<L>): boolean {
    const key = this.#key(values as readonly string[]);
    const cell = this.cells.get(key);
    if (cell === undefined) return false;
    this.cells.delete(key);
    this.arenaLive -= cell.len;
    const garbage = this.#arenaEnd - this.arenaLive;
    if (garbage > COMPACT_MIN_GARBAGE && garbage * 2 > this.#arenaEnd) this.#compact();
    return true;
  }

  /** Removes every series. */
  clear(): void {
    this.cells.clear();
    this.arena = new Uint8Array(ARENA_MIN);
    this.#arenaEnd = 0;
    this.arenaLive = 0;
  }

  /** Number of series. */
  get size(): number {
    return this.cells.size;
  }

  /** The series handles, in creation order. Removing series while iterating is safe. */
  [Symbol.iterator](): IterableIterator<S> {
    return this.cells.values();
  }

  /** Creates a zeroed series for a key (already checked). */
  protected abstract createCell(key: string, names: readonly string[]): S & Cell;

  /** Turns the rendered label pairs (`a="x",b="y"`, maybe empty) into the stored prefix. */
  protected abstract renderPrefix(labelPairs: string): string;

  /** Encodes every series of the family after the header. */
  protected abstract encodeSeries(out: Uint8Array, pos: number, om: boolean): number;

  /** Upper bound of what {@linkcode encodeSeries} writes. */
  protected abstract seriesBound(om: boolean): number;

  /** The cached header lines of the format. */
  protected header(om: boolean): Uint8Array {
    return this.#head[om ? 1 : 0];
  }

  /** @internal */
  [ENCODE](out: Uint8Array, pos: number, om: boolean): number {
    if (this.cells.size === 0) return pos;
    const head = this.#head[om ? 1 : 0];
    out.set(head, pos);
    return this.encodeSeries(out, pos + head.length, om);
  }

  /** @internal */
  [BOUND](om: boolean): number {
    if (this.cells.size === 0) return 0;
    return this.#head[om ? 1 : 0].length + this.seriesBound(om);
  }

  /** @internal */
  [CLAIMS](): string[] {
    return [...new Set([this.name, this.#shape.omName, ...this.#shape.sampleNames])];
  }

  /**
   * Re-renders every series with new constant labels (`pairs` already rendered, e.g.
   * `machine_id="x"`). @internal
   */
  [SET_CONST_LABELS](pairs: string): void {
    this.#constLabels = pairs;
    const cells = [...this.cells.values()];
    this.arena = new Uint8Array(ARENA_MIN);
    this.#arenaEnd = 0;
    this.arenaLive = 0;
    for (const cell of cells) this.#render(cell, cell.labelValues);
  }

  /** @internal */
  [CONFLICT](names: readonly string[]): string | undefined {
    for (const n of names) {
      if ((this.labelNames as readonly string[]).includes(n)) return n;
      if (this.#shape.reservedLabels?.includes(n)) return n;
    }
    return undefined;
  }

  #key(values: readonly string[]): string {
    if (values.length !== this.labelNames.length) {
      throw new TypeError(
        `Cannot select a series of ${this.type} "${this.name}": expected ${this.labelNames.length} label values (${
          this.labelNames.join(", ")
        }), got ${values.length}`,
      );
    }
    return seriesKey(values);
  }

  #render(cell: S & Cell, values: readonly string[]): void {
    const names = this.labelNames as readonly string[];
    let pairs = "";
    for (let i = 0; i < names.length; i++) {
      if (i > 0) pairs += ",";
      pairs += `${names[i]}="${escapeLabelValue(String(values[i]))}"`;
    }
    if (this.#constLabels !== "") {
      pairs += pairs === "" ? this.#constLabels : "," + this.#constLabels;
    }
    const text = this.renderPrefix(pairs);
    const need = this.#arenaEnd + text.length * 3;
    if (need > this.arena.length) {
      const grown = new Uint8Array(Math.max(need, Math.ceil(this.arena.length * 1.5)));
      grown.set(this.arena.subarray(0, this.#arenaEnd));
      this.arena = grown;
    }
    const { written } = encoder.encodeInto(text, this.arena.subarray(this.#arenaEnd));
    cell.off = this.#arenaEnd;
    cell.len = written;
    this.#arenaEnd += written;
    this.arenaLive += written;
  }

  #compact(): void {
    const old = this.arena;
    const next = new Uint8Array(Math.max(ARENA_MIN, this.arenaLive * 2));
    let end = 0;
    for (const cell of this.cells.values()) {
      next.set(old.subarray(cell.off, cell.off + cell.len), end);
      cell.off = end;
      end += cell.len;
    }
    this.arena = next;
    this.#arenaEnd = end;
  }
}
