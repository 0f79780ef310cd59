/**
 * Agent CPU with L7 capture on and off, same run: keep-alive `wrk` (client "container" in one
 * network namespace) against nginx (server "container" in the other), with the agent started as
 * `deno task start` starts it, then again with `--disable-l7-tracing`. Reports per mode: the
 * request rate wrk reached, the agent's CPU (millicores, all threads), millicores per 1,000
 * requests/s, wrk's p50/p99 latency, and the l7 programs' kernel time (`bpftool prog show`
 * run time per run, with `kernel.bpf_stats_enabled=1`) against the requests they served, and
 * against a counting-only bpftrace program on two of the same hooks in the same window.
 *
 * Windows: `--rates` gives fixed request rates, made with wrk's Lua `delay()` hook (wrk has no
 * fixed-rate mode): `rate / 100` keep-alive connections each wait 10 ms after every answer, so the
 * rate is a little under the one asked for (the answer's own time adds to the 10 ms), and the
 * reported rate is wrk's own. `max` is one window at the rate this machine reaches with
 * `--max-connections` connections and no delay. Both modes run the same windows.
 * `--profile=DIR` writes a V8 CPU profile of each L7-on agent into DIR (`--cpu-prof`).
 *
 * Usage: deno run -A bench/l7/l7_cpu_bench.ts [--seconds=15] [--rates=1000,5000,10000,max]
 *   [--max-connections=4] [--profile=DIR]
 */
import { createNetnsPair } from "../../tests/helpers/netns.ts";
import { CgroupContainer } from "../../tests/net/_lab.ts";
import {
  cpuSeconds,
  ignoreReason,
  progDelta,
  progIdsOf,
  progStats,
  round,
  scrapeAgent,
  sleep,
  startBenchAgent,
} from "../net/_lab.ts";

const args = new Map(
  Deno.args.filter((a) => a.startsWith("--")).map((a) => {
    const [k, v] = a.slice(2).split("=");
    return [k, v ?? ""] as const;
  }),
);
const SECONDS = Number(args.get("seconds") ?? 15);
const MAX_CONNECTIONS = Number(args.get("max-connections") ?? 4);
const PROFILE = args.get("profile");
/** One load window: connections, and the ms each waits after an answer (0: as fast as it can). */
interface Load {
  label: string;
  connections: number;
  delayMs: number;
}
const LOADS: Load[] = (args.get("rates") ?? "1000,5000,10000,max").split(",").map((r) => {
  if (r === "max") return { label: "max", connections: MAX_CONNECTIONS, delayMs: 0 };
  const rate = Number(r);
  if (!Number.isInteger(rate) || rate < 100 || rate % 100 !== 0) {
    console.error(`--rates: ${r} is not "max" or a multiple of 100 requests/s`);
    Deno.exit(2);
  }
  return { label: `${rate}/s`, connections: rate / 100, delayMs: 10 };
});

const why = ignoreReason();
if (why) {
  console.error(`l7 benchmark cannot run: ${why}`);
  Deno.exit(2);
}

function nginxConfig(dir: string, addr: string): string {
  return `worker_processes 1;
daemon off;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log;
events { worker_connections 1024; }
http {
  access_log off;
  keepalive_requests 100000000;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  server {
    listen ${addr}:8080;
    location / { return 200 "ok\\n"; }
  }
}
`;
}

interface Window {
  mode: "on" | "off";
  load: string;
  connections: number;
  requests_per_sec: number;
  agent_millicores: number;
  agent_user_millicores: number;
  agent_system_millicores: number;
  millicores_per_1k_rps: number;
  wrk_p50_ms: number;
  wrk_p99_ms: number;
  l7_kernel_millicores: number;
  l7_kernel_ns_per_run: number;
  l7_runs_per_request: number;
  /** bpftrace counting on sys_enter_write and sys_exit_read, same window: ns a run. */
  floor_ns_per_run: number;
  /** wrk's own count of requests, and the agent's on each side (L7 on: should be equal). */
  wrk_requests: number;
  counted_outbound: number;
  counted_inbound: number;
}

/** User and system CPU seconds of a process so far (proc(5) fields 14 and 15, USER_HZ 100). */
function userSys(pid: number): [number, number] {
  const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
  const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return [Number(rest[11]) / 100, Number(rest[12]) / 100];
}

function ms(text: string): number {
  const m = /^([\d.]+)(us|ms|s)$/.exec(text.trim());
  if (!m) return NaN;
  const v = Number(m[1]);
  return m[2] === "us" ? v / 1000 : m[2] === "s" ? v * 1000 : v;
}

async function wrk(client: CgroupContainer, url: string, load: Load): Promise<{
  rps: number;
  total: number;
  p50: number;
  p99: number;
}> {
  const p = client.spawn([
    "sh",
    "-c",
    `wrk -t1 -c${load.connections} -d${SECONDS}s --latency ` +
    (load.delayMs > 0 ? `-s ${dir}/delay.lua ` : "") + `${url} | ` +
    `sed -n -e 's/^ *\\(Requests\\/sec\\|50%\\|99%\\):* *\\([0-9.]*[a-z]*\\).*/{"k":"\\1","v":"\\2"}/p' ` +
    `-e 's/^ *\\([0-9]*\\) requests in .*/{"k":"total","v":"\\1"}/p'`,
  ], "wrk");
  await p.wait();
  const out: Record<string, string> = {};
  for (;;) {
    try {
      const l = await p.line<{ k: string; v: string }>(200);
      out[l.k] = l.v;
    } catch {
      break;
    }
  }
  return {
    rps: Number(out["Requests/sec"]),
    total: Number(out["total"]),
    p50: ms(out["50%"]),
    p99: ms(out["99%"]),
  };
}

const pair = await createNetnsPair("l7b");
const dir = await Deno.makeTempDir({ prefix: "osprey-l7-bench-" });
const made: CgroupContainer[] = [];
const results: Window[] = [];
const stats = Deno.readTextFileSync("/proc/sys/kernel/bpf_stats_enabled").trim();
Deno.writeTextFileSync("/proc/sys/kernel/bpf_stats_enabled", "1");
try {
  await Deno.writeTextFile(`${dir}/nginx.conf`, nginxConfig(dir, pair.b.v4));
  // wrk calls delay() before each request on a connection: its value in ms (wrk's SCRIPTING)
  await Deno.writeTextFile(`${dir}/delay.lua`, "function delay()\n  return 10\nend\n");
  const server = await CgroupContainer.create("l7bench-nginx", pair.b.name);
  const client = await CgroupContainer.create("l7bench-wrk", pair.a.name);
  made.push(server, client);
  server.spawn(["sh", "-c", `exec nginx -c ${dir}/nginx.conf >/dev/null 2>&1`], "nginx");
  await sleep(1000);
  const url = `http://${pair.b.v4}:8080/`;
  for (const load of LOADS) {
    for (const mode of ["on", "off"] as const) {
      const agent = await startBenchAgent(
        mode === "off" ? ["--disable-l7-tracing"] : [],
        undefined,
        PROFILE !== undefined && mode === "on"
          ? [
            "--cpu-prof",
            `--cpu-prof-dir=${PROFILE}`,
            `--cpu-prof-name=l7-${load.connections}.cpuprofile`,
          ]
          : [],
      );
      try {
        await sleep(3000);
        const pid = agent.child.pid;
        const p0 = await progStats();
        const ids = [...progIdsOf(pid)].filter((id) => p0.get(id)?.name.startsWith("osp_l7"));
        // the floor: what any program on these hooks costs (bpftrace, counting only)
        const floor = new Deno.Command("bpftrace", {
          args: [
            "-e",
            "tracepoint:syscalls:sys_enter_write,tracepoint:syscalls:sys_exit_read { @c = count(); }",
          ],
          stdout: "null",
          stderr: "null",
        }).spawn();
        await sleep(2000);
        const floorIds = progIdsOf(floor.pid);
        const f0 = await progStats();
        const c0 = cpuSeconds(pid);
        const us0 = userSys(pid);
        const t0 = performance.now();
        const w = await wrk(client, url, load);
        const sec = (performance.now() - t0) / 1000;
        const c1 = cpuSeconds(pid);
        const us1 = userSys(pid);
        const p1 = await progStats();
        let fns = 0, fruns = 0;
        for (const id of floorIds) {
          const d = progDelta(f0, p1, id);
          if (d) {
            fns += d.ns;
            fruns += d.runs;
          }
        }
        floor.kill("SIGTERM");
        await floor.status;
        let ns = 0, runs = 0;
        for (const id of ids) {
          const d = progDelta(p0, p1, id);
          if (d) {
            ns += d.ns;
            runs += d.runs;
          }
        }
        const mc = (c1 - c0) / sec * 1000;
        // wrk's requests, counted on both sides (nothing else talks HTTP in the two containers)
        await sleep(6000); // one collect round (5 s) after the load
        const sc = await scrapeAgent(agent);
        const count = (m: string, id: string) =>
          sc.find(m, { container_id: id }).reduce((n, x) => n + x.value, 0);
        const outbound = count("container_http_requests_total", client.id);
        const inbound = count("container_http_inbound_requests_total", server.id);
        results.push({
          mode,
          load: load.label,
          connections: load.connections,
          requests_per_sec: Math.round(w.rps),
          agent_millicores: round(mc),
          agent_user_millicores: round((us1[0] - us0[0]) / sec * 1000),
          agent_system_millicores: round((us1[1] - us0[1]) / sec * 1000),
          millicores_per_1k_rps: round(mc / (w.rps / 1000), 2),
          wrk_p50_ms: w.p50,
          wrk_p99_ms: w.p99,
          l7_kernel_millicores: round(ns / 1e6 / sec),
          l7_kernel_ns_per_run: runs > 0 ? Math.round(ns / runs) : 0,
          l7_runs_per_request: round(runs / (w.rps * sec), 1),
          floor_ns_per_run: fruns > 0 ? Math.round(fns / fruns) : 0,
          wrk_requests: w.total,
          counted_outbound: outbound,
          counted_inbound: inbound,
        });
        console.error(JSON.stringify(results.at(-1)));
      } finally {
        await agent.stop();
      }
    }
  }
} finally {
  Deno.writeTextFileSync("/proc/sys/kernel/bpf_stats_enabled", stats);
  for (const c of made) {
    for (const h of c.cgroup.hierarchies) {
      try {
        const procs = Deno.readTextFileSync(`${h.base}/${c.cgroup.format}/cgroup.procs`);
        for (const pid of procs.split("\n").filter((x) => x !== "")) {
          try {
            Deno.kill(Number(pid), "SIGKILL");
          } catch { /* gone */ }
        }
      } catch { /* no such hierarchy */ }
    }
    await c.remove();
  }
  await pair.remove();
  await Deno.remove(dir, { recursive: true }).catch(() => {});
}
console.table(results);
