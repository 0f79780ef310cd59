/**
 * The soak's numbers: one {@linkcode SoakSample} every sampling interval, written as a CSV row,
 * and {@linkcode summarize}, which turns the rows into the verdict (RSS growth after the
 * warm-up, thread and descriptor ranges, whether the thread count plateaued).
 *
 * Pure: no I/O, so `summary_test.ts` checks it on made-up rows.
 *
 * @module
 */

/** One sample of the agent process, taken every sampling interval. */
export interface SoakSample {
  /** Seconds since the agent was started. */
  t_s: number;
  /** VmRSS, KiB (`/proc/<pid>/status`). */
  rss_kib: number;
  /** RssAnon, KiB: heap, malloc arenas, thread stacks. */
  rss_anon_kib: number;
  /** RssFile, KiB: mapped files (the deno binary, libosprey.so, ...). */
  rss_file_kib: number;
  /** VmHWM, KiB: the RSS high-water mark so far. */
  hwm_kib: number;
  /** Entries of `/proc/<pid>/task`. */
  threads: number;
  /** Entries of `/proc/<pid>/fd`. */
  fds: number;
  /** `osprey_heap_used_bytes` from the last scrape (V8 heap in use), or -1 when absent. */
  heap_used_bytes: number;
  /** `process_resident_memory_bytes` from the last scrape, or -1 when absent. */
  agent_rss_bytes: number;
  /** utime + stime of the agent, seconds. */
  cpu_s: number;
  /** Sample lines in the last scrape. */
  series: number;
  /** `container_info` series of the soak's own containers in the last scrape. */
  containers_seen: number;
  /** Scrapes that answered 200 since the previous sample. */
  scrapes_ok: number;
  /** Scrapes that failed (status, connection) since the previous sample. */
  scrapes_failed: number;
  /** Slowest scrape since the previous sample, ms. */
  scrape_max_ms: number;
  /** Containers removed and started, or restarted, since the previous sample (churn mode). */
  churned: number;
  /** Thread names and counts, `name:count` joined by `;`, names sorted. */
  thread_names: string;
}

/** CSV column order: the keys of {@linkcode SoakSample}. */
export const CSV_COLUMNS: readonly (keyof SoakSample)[] = [
  "t_s",
  "rss_kib",
  "rss_anon_kib",
  "rss_file_kib",
  "hwm_kib",
  "threads",
  "fds",
  "heap_used_bytes",
  "agent_rss_bytes",
  "cpu_s",
  "series",
  "containers_seen",
  "scrapes_ok",
  "scrapes_failed",
  "scrape_max_ms",
  "churned",
  "thread_names",
];

/** The CSV header line (no newline). */
export function csvHeader(): string {
  return CSV_COLUMNS.join(",");
}

/** One CSV row (no newline); the thread names are quoted, the rest are plain numbers. */
export function csvRow(s: SoakSample): string {
  return CSV_COLUMNS.map((k) => {
    const v = s[k];
    return typeof v === "string" ? `"${v.replaceAll('"', '""')}"` : String(v);
  }).join(",");
}

/** Parses a CSV written by {@linkcode csvHeader} and {@linkcode csvRow}; throws on a bad line. */
export function parseCsv(text: string): SoakSample[] {
  const lines = text.split("\n").filter((l) => l !== "");
  if (lines.length === 0) return [];
  const header = lines[0].split(",");
  if (header.join(",") !== csvHeader()) {
    throw new SyntaxError(`Cannot read the soak CSV: header is "${lines[0]}"`);
  }
  return lines.slice(1).map((line, i) => {
    // Numbers first; the thread names, quoted, are the last column.
    const q = line.indexOf(',"');
    const numbers = (q < 0 ? line : line.slice(0, q)).split(",");
    const names = q < 0 ? "" : line.slice(q + 2, line.lastIndexOf('"')).replaceAll('""', '"');
    const row: Record<string, number | string> = {};
    CSV_COLUMNS.forEach((k, j) => {
      if (k === "thread_names") {
        row[k] = names;
        return;
      }
      const n = Number(numbers[j]);
      if (numbers[j] === undefined || numbers[j] === "" || !Number.isFinite(n)) {
        throw new SyntaxError(`Cannot read the soak CSV: line ${i + 2}, column ${k}`);
      }
      row[k] = n;
    });
    return row as unknown as SoakSample;
  });
}

/** The verdict of a soak run. */
export interface SoakSummary {
  samples: number;
  duration_s: number;
  warmup_s: number;
  /** VmRSS of the first sample at or after the warm-up, MiB. */
  rss_at_warmup_mib: number;
  /** VmRSS of the last sample, MiB. */
  rss_at_end_mib: number;
  /** (end − warm-up) / warm-up, in percent. */
  rss_growth_pct: number;
  /** Least-squares slope of VmRSS over the samples after the warm-up, MiB per hour. */
  rss_slope_mib_per_h: number;
  rss_min_after_warmup_mib: number;
  rss_max_after_warmup_mib: number;
  hwm_mib: number;
  heap_at_warmup_mib: number;
  heap_at_end_mib: number;
  threads_min: number;
  threads_max: number;
  threads_at_warmup: number;
  threads_at_end: number;
  /**
   * Highest thread count in the first and in the second half of the samples after the
   * warm-up; the count plateaued when the second is not above the first.
   */
  threads_max_first_half: number;
  threads_max_second_half: number;
  threads_plateau: boolean;
  fds_min_after_warmup: number;
  fds_max_after_warmup: number;
  fds_at_end: number;
  /** The agent's CPU after the warm-up, in % of one core (utime + stime over wall time). */
  cpu_pct_after_warmup: number;
  scrapes_ok: number;
  scrapes_failed: number;
  scrape_max_ms: number;
  churned: number;
  /** The growth limit applied, percent. */
  max_growth_pct: number;
  /** Growth under the limit, the thread count plateaued and no scrape failed. */
  pass: boolean;
  /** Why it did not pass (empty when it did). */
  failures: string[];
}

const MIB = 1024;

function round(x: number, digits = 2): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

/**
 * Summarizes the samples of one run.
 *
 * @param samples the rows in time order; at least one must be at or after `warmupS`, and one
 *   more after that
 * @param opts `warmupS`: seconds after the agent's start where growth is measured from;
 *   `maxGrowthPct`: the RSS growth allowed from there to the end
 * @throws RangeError when there are not two samples at or after the warm-up
 */
export function summarize(
  samples: readonly SoakSample[],
  opts: { warmupS: number; maxGrowthPct: number },
): SoakSummary {
  const after = samples.filter((s) => s.t_s >= opts.warmupS);
  if (after.length < 2) {
    throw new RangeError(
      `Cannot summarize the soak: ${after.length} sample(s) at or after the ${opts.warmupS} s ` +
        `warm-up, 2 needed`,
    );
  }
  const first = after[0];
  const last = after[after.length - 1];
  const growth = (last.rss_kib - first.rss_kib) / first.rss_kib * 100;

  // Least squares over (hours, MiB).
  const xs = after.map((s) => s.t_s / 3600);
  const ys = after.map((s) => s.rss_kib / MIB);
  const mx = xs.reduce((a, b) => a + b, 0) / xs.length;
  const my = ys.reduce((a, b) => a + b, 0) / ys.length;
  let num = 0, den = 0;
  for (let i = 0; i < xs.length; i++) {
    num += (xs[i] - mx) * (ys[i] - my);
    den += (xs[i] - mx) ** 2;
  }
  const slope = den === 0 ? 0 : num / den;

  const half = Math.floor(after.length / 2);
  const maxThreads = (rows: readonly SoakSample[]) => Math.max(...rows.map((s) => s.threads));
  const firstHalf = maxThreads(after.slice(0, Math.max(1, half)));
  const secondHalf = maxThreads(after.slice(Math.max(1, half)));
  const plateau = secondHalf <= firstHalf;
  const sum = (k: "scrapes_ok" | "scrapes_failed" | "churned") =>
    samples.reduce((a, s) => a + s[k], 0);
  const scrapesFailed = sum("scrapes_failed");

  const failures: string[] = [];
  if (growth > opts.maxGrowthPct) {
    failures.push(
      `RSS grew ${round(growth)} % after the warm-up (limit ${opts.maxGrowthPct} %)`,
    );
  }
  if (!plateau) {
    failures.push(
      `threads rose to ${secondHalf} in the second half after the warm-up ` +
        `(first half at most ${firstHalf})`,
    );
  }
  if (scrapesFailed > 0) failures.push(`${scrapesFailed} scrape(s) failed`);

  return {
    samples: samples.length,
    duration_s: round(last.t_s, 1),
    warmup_s: opts.warmupS,
    rss_at_warmup_mib: round(first.rss_kib / MIB),
    rss_at_end_mib: round(last.rss_kib / MIB),
    rss_growth_pct: round(growth),
    rss_slope_mib_per_h: round(slope),
    rss_min_after_warmup_mib: round(Math.min(...after.map((s) => s.rss_kib)) / MIB),
    rss_max_after_warmup_mib: round(Math.max(...after.map((s) => s.rss_kib)) / MIB),
    hwm_mib: round(Math.max(...samples.map((s) => s.hwm_kib)) / MIB),
    heap_at_warmup_mib: round(first.heap_used_bytes / 2 ** 20),
    heap_at_end_mib: round(last.heap_used_bytes / 2 ** 20),
    threads_min: Math.min(...samples.map((s) => s.threads)),
    threads_max: Math.max(...samples.map((s) => s.threads)),
    threads_at_warmup: first.threads,
    threads_at_end: last.threads,
    threads_max_first_half: firstHalf,
    threads_max_second_half: secondHalf,
    threads_plateau: plateau,
    fds_min_after_warmup: Math.min(...after.map((s) => s.fds)),
    fds_max_after_warmup: Math.max(...after.map((s) => s.fds)),
    fds_at_end: last.fds,
    cpu_pct_after_warmup: round((last.cpu_s - first.cpu_s) / (last.t_s - first.t_s) * 100),
    scrapes_ok: sum("scrapes_ok"),
    scrapes_failed: scrapesFailed,
    scrape_max_ms: round(Math.max(...samples.map((s) => s.scrape_max_ms))),
    churned: sum("churned"),
    max_growth_pct: opts.maxGrowthPct,
    pass: failures.length === 0,
    failures,
  };
}

/** A few lines for people: the figures the README's Memory section quotes. */
export function formatSummary(s: SoakSummary): string {
  return [
    `samples ${s.samples} over ${(s.duration_s / 60).toFixed(1)} min ` +
    `(warm-up ${(s.warmup_s / 60).toFixed(1)} min)`,
    `RSS: ${s.rss_at_warmup_mib} MiB at warm-up end → ${s.rss_at_end_mib} MiB at end: ` +
    `${s.rss_growth_pct >= 0 ? "+" : ""}${s.rss_growth_pct} % ` +
    `(limit ${s.max_growth_pct} %); after warm-up min ${s.rss_min_after_warmup_mib}, ` +
    `max ${s.rss_max_after_warmup_mib}, slope ${s.rss_slope_mib_per_h} MiB/h; HWM ${s.hwm_mib} MiB`,
    `V8 heap used: ${s.heap_at_warmup_mib} MiB → ${s.heap_at_end_mib} MiB`,
    `threads: min ${s.threads_min}, max ${s.threads_max}; ${s.threads_at_warmup} at warm-up end, ` +
    `${s.threads_at_end} at end; max ${s.threads_max_first_half} / ` +
    `${s.threads_max_second_half} in the two halves after warm-up ` +
    `(${s.threads_plateau ? "plateau" : "STILL RISING"})`,
    `fds after warm-up: ${s.fds_min_after_warmup}–${s.fds_max_after_warmup}, ${s.fds_at_end} at end`,
    `CPU after warm-up: ${s.cpu_pct_after_warmup} % of a core`,
    `scrapes: ${s.scrapes_ok} ok, ${s.scrapes_failed} failed, slowest ${s.scrape_max_ms} ms` +
    (s.churned > 0 ? `; ${s.churned} churn operations` : ""),
    s.pass ? "PASS" : `FAIL: ${s.failures.join("; ")}`,
  ].join("\n");
}
