/**
 * The Landlock sandbox's cost (README, "Security model"): the real agent started the two ways
 * `deno task start` could start it, alternately in one run, on this machine:
 *
 * - `deno`: `deno run -P=agent ... agent/main.ts` (Deno's permission checks only);
 * - `off`: `OSPREY_LANDLOCK=off tools/sandbox/start.sh`: the same way through args.ts and the
 *   launcher, without the domain or the broker (what the launcher path costs by itself);
 * - `landlock`: `tools/sandbox/start.sh` (tools/sandbox/args.ts, then the launcher, its procfs
 *   broker and the Landlock domain; `deno task start`).
 *
 * Per start: milliseconds from spawn to the first `/healthz` answer and to `/readyz` 200; then,
 * after a settling pause, over a window of whole collection intervals, the agent's CPU time per
 * interval (utime + stime from `/proc/<pid>/stat`, the broker's included for `landlock`), its
 * RSS at the end (`VmRSS`, the broker's added) and the mean time of a scrape of `/metrics`.
 * Medians per mode and the ratios to `deno` are printed as a Markdown table.
 *
 *   deno task bench:sandbox [--rounds=3] [--window=20s] [--interval=5s] [--scrapes=50]
 *
 * Needs root (the host view, BPF), the build (`deno task build`), a kernel with Landlock.
 *
 * @module
 */
import { flag } from "../_args.ts";

const REPO = new URL("../../", import.meta.url).pathname.replace(/\/$/, "");

if (Deno.args.includes("--help")) {
  console.log(
    "usage: deno task bench:sandbox [--rounds=3] [--window=20s] [--interval=5s] [--scrapes=50]",
  );
  Deno.exit(0);
}

function seconds(v: string, name: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s)$/.exec(v);
  if (m === null) throw new TypeError(`--${name}=${v}: expected a duration such as 20s or 500ms`);
  return Number(m[1]) / (m[2] === "ms" ? 1000 : 1);
}
const ROUNDS = Number(flag("rounds", "3"));
const WINDOW_S = seconds(flag("window", "20s"), "window");
const INTERVAL_S = seconds(flag("interval", "5s"), "interval");
const SCRAPES = Number(flag("scrapes", "50"));
if (!Number.isInteger(ROUNDS) || ROUNDS < 1) throw new TypeError("--rounds: a whole number >= 1");
if (!Number.isInteger(SCRAPES) || SCRAPES < 1) {
  throw new TypeError("--scrapes: a whole number >= 1");
}
const CLK_TCK = 100; // USER_HZ on Linux

type Mode = "deno" | "off" | "landlock";
const MODES: readonly Mode[] = ["deno", "off", "landlock"];

interface Sample {
  healthzMs: number;
  readyMs: number;
  cpuMsPerInterval: number;
  rssMiB: number;
  scrapeMs: number;
}

function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

/** utime + stime of a process, in seconds. */
function cpuSeconds(pid: number): number {
  const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(f[11]) + Number(f[12])) / CLK_TCK;
}

function rssKiB(pid: number): number {
  const m = /^VmRSS:\s+(\d+) kB$/m.exec(Deno.readTextFileSync(`/proc/${pid}/status`));
  return m === null ? 0 : Number(m[1]);
}

/** The agent and, under the launcher, its broker (the child of the agent's main thread). */
function processes(pid: number): number[] {
  const kids = Deno.readTextFileSync(`/proc/${pid}/task/${pid}/children`).trim();
  return [pid, ...(kids === "" ? [] : kids.split(" ").map(Number))];
}

async function until(url: string, ok: (r: Response) => boolean, t0: number): Promise<number> {
  for (;;) {
    if (performance.now() - t0 > 60_000) throw new Error(`${url} did not answer in 60 s`);
    try {
      const r = await fetch(url);
      await r.body?.cancel();
      if (ok(r)) return performance.now() - t0;
    } catch { /* not yet */ }
    await new Promise((r) => setTimeout(r, 5));
  }
}

async function one(mode: Mode): Promise<Sample> {
  const port = freePort();
  const args = [
    `--listen=127.0.0.1:${port}`,
    `--collect-interval=${INTERVAL_S}s`,
    "--cloud-metadata-base-url=http://127.0.0.1:1",
  ];
  const [cmd, cmdArgs] = mode === "deno"
    ? [Deno.execPath(), [
      "run",
      "--no-prompt",
      "-P=agent",
      "--v8-flags=--max-semi-space-size=1,--expose-gc",
      "agent/main.ts",
      ...args,
    ]]
    : ["sh", ["tools/sandbox/start.sh", ...args]];
  const t0 = performance.now();
  const child = new Deno.Command(cmd, {
    args: cmdArgs,
    cwd: REPO,
    env: {
      MALLOC_ARENA_MAX: "2",
      MALLOC_MMAP_THRESHOLD_: "131072",
      NO_COLOR: "1",
      DENO_NO_UPDATE_CHECK: "1",
      ...(mode === "off" ? { OSPREY_LANDLOCK: "off" } : {}),
    },
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  try {
    const url = `http://127.0.0.1:${port}`;
    const healthzMs = await until(`${url}/healthz`, () => true, t0);
    const readyMs = await until(`${url}/readyz`, (r) => r.status === 200, t0);
    await new Promise((r) => setTimeout(r, 2 * INTERVAL_S * 1000)); // settle
    const procs = processes(child.pid);
    if (mode === "landlock" && procs.length !== 2) {
      throw new Error(`the sandboxed agent has no broker child: ${procs.join(" ")}`);
    }
    const cpu0 = procs.reduce((n, p) => n + cpuSeconds(p), 0);
    await new Promise((r) => setTimeout(r, WINDOW_S * 1000));
    const cpu1 = procs.reduce((n, p) => n + cpuSeconds(p), 0);
    const rss = procs.reduce((n, p) => n + rssKiB(p), 0);
    const s0 = performance.now();
    for (let i = 0; i < SCRAPES; i++) {
      const r = await fetch(`${url}/metrics`);
      await r.arrayBuffer();
    }
    const scrapeMs = (performance.now() - s0) / SCRAPES;
    return {
      healthzMs,
      readyMs,
      cpuMsPerInterval: (cpu1 - cpu0) * 1000 / (WINDOW_S / INTERVAL_S),
      rssMiB: rss / 1024,
      scrapeMs,
    };
  } finally {
    child.kill("SIGTERM");
    await child.status;
  }
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

const samples: Record<Mode, Sample[]> = { deno: [], off: [], landlock: [] };
for (let r = 0; r < ROUNDS; r++) {
  // rotate which goes first, so a trend on the machine does not favour one mode
  const order = MODES.map((_, k) => MODES[(k + r) % MODES.length]);
  for (const mode of order) {
    const s = await one(mode);
    samples[mode].push(s);
    console.error(
      `round ${r + 1} ${mode}: healthz ${s.healthzMs.toFixed(0)} ms, ready ${
        s.readyMs.toFixed(0)
      } ms, CPU ${s.cpuMsPerInterval.toFixed(1)} ms/interval, RSS ${s.rssMiB.toFixed(1)} MiB, ` +
        `scrape ${s.scrapeMs.toFixed(2)} ms`,
    );
  }
}

const rows: [string, keyof Sample, number][] = [
  ["start to /healthz (ms)", "healthzMs", 0],
  ["start to /readyz 200 (ms)", "readyMs", 0],
  [`CPU per ${INTERVAL_S} s collection interval (ms)`, "cpuMsPerInterval", 1],
  ["RSS (MiB, landlock: the broker's included)", "rssMiB", 1],
  ["one scrape of /metrics (ms, fetch included)", "scrapeMs", 2],
];
console.log(
  `Median of ${ROUNDS} starts each, in rotation; window ${WINDOW_S} s, ${SCRAPES} scrapes.\n`,
);
console.log(
  "| measure | deno | launcher, Landlock off | landlock | off / deno | landlock / deno |",
);
console.log("| --- | --- | --- | --- | --- | --- |");
for (const [label, key, digits] of rows) {
  const [d, o, l] = MODES.map((m) => median(samples[m].map((s) => s[key])));
  console.log(
    `| ${label} | ${d.toFixed(digits)} | ${o.toFixed(digits)} | ${l.toFixed(digits)} | ` +
      `${(o / d).toFixed(2)} | ${(l / d).toFixed(2)} |`,
  );
}
