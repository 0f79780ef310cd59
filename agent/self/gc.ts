/**
 * A full V8 garbage collection once a minute, when the runtime exposes `gc()`
 * (`--v8-flags=--expose-gc`, which `deno task start`, the package and the image set).
 *
 * Why: left to its own schedule, V8 lets the old generation fill with about 7 MB of garbage
 * beyond the agent's live heap (about 10 MB with 20 containers) before its first full
 * collection, 5 to 14 minutes after start, and keeps most of those pages committed afterwards:
 * RSS climbs for up to a quarter of an hour, V8's share then saws between 17 and 21 MB for good,
 * and glibc keeps what that first collection's marking allocated. Collected every minute, the
 * old generation stays within about 2 MB of the live heap (12.6 to 13.4 MB committed) and the
 * agent reaches its plateau in its first minutes. One collection of a 10 MB heap pauses the JS
 * thread for 7 to 9 ms: its duration is `osprey_collector_duration_seconds{collector="gc"}`.
 *
 * @module
 */
import type { Collector } from "../collector.ts";

/** Period of the forced collection. */
export const GC_INTERVAL_MS = 60_000;

/** `gc()` as V8 exposes it with `--expose-gc`, or undefined without that flag. */
export function exposedGc(): (() => void) | undefined {
  const gc = (globalThis as { gc?: unknown }).gc;
  return typeof gc === "function" ? () => gc() : undefined;
}

/**
 * The `gc` collector: calls `gc` every `intervalMs` (the first time at once). It sets no
 * series of its own; the scheduler's duration metric is the pause.
 *
 * @param gc the collection to run, from {@linkcode exposedGc}
 * @param intervalMs the period, @default GC_INTERVAL_MS
 */
export function gcCollector(gc: () => void, intervalMs: number = GC_INTERVAL_MS): Collector {
  return {
    name: "gc",
    intervalMs,
    collect() {
      gc();
    },
  };
}
