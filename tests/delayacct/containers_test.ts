/**
 * Delay accounting on real Podman containers (runc, cgroupfs, this machine's hybrid cgroups)
 * against the real agent started with `-P=agent`:
 *
 * - a container limited to 0.5 CPU running two busy loops for about 10 s waits for a CPU more
 *   than half the wall time, with accounting on (taskstats) and off (schedstat);
 * - a container whose writes are throttled (`--device-write-bps`) doing direct I/O to a file on
 *   a real block device, started after the agent turned accounting on (`--enable-delayacct`),
 *   waits for the disk about as long as its writer ran;
 * - a container whose processes keep exiting, and one of whose pids is reused by another
 *   process, never sees its counter go down.
 *
 * Every test that changes `kernel.task_delayacct` puts the previous value back. Needs root,
 * podman, runc, busybox-static and the built libosprey. Run: `deno test -A tests/delayacct/`.
 */
import { equal, ok } from "node:assert/strict";
import { defaultLibraryPath } from "../../ffi/lib.ts";
import { waitContainerVisible, withContainerAgent } from "../containers/agent.ts";
import { scrapeParsed, sleep, waitFor } from "../containers/metrics.ts";
import {
  cgroupDir,
  cgroupMounts,
  containerPid,
  ContainerScope,
  podman,
  podmanIgnoreReason,
} from "../containers/podman.ts";
import { ensureTestImage } from "../containers/rootfs.ts";
import { readTaskDelayacct, sysctlIgnoreReason, withTaskDelayacct } from "./_sysctl.ts";

const HOST_SYSCTL = "/run/osprey/host/proc/sys/kernel/task_delayacct";

const IGNORE = podmanIgnoreReason() || sysctlIgnoreReason() ||
  (defaultLibraryPath() ? "" : "libosprey not built (deno task build)");
if (IGNORE) console.warn(`tests/delayacct/containers_test.ts ignored: ${IGNORE}`);

const INTERVAL = "500ms";
const CPU = "container_resources_cpu_delay_seconds_total";
const DISK = "container_resources_disk_delay_seconds_total";
const podmanId = (name: string) => `/podman/${name}`;

async function value(url: string, family: string, id: string): Promise<number | undefined> {
  return (await scrapeParsed(url)).value(family, { container_id: id });
}

/** Two busy loops in a container held to half a CPU; the CPU delay over ~10 s of wall time. */
async function busyRatio(accounting: "0" | "1"): Promise<{ ratio: number; source: number }> {
  const { image } = await ensureTestImage();
  const scope = new ContainerScope();
  try {
    return await withTaskDelayacct(accounting, async () => {
      let out = { ratio: 0, source: -1 };
      await withContainerAgent({ collectInterval: INTERVAL }, async (agent) => {
        const name = await scope.run("dly-cpu", {
          image,
          cmd: ["sh", "-c", "while :; do :; done & while :; do :; done"],
          extra: ["--cpus=0.5"],
        });
        const id = podmanId(name);
        await waitContainerVisible(agent.url, id);
        const first = await waitFor(`${CPU} of ${id}`, () => value(agent.url, CPU, id));
        const t0 = performance.now();
        await sleep(10_000);
        const last = (await value(agent.url, CPU, id))!;
        const wall = (performance.now() - t0) / 1000;
        const s = await scrapeParsed(agent.url);
        out = {
          ratio: (last - first) / wall,
          source: s.value("osprey_delayacct_cpu_from_schedstat") ?? -1,
        };
      });
      return out;
    });
  } finally {
    await scope.cleanup();
  }
}

Deno.test({
  name: "podman: two busy loops held to 0.5 CPU wait for a CPU more than half the wall time",
  ignore: IGNORE !== "",
  async fn() {
    const on = await busyRatio("1");
    equal(on.source, 0, "accounting on: taskstats");
    ok(on.ratio > 0.5, `taskstats: CPU delay / wall = ${on.ratio.toFixed(3)}`);
    const off = await busyRatio("0");
    equal(off.source, 1, "accounting off: schedstat");
    ok(off.ratio > 0.5, `schedstat: CPU delay / wall = ${off.ratio.toFixed(3)}`);
    console.log(
      `CPU delay / wall: taskstats ${on.ratio.toFixed(3)}, schedstat ${off.ratio.toFixed(3)}`,
    );
  },
});

/**
 * The whole disk a directory lives on, as a device file for `--device-write-bps`; throws
 * unless it is a real block device (sysfs knows it by major:minor; tmpfs and overlay do not).
 */
function blockDevice(dir: string): string {
  const dev = Deno.statSync(dir).dev;
  const major = Math.floor(dev / 256) & 0xfff, minor = (dev & 0xff) | ((dev >> 12) & 0xfff00);
  const sys = Deno.realPathSync(`/sys/dev/block/${major}:${minor}`);
  let partition = false;
  try {
    Deno.statSync(`${sys}/partition`);
    partition = true;
  } catch { /* a whole disk */ }
  const disk = partition ? sys.slice(0, sys.lastIndexOf("/")) : sys;
  const name = /^DEVNAME=(.+)$/m.exec(Deno.readTextFileSync(`${disk}/uevent`))?.[1];
  if (!name) throw new Error(`no DEVNAME for ${disk}`);
  return `/dev/${name}`;
}

Deno.test({
  name: "podman: throttled direct writes make the disk delay about the writer's run time",
  ignore: IGNORE !== "",
  async fn() {
    const { image } = await ensureTestImage();
    const scope = new ContainerScope();
    const dir = Deno.makeTempDirSync({ dir: "/var/tmp", prefix: "osprey-t-dly-" });
    try {
      const dev = blockDevice(dir);
      // accounting off until the agent turns it on (--enable-delayacct): the container, started
      // afterwards, is accounted
      await withTaskDelayacct("0", async () => {
        await withContainerAgent({
          collectInterval: INTERVAL,
          extraArgs: ["--enable-delayacct"],
          extraPermissions: [`--allow-write=${HOST_SYSCTL}`],
        }, async (agent) => {
          equal(readTaskDelayacct(), "1", "the agent turned accounting on");
          // 6 MiB at 1 MiB/s: about 6 s waiting for the disk; the writer starts once the agent
          // sees the container (the trigger file), and its report lands in /data/dd.txt
          const name = await scope.run("dly-io", {
            image,
            cmd: [
              "sh",
              "-c",
              "while [ ! -e /data/go ]; do sleep 0.1; done; " +
              // busybox dd prints no timing: its time applet does (to the same stderr)
              "time dd if=/dev/zero of=/data/f bs=64k count=96 oflag=direct 2>/data/dd.txt; " +
              "echo done >>/data/dd.txt; sleep 3600",
            ],
            extra: ["-v", `${dir}:/data`, `--device-write-bps=${dev}:1mb`],
          });
          const id = podmanId(name);
          await waitContainerVisible(agent.url, id);
          await waitFor(`${DISK} of ${id}`, () => value(agent.url, DISK, id));
          const before = (await value(agent.url, DISK, id))!;
          Deno.writeTextFileSync(`${dir}/go`, "");
          const report = await waitFor("dd's report", () => {
            try {
              const t = Deno.readTextFileSync(`${dir}/dd.txt`);
              return Promise.resolve(/^done$/m.test(t) ? t : undefined);
            } catch {
              return Promise.resolve(undefined);
            }
          }, { timeoutMs: 60_000, everyMs: 200 });
          const m = /^real\s+(\d+)m\s*([\d.]+)s$/m.exec(report);
          if (!m) throw new Error(`no run time in dd's report:\n${report}`);
          const secs = Number(m[1]) * 60 + Number(m[2]);
          await sleep(1500); // two more rounds
          const after = (await value(agent.url, DISK, id))!;
          const delay = after - before;
          console.log(
            `dd ran ${secs} s (${report.trim().split("\n").pop()}); disk delay ${delay} s`,
          );
          ok(secs > 3, `the throttle held dd back (${secs} s)`);
          ok(delay > 0, "disk delay counted");
          // what dd waited after the last round before it exited is not seen (≤ one interval)
          ok(delay >= 0.8 * secs - 0.5, `disk delay ${delay} s for ${secs} s of throttled writes`);
          ok(delay <= secs + 0.1, `disk delay ${delay} s exceeds dd's ${secs} s`);
        });
      });
    } finally {
      await scope.cleanup();
      Deno.removeSync(dir, { recursive: true });
    }
  },
});

/**
 * Starts `sh -c <script>` on the host with the given pid (through ns_last_pid, retried: other
 * processes may take it first), moved into `cgroupProcs` before it runs the script. Undefined
 * when the pid could not be had.
 */
async function spawnWithPid(
  pid: number,
  cgroupProcs: string[],
  script: string,
): Promise<Deno.ChildProcess | undefined> {
  for (let attempt = 0; attempt < 50; attempt++) {
    Deno.writeTextFileSync("/proc/sys/kernel/ns_last_pid", String(pid - 1));
    const child = new Deno.Command("sh", {
      args: [
        "-c",
        `for f in ${cgroupProcs.join(" ")}; do echo $$ > $f; done; exec sh -c '${script}'`,
      ],
      stdout: "null",
      stderr: "null",
    }).spawn();
    if (child.pid === pid) return child;
    child.kill("SIGKILL");
    await child.status;
  }
  return undefined;
}

Deno.test({
  name: "podman: the CPU delay never goes down while processes exit and a pid is reused",
  ignore: IGNORE !== "",
  async fn() {
    const { image } = await ensureTestImage();
    const scope = new ContainerScope();
    let reused: Deno.ChildProcess | undefined;
    try {
      await withTaskDelayacct("1", async () => {
        await withContainerAgent({ collectInterval: "300ms" }, async (agent) => {
          // a busy loop for contention, and short-lived busy children that keep exiting
          const name = await scope.run("dly-exit", {
            image,
            cmd: [
              "sh",
              "-c",
              "while :; do :; done & " +
              'while :; do sh -c "i=0; while [ \\$i -lt 30000 ]; do i=\\$((i+1)); done"; done',
            ],
            extra: ["--cpus=0.3"],
          });
          const id = podmanId(name);
          await waitContainerVisible(agent.url, id);
          const seen: number[] = [];
          const watch = async (ms: number) => {
            const end = Date.now() + ms;
            while (Date.now() < end) {
              const v = await value(agent.url, CPU, id);
              if (v !== undefined) seen.push(v);
              await sleep(150);
            }
          };
          await watch(5000);
          // a process of the container that has waited a while exits; its pid comes back as
          // another process in the same container
          const main = await containerPid(name);
          const victim = await podman([
            "exec",
            name,
            "sh",
            "-c",
            "sh -c 'while :; do :; done' >/dev/null 2>&1 & echo $!",
          ]);
          const victimPid = hostPidOf(main, Number(victim));
          await watch(1500);
          // the reused process joins the container's cgroup in every hierarchy
          const procs = [...cgroupMounts().keys()].flatMap((c) => {
            try {
              return [`${cgroupDir(main, c)}/cgroup.procs`];
            } catch {
              return [];
            }
          });
          Deno.kill(victimPid, "SIGKILL");
          await sleep(400);
          reused = await spawnWithPid(victimPid, procs, "while :; do :; done");
          await watch(4000);
          for (let i = 1; i < seen.length; i++) {
            ok(seen[i] >= seen[i - 1], `went down at ${i}: ${seen[i - 1]} -> ${seen[i]}`);
          }
          ok(seen.length > 20, `${seen.length} scrapes`);
          ok(seen[seen.length - 1] > seen[0], "it grew");
          const s = await scrapeParsed(agent.url);
          console.log(
            `${seen.length} scrapes, ${seen[0].toFixed(3)} -> ${seen.at(-1)!.toFixed(3)} s; pid ` +
              `${victimPid} ${reused ? "reused" : "not reused (taken by another process)"}; ` +
              `reuses ${
                JSON.stringify(
                  s.find("osprey_delayacct_pid_reuses_total").map((x) => [x.labels.kind, x.value]),
                )
              }`,
          );
        });
      });
    } finally {
      if (reused) {
        try {
          reused.kill("SIGKILL");
        } catch { /* gone */ }
        await reused.status;
      }
      await scope.cleanup();
    }
  },
});

/** The host pid of the process the container's PID namespace calls `nsPid` (from NSpid lines). */
function hostPidOf(main: number, nsPid: number): number {
  for (const e of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(e.name)) continue;
    try {
      const status = Deno.readTextFileSync(`/proc/${e.name}/status`);
      const m = /^NSpid:\s+(.*)$/m.exec(status);
      if (!m) continue;
      const ids = m[1].trim().split(/\s+/).map(Number);
      if (ids.length > 1 && ids[ids.length - 1] === nsPid && ids[0] !== main) {
        // same pid namespace as the container's main process?
        if (
          Deno.readLinkSync(`/proc/${e.name}/ns/pid`) === Deno.readLinkSync(`/proc/${main}/ns/pid`)
        ) {
          return ids[0];
        }
      }
    } catch { /* gone */ }
  }
  throw new Error(`no host pid for container pid ${nsPid}`);
}
