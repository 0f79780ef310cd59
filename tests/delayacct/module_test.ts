/**
 * The delayacct module's collector on the real kernel, without Podman: a stand-in container
 * directory whose one container holds processes this test starts (busy loops sharing one CPU),
 * so exits and pid reuse happen exactly when the test says. The counter must never go down;
 * what an exited process added stays; a pid reused by a new process counts from the new
 * process's own value.
 */
import { equal, ok } from "node:assert/strict";
import { defaultLibraryPath } from "../../ffi/lib.ts";
import { CollectorScheduler } from "../../agent/collector.ts";
import { containerDirectory } from "../../agent/containers/directory.ts";
import { ContainerFamilies, SeriesOwner } from "../../agent/containers/metrics.ts";
import type { ContainerView } from "../../agent/containers/registry.ts";
import { delayacctModule } from "../../agent/delayacct/mod.ts";
import { createLogger } from "../../agent/log.ts";
import { Registry } from "../../agent/metrics/mod.ts";
import { hostPaths } from "../../agent/paths.ts";
import { parseSamples } from "../containers/metrics.ts";
import { ensureHostView } from "../containers/agent.ts";
import { sysctlIgnoreReason, withTaskDelayacct } from "./_sysctl.ts";

const IGNORE = sysctlIgnoreReason() ||
  (defaultLibraryPath() ? "" : "libosprey not built (deno task build)");
if (IGNORE) console.warn(`tests/delayacct/module_test.ts ignored: ${IGNORE}`);

const ID = "/test/delayacct";

/** One container whose processes are whatever the test puts in `pids` (with start times). */
class StandIn implements ContainerView {
  readonly id = ID;
  readonly appId = "";
  readonly visible = true;
  readonly live = true;
  readonly removed = false;
  readonly dirs = undefined;
  readonly series = new SeriesOwner(ID, "");
  readonly pids = new Map<number, number>();
  anyPid(): number | undefined {
    return this.pids.keys().next().value;
  }
  forEachProcess(fn: (pid: number, startMs: number) => void): void {
    for (const [pid, start] of this.pids) fn(pid, start);
  }
}

function busy(): Deno.ChildProcess {
  return new Deno.Command("taskset", {
    args: ["-c", "0", "sh", "-c", "while :; do :; done"],
    stdout: "null",
    stderr: "null",
  }).spawn();
}

/** A busy loop with exactly this pid (through ns_last_pid; other processes may take it first). */
async function busyWithPid(pid: number): Promise<Deno.ChildProcess | undefined> {
  for (let i = 0; i < 100; i++) {
    Deno.writeTextFileSync("/proc/sys/kernel/ns_last_pid", String(pid - 1));
    const c = busy();
    if (c.pid === pid) return c;
    c.kill("SIGKILL");
    await c.status;
  }
  return undefined;
}

async function stop(c: Deno.ChildProcess): Promise<void> {
  try {
    c.kill("SIGKILL");
  } catch { /* gone */ }
  await c.status;
}

function value(reg: Registry, family: string): number | undefined {
  const text = new TextDecoder().decode(reg.encode());
  return parseSamples(text).find((s) => s.name === family && s.labels.container_id === ID)
    ?.value;
}

for (const accounting of ["1", "0"] as const) {
  Deno.test({
    name: `delayacct collector (task_delayacct=${accounting}): exits and a reused pid never ` +
      "take the counter down",
    ignore: IGNORE !== "",
    async fn() {
      await ensureHostView();
      await withTaskDelayacct(accounting, async () => {
        const reg = new Registry();
        new ContainerFamilies(reg); // the containers module's families exist beside ours
        const lines: string[] = [];
        const { log } = createLogger({ write: (l) => lines.push(l) });
        const view = new StandIn();
        const children: Deno.ChildProcess[] = [];
        containerDirectory.publish({
          lookupPid: () => undefined,
          onContainerRemoved: () => () => {},
          containers: () => [view as ContainerView].values(),
        });
        const abort = new AbortController();
        const scheduler = new CollectorScheduler(reg, log, { intervalMs: 60_000, timeoutMs: 5000 });
        const inst = await delayacctModule.start({
          flags: {},
          paths: hostPaths(),
          registry: reg,
          scheduler,
          log,
          signal: abort.signal,
        });
        try {
          ok(inst.note?.startsWith(accounting === "1" ? "on:" : "off:"), inst.note);
          const collect = () => inst.collectors![0].collect(abort.signal);
          const seen: number[] = [];
          const round = async () => {
            await collect();
            const v = value(reg, "container_resources_cpu_delay_seconds_total");
            if (v !== undefined) seen.push(v);
            return v ?? 0;
          };
          // three loops on one CPU: each waits about two thirds of the time
          for (let i = 0; i < 3; i++) {
            const c = busy();
            children.push(c);
            view.pids.set(c.pid, 1000 + i);
          }
          for (let i = 0; i < 6; i++) {
            await round();
            await new Promise((r) => setTimeout(r, 300));
          }
          const beforeExit = await round();
          ok(beforeExit > 0.5, `three loops on one CPU waited ${beforeExit} s`);
          // one exits: what it added stays, before and after the registry drops it
          const gone = children[1];
          await stop(gone);
          const afterExit = await round();
          ok(afterExit >= beforeExit, `${beforeExit} -> ${afterExit} after an exit`);
          view.pids.delete(gone.pid);
          await round();
          // another exits and its pid comes back at once as a new process of the container,
          // which the registry gives another start time
          const victim = children[0];
          await stop(victim);
          const reused = await busyWithPid(victim.pid);
          if (reused) {
            children.push(reused);
            view.pids.set(reused.pid, 5000);
          } else view.pids.delete(victim.pid);
          for (let i = 0; i < 5; i++) {
            await round();
            await new Promise((r) => setTimeout(r, 300));
          }
          // and once more, a reuse the registry did not notice (same start time): the
          // process's counter is lower than its predecessor's
          let again: Deno.ChildProcess | undefined;
          if (reused) {
            await stop(reused);
            again = await busyWithPid(victim.pid);
            if (again) children.push(again);
            else view.pids.delete(victim.pid);
            for (let i = 0; i < 3; i++) {
              await round();
              await new Promise((r) => setTimeout(r, 300));
            }
          }
          for (let i = 1; i < seen.length; i++) {
            ok(seen[i] >= seen[i - 1], `went down at round ${i}: ${seen[i - 1]} -> ${seen[i]}`);
          }
          ok(seen.at(-1)! > afterExit, "it kept growing");
          const text = new TextDecoder().decode(reg.encode());
          const reuses = parseSamples(text).filter((s) =>
            s.name === "osprey_delayacct_pid_reuses_total"
          );
          if (reused) equal(reuses.find((s) => s.labels.kind === "restart")?.value, 1, text);
          // taskstats follows processes: the lower counter is a reuse; schedstat follows
          // threads and counts a thread whose counter fell as a new thread instead
          if (again && accounting === "1") {
            equal(reuses.find((s) => s.labels.kind === "reuse")?.value, 1, text);
          }
          // the exited processes were read once more before they left the container: counted
          const gones = parseSamples(text).find((s) =>
            s.name === "osprey_delayacct_read_errors_total" && s.labels.error === "ESRCH" &&
            s.labels.source === (accounting === "1" ? "taskstats" : "schedstat")
          );
          ok((gones?.value ?? 0) >= 1, `ESRCH counted: ${gones?.value}`);
          const disk = value(reg, "container_resources_disk_delay_seconds_total");
          if (accounting === "1") ok(disk !== undefined, "disk delay served while on");
          else equal(disk, undefined, "no disk delay while off");
          console.log(
            `task_delayacct=${accounting}: ${seen.length} rounds, ${seen[0].toFixed(3)} -> ` +
              `${seen.at(-1)!.toFixed(3)} s; pid ${victim.pid} ${
                again ? "reused twice" : reused ? "reused once" : "not reusable here"
              }`,
          );
        } finally {
          abort.abort();
          await inst.stop();
          containerDirectory.publish(undefined);
          for (const c of children) await stop(c);
        }
      });
    },
  });
}
