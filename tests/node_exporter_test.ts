/**
 * Side-by-side cross-check of the node collectors against Debian's prometheus-node-exporter on
 * the real host: both read the same kernel counters, so within one second they must agree.
 *
 * Method: our collectors run (A), node_exporter is scraped (N), our collectors run again (B),
 * all inside one second. Counters only grow, so for every counter N must lie in [A, B]: this
 * brackets the movement between reads without a guessed tolerance. What remains is explained
 * per comparison below.
 *
 * Needs root (node_exporter and our collectors read root-only files such as DMI) and
 * /usr/bin/prometheus-node-exporter; otherwise the test is ignored and its name says why.
 *
 * @module
 */
import { deepEqual, equal, ok } from "node:assert/strict";
import { Registry } from "../agent/metrics/mod.ts";
import { nodeCollectors } from "../agent/node/mod.ts";
import { readHostAddresses } from "../agent/node/net_ip.ts";
import { selectAddresses } from "../agent/node/addresses.ts";
import { byLabel, parseExposition } from "../agent/node/_testing.ts";
import type { Sample } from "../agent/node/_testing.ts";
import { hostPaths } from "../agent/paths.ts";

const NODE_EXPORTER = "/usr/bin/prometheus-node-exporter";

function whyNot(): string | undefined {
  if (Deno.uid() !== 0) return "not root";
  try {
    Deno.statSync(NODE_EXPORTER);
  } catch {
    return `${NODE_EXPORTER} is not installed`;
  }
  return undefined;
}
const skip = whyNot();
const title = (name: string) => skip ? `${name} (ignored: ${skip})` : name;

function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

async function scrape(url: string): Promise<Sample[]> {
  const res = await fetch(url);
  return parseExposition(await res.text());
}

/** Starts node_exporter with its default collectors and waits until it answers. */
async function startNodeExporter(): Promise<{ url: string; child: Deno.ChildProcess }> {
  const port = freePort();
  const child = new Deno.Command(NODE_EXPORTER, {
    args: [`--web.listen-address=127.0.0.1:${port}`],
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  const url = `http://127.0.0.1:${port}/metrics`;
  for (let i = 0; i < 100; i++) {
    try {
      const res = await fetch(url);
      await res.body?.cancel();
      if (res.ok) return { url, child };
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  child.kill("SIGKILL");
  await child.status;
  throw new Error(`node_exporter did not answer on ${url} within 5 s`);
}

async function stop(child: Deno.ChildProcess): Promise<void> {
  try {
    child.kill("SIGTERM");
  } catch {
    // already gone
  }
  await child.status;
}

/** Sums a node_exporter family over all series with the same value of `label`. */
function sumBy(samples: readonly Sample[], name: string, label: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const s of samples) {
    if (s.name === name) out.set(s.labels[label], (out.get(s.labels[label]) ?? 0) + s.value);
  }
  return out;
}

/** Asserts min(a, b) − below ≤ n ≤ max(a, b) + above, with a message naming the comparison. */
function within(
  what: string,
  n: number | undefined,
  a: number,
  b: number,
  below = 0,
  above = below,
): void {
  ok(n !== undefined, `${what}: node_exporter has no value`);
  const lo = Math.min(a, b) - below, hi = Math.max(a, b) + above;
  ok(
    n >= lo && n <= hi,
    `${what}: node_exporter ${n} outside ours [${a} − ${below}, ${b} + ${above}]`,
  );
}

Deno.test({
  name: title("node collectors agree with node_exporter on the same host within one second"),
  ignore: skip !== undefined,
  async fn() {
    const { url, child } = await startNodeExporter();
    try {
      const reg = new Registry();
      // Widened filters: compare every device and interface both sides report, not just the
      // contract's subset (the filters have their own unit tests).
      using node = await nodeCollectors(reg, hostPaths(), {
        diskDevicesExtra: ".*",
        netInterfacesExtra: ".*",
      });
      const ours = async () => {
        for (const c of node.collectors) await c.collect(new AbortController().signal);
        return parseExposition(reg.encode("text"));
      };
      await scrape(url); // warm node_exporter up: its first scrape is slower
      const t0 = performance.now();
      const A = await ours();
      const N = await scrape(url);
      const B = await ours();
      const elapsed = (performance.now() - t0) / 1000;
      ok(elapsed < 1, `the three reads took ${elapsed.toFixed(3)} s, not within one second`);

      // CPU. node_exporter sums the cpuN lines; we read the aggregate "cpu" line; both divide
      // by USER_HZ = 100. fs/proc/stat.c adds up the per-CPU nanoseconds first and converts the
      // sum to ticks once, while each cpuN line is converted on its own, so each of them loses
      // less than one tick to the rounding down: the sum of the cpuN lines is at most ncpu − 1
      // ticks below the aggregate of the same read, and never above it. Hence the lower bound
      // A − (ncpu − 1) / 100 and the exact upper bound B (+1e-6 for float noise). Idle and
      // iowait are special: on NO_HZ kernels an idle period in progress is counted as iowait or
      // idle depending on whether a task waits for I/O at the instant of the read
      // (kernel/time/tick-sched.c), so either can move backwards while their sum cannot. We
      // bracket idle+iowait as above and let each of them swing by one second per CPU.
      const ncpu = byLabel(A, "node_resources_cpu_logical_cores").get("")!;
      const tick = 1 / 100;
      const rounding = (ncpu - 1) * tick + 1e-6;
      const nCpu = sumBy(N, "node_cpu_seconds_total", "mode");
      const a = byLabel(A, "node_resources_cpu_usage_seconds_total", "mode");
      const b = byLabel(B, "node_resources_cpu_usage_seconds_total", "mode");
      for (const mode of ["user", "nice", "system", "irq", "softirq", "steal"]) {
        within(`cpu ${mode}`, nCpu.get(mode), a.get(mode)!, b.get(mode)!, rounding, 1e-6);
      }
      within(
        "cpu idle+iowait",
        nCpu.get("idle")! + nCpu.get("iowait")!,
        a.get("idle")! + a.get("iowait")!,
        b.get("idle")! + b.get("iowait")!,
        2 * rounding,
        1e-6,
      );
      for (const mode of ["idle", "iowait"]) {
        within(`cpu ${mode}`, nCpu.get(mode), a.get(mode)!, b.get(mode)!, ncpu);
      }

      // Logical cores: `nproc` (online CPUs this process may use; no affinity mask in this test)
      // and node_exporter's cpu labels.
      const nproc = Number(
        new TextDecoder().decode(
          (await new Deno.Command("nproc", { stdout: "piped" }).output()).stdout,
        ),
      );
      equal(ncpu, nproc);
      equal(
        new Set(N.filter((s) => s.name === "node_cpu_seconds_total").map((s) => s.labels.cpu)).size,
        ncpu,
      );

      // Memory. Both multiply meminfo kB by 1024. MemTotal is constant: exact. Free, available
      // and cached are gauges that both processes themselves move (node_exporter allocates a few
      // MiB per scrape, we allocate, the page cache changes as files are read), so they get
      // the [A, B] range widened by 16 MiB, 0.07 % of this host's memory.
      const mem = (s: Sample[], n: string) => byLabel(s, n).get("")!;
      equal(mem(N, "node_memory_MemTotal_bytes"), mem(A, "node_resources_memory_total_bytes"));
      equal(
        mem(B, "node_resources_memory_total_bytes"),
        mem(A, "node_resources_memory_total_bytes"),
      );
      const MiB16 = 16 * 1024 * 1024;
      for (
        const [theirs, oursName] of [
          ["node_memory_MemFree_bytes", "node_resources_memory_free_bytes"],
          ["node_memory_MemAvailable_bytes", "node_resources_memory_available_bytes"],
          ["node_memory_Cached_bytes", "node_resources_memory_cached_bytes"],
        ]
      ) {
        within(oursName, mem(N, theirs), mem(A, oursName), mem(B, oursName), MiB16);
      }

      // Disks: same /proc/diskstats fields, same 512-byte sectors and ms/1000. Exact bracket
      // (1e-9 for float noise such as 12.261000000000001) for every device both report;
      // node_exporter leaves out loop/ram/zram partitions by its own default filter.
      const pairs = [
        ["node_disk_reads_completed_total", "node_resources_disk_reads_total"],
        ["node_disk_writes_completed_total", "node_resources_disk_writes_total"],
        ["node_disk_read_bytes_total", "node_resources_disk_read_bytes_total"],
        ["node_disk_written_bytes_total", "node_resources_disk_written_bytes_total"],
        ["node_disk_read_time_seconds_total", "node_resources_disk_read_time_seconds_total"],
        ["node_disk_write_time_seconds_total", "node_resources_disk_write_time_seconds_total"],
        ["node_disk_io_time_seconds_total", "node_resources_disk_io_time_seconds_total"],
      ];
      const theirDevices = [...byLabel(N, pairs[0][0], "device").keys()];
      ok(theirDevices.length > 0, "node_exporter reports no disk");
      for (const [theirs, oursName] of pairs) {
        const n = byLabel(N, theirs, "device");
        const da = byLabel(A, oursName, "device"), db = byLabel(B, oursName, "device");
        for (const dev of theirDevices) {
          within(`${oursName}{device="${dev}"}`, n.get(dev), da.get(dev)!, db.get(dev)!, 1e-9);
        }
      }

      // Network: the host's /proc/1/net/dev (ours) against node_exporter's own netns, which is
      // the host's here. Exact bracket. The scrape itself goes over lo, which the bracket covers.
      const net = [
        ["node_network_receive_bytes_total", "node_net_received_bytes_total"],
        ["node_network_transmit_bytes_total", "node_net_transmitted_bytes_total"],
        ["node_network_receive_packets_total", "node_net_received_packets_total"],
        ["node_network_transmit_packets_total", "node_net_transmitted_packets_total"],
      ];
      // node_exporter leaves out lo by default; every interface it reports must be ours too.
      const theirIfaces = [...byLabel(N, net[0][0], "device").keys()];
      const ourIfaces = new Set(byLabel(A, net[0][1], "interface").keys());
      ok(theirIfaces.length > 0, "node_exporter reports no interface");
      for (const i of theirIfaces) ok(ourIfaces.has(i), `interface ${i} missing from ours`);
      for (const [theirs, oursName] of net) {
        const n = byLabel(N, theirs, "device");
        const ia = byLabel(A, oursName, "interface"), ib = byLabel(B, oursName, "interface");
        for (const i of theirIfaces) {
          within(`${oursName}{interface="${i}"}`, n.get(i), ia.get(i)!, ib.get(i)!);
        }
      }
      // Operational state: node_network_up is operstate == "up", as ours.
      deepEqual(
        Object.fromEntries(byLabel(A, "node_net_interface_up", "interface")),
        Object.fromEntries(byLabel(N, "node_network_up", "device")),
      );
    } finally {
      await stop(child);
    }
  },
});

Deno.test({
  name: title("on this host the file-based IPv4 addresses equal getifaddrs"),
  ignore: skip !== undefined,
  fn() {
    const paths = hostPaths();
    const all = () => true;
    const key = (a: { iface: string; ip: string }) => `${a.iface} ${a.ip}`;
    const files = selectAddresses(readHostAddresses(paths, { ipv4Source: "files" }), all)
      .filter((a) => !a.ip.includes(":")).map(key).sort();
    const libc = selectAddresses(readHostAddresses(paths, { ipv4Source: "getifaddrs" }), all)
      .filter((a) => !a.ip.includes(":")).map(key).sort();
    ok(files.length > 0);
    deepEqual(files, libc);
  },
});
