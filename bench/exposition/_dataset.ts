/**
 * The benchmark data set, built the same way in Osprey's registry and in prom-client:
 * `FAMILIES` families × `SERIES` label sets with two labels each. Even families are counters
 * holding integers (like byte counters), odd families gauges holding fractions.
 *
 * @module
 */
import client from "prom-client";
import { Registry } from "../../agent/metrics/mod.ts";

/** Families in the scalar data set. */
export const FAMILIES = 10;
/** Label sets per family. */
export const SERIES = 10_000;
/** Label sets of the histogram data set (one family, default buckets). */
export const HISTOGRAM_SERIES = 7_000;

function familyName(f: number): string {
  return f % 2 === 0 ? `osprey_bench_events_${f}_total` : `osprey_bench_level_${f}`;
}

function labelA(i: number): string {
  return `container-${i.toString(16).padStart(6, "0")}`;
}

function labelB(i: number): string {
  return `/system.slice/service-${i % 100}.service`;
}

function value(f: number, i: number): number {
  return f % 2 === 0 ? i * 1_234_567 + f : (i + f) / 7;
}

function observation(i: number, k: number): number {
  return ((i * 31 + k * 17) % 1000) / 300;
}

/** Builds the scalar data set in an Osprey registry. */
export function buildOsprey(families = FAMILIES, series = SERIES): Registry {
  const reg = new Registry();
  for (let f = 0; f < families; f++) {
    const help = `Benchmark family ${f}`;
    const labelNames = ["container_id", "cgroup"] as const;
    if (f % 2 === 0) {
      const c = reg.counter({ name: familyName(f), help, labelNames });
      for (let i = 0; i < series; i++) c.labels(labelA(i), labelB(i)).inc(value(f, i));
    } else {
      const g = reg.gauge({ name: familyName(f), help, labelNames });
      for (let i = 0; i < series; i++) g.labels(labelA(i), labelB(i)).set(value(f, i));
    }
  }
  return reg;
}

/** Builds the scalar data set in a prom-client registry. */
export function buildPromClient(families = FAMILIES, series = SERIES): client.Registry {
  const reg = new client.Registry();
  for (let f = 0; f < families; f++) {
    const opts = {
      name: familyName(f),
      help: `Benchmark family ${f}`,
      labelNames: ["container_id", "cgroup"],
      registers: [reg],
    };
    if (f % 2 === 0) {
      const c = new client.Counter(opts);
      for (let i = 0; i < series; i++) c.labels(labelA(i), labelB(i)).inc(value(f, i));
    } else {
      const g = new client.Gauge(opts);
      for (let i = 0; i < series; i++) g.labels(labelA(i), labelB(i)).set(value(f, i));
    }
  }
  return reg;
}

const HISTOGRAM_NAME = "osprey_bench_request_duration_seconds";

/** Builds the histogram data set in an Osprey registry. */
export function buildOspreyHistograms(): Registry {
  const reg = new Registry();
  const h = reg.histogram({
    name: HISTOGRAM_NAME,
    help: "Benchmark histogram",
    labelNames: ["destination", "status"],
  });
  for (let i = 0; i < HISTOGRAM_SERIES; i++) {
    const s = h.labels(labelA(i), String(200 + (i % 5)));
    for (let k = 0; k < 5; k++) s.observe(observation(i, k));
  }
  return reg;
}

/** Builds the histogram data set in a prom-client registry. */
export function buildPromClientHistograms(): client.Registry {
  const reg = new client.Registry();
  const h = new client.Histogram({
    name: HISTOGRAM_NAME,
    help: "Benchmark histogram",
    labelNames: ["destination", "status"],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [reg],
  });
  for (let i = 0; i < HISTOGRAM_SERIES; i++) {
    const s = h.labels(labelA(i), String(200 + (i % 5)));
    for (let k = 0; k < 5; k++) s.observe(observation(i, k));
  }
  return reg;
}
