/**
 * Cost per scrape of the node families against node_exporter's default collectors, on the same
 * host in one run, reported per series served.
 *
 * Three measurements, each after a warm-up:
 * 1. ours in-process: one round of the node collectors plus `encode("text")`; CPU from
 *    `process.cpuUsage()` (user + system of this process), wall from `performance.now()`.
 * 2. ours over HTTP: a child Deno process (`_serve_child.ts`) that collects and encodes on each
 *    GET, scraped N times; CPU from the child's `/proc/<pid>/stat` utime + stime.
 * 3. node_exporter 1.5, default collectors, scraped N times the same way.
 * 2 and 3 are the like-for-like pair (separate processes, HTTP included, no compression:
 * `Accept-Encoding: identity`). Each HTTP run scrapes at least N times and for at least 2 s, so
 * the 10 ms tick of /proc/<pid>/stat is under 1 % of the CPU measured.
 *
 * Both serve far fewer series from the node families than node_exporter does (30 against ~500
 * here), so a fixed per-request cost weighs on ours much more per series. Two baselines split
 * it off: our child answering an empty body (`/empty`: HTTP only), and node_exporter with
 * `collect[]=time` (HTTP plus its own go_/process_/promhttp_ series and the time collector).
 * "marginal" = (full − baseline) / (series − baseline series): what each further series costs.
 *
 * Usage: deno run -A bench/node/node_bench.ts [scrapes=1000]   (root, real host)
 *
 * @module
 */
import { cpuUsage } from "node:process";
import { Registry } from "../../agent/metrics/mod.ts";
import { identityLabels, nodeCollectors } from "../../agent/node/mod.ts";
import { readUserHz } from "../../agent/node/user_hz.ts";
import { hostPaths, under } from "../../agent/paths.ts";

const NODE_EXPORTER = "/usr/bin/prometheus-node-exporter";
const N = Number(Deno.args[0] ?? 1000);
const MIN_MS = 2000;
const WARMUP = 20;
const paths = hostPaths();
const { hz } = await readUserHz(paths);

/** Result of one measurement. */
interface Cost {
  label: string;
  cpuMs: number;
  wallMs: number;
  series: number;
}

function countSeries(body: string): number {
  let n = 0;
  for (const line of body.split("\n")) if (line !== "" && !line.startsWith("#")) n++;
  return n;
}

/** utime + stime of a process in milliseconds, from `<proc>/<pid>/stat`. */
function processCpuMs(pid: number): number {
  const stat = Deno.readTextFileSync(under(paths.proc, `${pid}/stat`));
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return ((Number(f[11]) + Number(f[12])) / hz) * 1000; // fields 14 and 15 of stat(5)
}

async function get(url: string): Promise<string> {
  const res = await fetch(url, { headers: { "accept-encoding": "identity" } });
  return await res.text();
}

async function waitFor(url: string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    try {
      await get(url);
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  throw new Error(`${url} did not answer within 5 s`);
}

/** Scrapes `url` N times after a warm-up; CPU from the serving process's stat. */
async function overHttp(label: string, url: string, pid: number): Promise<Cost> {
  for (let i = 0; i < WARMUP; i++) await get(url);
  const series = countSeries(await get(url));
  const cpu0 = processCpuMs(pid);
  const t0 = performance.now();
  let n = 0;
  while (n < N || performance.now() - t0 < MIN_MS) {
    await get(url);
    n++;
  }
  const wallMs = (performance.now() - t0) / n;
  const cpuMs = (processCpuMs(pid) - cpu0) / n;
  return { label, cpuMs, wallMs, series };
}

async function inProcess(): Promise<Cost> {
  const reg = new Registry();
  reg.setConstLabels(await identityLabels(paths));
  using node = await nodeCollectors(reg, paths);
  const { collectors } = node;
  const signal = new AbortController().signal;
  const round = async () => {
    for (const c of collectors) await c.collect(signal);
    return reg.encode("text");
  };
  for (let i = 0; i < WARMUP * 5; i++) await round();
  const series = countSeries(new TextDecoder().decode(await round()));
  const rounds = N * 10;
  const c0 = cpuUsage();
  const t0 = performance.now();
  for (let i = 0; i < rounds; i++) await round();
  const wallMs = (performance.now() - t0) / rounds;
  const c = cpuUsage(c0);
  return { label: "ours, in-process", cpuMs: (c.user + c.system) / 1000 / rounds, wallMs, series };
}

function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

async function ours(): Promise<Cost[]> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--no-check", new URL("./_serve_child.ts", import.meta.url).pathname],
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  try {
    const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    let text = "";
    while (!text.includes("\n")) {
      const { value, done } = await reader.read();
      if (done) throw new Error("the benchmark server exited before listening");
      text += value;
    }
    reader.releaseLock();
    const base = `http://127.0.0.1:${Number(text.trim())}`;
    await waitFor(`${base}/metrics`);
    return [
      await overHttp("ours, HTTP (child Deno)", `${base}/metrics`, child.pid),
      await overHttp("ours, HTTP baseline: empty body", `${base}/empty`, child.pid),
    ];
  } finally {
    child.kill("SIGTERM");
    await child.stdout.cancel().catch(() => {});
    await child.status;
  }
}

async function nodeExporter(): Promise<Cost[]> {
  const port = freePort();
  const child = new Deno.Command(NODE_EXPORTER, {
    args: [`--web.listen-address=127.0.0.1:${port}`],
    stdout: "null",
    stderr: "null",
  }).spawn();
  try {
    const url = `http://127.0.0.1:${port}/metrics`;
    await waitFor(url);
    return [
      await overHttp("node_exporter 1.5, default collectors, HTTP", url, child.pid),
      await overHttp(
        "node_exporter baseline: collect[]=time",
        `${url}?collect[]=time`,
        child.pid,
      ),
    ];
  } finally {
    child.kill("SIGTERM");
    await child.status;
  }
}

const fmt = (x: number, d = 3) => x.toFixed(d);
const local = await inProcess();
const [http, httpBase] = await ours();
const [ne, neBase] = await nodeExporter();
console.log(`node families vs node_exporter on ${Deno.hostname()}, USER_HZ ${hz}`);
console.log(
  "| run | series | CPU ms/scrape | wall ms/scrape | CPU µs/series | wall µs/series |\n" +
    "|---|---:|---:|---:|---:|---:|",
);
for (const r of [local, http, httpBase, ne, neBase]) {
  const perSeries = (x: number) => r.series ? fmt((x * 1000) / r.series, 2) : "–";
  console.log(
    `| ${r.label} | ${r.series} | ${fmt(r.cpuMs)} | ${fmt(r.wallMs)} | ${perSeries(r.cpuMs)} | ${
      perSeries(r.wallMs)
    } |`,
  );
}
const per = (r: Cost, k: "cpuMs" | "wallMs") => r[k] / r.series;
const marginal = (full: Cost, base: Cost, k: "cpuMs" | "wallMs") =>
  ((full[k] - base[k]) * 1000) / (full.series - base.series);
console.log(
  `\nper series, whole scrape (HTTP): node_exporter/ours CPU ${
    fmt(per(ne, "cpuMs") / per(http, "cpuMs"), 2)
  }×, wall ${fmt(per(ne, "wallMs") / per(http, "wallMs"), 2)}×`,
);
console.log(
  `per scrape (HTTP): node_exporter/ours CPU ${fmt(ne.cpuMs / http.cpuMs, 2)}×, wall ${
    fmt(ne.wallMs / http.wallMs, 2)
  }×`,
);
const mo = marginal(http, httpBase, "cpuMs"), mt = marginal(ne, neBase, "cpuMs");
const wo = marginal(http, httpBase, "wallMs"), wt = marginal(ne, neBase, "wallMs");
console.log(
  `marginal per series: ours CPU ${fmt(mo, 2)} µs, wall ${fmt(wo, 2)} µs; node_exporter CPU ${
    fmt(mt, 2)
  } µs, wall ${fmt(wt, 2)} µs; node_exporter/ours CPU ${fmt(mt / mo, 2)}×, wall ${
    fmt(wt / wo, 2)
  }×`,
);
