/**
 * Histograms with fixed buckets, written as cumulative `_bucket{le=".."}` samples (with the
 * mandatory `+Inf` bucket), `_sum` and `_count`.
 *
 * @module
 */
import { Cell, Family, type MetricOptions, type SeriesBase } from "./_family.ts";
import { MAX_VALUE_BYTES, writeBytes, writeValue } from "./_writer.ts";
import { formatLe } from "./format_number.ts";

/** client_golang's default buckets (seconds), which coroot-node-agent uses. */
export const DEFAULT_BUCKETS: readonly number[] = Object.freeze([
  0.005,
  0.01,
  0.025,
  0.05,
  0.1,
  0.25,
  0.5,
  1,
  2.5,
  5,
  10,
]);

/** Options of {@linkcode Registry.histogram}. */
export interface HistogramOptions<L extends readonly string[]> extends MetricOptions<L> {
  /**
   * Upper bounds, finite and strictly increasing; the `+Inf` bucket is always added (a
   * trailing `Infinity` here is dropped).
   *
   * @default DEFAULT_BUCKETS
   */
  buckets?: readonly number[];
}

/** One labelled series of a {@linkcode Histogram}. */
export interface HistogramSeries extends SeriesBase {
  /** Number of observations. */
  readonly count: number;
  /** Sum of the observations. */
  readonly sum: number;
  /** Counts `value` into the first bucket whose bound is ≥ `value` (NaN lands in `+Inf`). */
  observe(value: number): void;
  /**
   * Sets the whole state, for histograms mirrored from an aggregate kept elsewhere (a BPF
   * map). `counts` are per bucket, NOT cumulative: one per bound, then the `+Inf` bucket.
   *
   * @throws {RangeError} when `counts` does not have one entry per bucket plus one.
   */
  setCounts(counts: ArrayLike<number>, sum: number): void;
  /** Cumulative counts, one per bound, then `+Inf` (equal to `count`). */
  cumulativeCounts(): number[];
}

class HistogramCell extends Cell implements HistogramSeries {
  sum = 0;
  count = 0;
  readonly counts: Float64Array;
  readonly #bounds: Float64Array;

  constructor(key: string, names: readonly string[], bounds: Float64Array) {
    super(key, names);
    this.#bounds = bounds;
    this.counts = new Float64Array(bounds.length + 1);
  }

  observe(value: number): void {
    const bounds = this.#bounds;
    const n = bounds.length;
    let i = 0;
    if (n <= 16) {
      while (i < n && !(value <= bounds[i])) i++;
    } else {
      let hi = n;
      while (i < hi) {
        const mid = (i + hi) >>> 1;
        if (value <= bounds[mid]) hi = mid;
        else i = mid + 1;
      }
    }
    this.counts[i]++;
    this.sum += value;
    this.count++;
  }

  setCounts(counts: ArrayLike<number>, sum: number): void {
    if (counts.length !== this.counts.length) {
      throw new RangeError(
        `Cannot set histogram counts: expected ${this.counts.length} per-bucket counts (bounds and +Inf), got ${counts.length}`,
      );
    }
    let total = 0;
    for (let i = 0; i < counts.length; i++) {
      this.counts[i] = counts[i];
      total += counts[i];
    }
    this.count = total;
    this.sum = sum;
  }

  cumulativeCounts(): number[] {
    const out: number[] = [];
    let cum = 0;
    for (const c of this.counts) out.push(cum += c);
    return out;
  }
}

const encoder = new TextEncoder();

/**
 * A histogram family. Create it with {@linkcode Registry.histogram}.
 *
 * Names ending in `_total` (coroot-node-agent's `*_duration_seconds_total`) are kept as they
 * are in both formats: the samples are `<name>_bucket`, `<name>_sum`, `<name>_count`, which is
 * valid text 0.0.4 and OpenMetrics (promtool's linter flags the suffix, nothing rejects it).
 */
export class Histogram<L extends readonly string[] = readonly string[]>
  extends Family<L, HistogramSeries> {
  /** Upper bounds, without `+Inf`. */
  readonly buckets: readonly number[];
  readonly #bounds: Float64Array;
  /** `<name>_bucket{` */
  readonly #bucketOpen: Uint8Array;
  /** Per format, per bucket (then +Inf): `le="…"} ` */
  readonly #le: readonly [Uint8Array[], Uint8Array[]];
  readonly #leMax: number;
  /** `<name>_sum{`, `<name>_sum `, `<name>_count{`, `<name>_count ` */
  readonly #sumOpen: Uint8Array;
  readonly #sumBare: Uint8Array;
  readonly #countOpen: Uint8Array;
  readonly #countBare: Uint8Array;

  /** @internal Use {@linkcode Registry.histogram}. */
  constructor(opts: HistogramOptions<L>) {
    const name = opts?.name;
    super(opts, {
      type: "histogram",
      omName: name,
      omType: "histogram",
      sampleNames: [`${name}_bucket`, `${name}_sum`, `${name}_count`],
      reservedLabels: ["le"],
    });
    const buckets = [...(opts.buckets ?? DEFAULT_BUCKETS)];
    if (buckets.length > 0 && buckets[buckets.length - 1] === Infinity) buckets.pop();
    for (let i = 0; i < buckets.length; i++) {
      const b = buckets[i];
      if (typeof b !== "number" || !Number.isFinite(b)) {
        throw new TypeError(
          `Cannot register histogram "${name}": bucket bound ${b} is not a finite number`,
        );
      }
      if (i > 0 && !(b > buckets[i - 1])) {
        throw new TypeError(
          `Cannot register histogram "${name}": bucket bounds must be strictly increasing, got ${
            buckets[i - 1]
          } then ${b}`,
        );
      }
    }
    this.buckets = Object.freeze(buckets);
    this.#bounds = Float64Array.from(buckets);
    const le = (om: boolean) =>
      [...buckets, Infinity].map((b) => encoder.encode(`le="${formatLe(b, om)}"} `));
    this.#le = [le(false), le(true)];
    this.#leMax = Math.max(...this.#le.flat().map((b) => b.length));
    this.#bucketOpen = encoder.encode(`${name}_bucket{`);
    this.#sumOpen = encoder.encode(`${name}_sum{`);
    this.#sumBare = encoder.encode(`${name}_sum `);
    this.#countOpen = encoder.encode(`${name}_count{`);
    this.#countBare = encoder.encode(`${name}_count `);
  }

  protected override createCell(key: string, names: readonly string[]): HistogramCell {
    return new HistogramCell(key, names, this.#bounds);
  }

  protected override renderPrefix(labelPairs: string): string {
    return labelPairs;
  }

  protected override seriesBound(_om: boolean): number {
    const lines = this.#bounds.length + 3;
    const fixed = (this.#bounds.length + 1) * (this.#bucketOpen.length + 1 + this.#leMax) +
      this.#sumOpen.length + this.#countOpen.length + 4;
    return this.arenaLive * lines + this.cells.size * (fixed + lines * (MAX_VALUE_BYTES + 1));
  }

  protected override encodeSeries(out: Uint8Array, pos: number, om: boolean): number {
    const arena = this.arena;
    const le = this.#le[om ? 1 : 0];
    const nb = le.length;
    const bucketOpen = this.#bucketOpen;
    for (const cell of this.cells.values() as Iterable<HistogramCell>) {
      const len = cell.len;
      const labels = len > 0 ? arena.subarray(cell.off, cell.off + len) : undefined;
      const counts = cell.counts;
      let cum = 0;
      for (let i = 0; i < nb; i++) {
        cum += counts[i];
        pos = writeBytes(out, pos, bucketOpen);
        if (labels !== undefined) {
          out.set(labels, pos);
          pos += len;
          out[pos++] = 44; // ,
        }
        pos = writeBytes(out, pos, le[i]);
        pos = writeValue(out, pos, cum);
        out[pos++] = 10;
      }
      if (labels !== undefined) {
        pos = writeBytes(out, pos, this.#sumOpen);
        out.set(labels, pos);
        pos += len;
        out[pos++] = 125; // }
        out[pos++] = 32;
        pos = writeValue(out, pos, cell.sum);
        out[pos++] = 10;
        pos = writeBytes(out, pos, this.#countOpen);
        out.set(labels, pos);
        pos += len;
        out[pos++] = 125;
        out[pos++] = 32;
      } else {
        pos = writeBytes(out, pos, this.#sumBare);
        pos = writeValue(out, pos, cell.sum);
        out[pos++] = 10;
        pos = writeBytes(out, pos, this.#countBare);
      }
      pos = writeValue(out, pos, cell.count);
      out[pos++] = 10;
    }
    return pos;
  }
}
