/**
 * Counters and gauges: one sample per series, written as the series' pre-rendered
 * `name{labels} ` prefix followed by the value.
 *
 * Private to `agent/metrics/`.
 *
 * @module
 */
import { type Cell, Family, type SeriesBase } from "./_family.ts";
import { MAX_VALUE_BYTES, writeValue } from "./_writer.ts";

/** A series with one value. */
export interface ScalarCell extends Cell {
  value: number;
}

/** The shared encoder of {@linkcode Counter} and {@linkcode Gauge}. */
export abstract class ScalarFamily<L extends readonly string[], S extends SeriesBase>
  extends Family<L, S> {
  protected override renderPrefix(labelPairs: string): string {
    return labelPairs === "" ? this.name + " " : `${this.name}{${labelPairs}} `;
  }

  protected override seriesBound(_om: boolean): number {
    return this.arenaLive + this.cells.size * (MAX_VALUE_BYTES + 1);
  }

  protected override encodeSeries(out: Uint8Array, pos: number, _om: boolean): number {
    const arena = this.arena;
    for (const cell of this.cells.values() as Iterable<ScalarCell>) {
      const off = cell.off;
      out.set(arena.subarray(off, off + cell.len), pos);
      pos = writeValue(out, pos + cell.len, cell.value);
      out[pos++] = 10;
    }
    return pos;
  }
}
