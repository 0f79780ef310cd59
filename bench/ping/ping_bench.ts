/**
 * Pinger benchmark: wall and CPU time of one `OspreyLibrary.ping` batch from
 * inside a network namespace to addresses on its veth peer (100 IPv4, 100
 * IPv6, and one of each as the fixed cost), against the same batch from the
 * caller's own namespace over loopback (no thread, no setns); and how long
 * Deno's event loop was held up while batches ran (the largest gap of a 1 ms
 * interval timer), against the same timer with nothing running.
 *
 * usage (root, after `deno task build`):
 *   deno run -A bench/ping/ping_bench.ts [--targets=100] [--batches=50]
 *
 * Prints one JSON document, then one human line per case.
 *
 * @module
 */

import process from "node:process";
import { openLibrary, type OspreyLibrary, type PingResult } from "../../ffi/mod.ts";
import { createNetnsPair } from "../../tests/helpers/netns.ts";

function parseArgs(args: string[]): { targets: number; batches: number } {
  const opts = { targets: 100, batches: 50 };
  for (const arg of args) {
    const m = arg.match(/^--(targets|batches)=(\d+)$/);
    if (!m) throw new TypeError(`Unknown argument "${arg}"`);
    opts[m[1] as keyof typeof opts] = Number(m[2]);
  }
  if (opts.targets < 1 || opts.targets > 250) throw new RangeError("--targets: 1 to 250");
  return opts;
}

interface CaseResult {
  case: string;
  targets: number;
  batches: number;
  wall_ms: { median: number; p90: number; max: number };
  cpu_ms_per_batch: number;
  rtt_us_median: number;
  answered: number;
  kernel_stamped: number;
  loop_max_gap_ms: number;
}

function quantile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

/** Largest gap between ticks of a 1 ms interval while `work` runs. */
async function withLoopProbe<T>(work: () => Promise<T>): Promise<{ value: T; maxGapMs: number }> {
  let last = performance.now();
  let maxGap = 0;
  const timer = setInterval(() => {
    const now = performance.now();
    maxGap = Math.max(maxGap, now - last);
    last = now;
  }, 1);
  try {
    const value = await work();
    return { value, maxGapMs: maxGap };
  } finally {
    clearInterval(timer);
  }
}

async function runCase(
  lib: OspreyLibrary,
  name: string,
  netns: string,
  targets: string[],
  batches: number,
): Promise<CaseResult> {
  // one untimed batch: neighbour resolution, the library's first-call setup
  await lib.ping(netns, targets, { timeoutMs: 2000 });
  const walls: number[] = [];
  const rtts: number[] = [];
  let answered = 0;
  let stamped = 0;
  const cpu0 = process.cpuUsage();
  const { maxGapMs } = await withLoopProbe(async () => {
    for (let i = 0; i < batches; i++) {
      const t0 = performance.now();
      const rs: PingResult[] = await lib.ping(netns, targets, { timeoutMs: 2000 });
      walls.push(performance.now() - t0);
      for (const r of rs) {
        if ("error" in r) continue;
        answered++;
        rtts.push(r.rttSeconds * 1e6);
        if (r.txClock !== "user" && r.rxClock === "kernel") stamped++;
      }
    }
  });
  const cpu = process.cpuUsage(cpu0);
  walls.sort((a, b) => a - b);
  rtts.sort((a, b) => a - b);
  return {
    case: name,
    targets: targets.length,
    batches,
    wall_ms: { median: quantile(walls, 0.5), p90: quantile(walls, 0.9), max: walls.at(-1)! },
    cpu_ms_per_batch: (cpu.user + cpu.system) / 1000 / batches,
    rtt_us_median: rtts.length ? quantile(rtts, 0.5) : NaN,
    answered,
    kernel_stamped: stamped,
    loop_max_gap_ms: maxGapMs,
  };
}

const opts = parseArgs(Deno.args);
using lib = openLibrary();
const pair = await createNetnsPair("pingbench");
try {
  const { a, b } = pair;
  const v4: string[] = [];
  const v6: string[] = [];
  for (let i = 0; i < opts.targets; i++) {
    v4.push(`10.201.1.${i + 1}`);
    v6.push(`fd00:201::1:${(i + 1).toString(16)}`);
  }
  await a.ip("route", "add", "10.201.1.0/24", "dev", "veth0");
  for (const addr of v4) await b.ip("addr", "add", `${addr}/32`, "dev", "veth0");
  for (const addr of v6) await b.ip("-6", "addr", "add", `${addr}/128`, "dev", "veth0", "nodad");

  const idle = await withLoopProbe(() => new Promise((r) => setTimeout(r, 1000)));
  const results = [
    await runCase(lib, "netns, 1 IPv4", a.path, [b.v4], opts.batches),
    await runCase(lib, "netns, 1 IPv6", a.path, [b.v6], opts.batches),
    await runCase(lib, `netns, ${opts.targets} IPv4`, a.path, v4, opts.batches),
    await runCase(lib, `netns, ${opts.targets} IPv6`, a.path, v6, opts.batches),
    await runCase(
      lib,
      `own netns (loopback), ${opts.targets} IPv4`,
      "",
      Array(opts.targets).fill("127.0.0.1"),
      opts.batches,
    ),
  ];
  console.log(JSON.stringify({ idle_loop_max_gap_ms: idle.maxGapMs, results }, null, 2));
  console.log(`idle: event-loop max gap ${idle.maxGapMs.toFixed(2)} ms`);
  for (const r of results) {
    console.log(
      `${r.case}: wall median ${r.wall_ms.median.toFixed(2)} ms (p90 ${
        r.wall_ms.p90.toFixed(2)
      }, max ${r.wall_ms.max.toFixed(2)}), CPU ${r.cpu_ms_per_batch.toFixed(2)} ms/batch, ` +
        `RTT median ${r.rtt_us_median.toFixed(1)} µs, answered ${r.answered}/${
          r.targets * r.batches
        }, kernel-timed ${r.kernel_stamped}, event-loop max gap ${r.loop_max_gap_ms.toFixed(2)} ms`,
    );
  }
} finally {
  await pair.remove();
}
