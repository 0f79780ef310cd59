/**
 * Remote write with a disk spool (reference §8.6): every `--scrape-interval` the registry is
 * encoded ({@linkcode buildWriteRequest}), snappy-compressed and appended to the spool BEFORE
 * anything is sent; a sender loop POSTs the oldest batch, deletes it only on 2xx, retries
 * 5xx, 429 (honouring `Retry-After`), network errors and timeouts with exponential backoff
 * (5 s doubling up to `--push-retry-max`), and drops (and counts) a batch the endpoint refuses
 * with any other 4xx. Neither loop ever blocks collection or the scrape path.
 *
 * @module
 */
import { printableUrl } from "./endpoints.ts";
import type { Logger } from "../log.ts";
import type { Registry } from "../metrics/mod.ts";
import { Backoff, post, sleep } from "./http.ts";
import type { PushMetrics } from "./push_metrics.ts";
import { buildWriteRequest, JOB, pushLabels, snappyCompress } from "./remote_write.ts";
import { Spool, SpoolError } from "./spool.ts";

/** The reference's per-request deadline. */
export const REMOTE_WRITE_TIMEOUT_MS = 30_000;
/** First wait after a failure (the reference's). */
export const RETRY_MIN_MS = 5_000;
/** Longest `Retry-After` honoured. */
export const RETRY_AFTER_CAP_MS = 5 * 60_000;

/** Options of {@linkcode RemoteWriter}. */
export interface RemoteWriterOptions {
  readonly registry: Registry;
  readonly endpoint: URL;
  readonly client: Deno.HttpClient;
  readonly apiKey: string;
  readonly walDir: string;
  readonly maxSpoolBytes: number;
  readonly intervalMs: number;
  readonly metrics: PushMetrics;
  readonly log: Logger;
  /** @default RETRY_MIN_MS */
  readonly retryMinMs?: number;
  /** @default 60_000 */
  readonly retryMaxMs?: number;
  /** @default REMOTE_WRITE_TIMEOUT_MS */
  readonly timeoutMs?: number;
}

const SIGNAL = "metrics";

/** The scrape loop and the sender loop around one spool. */
export class RemoteWriter {
  readonly #o: RemoteWriterOptions;
  readonly #abort = new AbortController();
  #spool?: Spool;
  #wake?: () => void;
  #loops: Promise<void>[] = [];
  #headers: Record<string, string>;

  constructor(opts: RemoteWriterOptions) {
    this.#o = opts;
    this.#headers = {
      "Content-Encoding": "snappy",
      "Content-Type": "application/x-protobuf",
      "X-Prometheus-Remote-Write-Version": "0.1.0",
      "User-Agent": JOB,
    };
    if (opts.apiKey !== "") this.#headers["X-Api-Key"] = opts.apiKey;
  }

  /** The spool (after {@linkcode RemoteWriter.start}). */
  get spool(): Spool | undefined {
    return this.#spool;
  }

  /**
   * Opens the spool (what a previous run left is sent first) and starts both loops.
   *
   * @throws {SpoolError} when the spool directory cannot be opened.
   */
  async start(): Promise<void> {
    const m = this.#o.metrics;
    this.#spool = await Spool.open(this.#o.walDir, this.#o.maxSpoolBytes, {
      droppedOldest: (e) => {
        m.dropped.labels(SIGNAL, "spool_full").inc();
        m.droppedBytes.labels(SIGNAL, "spool_full").inc(e.size);
        this.#o.log.warn("spool over --max-spool-size; dropped the oldest batch", {
          batch: e.name,
          bytes: e.size,
        });
      },
    });
    if (this.#spool.length > 0) {
      this.#o.log.info("spooled batches from an earlier run will be sent first", {
        batches: this.#spool.length,
        bytes: this.#spool.bytes,
      });
    }
    this.#gauge();
    this.#loops.push(this.#scrapeLoop(), this.#sendLoop());
  }

  /** Stops both loops (what is spooled stays for the next run). */
  async stop(): Promise<void> {
    this.#abort.abort();
    this.#wake?.();
    await Promise.allSettled(this.#loops);
  }

  /** Encodes the registry now and spools the batch; returns its size, or undefined on failure. */
  async scrapeOnce(nowMs = Date.now()): Promise<number | undefined> {
    const spool = this.#spool!;
    let body: Uint8Array;
    try {
      const wr = buildWriteRequest(this.#o.registry, nowMs, pushLabels(this.#o.registry));
      body = snappyCompress(wr.raw);
    } catch (err) {
      this.#o.metrics.dropped.labels(SIGNAL, "encode").inc();
      this.#o.log.error("cannot encode the remote-write batch", { error: err });
      return undefined;
    }
    try {
      await spool.append(nowMs, body);
    } catch (err) {
      this.#o.metrics.dropped.labels(SIGNAL, "write_error").inc();
      this.#o.metrics.droppedBytes.labels(SIGNAL, "write_error").inc(body.length);
      this.#o.log.error("cannot spool the remote-write batch", { error: err });
      return undefined;
    }
    this.#gauge();
    this.#wake?.();
    return body.length;
  }

  #gauge(): void {
    this.#o.metrics.queued.labels(SIGNAL).set(this.#spool?.length ?? 0);
    this.#o.metrics.queuedBytes.labels(SIGNAL).set(this.#spool?.bytes ?? 0);
  }

  async #scrapeLoop(): Promise<void> {
    const signal = this.#abort.signal;
    let next = Date.now();
    while (!signal.aborted) {
      await this.scrapeOnce();
      next += this.#o.intervalMs;
      const now = Date.now();
      if (next < now) next = now + this.#o.intervalMs; // fell behind: skip, don't burst
      await sleep(next - now, signal);
    }
  }

  /** Waits for a new batch (or the stop). */
  #waitForBatch(): Promise<void> {
    return new Promise((resolve) => {
      this.#wake = () => {
        this.#wake = undefined;
        resolve();
      };
    });
  }

  async #sendLoop(): Promise<void> {
    const o = this.#o;
    const m = o.metrics;
    const signal = this.#abort.signal;
    const spool = this.#spool!;
    const backoff = new Backoff(o.retryMinMs ?? RETRY_MIN_MS, o.retryMaxMs ?? 60_000);
    while (!signal.aborted) {
      const entry = spool.oldest();
      if (entry === undefined) {
        await this.#waitForBatch();
        continue;
      }
      let body: Uint8Array;
      try {
        body = await spool.read(entry);
      } catch (err) {
        if (err instanceof SpoolError) {
          // gone (dropped over the cap meanwhile) or unreadable: never retried
          if (await spool.remove(entry).catch(() => false)) {
            m.dropped.labels(SIGNAL, "unreadable").inc();
            m.droppedBytes.labels(SIGNAL, "unreadable").inc(entry.size);
            o.log.error("cannot read a spooled batch; dropped", { error: err });
          }
          this.#gauge();
          continue;
        }
        throw err;
      }
      let outcome;
      try {
        outcome = await post(o.endpoint, body, {
          client: o.client,
          headers: this.#headers,
          timeoutMs: o.timeoutMs ?? REMOTE_WRITE_TIMEOUT_MS,
          signal,
        });
      } catch {
        return; // stopping
      }
      if (outcome.kind === "ok") {
        backoff.reset();
        await this.#removeSafely(spool, entry);
        m.sent.labels(SIGNAL).inc();
        m.sentBytes.labels(SIGNAL).inc(body.length);
        o.log.debug("sent metrics", { batch: entry.name, bytes: body.length });
      } else if (outcome.kind === "reject") {
        backoff.reset();
        await this.#removeSafely(spool, entry);
        m.dropped.labels(SIGNAL, "rejected").inc();
        m.droppedBytes.labels(SIGNAL, "rejected").inc(body.length);
        o.log.error("the metrics endpoint refused a batch; dropped", {
          endpoint: printableUrl(o.endpoint),
          batch: entry.name,
          answer: outcome.detail,
        });
      } else {
        m.retries.labels(SIGNAL, outcome.reason).inc();
        const step = backoff.next();
        const wait = outcome.retryAfterMs !== undefined
          ? Math.min(outcome.retryAfterMs, RETRY_AFTER_CAP_MS)
          : step;
        o.log.warn("cannot send metrics; retrying", {
          endpoint: printableUrl(o.endpoint),
          reason: outcome.reason,
          answer: outcome.detail,
          retry_in_ms: wait,
          spooled: spool.length,
        });
        await sleep(wait, signal);
      }
      this.#gauge();
    }
  }

  async #removeSafely(spool: Spool, entry: { name: string; ts: number; size: number }) {
    try {
      await spool.remove(entry);
    } catch (err) {
      this.#o.log.error("cannot delete a sent batch from the spool", { error: err });
    }
  }
}
