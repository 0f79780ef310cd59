/**
 * A batching OTLP/HTTP exporter shared by logs and traces: records wait in a bounded
 * in-memory queue (beyond it they are dropped and counted, `reason="queue_full"`), leave in
 * batches of up to `batchSize` every `delayMs` (or as soon as a batch is full), encoded as
 * protobuf, POSTed with `Content-Type: application/x-protobuf` and `X-Api-Key`. A batch that
 * fails with 5xx, 429, a network error or a timeout stays at the head and is retried with
 * backoff (while new records keep queueing up to the cap); one refused with another 4xx is
 * dropped and counted (`reason="rejected"`). Emitting never waits and never throws.
 *
 * The protobuf messages come from the official OTLP definitions as compiled (protobufjs static
 * code) in `@opentelemetry/otlp-transformer` 0.208.0, the last release that ships them; loaded
 * only when a logs or traces endpoint is set.
 *
 * @module
 */
import { printableUrl } from "./endpoints.ts";
import type { Logger } from "../log.ts";
import { Backoff, post, sleep } from "./http.ts";
import type { PushMetrics } from "./push_metrics.ts";

/** One protobuf message type of the compiled OTLP definitions. */
export interface ProtoType {
  encode(message: unknown): { finish(): Uint8Array };
  decode(bytes: Uint8Array): unknown;
  toObject(message: unknown, opts?: Record<string, unknown>): Record<string, unknown>;
}

/** The request types of the OTLP/HTTP collector services. */
export interface OtlpTypes {
  readonly ExportLogsServiceRequest: ProtoType;
  readonly ExportTraceServiceRequest: ProtoType;
}

/** Loads the compiled official OTLP definitions. */
export async function loadOtlpTypes(): Promise<OtlpTypes> {
  const mod = await import("otlp-proto");
  // deno-lint-ignore no-explicit-any
  const root = (mod.default ?? mod) as any;
  const c = root.opentelemetry.proto.collector;
  return {
    ExportLogsServiceRequest: c.logs.v1.ExportLogsServiceRequest,
    ExportTraceServiceRequest: c.trace.v1.ExportTraceServiceRequest,
  };
}

/** Options of {@linkcode BatchExporter}. */
export interface BatchExporterOptions<T> {
  /** `logs` or `traces`: the `signal` label. */
  readonly signal: string;
  readonly endpoint: URL;
  readonly client: Deno.HttpClient;
  readonly apiKey: string;
  readonly metrics: PushMetrics;
  readonly log: Logger;
  /** Turns a batch into an OTLP request body. */
  readonly encode: (batch: readonly T[]) => Uint8Array;
  /** @default 2048 (the OpenTelemetry SDKs' batch processor queue) */
  readonly maxQueue?: number;
  /** @default 512 */
  readonly batchSize?: number;
  /** @default 5000 */
  readonly delayMs?: number;
  /** @default 5000 */
  readonly retryMinMs?: number;
  /** @default 60000 */
  readonly retryMaxMs?: number;
  /** @default 10000 */
  readonly timeoutMs?: number;
}

/** How long the last send at stop may take. */
const FINAL_FLUSH_MS = 2000;

/** The queue and its sender loop. */
export class BatchExporter<T> {
  readonly #o: BatchExporterOptions<T>;
  readonly #queue: T[] = [];
  readonly #abort = new AbortController();
  #wake?: () => void;
  #loop?: Promise<void>;
  readonly #headers: Record<string, string>;

  constructor(opts: BatchExporterOptions<T>) {
    this.#o = opts;
    this.#headers = { "Content-Type": "application/x-protobuf", "User-Agent": "coroot-node-agent" };
    if (opts.apiKey !== "") this.#headers["X-Api-Key"] = opts.apiKey;
    opts.metrics.queued.labels(opts.signal).set(0);
  }

  /** Queues a record; drops (and counts) it when the queue is full. */
  push(record: T): void {
    const o = this.#o;
    if (this.#queue.length >= (o.maxQueue ?? 2048)) {
      o.metrics.records.labels(o.signal, "dropped", "queue_full").inc();
      return;
    }
    this.#queue.push(record);
    o.metrics.queued.labels(o.signal).set(this.#queue.length);
    if (this.#queue.length >= (o.batchSize ?? 512)) this.#wake?.();
  }

  /** Starts the sender loop. */
  start(): void {
    this.#loop = this.#run();
  }

  /** Sends one more batch of what is queued (best effort, at most 2 s) and stops. */
  async stop(): Promise<void> {
    this.#abort.abort();
    this.#wake?.();
    await this.#loop;
  }

  async #run(): Promise<void> {
    const o = this.#o;
    const signal = this.#abort.signal;
    const backoff = new Backoff(o.retryMinMs ?? 5000, o.retryMaxMs ?? 60_000);
    while (!signal.aborted) {
      await this.#nap(o.delayMs ?? 5000);
      while (this.#queue.length > 0 && !signal.aborted) {
        const wait = await this.#sendHead(backoff, signal);
        if (wait === undefined) continue;
        await sleep(wait, signal);
      }
    }
    // one last batch, bounded so the module stops within the agent's shutdown timeout
    if (this.#queue.length > 0) {
      await this.#sendHead(backoff, AbortSignal.timeout(FINAL_FLUSH_MS)).catch(() => {});
    }
  }

  /** Sleeps `ms`, or less when a full batch or the stop wakes it. */
  #nap(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(t);
        this.#wake = undefined;
        resolve();
      };
      const t = setTimeout(done, ms);
      this.#wake = done;
    });
  }

  /** Sends the head batch; returns how long to wait before retrying it, if it failed. */
  async #sendHead(backoff: Backoff, signal: AbortSignal | undefined): Promise<number | undefined> {
    const o = this.#o;
    const m = o.metrics;
    const n = Math.min(this.#queue.length, o.batchSize ?? 512);
    const batch = this.#queue.slice(0, n);
    let body: Uint8Array;
    try {
      body = o.encode(batch);
    } catch (err) {
      this.#take(n);
      m.dropped.labels(o.signal, "encode").inc();
      m.records.labels(o.signal, "dropped", "encode").inc(n);
      o.log.error("cannot encode an OTLP batch; dropped", { signal: o.signal, error: err });
      return undefined;
    }
    let outcome;
    try {
      outcome = await post(o.endpoint, body, {
        client: o.client,
        headers: this.#headers,
        timeoutMs: o.timeoutMs ?? 10_000,
        signal,
      });
    } catch {
      return undefined; // stopping
    }
    if (outcome.kind === "ok") {
      backoff.reset();
      this.#take(n);
      m.sent.labels(o.signal).inc();
      m.sentBytes.labels(o.signal).inc(body.length);
      m.records.labels(o.signal, "sent", "").inc(n);
      return undefined;
    }
    if (outcome.kind === "reject") {
      backoff.reset();
      this.#take(n);
      m.dropped.labels(o.signal, "rejected").inc();
      m.droppedBytes.labels(o.signal, "rejected").inc(body.length);
      m.records.labels(o.signal, "dropped", "rejected").inc(n);
      o.log.error("the OTLP endpoint refused a batch; dropped", {
        signal: o.signal,
        endpoint: printableUrl(o.endpoint),
        answer: outcome.detail,
      });
      return undefined;
    }
    m.retries.labels(o.signal, outcome.reason).inc();
    const step = backoff.next();
    const wait = outcome.retryAfterMs !== undefined
      ? Math.min(outcome.retryAfterMs, 300_000)
      : step;
    o.log.warn("cannot send an OTLP batch; retrying", {
      signal: o.signal,
      endpoint: printableUrl(o.endpoint),
      reason: outcome.reason,
      answer: outcome.detail,
      retry_in_ms: wait,
    });
    return wait;
  }

  #take(n: number): void {
    this.#queue.splice(0, n);
    this.#o.metrics.queued.labels(this.#o.signal).set(this.#queue.length);
  }
}
