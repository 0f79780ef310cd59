/**
 * Counters: values that only go up (or are mirrored from a kernel counter that does).
 *
 * @module
 */
import { Cell, type MetricOptions, type SeriesBase } from "./_family.ts";
import { type ScalarCell, ScalarFamily } from "./_scalar_family.ts";

/** One labelled series of a {@linkcode Counter}. */
export interface CounterSeries extends SeriesBase {
  /** Current value. */
  readonly value: number;
  /**
   * Adds `amount` (default 1).
   *
   * @throws {RangeError} when `amount` is negative or NaN.
   */
  inc(amount?: number): void;
  /**
   * Sets the value outright, for counters mirrored from an absolute source (a /proc or
   * kernel map counter). By contract the value never decreases except on a real reset of
   * the source; this is not checked.
   */
  set(value: number): void;
}

class CounterCell extends Cell implements CounterSeries, ScalarCell {
  value = 0;

  inc(amount = 1): void {
    if (!(amount >= 0)) {
      throw new RangeError(
        `Cannot increase a counter by ${amount}: the amount must be a non-negative number`,
      );
    }
    this.value += amount;
  }

  set(value: number): void {
    this.value = value;
  }
}

/**
 * A counter family. Create it with {@linkcode Registry.counter}.
 *
 * Values are float64: counts past 2^53 (9.007e15) lose integer precision and are written in
 * their shortest round-trip form, which is fine for Prometheus (it stores float64 too).
 *
 * A name ending in `_total` is written as type `counter` in both formats; in OpenMetrics the
 * `# TYPE`/`# HELP` lines carry the name without `_total` and the samples keep it. A name
 * without `_total` (coroot-node-agent has a few) is type `counter` in text 0.0.4 and type
 * `unknown` in OpenMetrics, whose counters must have `_total` samples.
 */
export class Counter<L extends readonly string[] = readonly string[]>
  extends ScalarFamily<L, CounterSeries> {
  /** @internal Use {@linkcode Registry.counter}. */
  constructor(opts: MetricOptions<L>) {
    const total = typeof opts?.name === "string" && opts.name.endsWith("_total") &&
      opts.name.length > "_total".length;
    super(opts, {
      type: "counter",
      omName: total ? opts.name.slice(0, -"_total".length) : opts?.name,
      omType: total ? "counter" : "unknown",
      sampleNames: [opts?.name],
    });
  }

  protected override createCell(key: string, names: readonly string[]): CounterCell {
    return new CounterCell(key, names);
  }
}
