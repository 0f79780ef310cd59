/**
 * Osprey's metrics core: a registry of counter, gauge and histogram families that encodes
 * 100k series in the Prometheus text 0.0.4 or OpenMetrics 1.0 format several times faster
 * than prom-client, because every series' `name{labels} ` prefix is rendered once, at
 * creation, into a byte arena and values are written straight into the output bytes.
 *
 * The only import target for other folders.
 *
 * @example
 * ```ts
 * import { Registry } from "./mod.ts";
 *
 * const reg = new Registry();
 * const bytes = reg.counter({
 *   name: "node_net_received_bytes_total",
 *   help: "Bytes received",
 *   labelNames: ["interface"],
 * });
 * bytes.labels("eth0").set(1234);
 * const body: Uint8Array = reg.encode("openmetrics");
 * ```
 *
 * @module
 */
export { type MetricFamily, Registry, type RegistryOptions } from "./registry.ts";
export type { LabelValues, MetricOptions, MetricType, SeriesBase } from "./_family.ts";
export type { Counter, CounterSeries } from "./counter.ts";
export type { Gauge, GaugeSeries } from "./gauge.ts";
export {
  DEFAULT_BUCKETS,
  type Histogram,
  type HistogramOptions,
  type HistogramSeries,
} from "./histogram.ts";
export {
  contentType,
  type ExpositionFormat,
  OPENMETRICS_CONTENT_TYPE,
  TEXT_CONTENT_TYPE,
} from "./format.ts";
export { escapeHelp, escapeLabelValue } from "./escape.ts";
export { formatGoFloat, formatLe, formatValue } from "./format_number.ts";
export {
  isValidLabelName,
  isValidMetricName,
  LABEL_NAME_REGEXP,
  METRIC_NAME_REGEXP,
} from "./names.ts";
