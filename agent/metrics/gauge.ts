/**
 * Gauges: values that go up and down.
 *
 * @module
 */
import { Cell, type MetricOptions, type SeriesBase } from "./_family.ts";
import { type ScalarCell, ScalarFamily } from "./_scalar_family.ts";

/** One labelled series of a {@linkcode Gauge}. */
export interface GaugeSeries extends SeriesBase {
  /** Current value. */
  readonly value: number;
  /** Sets the value. */
  set(value: number): void;
  /** Adds `amount` (default 1). */
  inc(amount?: number): void;
  /** Subtracts `amount` (default 1). */
  dec(amount?: number): void;
}

class GaugeCell extends Cell implements GaugeSeries, ScalarCell {
  value = 0;

  set(value: number): void {
    this.value = value;
  }

  inc(amount = 1): void {
    this.value += amount;
  }

  dec(amount = 1): void {
    this.value -= amount;
  }
}

/** A gauge family. Create it with {@linkcode Registry.gauge}. */
export class Gauge<L extends readonly string[] = readonly string[]>
  extends ScalarFamily<L, GaugeSeries> {
  /** @internal Use {@linkcode Registry.gauge}. */
  constructor(opts: MetricOptions<L>) {
    super(opts, { type: "gauge", omName: opts?.name, omType: "gauge", sampleNames: [opts?.name] });
  }

  protected override createCell(key: string, names: readonly string[]): GaugeCell {
    return new GaugeCell(key, names);
  }
}
