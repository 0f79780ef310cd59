import { equal } from "node:assert/strict";
import { DelayAccounts, plausibleBlkio } from "./accounts.ts";

function round(a: DelayAccounts, fn: () => void): void {
  a.beginRound();
  fn();
  a.endRound();
}

Deno.test("DelayAccounts counts a new process whole, then its growth, and keeps it after exit", () => {
  const a = new DelayAccounts();
  round(a, () => a.add("c", 10, 1000, { source: "taskstats", cpuNs: 500, blkioNs: 70 }));
  equal(a.totals("c")?.cpuNs, 500);
  equal(a.totals("c")?.blkioNs, 70);
  round(a, () => a.add("c", 10, 1000, { source: "taskstats", cpuNs: 800, blkioNs: 100 }));
  equal(a.totals("c")?.cpuNs, 800);
  equal(a.totals("c")?.blkioNs, 100);
  round(a, () => {}); // it exited
  equal(a.processCount, 0);
  equal(a.totals("c")?.cpuNs, 800);
  // a second process adds to what the first left
  round(a, () => a.add("c", 11, 2000, { source: "taskstats", cpuNs: 50, blkioNs: 0 }));
  equal(a.totals("c")?.cpuNs, 850);
});

Deno.test("DelayAccounts never goes down on pid reuse, by start time or by a falling counter", () => {
  const a = new DelayAccounts();
  round(a, () => a.add("c", 10, 1000, { source: "taskstats", cpuNs: 900, blkioNs: 10 }));
  // same pid, another start: a new process, counted whole
  round(a, () => a.add("c", 10, 5000, { source: "taskstats", cpuNs: 100, blkioNs: 5 }));
  equal(a.totals("c")?.cpuNs, 1000);
  equal(a.totals("c")?.blkioNs, 15);
  equal(a.restarts, 1);
  // same start as far as the registry knows, but the counter fell: taken for a new one
  round(a, () => a.add("c", 10, 5000, { source: "taskstats", cpuNs: 40, blkioNs: 5 }));
  equal(a.totals("c")?.cpuNs, 1040);
  equal(a.pidReuses, 1);
});

Deno.test("DelayAccounts follows schedstat threads, and re-bases when the source changes", () => {
  const a = new DelayAccounts();
  const threads = (...kv: [number, number][]) => ({
    source: "schedstat" as const,
    threads: new Map(kv),
  });
  round(a, () => a.add("c", 10, 1, threads([10, 100], [11, 50])));
  equal(a.totals("c")?.cpuNs, 150);
  // thread 11 exited, 12 started: 10 grows by 20, 12 counts whole
  round(a, () => a.add("c", 10, 1, threads([10, 120], [12, 30])));
  equal(a.totals("c")?.cpuNs, 200);
  // taskstats from now on: its value is the baseline, nothing added
  round(a, () => a.add("c", 10, 1, { source: "taskstats", cpuNs: 400 }));
  equal(a.totals("c")?.cpuNs, 200);
  round(a, () => a.add("c", 10, 1, { source: "taskstats", cpuNs: 450 }));
  equal(a.totals("c")?.cpuNs, 250);
  // no block I/O reading before: a known process's first one is its baseline
  round(a, () => a.add("c", 10, 1, { source: "taskstats", cpuNs: 450, blkioNs: 30 }));
  equal(a.totals("c")?.blkioNs, 0);
  round(a, () => a.add("c", 10, 1, { source: "taskstats", cpuNs: 450, blkioNs: 45 }));
  equal(a.totals("c")?.blkioNs, 15);
});

Deno.test("DelayAccounts gives growth to the container a process moved to, and keeps failed reads", () => {
  const a = new DelayAccounts();
  round(a, () => a.add("a", 10, 1, { source: "taskstats", cpuNs: 100 }));
  round(a, () => a.add("b", 10, 1, { source: "taskstats", cpuNs: 130 }));
  equal(a.totals("a")?.cpuNs, 100);
  equal(a.totals("b")?.cpuNs, 30);
  round(a, () => a.keep(10, 1)); // a read failed: still followed
  equal(a.processCount, 1);
  round(a, () => a.add("b", 10, 1, { source: "taskstats", cpuNs: 140 }));
  equal(a.totals("b")?.cpuNs, 40);
  a.forget("a");
  equal(a.totals("a"), undefined);
});

Deno.test("DelayAccounts takes a reading without its value as no change", () => {
  const a = new DelayAccounts();
  round(a, () => a.add("c", 10, 1, { source: "taskstats", cpuNs: 100 }));
  round(a, () => a.add("c", 10, 1, { source: "taskstats" }));
  equal(a.processCount, 1);
  round(a, () => a.add("c", 10, 1, { source: "taskstats", cpuNs: 120 }));
  equal(a.totals("c")?.cpuNs, 120);
});

Deno.test("DelayAccounts drops a block I/O jump longer than the process's age per wait", () => {
  const a = new DelayAccounts();
  const now = 1_000_000;
  a.beginRound(now);
  // started 5 s ago, 10 waits of 0.2 s: plausible
  a.add("c", 10, now - 5000, { source: "taskstats", cpuNs: 1, blkioNs: 2e9, blkioCount: 10 });
  a.endRound();
  equal(a.totals("c")?.blkioNs, 2e9);
  // one more wait that "lasted" since boot (16,487 s) in a process 6 s old: not added
  a.beginRound(now + 1000);
  a.add("c", 10, now - 5000, {
    source: "taskstats",
    cpuNs: 1,
    blkioNs: 2e9 + 16_487e9,
    blkioCount: 11,
  });
  a.endRound();
  equal(a.totals("c")?.blkioNs, 2e9);
  equal(a.implausible, 1);
  // later growth counts again from the new baseline
  a.beginRound(now + 2000);
  a.add("c", 10, now - 5000, {
    source: "taskstats",
    cpuNs: 1,
    blkioNs: 2.5e9 + 16_487e9,
    blkioCount: 12,
  });
  a.endRound();
  equal(a.totals("c")?.blkioNs, 2.5e9);
  equal(plausibleBlkio(5e9, 1, 4000), true); // one 5 s wait in a 4 s old process: within slack
  equal(plausibleBlkio(6e9, 1, 4000), false);
  equal(plausibleBlkio(1, 0, 4000), false); // growth without a wait that ended
});
