/**
 * The agent's cost with 200 running Podman containers against the same agent process with none
 * of them: scrape wall time (median, p99), agent CPU per scrape, agent RSS, and the background
 * refresh's CPU.
 *
 * One agent (`-P=agent`, `--min-container-age=0`, the default 5 s `--collect-interval`) is
 * measured twice: first with no bench containers, then after N busybox `sleep` containers are
 * started (`podman run -d`, a few at a time) and the agent serves a `container_info` for each.
 * Each phase:
 * 1. warm-up scrapes, discarded;
 * 2. S scrapes paced evenly over a window W that is a whole number of refresh intervals (so it
 *    holds exactly W / interval background refreshes), each scrape's wall time recorded;
 *    the agent's CPU time read before and after (all threads' `schedstat`, in ns; the
 *    tick-based utime + stime of `/proc/<pid>/stat` is reported alongside as a cross-check);
 * 3. an idle window of 2·W with no scrapes: the background CPU rate;
 * CPU per scrape = (CPU in the scrape window − idle rate × W) / S.
 * 4. VmRSS and VmHWM from `/proc/<pid>/status`.
 *
 * Containers this benchmark starts are named `osprey-t-bench-<pid>-<n>` and are always removed
 * at the end (also on SIGINT/SIGTERM). Other containers on the host are counted, not touched.
 *
 * Usage (root): deno run -A bench/containers/containers_bench.ts
 *   [--containers=200] [--scrapes=100] [--window=10s] [--concurrency=4] [--json=<file>]
 *
 * @module
 */
import { scrape } from "../../tests/helpers/agent_process.ts";
import type { AgentProcess } from "../../tests/helpers/agent_process.ts";
import { startContainerAgent, withStderr } from "../../tests/containers/agent.ts";
import { parseSamples, sleep, waitFor } from "../../tests/containers/metrics.ts";
import {
  mapLimit,
  NAME_PREFIX,
  podman,
  podmanIgnoreReason,
  removeContainers,
} from "../../tests/containers/podman.ts";
import { ensureTestImage } from "../../tests/containers/rootfs.ts";
import { flag } from "../_args.ts";

function durationMs(s: string): number {
  const m = s.match(/^(\d+(?:\.\d+)?)(ms|s)$/);
  if (!m) throw new Error(`bad duration ${s}`);
  return Number(m[1]) * (m[2] === "s" ? 1000 : 1);
}

const N = Number(flag("containers", "200"));
const SCRAPES = Number(flag("scrapes", "100"));
const INTERVAL_MS = 5000; // the agent's default --collect-interval, passed explicitly
const WINDOW_MS = durationMs(flag("window", "10s"));
const CONCURRENCY = Number(flag("concurrency", "4"));
const JSON_OUT = flag("json", "");
const WARMUP = 10;
if (WINDOW_MS % INTERVAL_MS !== 0) throw new Error("--window must be a multiple of 5s");

const HZ = 100; // USER_HZ on Linux/x86-64

/** utime + stime of a process in ms (fields 14 and 15 of stat(5)): 10 ms ticks. */
function statCpuMs(pid: number): number {
  const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return ((Number(f[11]) + Number(f[12])) / HZ) * 1000;
}

/**
 * CPU time of all of a process's threads in ms, to the nanosecond: the first field of each
 * `/proc/<pid>/task/<tid>/schedstat` (sum_exec_runtime). The tick-based stat(5) figure cannot
 * resolve a background refresh of a few tens of ms in a 20 s window; this can.
 */
function cpuMs(pid: number): number {
  let ns = 0;
  for (const t of Deno.readDirSync(`/proc/${pid}/task`)) {
    try {
      ns += Number(Deno.readTextFileSync(`/proc/${pid}/task/${t.name}/schedstat`).split(" ")[0]);
    } catch { /* the thread exited meanwhile */ }
  }
  return ns / 1e6;
}

function statusKiB(pid: number, field: string): number {
  const m = Deno.readTextFileSync(`/proc/${pid}/status`).match(
    new RegExp(`^${field}:\\s+(\\d+)`, "m"),
  );
  if (!m) throw new Error(`no ${field} in /proc/${pid}/status`);
  return Number(m[1]);
}

function quantile(sorted: number[], q: number): number {
  // Nearest rank: p99 of 100 samples is the 99th smallest.
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[i];
}

/** What one phase measured. */
interface Phase {
  containers_seen: number;
  series: number;
  body_bytes: number;
  scrape_ms: { median: number; p99: number; max: number; mean: number };
  /** From schedstat (ns); the next from stat(5) utime + stime (10 ms ticks), a cross-check. */
  cpu_ms_per_scrape: number;
  cpu_ms_per_scrape_stat_ticks: number;
  background_cpu_ms_per_s: number;
  background_cpu_ms_per_refresh: number;
  rss_mib: number;
  hwm_mib: number;
}

function benchContainers(body: string): { all: number; bench: number; series: number } {
  let all = 0, bench = 0, series = 0;
  for (const s of parseSamples(body)) {
    series++;
    if (s.name !== "container_info") continue;
    all++;
    if ((s.labels.container_id ?? "").startsWith(`/podman/${PREFIX}`)) bench++;
  }
  return { all, bench, series };
}

async function measure(agent: AgentProcess): Promise<Phase> {
  const pid = agent.child.pid;
  for (let i = 0; i < WARMUP; i++) await scrape(agent.url);
  const walls: number[] = [];
  let body = "";
  const gap = WINDOW_MS / SCRAPES;
  const c0 = cpuMs(pid), s0 = statCpuMs(pid);
  const w0 = performance.now();
  for (let i = 0; i < SCRAPES; i++) {
    const due = w0 + i * gap;
    const wait = due - performance.now();
    if (wait > 0) await sleep(wait);
    const t = performance.now();
    body = await scrape(agent.url);
    walls.push(performance.now() - t);
  }
  const rest = w0 + WINDOW_MS - performance.now();
  if (rest > 0) await sleep(rest);
  const c1 = cpuMs(pid), s1 = statCpuMs(pid);
  const scrapeWindow = performance.now() - w0;
  const i0 = cpuMs(pid), j0 = statCpuMs(pid);
  const t0 = performance.now();
  await sleep(2 * WINDOW_MS);
  const idleMs = performance.now() - t0;
  const idleRate = (cpuMs(pid) - i0) / idleMs; // ms CPU per ms
  const statIdleRate = (statCpuMs(pid) - j0) / idleMs;
  const sorted = [...walls].sort((a, b) => a - b);
  const seen = benchContainers(body);
  return {
    containers_seen: seen.all,
    series: seen.series,
    body_bytes: new TextEncoder().encode(body).length,
    scrape_ms: {
      median: round(quantile(sorted, 0.5)),
      p99: round(quantile(sorted, 0.99)),
      max: round(sorted[sorted.length - 1]),
      mean: round(walls.reduce((a, b) => a + b, 0) / walls.length),
    },
    cpu_ms_per_scrape: round((c1 - c0 - idleRate * scrapeWindow) / SCRAPES),
    cpu_ms_per_scrape_stat_ticks: round((s1 - s0 - statIdleRate * scrapeWindow) / SCRAPES),
    background_cpu_ms_per_s: round(idleRate * 1000),
    background_cpu_ms_per_refresh: round(idleRate * INTERVAL_MS),
    rss_mib: round(statusKiB(pid, "VmRSS") / 1024),
    hwm_mib: round(statusKiB(pid, "VmHWM") / 1024),
  };
}

function round(x: number): number {
  return Math.round(x * 1000) / 1000;
}

const PREFIX = `${NAME_PREFIX}bench-${Deno.pid}-`;
const names = Array.from({ length: N }, (_, i) => `${PREFIX}${i}`);
let cleaning: Promise<void> | undefined;
function cleanup(): Promise<void> {
  cleaning ??= (async () => {
    const t = performance.now();
    // A few names per command, several commands at once: faster than one long podman rm.
    const batches: string[][] = [];
    for (let i = 0; i < names.length; i += 20) batches.push(names.slice(i, i + 20));
    await mapLimit(batches, CONCURRENCY, (b) => removeContainers(b));
    console.error(`removed ${names.length} containers in ${(performance.now() - t).toFixed(0)} ms`);
  })();
  return cleaning;
}

/** Running containers this benchmark did not start. */
async function otherRunning(): Promise<number> {
  return (await podman(["ps", "--format", "{{.Names}}"])).split("\n")
    .filter((n) => n !== "" && !n.startsWith(PREFIX)).length;
}

async function startAll(image: string): Promise<number> {
  const t0 = performance.now();
  await mapLimit(
    names,
    CONCURRENCY,
    (name) => podman(["run", "-d", "--name", name, "--network", "none", image, "sleep", "36000"]),
  );
  const ms = performance.now() - t0;
  console.error(`started ${N} containers in ${ms.toFixed(0)} ms (${CONCURRENCY} at a time)`);
  return ms;
}

/** `--no-agent`: only the harness's own timings (start and remove N containers). */
async function harnessOnly(): Promise<void> {
  const why = podmanIgnoreReason();
  if (why) throw new Error(`cannot run: ${why}`);
  const { image } = await ensureTestImage();
  const startMs = await startAll(image);
  const running = (await podman(["ps", "--format", "{{.Names}}"])).split("\n")
    .filter((n) => n.startsWith(PREFIX)).length;
  const t = performance.now();
  await cleanup();
  const rmMs = performance.now() - t;
  console.log(
    JSON.stringify({ containers: N, running, start_ms: round(startMs), rm_ms: round(rmMs) }),
  );
}

async function main(): Promise<void> {
  const why = podmanIgnoreReason();
  if (why) throw new Error(`cannot run: ${why}`);
  const { image } = await ensureTestImage();
  const others = await otherRunning();
  const agent = await startContainerAgent({
    collectInterval: `${INTERVAL_MS}ms`,
    gcGrace: "60s",
  });
  try {
    console.error(`phase 0: agent pid ${agent.child.pid}, ${others} other running containers`);
    const zero = await measure(agent);

    const startMs = await startAll(image);
    const t1 = performance.now();
    let lastSeen = 0;
    await waitFor(`the agent to serve container_info for all ${N} containers`, async () => {
      lastSeen = benchContainers(await scrape(agent.url)).bench;
      return lastSeen >= N ? true : undefined;
    }, { timeoutMs: 120_000, everyMs: 500, describe: () => `${lastSeen} of ${N} seen` });
    const seenMs = performance.now() - t1;
    console.error(`agent saw all ${N} after ${seenMs.toFixed(0)} ms; measuring`);
    // Let the first full refreshes with N containers pass before measuring.
    await sleep(2 * INTERVAL_MS);
    const full = await measure(agent);

    const othersAfter = await otherRunning();
    // Other containers change both phases (the agent reports them too): say so loudly.
    const quiet = others === 0 && othersAfter === 0 && zero.containers_seen === 0 &&
      full.containers_seen === N;
    const result = {
      bench: "containers",
      date: new Date().toISOString(),
      host: {
        cpus: navigator.hardwareConcurrency,
        other_running_containers: { before: others, after: othersAfter },
        quiet,
      },
      agent: { permissions: "-P=agent", collect_interval_ms: INTERVAL_MS },
      scrapes: SCRAPES,
      window_ms: WINDOW_MS,
      containers: N,
      start: {
        total_ms: round(startMs),
        concurrency: CONCURRENCY,
        agent_saw_all_ms: round(seenMs),
      },
      zero,
      full,
      ratio: {
        scrape_median: round(full.scrape_ms.median / zero.scrape_ms.median),
        scrape_p99: round(full.scrape_ms.p99 / zero.scrape_ms.p99),
        cpu_per_scrape: round(full.cpu_ms_per_scrape / zero.cpu_ms_per_scrape),
        rss: round(full.rss_mib / zero.rss_mib),
      },
      goals: {
        p99_under_50ms: full.scrape_ms.p99 < 50,
        rss_under_100mib: full.rss_mib < 100,
      },
    };
    console.log(JSON.stringify(result, null, 2));
    if (JSON_OUT) await Deno.writeTextFile(JSON_OUT, JSON.stringify(result, null, 2) + "\n");
    const row = (label: string, p: Phase) =>
      `${label.padEnd(16)} ${String(p.containers_seen).padStart(5)} ${
        String(p.series).padStart(7)
      } ${p.scrape_ms.median.toFixed(2).padStart(9)} ${p.scrape_ms.p99.toFixed(2).padStart(8)} ${
        p.cpu_ms_per_scrape.toFixed(2).padStart(11)
      } ${p.background_cpu_ms_per_refresh.toFixed(1).padStart(14)} ${
        p.rss_mib.toFixed(1).padStart(8)
      }`;
    console.log(
      [
        "",
        `${"".padEnd(16)} ${"ctrs".padStart(5)} ${"series".padStart(7)} ${
          "median ms".padStart(9)
        } ${"p99 ms".padStart(8)} ${"CPU ms/scr".padStart(11)} ${"CPU ms/refresh".padStart(14)} ${
          "RSS MiB".padStart(8)
        }`,
        row("0 containers", zero),
        row(`${N} containers`, full),
        `ratio: median ×${result.ratio.scrape_median}, p99 ×${result.ratio.scrape_p99}, ` +
        `CPU/scrape ×${result.ratio.cpu_per_scrape}, RSS ×${result.ratio.rss}`,
        `goals: p99 < 50 ms ${result.goals.p99_under_50ms ? "met" : "MISSED"}; ` +
        `RSS < 100 MiB ${result.goals.rss_under_100mib ? "met" : "MISSED"}`,
        ...(quiet ? [] : [
          `WARNING: not a quiet host: ${others} other running containers before, ` +
          `${othersAfter} after; the agent reported ${zero.containers_seen} in the 0 phase ` +
          `and ${full.containers_seen} in the ${N} phase. Rerun when nothing else runs.`,
        ]),
        `start: ${N} containers in ${(startMs / 1000).toFixed(1)} s (${CONCURRENCY} at a time); ` +
        `agent saw all ${(seenMs / 1000).toFixed(1)} s later`,
      ].join("\n"),
    );
  } catch (e) {
    throw withStderr(e, agent);
  } finally {
    await agent.stop();
  }
}

for (const sig of ["SIGINT", "SIGTERM"] as const) {
  Deno.addSignalListener(sig, () => {
    console.error(`${sig}: removing the benchmark's containers`);
    cleanup().finally(() => Deno.exit(130));
  });
}
let code = 0;
try {
  await (Deno.args.includes("--no-agent") ? harnessOnly() : main());
} catch (e) {
  console.error(e instanceof Error ? e.message : e);
  code = 1;
} finally {
  await cleanup();
}
Deno.exit(code);
