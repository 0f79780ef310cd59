/**
 * Delay accounting refresh cost: one refresh of N processes (10,000 by default) through
 * libosprey's batched taskstats query, against reading `/proc/<pid>/schedstat` (one file per
 * process, main thread only: the cheapest /proc read there is) for the same processes, in the
 * same run; and, for scale, what the module's schedstat fallback reads (every thread's file).
 *
 * The processes are `sleep` children of one shell, started inside a cgroup v2 directory the
 * benchmark makes (under the unified hierarchy) and kills and removes at the end, also on
 * failure. Needs root (CAP_NET_ADMIN for taskstats, cgroupfs writes).
 *
 *     deno task bench:delayacct [--processes=10000] [--rounds=10]
 *
 * @module
 */
import { decodeTaskstatsRecord, openLibrary } from "../../ffi/mod.ts";
import { DelayAccounts } from "../../agent/delayacct/accounts.ts";
import { readMainThreadRunDelay, readThreadRunDelays } from "../../agent/delayacct/schedstat.ts";
import { flag } from "../_args.ts";

if (Deno.args.includes("--help") || Deno.args.includes("-h")) {
  console.log("Usage (root): deno task bench:delayacct [--processes=10000] [--rounds=10]");
  Deno.exit(0);
}
const N = Number(flag("processes", "10000"));
const ROUNDS = Number(flag("rounds", "10"));
if (!Number.isInteger(N) || N < 1 || !Number.isInteger(ROUNDS) || ROUNDS < 1) {
  console.error("--processes and --rounds must be positive integers");
  Deno.exit(2);
}

/** The cgroup v2 root: the unified hierarchy of a hybrid host, or /sys/fs/cgroup itself. */
function v2Root(): string {
  for (const p of ["/sys/fs/cgroup/unified", "/sys/fs/cgroup"]) {
    try {
      Deno.statSync(`${p}/cgroup.procs`);
      Deno.statSync(`${p}/cgroup.controllers`);
      return p;
    } catch { /* next */ }
  }
  throw new Error("no cgroup v2 hierarchy mounted");
}

function procsOf(dir: string): number[] {
  return Deno.readTextFileSync(`${dir}/cgroup.procs`).split("\n").filter(Boolean).map(Number);
}

async function killCgroup(dir: string): Promise<void> {
  try {
    Deno.writeTextFileSync(`${dir}/cgroup.kill`, "1");
  } catch {
    for (const pid of procsOf(dir)) {
      try {
        Deno.kill(pid, "SIGKILL");
      } catch { /* gone */ }
    }
  }
  for (let i = 0; i < 200 && procsOf(dir).length > 0; i++) {
    await new Promise((r) => setTimeout(r, 50));
  }
  Deno.removeSync(dir);
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

function cpuMs(): number {
  const f = Deno.readTextFileSync("/proc/self/stat").split(") ")[1].split(" ");
  // utime and stime are fields 14 and 15, in USER_HZ ticks (100)
  return (Number(f[11]) + Number(f[12])) * 10;
}

const dir = `${v2Root()}/osprey-bench-delayacct-${Deno.pid}`;
Deno.mkdirSync(dir);
let shell: Deno.ChildProcess | undefined;
try {
  // the shell joins the cgroup before it forks, so every sleep starts inside it
  shell = new Deno.Command("sh", {
    args: [
      "-c",
      `echo $$ > ${dir}/cgroup.procs && i=0; while [ $i -lt ${N} ]; do sleep 3600 & ` +
      `i=$((i+1)); done; echo started; wait`,
    ],
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = shell.stdout.getReader();
  const started = performance.now();
  let text = "";
  while (!text.includes("started")) {
    const { value, done } = await reader.read();
    if (done) throw new Error("the spawning shell exited");
    text += new TextDecoder().decode(value);
  }
  const pids = procsOf(dir).filter((p) => p !== shell!.pid).slice(0, N);
  console.log(
    `spawned ${pids.length} sleeping processes in ${dir} in ` +
      `${((performance.now() - started) / 1000).toFixed(1)} s`,
  );

  using lib = openLibrary();
  using ts = await lib.openTaskstats("");
  const tsMs: number[] = [], tsCpu: number[] = [];
  const ssMs: number[] = [], ssCpu: number[] = [];
  const thMs: number[] = [];
  const startMs: number[] = [];
  const accMs: number[] = [];
  const accounts = new DelayAccounts();
  let tsOk = 0, ssOk = 0;
  await ts.queryRaw(pids); // warm-up
  for (let r = 0; r < ROUNDS; r++) {
    let c0 = cpuMs(), t0 = performance.now();
    const { ok } = await ts.queryRaw(pids);
    tsMs.push(performance.now() - t0);
    tsCpu.push(cpuMs() - c0);
    tsOk = ok;

    c0 = cpuMs();
    t0 = performance.now();
    let n = 0;
    for (const pid of pids) if (readMainThreadRunDelay("/proc", pid) !== undefined) n++;
    ssMs.push(performance.now() - t0);
    ssCpu.push(cpuMs() - c0);
    ssOk = n;

    // what the module adds on top of the query: decode every record, add it to the counters
    t0 = performance.now();
    const { records } = await ts.queryRaw(pids);
    const q = performance.now();
    accounts.beginRound();
    for (let i = 0; i < pids.length; i++) {
      const rec = decodeTaskstatsRecord(records, i);
      accounts.add("bench", pids[i], 0, {
        source: "taskstats",
        cpuNs: Number(rec.cpuDelayNs),
        blkioNs: Number(rec.blkioDelayNs),
      });
    }
    accounts.endRound();
    accMs.push(performance.now() - q);

    t0 = performance.now();
    await ts.queryRaw(pids, { start: true });
    startMs.push(performance.now() - t0);

    t0 = performance.now();
    const m = new Map<number, number>();
    for (const pid of pids) readThreadRunDelays("/proc", pid, m);
    thMs.push(performance.now() - t0);
  }
  const ts50 = median(tsMs), ss50 = median(ssMs), th50 = median(thMs);
  console.log(`processes: ${pids.length}, rounds: ${ROUNDS}`);
  console.log(
    `taskstats batched query: ${ts50.toFixed(1)} ms median (min ${
      Math.min(...tsMs).toFixed(1)
    }, max ${Math.max(...tsMs).toFixed(1)}), process CPU ${median(tsCpu)} ms; ${tsOk} answered`,
  );
  console.log(
    `/proc/<pid>/schedstat reads: ${ss50.toFixed(1)} ms median (min ${
      Math.min(...ssMs).toFixed(1)
    }, max ${Math.max(...ssMs).toFixed(1)}), process CPU ${median(ssCpu)} ms; ${ssOk} read`,
  );
  console.log(
    `/proc/<pid>/task/*/schedstat (the module's fallback): ${th50.toFixed(1)} ms median`,
  );
  console.log(
    `module's own work per refresh (decode ${pids.length} records, add to the counters): ${
      median(accMs).toFixed(1)
    } ms median`,
  );
  console.log(
    `taskstats with begin times (two requests per pid): ${median(startMs).toFixed(1)} ms median`,
  );
  const ratio = ss50 / ts50;
  console.log(
    ratio >= 1
      ? `ratio: taskstats is ${ratio.toFixed(2)}x faster than /proc/<pid>/schedstat`
      : `ratio: taskstats is ${(1 / ratio).toFixed(2)}x slower than /proc/<pid>/schedstat`,
  );
} finally {
  if (shell) {
    await killCgroup(dir);
    await shell.status;
  } else {
    Deno.removeSync(dir);
  }
}
