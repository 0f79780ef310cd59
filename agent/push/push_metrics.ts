/**
 * The push module's self-metrics (all `osprey_push_*`), one set shared by remote write
 * (`signal="metrics"`, counted in batches and bytes) and the OTLP exporters (`signal="logs"`,
 * `"traces"`, counted in requests and records too).
 *
 * @module
 */
import type { Counter, Gauge, Registry } from "../metrics/mod.ts";

/** The families, registered once per registry. */
export interface PushMetrics {
  /** Batches waiting (spool files, or OTLP records in memory), by signal. */
  readonly queued: Gauge<readonly ["signal"]>;
  /** Bytes waiting, by signal. */
  readonly queuedBytes: Gauge<readonly ["signal"]>;
  readonly sent: Counter<readonly ["signal"]>;
  readonly sentBytes: Counter<readonly ["signal"]>;
  /** Batches given up: `spool_full`, `rejected` (4xx), `unreadable`, `queue_full`, `encode`. */
  readonly dropped: Counter<readonly ["signal", "reason"]>;
  readonly droppedBytes: Counter<readonly ["signal", "reason"]>;
  /** Failed attempts that will be retried: `http_5xx`, `http_429`, `network`, `timeout`. */
  readonly retries: Counter<readonly ["signal", "reason"]>;
  /** OTLP records (log records, spans) sent and dropped. */
  readonly records: Counter<readonly ["signal", "outcome", "reason"]>;
}

/** Registers the families. */
export function pushMetrics(registry: Registry): PushMetrics {
  return {
    queued: registry.gauge({
      name: "osprey_push_queued_batches",
      help: "Batches waiting to be sent: remote-write files in the spool, OTLP records in memory",
      labelNames: ["signal"],
    }),
    queuedBytes: registry.gauge({
      name: "osprey_push_queued_bytes",
      help: "Bytes waiting to be sent (the spool's files; OTLP records before encoding: 0)",
      labelNames: ["signal"],
    }),
    sent: registry.counter({
      name: "osprey_push_sent_batches_total",
      help: "Batches (remote-write requests, OTLP export requests) the endpoint took (2xx)",
      labelNames: ["signal"],
    }),
    sentBytes: registry.counter({
      name: "osprey_push_sent_bytes_total",
      help: "Request body bytes the endpoint took (2xx), compressed as sent",
      labelNames: ["signal"],
    }),
    dropped: registry.counter({
      name: "osprey_push_dropped_batches_total",
      help: "Batches given up, by reason: spool_full (oldest dropped beyond --max-spool-size), " +
        "rejected (4xx other than 429), unreadable (spool file), encode",
      labelNames: ["signal", "reason"],
    }),
    droppedBytes: registry.counter({
      name: "osprey_push_dropped_bytes_total",
      help: "Bytes of the batches given up, by reason",
      labelNames: ["signal", "reason"],
    }),
    retries: registry.counter({
      name: "osprey_push_retries_total",
      help: "Failed sends that are retried with backoff, by reason: http_5xx, http_429, " +
        "network, timeout",
      labelNames: ["signal", "reason"],
    }),
    records: registry.counter({
      name: "osprey_push_records_total",
      help: "OTLP log records and spans: outcome sent, or dropped with a reason (queue_full, " +
        "rejected, sampled_out is not counted)",
      labelNames: ["signal", "outcome", "reason"],
    }),
  };
}
