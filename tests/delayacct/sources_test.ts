/**
 * The two CPU delay sources against each other on the real kernel, and the agent's state
 * reporting with delay accounting off, turned on by `--enable-delayacct`, and without the
 * write grant. Every test that changes `kernel.task_delayacct` restores it.
 */
import { equal, ok } from "node:assert/strict";
import { openLibrary } from "../../ffi/mod.ts";
import { defaultLibraryPath } from "../../ffi/lib.ts";
import { readThreadRunDelays } from "../../agent/delayacct/schedstat.ts";
import { startAgent } from "../helpers/agent_process.ts";
import { ensureHostView } from "../containers/agent.ts";
import { scrapeParsed, waitFor } from "../containers/metrics.ts";
import {
  readTaskDelayacct,
  sysctlIgnoreReason,
  TASK_DELAYACCT,
  withTaskDelayacct,
} from "./_sysctl.ts";

const reason = sysctlIgnoreReason() ||
  (defaultLibraryPath() ? "" : "libosprey not built (run: deno task build)");
if (reason) console.warn(`tests/delayacct/sources_test.ts ignored: ${reason}`);

const HOST_SYSCTL = "/run/osprey/host/proc/sys/kernel/task_delayacct";

/** Two single-threaded busy loops sharing CPU 0, so each waits about half the time. */
function busyPair(): Deno.ChildProcess[] {
  return [0, 1].map(() =>
    new Deno.Command("taskset", {
      args: ["-c", "0", "sh", "-c", "while :; do :; done"],
      stdout: "null",
      stderr: "null",
    }).spawn()
  );
}

async function stopAll(children: Deno.ChildProcess[]): Promise<void> {
  for (const c of children) {
    try {
      c.kill("SIGKILL");
    } catch { /* gone */ }
  }
  await Promise.all(children.map((c) => c.status));
}

function schedstatSum(pid: number): number {
  const t = readThreadRunDelays("/proc", pid);
  if (t === undefined) throw new Error(`process ${pid} is gone`);
  let s = 0;
  for (const v of t.values()) s += v;
  return s;
}

Deno.test({
  name: "taskstats' CPU delay and the threads' schedstat run-queue wait are the same counter",
  ignore: reason !== "",
  async fn() {
    await withTaskDelayacct("1", async () => {
      using lib = openLibrary();
      using ts = await lib.openTaskstats("");
      const kids = busyPair();
      try {
        await new Promise((r) => setTimeout(r, 2000));
        for (const k of kids) {
          // the two reads bracket the taskstats answer: the counter only grows
          const before = schedstatSum(k.pid);
          const [r] = await ts.query([k.pid]);
          const after = schedstatSum(k.pid);
          equal(r.errno, 0);
          const delay = Number(r.cpuDelayNs);
          ok(
            before <= delay && delay <= after,
            `schedstat ${before} <= taskstats ${delay} <= ${after}`,
          );
          // two loops on one CPU for 2 s: each waited for a good part of it
          ok(delay > 0.3e9, `pid ${k.pid} waited ${delay / 1e9} s`);
        }
      } finally {
        await stopAll(kids);
      }
    });
  },
});

async function agentRun(
  args: string[],
  permissions: string[],
  check: (url: string, stderr: () => string) => Promise<void>,
  wrap?: string[],
): Promise<void> {
  await ensureHostView();
  const agent = startAgent({
    permissions: ["-P=agent", ...permissions],
    args: ["--collect-interval=500ms", ...args],
    wrap,
  });
  try {
    await agent.waitReady();
    await check(agent.url, agent.stderr);
  } catch (e) {
    throw new Error(`${e}\nagent stderr:\n${agent.stderr().slice(-4000)}`);
  } finally {
    if (wrap) {
      // unshare --fork does not pass SIGTERM on: stop the agent, its child, itself
      const pid = agent.child.pid;
      const kids = Deno.readTextFileSync(`/proc/${pid}/task/${pid}/children`).trim();
      for (const k of kids.split(/\s+/).filter(Boolean)) Deno.kill(Number(k), "SIGTERM");
    }
    await agent.stop();
  }
}

function tableRow(stderr: string): string {
  return stderr.split("\n").find((l) => /^delayacct\s+on\s/.test(l)) ?? "(no delayacct row)";
}

Deno.test({
  name: "agent: with delay accounting off the metric, the table and the CPU source say so",
  ignore: reason !== "",
  async fn() {
    await withTaskDelayacct("0", () =>
      agentRun([], [], async (url, stderr) => {
        const s = await waitFor("delayacct state metrics", async () => {
          const s = await scrapeParsed(url);
          return s.value("osprey_delayacct_enabled") === undefined ? undefined : s;
        });
        equal(s.value("osprey_delayacct_enabled"), 0);
        equal(s.value("osprey_delayacct_cpu_from_schedstat"), 1);
        equal(s.find("container_resources_disk_delay_seconds_total").length, 0);
        const row = tableRow(stderr());
        ok(row.includes("off: kernel.task_delayacct=0"), row);
        ok(row.includes("CPU delay from /proc/<pid>/task/<tid>/schedstat"), row);
        ok(row.includes("--enable-delayacct"), row);
      }));
  },
});

Deno.test({
  name: "agent: --enable-delayacct with the write grant turns it on; without, it stays off",
  ignore: reason !== "",
  async fn() {
    const before = readTaskDelayacct();
    await withTaskDelayacct("0", async () => {
      await agentRun(["--enable-delayacct"], [], async (url, stderr) => {
        const s = await scrapeParsed(url);
        equal(s.value("osprey_delayacct_enabled"), 0);
        equal(readTaskDelayacct(), "0");
        ok(stderr().includes(`--allow-write=${HOST_SYSCTL}`), "the log names the grant");
      });
      await agentRun(
        ["--enable-delayacct"],
        [`--allow-write=${HOST_SYSCTL}`],
        async (url, stderr) => {
          equal(readTaskDelayacct(), "1");
          const s = await waitFor("taskstats as the CPU source", async () => {
            const s = await scrapeParsed(url);
            return s.value("osprey_delayacct_cpu_from_schedstat") === 0 ? s : undefined;
          });
          equal(s.value("osprey_delayacct_enabled"), 1);
          const row = tableRow(stderr());
          ok(row.includes("on: kernel.task_delayacct=1"), row);
          ok(row.includes("CPU and disk delay from taskstats"), row);
        },
      );
    });
    equal(readTaskDelayacct(), before, `${TASK_DELAYACCT} restored`);
  },
});

Deno.test({
  name: "agent: in its own PID namespace taskstats is not used (it would look up other pids)",
  ignore: reason !== "",
  async fn() {
    await withTaskDelayacct("1", () =>
      agentRun([], [], async (url, stderr) => {
        const s = await waitFor("delayacct state metrics", async () => {
          const s = await scrapeParsed(url);
          return s.value("osprey_delayacct_enabled") === undefined ? undefined : s;
        });
        equal(s.value("osprey_delayacct_enabled"), 1);
        equal(s.value("osprey_delayacct_cpu_from_schedstat"), 1);
        equal(s.find("container_resources_disk_delay_seconds_total").length, 0);
        const row = tableRow(stderr());
        ok(row.includes("not in the host's PID namespace"), row);
      }, ["unshare", "--pid", "--fork", "--kill-child"]));
  },
});

Deno.test({
  name: "kernel: block I/O delay counts only for tasks started after accounting was turned on",
  ignore: reason !== "",
  async fn() {
    const dir = Deno.makeTempDirSync({ dir: "/var/tmp", prefix: "osprey-t-dly-" });
    // synchronous direct writes to a real disk: the writer waits for each one
    const writer = (name: string) =>
      new Deno.Command("dd", {
        args: ["if=/dev/zero", `of=${dir}/${name}`, "bs=4k", "count=1000000", "oflag=direct,dsync"],
        stdout: "null",
        stderr: "null",
      }).spawn();
    const kids: Deno.ChildProcess[] = [];
    try {
      using lib = openLibrary();
      using ts = await lib.openTaskstats("");
      await withTaskDelayacct("0", async () => {
        const before = writer("before");
        kids.push(before);
        await new Promise((r) => setTimeout(r, 500));
        await withTaskDelayacct("1", async () => {
          const after = writer("after");
          kids.push(after);
          await new Promise((r) => setTimeout(r, 1500));
          const [b, a] = await ts.query([before.pid, after.pid]);
          equal(b.errno, 0);
          equal(a.errno, 0);
          equal(b.blkioDelayNs, 0n, "the writer started while off gains no block I/O delay");
          ok(a.blkioDelayNs > 100_000_000n, `the one started after waited ${a.blkioDelayNs} ns`);
          // the CPU delay is there for both
          ok(b.cpuCount > 0n && a.cpuCount > 0n);
        });
      });
    } finally {
      await stopAll(kids);
      Deno.removeSync(dir, { recursive: true });
    }
  },
});

Deno.test({
  name:
    "agent: without CAP_NET_ADMIN (not in the bounding set) taskstats is refused and the table says why",
  ignore: reason !== "",
  async fn() {
    await withTaskDelayacct("1", () =>
      agentRun([], [], async (url, stderr) => {
        const s = await waitFor("delayacct state metrics", async () => {
          const s = await scrapeParsed(url);
          return s.value("osprey_delayacct_enabled") === undefined ? undefined : s;
        });
        equal(s.value("osprey_delayacct_enabled"), 1);
        equal(s.value("osprey_delayacct_cpu_from_schedstat"), 1);
        equal(s.find("container_resources_disk_delay_seconds_total").length, 0);
        const row = tableRow(stderr());
        ok(row.includes("lacks CAP_NET_ADMIN"), row);
      }, ["setpriv", "--bounding-set", "-net_admin", "--"]));
  },
});
