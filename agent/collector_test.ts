import { equal, match, ok } from "node:assert/strict";
import { CollectorScheduler } from "./collector.ts";
import { silentLogger } from "./log.ts";
import { Registry } from "./metrics/mod.ts";

function text(reg: Registry): string {
  return new TextDecoder().decode(reg.encode("text"));
}

Deno.test("CollectorScheduler records success, failure and duration per collector", async () => {
  const reg = new Registry();
  const s = new CollectorScheduler(reg, silentLogger, { intervalMs: 60_000, timeoutMs: 1000 });
  let calls = 0;
  s.add({ name: "good", collect: () => void calls++ });
  s.add({
    name: "broken",
    collect: () => {
      throw new SyntaxError("Cannot parse /proc/stat line 1");
    },
  });
  await s.collectAll();
  s.stop();
  ok(s.firstRoundDone);
  ok(calls >= 1);
  const t = text(reg);
  match(t, /^osprey_collector_success\{collector="good"\} 1$/m);
  match(t, /^osprey_collector_success\{collector="broken"\} 0$/m);
  match(t, /^osprey_collector_failures_total\{collector="good"\} 0$/m);
  match(t, /^osprey_collector_failures_total\{collector="broken"\} [12]$/m);
  match(t, /^osprey_collector_duration_seconds\{collector="good"\} [0-9.e-]+$/m);
});

Deno.test("CollectorScheduler abandons a round that outlives its timeout", async () => {
  const reg = new Registry();
  const s = new CollectorScheduler(reg, silentLogger, { intervalMs: 60_000, timeoutMs: 50 });
  let aborted = false;
  let release: () => void = () => {};
  s.add({
    name: "slow",
    collect: (signal) =>
      new Promise<void>((resolve) => {
        signal.addEventListener("abort", () => aborted = true);
        release = resolve;
      }),
  });
  await new Promise((r) => setTimeout(r, 120));
  s.stop();
  release();
  ok(aborted, "the collector's signal was not aborted");
  ok(s.firstRoundDone);
  match(text(reg), /^osprey_collector_success\{collector="slow"\} 0$/m);
  equal(reg.get("osprey_collector_failures_total")?.size, 1);
});
