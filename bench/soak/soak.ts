/**
 * Memory soak: does the agent's memory stay flat under steady scraping?
 *
 * Starts N real Podman containers (busybox, each forking a short `sleep` every few seconds so
 * the process events keep coming, each with an anonymous volume so the disk collector has a
 * mount to statfs), then the agent exactly as `deno task start` runs it (the
 * start task's environment, V8 flags and permission set are read from deno.json; the host view
 * is mounted; default flags except `--listen` on a free loopback port), scrapes `/metrics` once
 * a second the way Prometheus does (OpenMetrics `Accept`, gzip), and samples the agent every
 * 10 s: VmRSS (and its anon/file parts), VmHWM, threads (`/proc/<pid>/task`, with their names),
 * open descriptors, CPU, and from its own metrics `osprey_heap_used_bytes` and
 * `process_resident_memory_bytes`. At the end it writes a summary (RSS when the warm-up ends,
 * at the end, growth in %, thread and descriptor ranges) and exits 1 when the growth exceeds
 * the limit, the thread count still rises in the second half, or a scrape failed.
 *
 * With `--churn=<duration>` the containers churn: every period one container is removed and a
 * new one (new name, new ID) started in its place, or, every other period, one is restarted.
 *
 * Containers are named `osprey-soak-<pid>-<n>` and are removed at the end, also on SIGINT and
 * SIGTERM; leftovers of an earlier soak whose process is gone are removed at start.
 *
 * Usage (root; podman, runc, busybox-static, gcc, libc6-dev):
 *   deno run -A bench/soak/soak.ts [--duration=1h] [--warmup=5m] [--containers=20]
 *     [--scrape-every=1s] [--sample-every=10s] [--max-growth=5] [--churn=30s]
 *     [--short] [--out=<dir>] [--agent-v8-flags=<flags>] [-- <extra agent flags>]
 *   deno run -A bench/soak/soak.ts --summarize=<samples.csv> [--warmup=5m] [--max-growth=5]
 *
 * @module
 */
import { freePort, REPO_ROOT } from "../../tests/helpers/agent_process.ts";
import { ensureHostView } from "../../tests/containers/agent.ts";
import { mapLimit, podman, podmanIgnoreReason, podmanRaw } from "../../tests/containers/podman.ts";
import { ensureTestImage } from "../../tests/containers/rootfs.ts";
import denoJson from "../../deno.json" with { type: "json" };
import {
  csvHeader,
  csvRow,
  formatSummary,
  parseCsv,
  type SoakSample,
  summarize,
} from "./summary.ts";

// ---- flags -------------------------------------------------------------------------------

const dashdash = Deno.args.indexOf("--");
const OWN_ARGS = dashdash < 0 ? Deno.args : Deno.args.slice(0, dashdash);
const AGENT_EXTRA = dashdash < 0 ? [] : Deno.args.slice(dashdash + 1);
const KNOWN = new Set([
  "duration",
  "warmup",
  "containers",
  "scrape-every",
  "sample-every",
  "max-growth",
  "churn",
  "short",
  "out",
  "agent-v8-flags",
  "summarize",
]);
const USAGE = `Usage (root; podman, runc, busybox-static, gcc, libc6-dev; see bench/soak/README.md):
  deno task bench:soak [--duration=1h] [--warmup=5m] [--containers=20] [--scrape-every=1s]
    [--sample-every=10s] [--max-growth=5] [--churn=30s] [--short] [--out=<dir>]
    [--agent-v8-flags=<flags>] [-- <extra agent flags>]
  deno task bench:soak --summarize=<samples.csv> [--warmup=5m] [--max-growth=5]`;
if (OWN_ARGS.includes("--help") || OWN_ARGS.includes("-h")) {
  console.log(USAGE);
  Deno.exit(0);
}
for (const a of OWN_ARGS) {
  const name = a.replace(/^--/, "").replace(/=.*$/, "");
  if (!a.startsWith("--") || !KNOWN.has(name)) {
    console.error(`soak: unknown argument ${a} (agent flags go after --)\n${USAGE}`);
    Deno.exit(2);
  }
}
function flag(name: string): string | undefined {
  const a = OWN_ARGS.find((x) => x.startsWith(`--${name}=`));
  return a?.slice(name.length + 3);
}

/** `1h`, `5m`, `30s`, `500ms` → ms. */
function durationMs(s: string): number {
  const m = s.match(/^(\d+(?:\.\d+)?)(ms|s|m|h)$/);
  if (!m) throw new RangeError(`Cannot read the duration "${s}": use e.g. 500ms, 30s, 5m, 1h`);
  return Number(m[1]) * { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2] as "ms"];
}
function positiveInt(name: string, def: number): number {
  const v = flag(name);
  if (v === undefined) return def;
  if (!/^[1-9]\d*$/.test(v)) {
    throw new RangeError(`--${name} must be a positive integer, not "${v}"`);
  }
  return Number(v);
}

const SHORT = OWN_ARGS.includes("--short");
const DURATION_MS = durationMs(flag("duration") ?? (SHORT ? "4m" : "1h"));
const WARMUP_MS = durationMs(flag("warmup") ?? (SHORT ? "1m" : "5m"));
const N = positiveInt("containers", 20);
const SCRAPE_MS = durationMs(flag("scrape-every") ?? "1s");
const SAMPLE_MS = durationMs(flag("sample-every") ?? "10s");
const MAX_GROWTH = Number(flag("max-growth") ?? "5");
const CHURN_MS = flag("churn") === undefined ? 0 : durationMs(flag("churn")!);
const EXTRA_V8 = flag("agent-v8-flags") ?? "";
if (!Number.isFinite(MAX_GROWTH) || MAX_GROWTH < 0) {
  throw new RangeError(`--max-growth must be a percentage >= 0`);
}
if (WARMUP_MS + 2 * SAMPLE_MS > DURATION_MS) {
  throw new RangeError("--duration must leave at least two samples after --warmup");
}

// ---- re-summarize a CSV ------------------------------------------------------------------

if (flag("summarize") !== undefined) {
  const rows = parseCsv(await Deno.readTextFile(flag("summarize")!));
  const s = summarize(rows, { warmupS: WARMUP_MS / 1000, maxGrowthPct: MAX_GROWTH });
  console.log(JSON.stringify(s, null, 2));
  console.log(formatSummary(s));
  Deno.exit(s.pass ? 0 : 1);
}

// ---- the agent as `deno task start` runs it ----------------------------------------------

/** The start task's environment assignments and `deno` arguments, from deno.json. */
function startTaskCommand(task: string): { env: Record<string, string>; args: string[] } {
  const last = task.split("&&").at(-1)!.trim().split(/\s+/);
  const env: Record<string, string> = {};
  let i = 0;
  for (; i < last.length && /^[A-Z_][A-Z0-9_]*=/.test(last[i]); i++) {
    const eq = last[i].indexOf("=");
    env[last[i].slice(0, eq)] = last[i].slice(eq + 1);
  }
  if (last[i] !== "deno" || last[i + 1] !== "run") {
    throw new Error(`Cannot read deno.json's start task: expected "deno run" in "${task}"`);
  }
  return { env, args: last.slice(i + 1) };
}

const START = startTaskCommand(denoJson.tasks.start);
if (!denoJson.tasks.start.includes("agent/host_view.sh")) {
  throw new Error("deno.json's start task no longer runs agent/host_view.sh: update the soak");
}
function agentArgs(port: number): string[] {
  const args = [...START.args];
  if (EXTRA_V8 !== "") {
    const i = args.findIndex((a) => a.startsWith("--v8-flags="));
    if (i < 0) args.splice(1, 0, `--v8-flags=${EXTRA_V8}`);
    else args[i] = `${args[i]},${EXTRA_V8}`;
  }
  return [...args, `--listen=127.0.0.1:${port}`, ...AGENT_EXTRA];
}

// ---- containers --------------------------------------------------------------------------

const PREFIX_ALL = "osprey-soak-";
const PREFIX = `${PREFIX_ALL}${Deno.pid}-`;
/** Each container forks a `sleep` every 5 s: process start/exec/exit events keep coming. */
const WORKLOAD = ["sh", "-c", "while :; do sleep 5; done"];
let nextIndex = 0;
const running: string[] = [];
const everStarted = new Set<string>();

async function startContainer(image: string): Promise<string> {
  const name = `${PREFIX}${nextIndex++}`;
  everStarted.add(name);
  // An anonymous volume: a mount on the host's disk, so the disk collector statfs()es it.
  await podman([
    "run",
    "-d",
    "--name",
    name,
    "--network",
    "none",
    "-v",
    "/data",
    image,
    ...WORKLOAD,
  ]);
  running.push(name);
  return name;
}

async function removeNames(names: string[]): Promise<void> {
  for (let i = 0; i < names.length; i += 20) {
    const batch = names.slice(i, i + 20);
    const r = await podmanRaw(["rm", "-f", "-v", "-t", "0", "--ignore", ...batch]);
    if (r.code !== 0) console.error(`soak: podman rm failed (${r.code}): ${r.stderr.trim()}`);
  }
}

/** Removes containers of earlier soaks whose process is gone. */
async function removeLeftovers(): Promise<void> {
  const names = (await podman(["ps", "-a", "--format", "{{.Names}}"])).split("\n");
  const stale = names.filter((n) => {
    const m = n.match(/^osprey-soak-(\d+)-\d+$/);
    if (!m) return false;
    try {
      return !Deno.readTextFileSync(`/proc/${m[1]}/cmdline`).includes("soak");
    } catch {
      return true;
    }
  });
  if (stale.length > 0) {
    console.error(`soak: removing ${stale.length} leftover containers of earlier soaks`);
    await removeNames(stale);
  }
}

let agentChild: Deno.ChildProcess | undefined;
let cleaning: Promise<void> | undefined;
function cleanup(): Promise<void> {
  cleaning ??= removeNames([...everStarted]);
  return cleaning;
}

/** Containers on the host this soak did not start (the agent reports those too). */
async function otherRunning(): Promise<number> {
  return (await podman(["ps", "--format", "{{.Names}}"])).split("\n")
    .filter((n) => n !== "" && !n.startsWith(PREFIX)).length;
}

// ---- sampling ----------------------------------------------------------------------------

function status(pid: number): Map<string, number> {
  const m = new Map<string, number>();
  for (const line of Deno.readTextFileSync(`/proc/${pid}/status`).split("\n")) {
    const r = line.match(/^(\w+):\s+(\d+)/);
    if (r) m.set(r[1], Number(r[2]));
  }
  return m;
}

function threadNames(pid: number): { count: number; names: string } {
  const counts = new Map<string, number>();
  let count = 0;
  for (const t of Deno.readDirSync(`/proc/${pid}/task`)) {
    let comm = "?";
    try {
      comm = Deno.readTextFileSync(`/proc/${pid}/task/${t.name}/comm`).trim();
    } catch { /* the thread exited meanwhile */ }
    counts.set(comm, (counts.get(comm) ?? 0) + 1);
    count++;
  }
  const names = [...counts].sort(([a], [b]) => a < b ? -1 : a > b ? 1 : 0)
    .map(([n, c]) => `${n.replaceAll(/[;:,"]/g, "_")}:${c}`).join(";");
  return { count, names };
}

function countDir(path: string): number {
  let n = 0;
  for (const _ of Deno.readDirSync(path)) n++;
  return n;
}

function cpuSeconds(pid: number): number {
  const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(f[11]) + Number(f[12])) / 100; // USER_HZ
}

/** What the soak reads from a scrape body. */
interface ScrapeFacts {
  series: number;
  containersSeen: number;
  heapUsed: number;
  agentRss: number;
}

function scrapeFacts(body: string): ScrapeFacts {
  let series = 0, seen = 0, heap = -1, rss = -1;
  const needle = `container_id="/podman/${PREFIX}`;
  const value = (line: string) => Number(line.slice(line.lastIndexOf(" ") + 1));
  for (const line of body.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    series++;
    if (line.startsWith("container_info{") && line.includes(needle)) seen++;
    else if (/^osprey_heap_used_bytes[{ ]/.test(line)) heap = value(line);
    else if (/^process_resident_memory_bytes[{ ]/.test(line)) rss = value(line);
  }
  return { series, containersSeen: seen, heapUsed: heap, agentRss: rss };
}

/** The headers Prometheus 2.x scrapes with. */
const SCRAPE_HEADERS = {
  "Accept": "application/openmetrics-text;version=1.0.0,application/openmetrics-text;" +
    "version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1",
  "Accept-Encoding": "gzip",
  "User-Agent": "osprey-soak",
  "X-Prometheus-Scrape-Timeout-Seconds": "10",
};

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, Math.max(0, ms)));
}

function loadavg(): string {
  return Deno.readTextFileSync("/proc/loadavg").split(" ").slice(0, 3).join(" ");
}

// ---- the run -----------------------------------------------------------------------------

async function main(): Promise<number> {
  const why = podmanIgnoreReason();
  if (why) throw new Error(`cannot run: ${why}`);
  const stamp = new Date().toISOString().replace(/[:.]/g, "-");
  const out = flag("out") ?? `${REPO_ROOT}/.bench/soak-${stamp}`;
  await Deno.mkdir(out, { recursive: true });
  const csvPath = `${out}/samples.csv`;
  await Deno.writeTextFile(csvPath, csvHeader() + "\n");

  await removeLeftovers();
  const { image } = await ensureTestImage();
  const t0 = performance.now();
  await mapLimit(Array.from({ length: N }), 4, () => startContainer(image));
  console.error(
    `soak: started ${N} containers in ${((performance.now() - t0) / 1000).toFixed(1)} s`,
  );
  const othersBefore = await otherRunning();
  const loadBefore = loadavg();

  await ensureHostView();
  const port = freePort();
  const args = agentArgs(port);
  const url = `http://127.0.0.1:${port}`;
  const stdoutFile = await Deno.open(`${out}/agent.stdout.log`, { write: true, create: true });
  const stderrFile = await Deno.open(`${out}/agent.stderr.log`, { write: true, create: true });
  const child = new Deno.Command(Deno.execPath(), {
    args,
    cwd: REPO_ROOT,
    env: { NO_COLOR: "1", RUST_BACKTRACE: "0", DENO_NO_UPDATE_CHECK: "1", ...START.env },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const pipes = [
    child.stdout.pipeTo(stdoutFile.writable),
    child.stderr.pipeTo(stderrFile.writable),
  ];
  agentChild = child;
  const agentStart = performance.now();
  const pid = child.pid;
  let exited = false;
  const statusP = child.status.then((s) => {
    exited = true;
    return s;
  });
  const command = `${Object.entries(START.env).map(([k, v]) => `${k}=${v} `).join("")}deno ${
    args.join(" ")
  }`;
  console.error(`soak: agent pid ${pid}: ${command}`);
  console.error(`soak: writing ${out}/`);

  const settings = {
    date: new Date().toISOString(),
    deno: Deno.version.deno,
    cpus: navigator.hardwareConcurrency,
    kernel: Deno.osRelease(),
    containers: N,
    churn_ms: CHURN_MS,
    scrape_every_ms: SCRAPE_MS,
    sample_every_ms: SAMPLE_MS,
    duration_ms: DURATION_MS,
    warmup_ms: WARMUP_MS,
    max_growth_pct: MAX_GROWTH,
    agent_command: command,
    other_running_containers_before: othersBefore,
    loadavg_before: loadBefore,
  };

  let code = 1;
  try {
    // Ready: /readyz 200.
    for (;;) {
      if (exited) {
        throw new Error(`the agent exited before it was ready; see ${out}/agent.stderr.log`);
      }
      try {
        const r = await fetch(`${url}/readyz`);
        await r.body?.cancel();
        if (r.status === 200) break;
      } catch { /* not listening yet */ }
      if (performance.now() - agentStart > 60_000) {
        throw new Error("the agent was not ready in 60 s");
      }
      await sleep(200);
    }
    console.error(`soak: ready after ${((performance.now() - agentStart) / 1000).toFixed(1)} s`);

    const end = agentStart + DURATION_MS;
    let facts: ScrapeFacts = { series: 0, containersSeen: 0, heapUsed: -1, agentRss: -1 };
    let ok = 0, failed = 0, maxMs = 0, churned = 0;
    let lastError = "";

    const scraping = (async () => {
      for (let due = performance.now(); due < end && !exited; due += SCRAPE_MS) {
        await sleep(due - performance.now());
        if (performance.now() > due + SCRAPE_MS) continue; // the previous scrape ran late
        const s = performance.now();
        try {
          const r = await fetch(`${url}/metrics`, {
            headers: SCRAPE_HEADERS,
            signal: AbortSignal.timeout(10_000),
          });
          const body = await r.text();
          if (r.status !== 200) throw new Error(`status ${r.status}: ${body.slice(0, 200)}`);
          facts = scrapeFacts(body);
          ok++;
        } catch (e) {
          failed++;
          lastError = e instanceof Error ? e.message : String(e);
        }
        maxMs = Math.max(maxMs, performance.now() - s);
      }
    })();

    const churning = CHURN_MS === 0 ? Promise.resolve() : (async () => {
      let turn = 0;
      for (let due = agentStart + CHURN_MS; due < end - CHURN_MS && !exited; due += CHURN_MS) {
        await sleep(due - performance.now());
        try {
          if (turn++ % 2 === 0) {
            const victim = running.shift()!;
            await removeNames([victim]);
            await startContainer(image);
          } else {
            await podman(["restart", "-t", "0", running[turn % running.length]]);
          }
          churned++;
        } catch (e) {
          console.error(`soak: churn failed: ${e instanceof Error ? e.message : e}`);
        }
      }
    })();

    const samples: SoakSample[] = [];
    for (let due = agentStart + SAMPLE_MS; due <= end + 1; due += SAMPLE_MS) {
      await sleep(due - performance.now());
      if (exited) throw new Error(`the agent exited during the soak; see ${out}/agent.stderr.log`);
      const st = status(pid);
      const th = threadNames(pid);
      const sample: SoakSample = {
        t_s: Math.round((performance.now() - agentStart) / 100) / 10,
        rss_kib: st.get("VmRSS") ?? 0,
        rss_anon_kib: st.get("RssAnon") ?? 0,
        rss_file_kib: st.get("RssFile") ?? 0,
        hwm_kib: st.get("VmHWM") ?? 0,
        threads: th.count,
        fds: countDir(`/proc/${pid}/fd`),
        heap_used_bytes: facts.heapUsed,
        agent_rss_bytes: facts.agentRss,
        cpu_s: cpuSeconds(pid),
        series: facts.series,
        containers_seen: facts.containersSeen,
        scrapes_ok: ok,
        scrapes_failed: failed,
        scrape_max_ms: Math.round(maxMs * 10) / 10,
        churned,
        thread_names: th.names,
      };
      ok =
        failed =
        maxMs =
        churned =
          0;
      samples.push(sample);
      await Deno.writeTextFile(csvPath, csvRow(sample) + "\n", { append: true });
      if (samples.length % 6 === 0 || due + SAMPLE_MS > end + 1) {
        console.error(
          `soak: ${(sample.t_s / 60).toFixed(1)} min: RSS ${
            (sample.rss_kib / 1024).toFixed(1)
          } MiB, ` +
            `heap ${
              (sample.heap_used_bytes / 2 ** 20).toFixed(1)
            } MiB, ${sample.threads} threads, ` +
            `${sample.fds} fds, ${sample.containers_seen}/${N} containers, ${sample.series} series` +
            (lastError ? `; last scrape error: ${lastError}` : ""),
        );
        lastError = "";
      }
    }
    await Promise.all([scraping, churning]);

    const summary = summarize(samples, { warmupS: WARMUP_MS / 1000, maxGrowthPct: MAX_GROWTH });
    const othersAfter = await otherRunning();
    const result = {
      ...settings,
      other_running_containers_after: othersAfter,
      loadavg_after: loadavg(),
      summary,
    };
    await Deno.writeTextFile(`${out}/summary.json`, JSON.stringify(result, null, 2) + "\n");
    console.log(formatSummary(summary));
    console.log(
      `host: ${othersBefore} other running containers before, ${othersAfter} after; ` +
        `load ${loadBefore} → ${result.loadavg_after}`,
    );
    console.log(`files: ${out}/`);
    code = summary.pass ? 0 : 1;
  } finally {
    if (!exited) child.kill("SIGTERM");
    const s = await statusP;
    await Promise.allSettled(pipes);
    if (s.code !== 0 && s.signal === null) console.error(`soak: the agent exited ${s.code}`);
  }
  return code;
}

for (const sig of ["SIGINT", "SIGTERM"] as const) {
  Deno.addSignalListener(sig, () => {
    console.error(`soak: ${sig}: stopping the agent, removing the soak's containers`);
    try {
      agentChild?.kill("SIGTERM");
    } catch { /* already gone */ }
    cleanup().finally(() => Deno.exit(130));
  });
}
let code = 1;
try {
  code = await main();
} catch (e) {
  console.error(`soak: ${e instanceof Error ? e.message : e}`);
} finally {
  await cleanup();
}
Deno.exit(code);
