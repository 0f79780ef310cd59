/**
 * The registry: owns the metric families and writes them in either exposition format.
 *
 * @module
 */
import {
  BOUND,
  CLAIMS,
  CONFLICT,
  ENCODE,
  type MetricOptions,
  SET_CONST_LABELS,
} from "./_family.ts";
import { Counter } from "./counter.ts";
import { escapeLabelValue } from "./escape.ts";
import type { ExpositionFormat } from "./format.ts";
import { Gauge } from "./gauge.ts";
import { Histogram, type HistogramOptions } from "./histogram.ts";
import { assertLabelName } from "./names.ts";

/** Any registered family. */
export type MetricFamily =
  | Counter<readonly string[]>
  | Gauge<readonly string[]>
  | Histogram<readonly string[]>;

/** Options of the {@linkcode Registry} constructor. */
export interface RegistryOptions {
  /**
   * Labels added to every series of every family (e.g. `machine_id`, `system_uuid`).
   * They follow the family's own labels on the wire. @default {}
   */
  constLabels?: Readonly<Record<string, string>>;
}

const EOF_LINE = new TextEncoder().encode("# EOF\n");

/** Labels for the families a predicate picks (see {@linkcode Registry.setScopedConstLabels}). */
interface LabelScope {
  readonly select: (familyName: string) => boolean;
  readonly names: readonly string[];
  readonly labels: Readonly<Record<string, string>>;
  /** Rendered `a="x",b="y"`, "" for none. */
  readonly pairs: string;
}

function renderPairs(labels: Readonly<Record<string, string>>): string {
  return Object.keys(labels).map((n) => `${n}="${escapeLabelValue(labels[n])}"`).join(",");
}

/**
 * Holds metric families and encodes their current state. Encoding never waits on anything:
 * it writes what the series hold at that moment.
 *
 * Families are written sorted by name; series in the order they were created. A family
 * without series writes nothing (no `# HELP`/`# TYPE` lines either).
 *
 * @example
 * ```ts
 * const reg = new Registry({ constLabels: { machine_id: "abc" } });
 * const c = reg.counter({ name: "x_total", help: "Xs", labelNames: ["a", "b"] });
 * c.labels("v1", "v2").inc();
 * new TextDecoder().decode(reg.encode("text"));
 * // # HELP x_total Xs
 * // # TYPE x_total counter
 * // x_total{a="v1",b="v2",machine_id="abc"} 1
 * ```
 */
export class Registry {
  #families: MetricFamily[] = [];
  #byName = new Map<string, MetricFamily>();
  /** Every name a family writes (family and sample names, both formats) → family name. */
  #claims = new Map<string, string>();
  #constLabels: Readonly<Record<string, string>> = Object.freeze({});
  #constNames: readonly string[] = [];
  #constPairs = "";
  #scope: LabelScope = { select: () => false, names: [], labels: {}, pairs: "" };

  constructor(opts: RegistryOptions = {}) {
    if (opts.constLabels !== undefined) this.setConstLabels(opts.constLabels);
  }

  /**
   * Registers a counter family.
   *
   * @throws {TypeError} on a bad metric or label name, a name already taken, or a name
   *   whose samples would clash with another family's.
   */
  counter<const L extends readonly string[] = readonly []>(opts: MetricOptions<L>): Counter<L> {
    return this.#add(new Counter(opts));
  }

  /** Registers a gauge family. Throws like {@linkcode Registry.counter}. */
  gauge<const L extends readonly string[] = readonly []>(opts: MetricOptions<L>): Gauge<L> {
    return this.#add(new Gauge(opts));
  }

  /**
   * Registers a histogram family. Throws like {@linkcode Registry.counter}, and on bucket
   * bounds that are not finite and strictly increasing.
   */
  histogram<const L extends readonly string[] = readonly []>(
    opts: HistogramOptions<L>,
  ): Histogram<L> {
    return this.#add(new Histogram(opts));
  }

  /** The family registered under `name`, if any. */
  get(name: string): MetricFamily | undefined {
    return this.#byName.get(name);
  }

  /** Removes the family registered under `name`; returns whether there was one. */
  unregister(name: string): boolean {
    const family = this.#byName.get(name);
    if (family === undefined) return false;
    this.#byName.delete(name);
    this.#families.splice(this.#families.indexOf(family), 1);
    for (const claim of family[CLAIMS]()) this.#claims.delete(claim);
    return true;
  }

  /** Number of registered families. */
  get size(): number {
    return this.#families.length;
  }

  /** The registered families, sorted by name. */
  [Symbol.iterator](): IterableIterator<MetricFamily> {
    return this.#families.values();
  }

  /** The constant labels applied to every series. */
  get constLabels(): Readonly<Record<string, string>> {
    return this.#constLabels;
  }

  /**
   * Replaces the constant labels and re-renders every series (cost proportional to the
   * number of series; meant for start-up, when e.g. the machine id becomes known).
   *
   * @throws {TypeError} on a bad label name or a name some family already uses as a label;
   *   nothing changes then.
   */
  setConstLabels(labels: Readonly<Record<string, string>>): void {
    const names = Object.keys(labels);
    for (const name of names) {
      assertLabelName(name, "the registry's constant labels");
      if (typeof labels[name] !== "string") {
        throw new TypeError(`Invalid value for constant label "${name}": it must be a string`);
      }
    }
    for (const family of this.#families) {
      const clash = family[CONFLICT](names);
      if (clash !== undefined) {
        throw new TypeError(
          `Cannot set constant label "${clash}": ${family.type} "${family.name}" has a label of that name`,
        );
      }
    }
    const clashScoped = names.find((n) => this.#scope.names.includes(n));
    if (clashScoped !== undefined) {
      throw new TypeError(
        `Cannot set constant label "${clashScoped}": it is one of the scoped constant labels`,
      );
    }
    this.#constLabels = Object.freeze({ ...labels });
    this.#constNames = names;
    this.#constPairs = renderPairs(labels);
    for (const family of this.#families) family[SET_CONST_LABELS](this.#pairsFor(family.name));
  }

  /**
   * Adds `labels` to every series of the families `select` picks by name (after their own
   * labels, before the registry-wide constant labels), replacing the scoped labels set before;
   * `{}` removes them. Families registered later are picked too. This is how `az` and `region`
   * go on container series only (reference §1.4). Re-renders the picked families' series (cost
   * proportional to their number), so call it when the labels change, not on every round.
   *
   * @throws {TypeError} on a bad label name, a name a picked family uses as a label, or a
   *   name that is also a registry-wide constant label; nothing changes then.
   */
  setScopedConstLabels(
    select: (familyName: string) => boolean,
    labels: Readonly<Record<string, string>>,
  ): void {
    const names = Object.keys(labels);
    for (const name of names) {
      assertLabelName(name, "the registry's scoped constant labels");
      if (typeof labels[name] !== "string") {
        throw new TypeError(`Invalid value for scoped label "${name}": it must be a string`);
      }
      if (this.#constNames.includes(name)) {
        throw new TypeError(
          `Cannot set scoped label "${name}": it is one of the registry's constant labels`,
        );
      }
    }
    for (const family of this.#families) {
      if (!select(family.name)) continue;
      const clash = family[CONFLICT](names);
      if (clash !== undefined) {
        throw new TypeError(
          `Cannot set scoped label "${clash}": ${family.type} "${family.name}" has a label of that name`,
        );
      }
    }
    const before = this.#scope;
    this.#scope = {
      select,
      names,
      labels: Object.freeze({ ...labels }),
      pairs: renderPairs(labels),
    };
    for (const family of this.#families) {
      if (before.select(family.name) || select(family.name)) {
        family[SET_CONST_LABELS](this.#pairsFor(family.name));
      }
    }
  }

  /**
   * The constant labels every series of the family named `name` carries on the wire: its
   * scoped labels (see {@linkcode Registry.setScopedConstLabels}), then the registry-wide ones.
   * For encoders that do not use the pre-rendered text (remote write).
   */
  constLabelsOf(name: string): Readonly<Record<string, string>> {
    const scope = this.#scope;
    if (scope.names.length === 0 || !scope.select(name)) return this.#constLabels;
    return { ...scope.labels, ...this.#constLabels };
  }

  /** The rendered constant pairs of the family named `name`: its scope's, then the registry's. */
  #pairsFor(name: string): string {
    const scoped = this.#scope.pairs !== "" && this.#scope.select(name) ? this.#scope.pairs : "";
    if (scoped === "") return this.#constPairs;
    return this.#constPairs === "" ? scoped : `${scoped},${this.#constPairs}`;
  }

  /**
   * Writes every family's current state.
   *
   * @param format `text` (Prometheus 0.0.4) or `openmetrics` (OpenMetrics 1.0, ends with
   *   `# EOF`). @default "text"
   * @returns UTF-8 bytes, a view over a buffer owned by the caller from now on.
   */
  encode(format: ExpositionFormat = "text"): Uint8Array<ArrayBuffer> {
    if (format !== "text" && format !== "openmetrics") {
      throw new TypeError(`Cannot encode metrics: unknown format "${format}"`);
    }
    const om = format === "openmetrics";
    const families = this.#families;
    let bound = om ? EOF_LINE.length : 0;
    for (let i = 0; i < families.length; i++) bound += families[i][BOUND](om);
    const out = new Uint8Array(bound);
    let pos = 0;
    for (let i = 0; i < families.length; i++) pos = families[i][ENCODE](out, pos, om);
    if (om) {
      out.set(EOF_LINE, pos);
      pos += EOF_LINE.length;
    }
    return out.subarray(0, pos);
  }

  #add<F extends MetricFamily>(family: F): F {
    const what = `${family.type} "${family.name}"`;
    if (this.#byName.has(family.name)) {
      throw new TypeError(`Cannot register ${what}: a metric of that name is already registered`);
    }
    const claims = family[CLAIMS]();
    for (const claim of claims) {
      const owner = this.#claims.get(claim);
      if (owner !== undefined) {
        throw new TypeError(
          `Cannot register ${what}: its name "${claim}" on the wire clashes with metric "${owner}"`,
        );
      }
    }
    const clash = family[CONFLICT](this.#constNames);
    if (clash !== undefined) {
      throw new TypeError(
        `Cannot register ${what}: label "${clash}" is one of the registry's constant labels`,
      );
    }
    const scoped = this.#scope.select(family.name)
      ? family[CONFLICT](this.#scope.names)
      : undefined;
    if (scoped !== undefined) {
      throw new TypeError(
        `Cannot register ${what}: label "${scoped}" is one of the registry's scoped constant labels`,
      );
    }
    const pairs = this.#pairsFor(family.name);
    if (pairs !== "") family[SET_CONST_LABELS](pairs);
    for (const claim of claims) this.#claims.set(claim, family.name);
    this.#byName.set(family.name, family);
    let i = this.#families.length;
    while (i > 0 && this.#families[i - 1].name > family.name) i--;
    this.#families.splice(i, 0, family);
    return family;
  }
}
