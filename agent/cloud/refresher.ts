/**
 * Asks one provider's metadata service in the background, again and again: a round right
 * after start, then every {@linkcode REFRESH_MS} after a good round, or sooner after a failed
 * one (from {@linkcode RETRY_MIN_MS}, doubling up to the refresh interval). A good round
 * publishes the whole answer to the hub; a failed round changes nothing (the last good answer
 * stays) and is counted in `osprey_cloud_metadata_errors_total{provider,reason}`. Nothing
 * here is ever awaited by a scrape or by start-up.
 *
 * Self-metrics: `osprey_cloud_metadata_requests_total{provider}` (requests sent),
 * `osprey_cloud_metadata_errors_total{provider,reason}` (failed rounds by reason, see
 * `FailureReason`), `osprey_cloud_metadata_last_success_timestamp_seconds{provider}`.
 *
 * @module
 */
import type { Logger } from "../log.ts";
import type { Registry } from "../metrics/mod.ts";
import type { ProviderClient } from "./client.ts";
import { MetadataClient } from "./client.ts";
import type { CloudMetadataHub } from "./hub.ts";
import { CloudMetadataError, FAILURE_REASONS } from "./http_client.ts";
import type { FailureReason, MetadataHttp } from "./http_client.ts";
import type { CloudInfo } from "./info.ts";
import { sameCloudInfo } from "./info.ts";

/** Deadline of each request (the reference's 5 s). */
export const REQUEST_TIMEOUT_MS = 5_000;
/** Time between good rounds: a spot instance's life cycle or a public address can change. */
export const REFRESH_MS = 10 * 60_000;
/** First retry after a failed round; doubles up to {@linkcode REFRESH_MS}. */
export const RETRY_MIN_MS = 30_000;

/** The module's self-metric families (registered once per registry). */
export interface CloudMetrics {
  request(provider: string): void;
  error(provider: string, reason: FailureReason): void;
  success(provider: string, unixSeconds: number): void;
  /** Creates the provider's series at 0, so a rate of them works from the first failure. */
  init(provider: string): void;
}

/** Registers the cloud self-metrics in `registry`. */
export function cloudMetrics(registry: Registry): CloudMetrics {
  const requests = registry.counter({
    name: "osprey_cloud_metadata_requests_total",
    help: "Requests sent to the cloud metadata service",
    labelNames: ["provider"],
  });
  const errors = registry.counter({
    name: "osprey_cloud_metadata_errors_total",
    help: "Failed rounds of asking the cloud metadata service, by reason (timeout, " +
      "unreachable, http_status, token_refused, bad_response, not_granted)",
    labelNames: ["provider", "reason"],
  });
  const last = registry.gauge({
    name: "osprey_cloud_metadata_last_success_timestamp_seconds",
    help: "When the cloud metadata service last gave a complete answer (Unix time)",
    labelNames: ["provider"],
  });
  return {
    request: (p) => requests.labels(p).inc(),
    error: (p, r) => errors.labels(p, r).inc(),
    success: (p, t) => last.labels(p).set(t),
    init(p) {
      requests.labels(p);
      for (const r of FAILURE_REASONS) errors.labels(p, r);
    },
  };
}

/** Options of a {@linkcode CloudRefresher}. */
export interface CloudRefresherOptions {
  readonly client: ProviderClient;
  readonly http: MetadataHttp;
  readonly hub: CloudMetadataHub;
  readonly metrics: CloudMetrics;
  readonly log: Logger;
  /** One base URL for every request instead of the provider's (`--cloud-metadata-base-url`). */
  readonly baseUrl?: string;
  /** @default REQUEST_TIMEOUT_MS */
  readonly timeoutMs?: number;
  /** @default REFRESH_MS */
  readonly refreshMs?: number;
  /** @default RETRY_MIN_MS */
  readonly retryMinMs?: number;
}

/** The result of one round. */
export type RoundResult =
  | { readonly ok: true; readonly info: CloudInfo }
  | { readonly ok: false; readonly error: CloudMetadataError };

/** Refreshes one provider's metadata in the background; see the module doc. */
export class CloudRefresher {
  readonly #o: CloudRefresherOptions;
  readonly #stop = new AbortController();
  #timer: ReturnType<typeof setTimeout> | undefined;
  #running: Promise<unknown> | undefined;
  #failures = 0;
  #lastReason: FailureReason | undefined;

  constructor(opts: CloudRefresherOptions) {
    this.#o = opts;
    opts.metrics.init(opts.client.provider);
  }

  /** Starts the rounds (the first one now, without waiting for it). */
  start(): void {
    this.#schedule(0);
  }

  /** Stops the rounds and aborts a request in flight; resolves when the round in flight ended. */
  async stop(): Promise<void> {
    this.#stop.abort();
    clearTimeout(this.#timer);
    await this.#running;
  }

  /** Runs one round now: asks every base URL in turn until one answers completely. */
  async round(): Promise<RoundResult> {
    const o = this.#o;
    const provider = o.client.provider;
    const bases = o.baseUrl ? [o.baseUrl] : o.client.bases;
    let error: CloudMetadataError | undefined;
    for (const base of bases) {
      if (this.#stop.signal.aborted) break;
      const c = new MetadataClient(base, {
        http: o.http,
        timeoutMs: o.timeoutMs ?? REQUEST_TIMEOUT_MS,
        signal: this.#stop.signal,
        onRequest: () => o.metrics.request(provider),
      });
      try {
        const info = await o.client.fetch(c);
        return this.#succeeded(info);
      } catch (err) {
        error = err instanceof CloudMetadataError ? err : new CloudMetadataError(
          "bad_response",
          `Cannot read the ${provider} metadata answer`,
          { cause: err },
        );
      }
    }
    error ??= new CloudMetadataError("timeout", "stopped");
    if (!this.#stop.signal.aborted) this.#failed(error);
    return { ok: false, error };
  }

  #succeeded(info: CloudInfo): RoundResult {
    const o = this.#o;
    const before = o.hub.discovered;
    o.hub.publish(info);
    o.metrics.success(o.client.provider, Date.now() / 1000);
    if (before === undefined || !sameCloudInfo(before, info) || this.#failures > 0) {
      o.log.info("cloud metadata", { ...info, after_failures: this.#failures });
    }
    this.#failures = 0;
    this.#lastReason = undefined;
    return { ok: true, info };
  }

  #failed(err: CloudMetadataError): void {
    const o = this.#o;
    o.metrics.error(o.client.provider, err.reason);
    this.#failures++;
    // One line when a failure starts or changes its reason, not one per retry.
    if (this.#lastReason !== err.reason) {
      o.log.warn("cannot read the cloud metadata; keeping the last answer and retrying", {
        provider: o.client.provider,
        reason: err.reason,
        error: err,
        kept: o.hub.discovered !== undefined,
      });
    }
    this.#lastReason = err.reason;
  }

  #schedule(ms: number): void {
    if (this.#stop.signal.aborted) return;
    this.#timer = setTimeout(() => {
      const run = this.round().then((r) => {
        const refresh = this.#o.refreshMs ?? REFRESH_MS;
        const retry = Math.min(
          refresh,
          (this.#o.retryMinMs ?? RETRY_MIN_MS) * 2 ** Math.min(this.#failures - 1, 20),
        );
        this.#schedule(r.ok ? refresh : retry);
      });
      this.#running = run;
    }, ms);
  }
}
