/**
 * Collectors refresh metric families in the background, each on its own schedule and with a
 * timeout, so a scrape only encodes current state and never waits on a slow source.
 *
 * @module
 */
import type { Registry } from "./metrics/mod.ts";
import type { Logger } from "./log.ts";

/** A source of metrics that refreshes families it registered in the registry. */
export interface Collector {
  /** Short snake_case name, the `collector` label of the self-metrics. */
  readonly name: string;
  /** Refresh period; the scheduler's default when absent. */
  readonly intervalMs?: number;
  /** Refreshes the collector's families. Throwing marks this round failed (success 0). */
  collect(signal: AbortSignal): Promise<void> | void;
}

/** Options for {@linkcode CollectorScheduler}. */
export interface SchedulerOptions {
  /** Default refresh period in milliseconds. */
  intervalMs: number;
  /** A round that takes longer than this is abandoned and counted as failed. */
  timeoutMs: number;
}

/** Thrown into a collector's signal when its round takes longer than the timeout. */
export class CollectorTimeoutError extends Error {
  constructor(name: string, timeoutMs: number) {
    super(`Collector "${name}" did not finish within ${timeoutMs} ms`);
    this.name = "CollectorTimeoutError";
  }
}

interface Entry {
  collector: Collector;
  timer?: ReturnType<typeof setInterval>;
  running: boolean;
  rounds: number;
}

/**
 * Runs collectors on timers and reports each one's duration and success as metrics:
 * `osprey_collector_duration_seconds{collector}`, `osprey_collector_success{collector}`,
 * `osprey_collector_failures_total{collector}`.
 */
export class CollectorScheduler {
  #entries = new Map<string, Entry>();
  #opts: SchedulerOptions;
  #log: Logger;
  #duration;
  #success;
  #failures;
  #stopped = false;
  #firstRound = new Set<string>();

  constructor(registry: Registry, log: Logger, opts: SchedulerOptions) {
    this.#opts = opts;
    this.#log = log;
    this.#duration = registry.gauge({
      name: "osprey_collector_duration_seconds",
      help: "How long the collector's last round took",
      labelNames: ["collector"],
    });
    this.#success = registry.gauge({
      name: "osprey_collector_success",
      help: "Whether the collector's last round succeeded (1) or failed (0)",
      labelNames: ["collector"],
    });
    this.#failures = registry.counter({
      name: "osprey_collector_failures_total",
      help: "Rounds of the collector that failed or timed out",
      labelNames: ["collector"],
    });
  }

  /** Adds a collector and runs its first round at once. */
  add(collector: Collector): void {
    if (this.#entries.has(collector.name)) {
      throw new TypeError(`Cannot add collector "${collector.name}": the name is taken`);
    }
    const entry: Entry = { collector, running: false, rounds: 0 };
    this.#entries.set(collector.name, entry);
    this.#failures.labels(collector.name);
    void this.#round(entry);
    const every = collector.intervalMs ?? this.#opts.intervalMs;
    entry.timer = setInterval(() => void this.#round(entry), every);
  }

  /** Runs one round of every collector now and resolves when all have finished. */
  async collectAll(): Promise<void> {
    await Promise.all([...this.#entries.values()].map((e) => this.#round(e)));
  }

  /** True once every added collector finished (successfully or not) at least one round. */
  get firstRoundDone(): boolean {
    for (const name of this.#entries.keys()) if (!this.#firstRound.has(name)) return false;
    return true;
  }

  /** Stops all timers. Rounds in flight are aborted. */
  stop(): void {
    this.#stopped = true;
    for (const e of this.#entries.values()) clearInterval(e.timer);
  }

  async #round(entry: Entry): Promise<void> {
    if (entry.running || this.#stopped) return;
    entry.running = true;
    const { collector } = entry;
    const ctl = new AbortController();
    const started = performance.now();
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          const err = new CollectorTimeoutError(collector.name, this.#opts.timeoutMs);
          ctl.abort(err);
          reject(err);
        }, this.#opts.timeoutMs);
      });
      await Promise.race([Promise.resolve().then(() => collector.collect(ctl.signal)), timeout]);
      this.#success.labels(collector.name).set(1);
    } catch (err) {
      this.#success.labels(collector.name).set(0);
      this.#failures.labels(collector.name).inc();
      this.#log.warn("collector round failed", {
        collector: collector.name,
        error: err instanceof Error ? err.message : String(err),
      });
    } finally {
      clearTimeout(timer);
      this.#duration.labels(collector.name).set((performance.now() - started) / 1000);
      entry.running = false;
      entry.rounds++;
      this.#firstRound.add(collector.name);
    }
  }
}
