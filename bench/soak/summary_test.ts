import { deepEqual, equal, throws } from "node:assert/strict";
import { csvHeader, csvRow, parseCsv, type SoakSample, summarize } from "./summary.ts";

function sample(t: number, rssMib: number, threads = 9, extra: Partial<SoakSample> = {}) {
  return {
    t_s: t,
    rss_kib: rssMib * 1024,
    rss_anon_kib: 0,
    rss_file_kib: 0,
    hwm_kib: rssMib * 1024,
    threads,
    fds: 50,
    heap_used_bytes: 10 * 2 ** 20,
    agent_rss_bytes: rssMib * 2 ** 20,
    cpu_s: t / 100,
    series: 300,
    containers_seen: 20,
    scrapes_ok: 10,
    scrapes_failed: 0,
    scrape_max_ms: 3,
    churned: 0,
    thread_names: "deno:2;tokio-runtime-w:5",
    ...extra,
  } satisfies SoakSample;
}

Deno.test("summarize() measures growth from the first sample at the warm-up to the last", () => {
  const rows = [sample(100, 50), sample(300, 80), sample(600, 82), sample(900, 84)];
  const s = summarize(rows, { warmupS: 300, maxGrowthPct: 5 });
  equal(s.rss_at_warmup_mib, 80);
  equal(s.rss_at_end_mib, 84);
  equal(s.rss_growth_pct, 5);
  equal(s.rss_slope_mib_per_h, 24); // 2 MiB per 300 s
  equal(s.rss_min_after_warmup_mib, 80);
  equal(s.hwm_mib, 84);
  equal(s.pass, true);
  equal(s.scrapes_ok, 40);
  equal(s.cpu_pct_after_warmup, 1); // cpu_s = t / 100
});

Deno.test("summarize() fails a run whose growth is above the limit", () => {
  const rows = [sample(300, 80), sample(600, 82), sample(900, 84.2)];
  const s = summarize(rows, { warmupS: 300, maxGrowthPct: 5 });
  equal(s.pass, false);
  deepEqual(s.failures, ["RSS grew 5.25 % after the warm-up (limit 5 %)"]);
});

Deno.test("summarize() fails when threads still rise in the second half after the warm-up", () => {
  const rising = [sample(0, 80, 30), sample(300, 80, 9), sample(400, 80, 10), sample(500, 80, 12)];
  const s = summarize(rising, { warmupS: 300, maxGrowthPct: 5 });
  equal(s.threads_plateau, false);
  equal(s.threads_max_first_half, 9);
  equal(s.threads_max_second_half, 12);
  equal(s.threads_min, 9);
  equal(s.threads_max, 30);
  equal(s.pass, false);
  const flat = [sample(300, 80, 12), sample(400, 80, 10), sample(500, 80, 12)];
  equal(summarize(flat, { warmupS: 300, maxGrowthPct: 5 }).threads_plateau, true);
});

Deno.test("summarize() fails a run with a failed scrape", () => {
  const rows = [sample(300, 80), sample(600, 80, 9, { scrapes_failed: 2 })];
  deepEqual(summarize(rows, { warmupS: 300, maxGrowthPct: 5 }).failures, ["2 scrape(s) failed"]);
});

Deno.test("summarize() needs two samples at or after the warm-up", () => {
  throws(
    () => summarize([sample(100, 80), sample(300, 80)], { warmupS: 300, maxGrowthPct: 5 }),
    RangeError,
  );
});

Deno.test("parseCsv() reads back what csvRow() wrote, thread names included", () => {
  const rows = [sample(10, 70), sample(20, 71.5, 11, { thread_names: 'a:1;"b":2' })];
  const text = [csvHeader(), ...rows.map(csvRow)].join("\n") + "\n";
  deepEqual(parseCsv(text), rows);
  throws(() => parseCsv("t,rss\n1,2\n"), SyntaxError);
  throws(() => parseCsv(csvHeader() + "\n1,2\n"), SyntaxError);
});
