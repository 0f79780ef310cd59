import { deepEqual, equal, ok } from "node:assert/strict";
import { type BpfObject, openLibrary, type OspreyLibrary, type ProcEvent } from "../../ffi/mod.ts";
import {
  bpftoolProgs,
  createMemoryCgroup,
  EventCollector,
  ownedOspPrograms,
  privilegedIgnoreReason,
  sleep,
} from "./_helpers.ts";

const ignoreReason = privilegedIgnoreReason();
if (ignoreReason) console.warn(`tests/privileged/proc_events_test.ts ignored: ${ignoreReason}`);
const ignore = ignoreReason !== "";

/** Open, load and attach the proc object; fail on any attach error. */
function loadProc(lib: OspreyLibrary, forceRawTracepoint = false): BpfObject {
  const obj = lib.openObject("proc", { forceRawTracepoint });
  obj.load();
  const failed = obj.attach().filter((r) => !r.attached && !r.skipped);
  deepEqual(failed, [], `attach failures: ${JSON.stringify(failed, null, 2)}`);
  return obj;
}

/** Run a command and return exactly what the ring said about its pid. */
async function childEvents(
  obj: BpfObject,
  cmd: string,
  args: string[],
  whileRunning?: (pid: number) => Promise<void>,
): Promise<{ pid: number; status: Deno.CommandStatus; events: ProcEvent[] }> {
  const collector = new EventCollector(obj.openRing("proc_events"));
  try {
    const child = new Deno.Command(cmd, { args, stdout: "null", stderr: "null" }).spawn();
    await whileRunning?.(child.pid);
    const status = await child.status;
    await collector.waitFor((e) => e.type === "exit" && e.pid === child.pid);
    await sleep(200); // let duplicates, if any, arrive
    return { pid: child.pid, status, events: collector.events.filter((e) => e.pid === child.pid) };
  } finally {
    await collector.stop();
  }
}

function exitThreeEvents(obj: BpfObject): Promise<{ pid: number; events: ProcEvent[] }> {
  return childEvents(obj, "/bin/sh", ["-c", "exit 3"]);
}

/**
 * A multi-threaded child (Deno runs several threads) that exits with code 5:
 * its threads must yield no START and exactly one EXIT for the process.
 */
async function checkThreadedExit(obj: BpfObject): Promise<void> {
  let threads = 0;
  const { status, events } = await childEvents(
    obj,
    Deno.execPath(),
    ["eval", "await new Promise((r) => setTimeout(r, 400)); Deno.exit(5)"],
    async (pid) => {
      await sleep(250);
      const text = Deno.readTextFileSync(`/proc/${pid}/status`);
      threads = Number(text.match(/^Threads:\s*(\d+)/m)?.[1] ?? 0);
    },
  );
  ok(threads > 1, `the child ran ${threads} threads`);
  equal(status.code, 5);
  deepEqual(events.map((e) => e.type), ["start", "exec", "exit"], JSON.stringify(events));
  equal(events[2].exitCode, 5);
  // the process's name, even if a worker thread exited last
  equal(events[2].comm, events[1].comm);
}

/** Programs bpftool still lists among ids. */
async function listed(ids: number[]): Promise<string[]> {
  return (await bpftoolProgs()).filter((p) => ids.includes(p.id)).map((p) => `${p.id}:${p.name}`);
}

function checkExitThree(pid: number, events: ProcEvent[]): void {
  deepEqual(events.map((e) => e.type), ["start", "exec", "exit"], JSON.stringify(events));
  const [start, exec, exit] = events;
  equal(start.ppid, Deno.pid);
  equal(exec.filename, "/bin/sh");
  equal(exec.comm, "sh");
  equal(exit.exitCode, 3);
  equal(exit.signal, 0);
  equal(exit.status, 3 << 8);
  equal(exit.oomKilled, false);
  ok(start.tsNs <= exec.tsNs && exec.tsNs <= exit.tsNs, "timestamps in order");
  for (const e of events) equal(e.pid, pid);
}

Deno.test({
  name: "proc object loads and attaches every program its feature probes chose",
  ignore,
  fn() {
    using lib = openLibrary();
    const support = lib.kernelSupport();
    ok(support.ok, support.message);
    using obj = lib.openObject("proc");
    obj.load();
    const results = obj.attach();
    const attached = results.filter((r) => r.attached).map((r) => r.program).sort();
    const skipped = results.filter((r) => r.skipped === "feature-probe").map((r) => r.program);
    const mode = support.tracingProg ? "btf" : "raw";
    const other = support.tracingProg ? "raw" : "btf";
    deepEqual(attached, [
      `osp_exec_${mode}`,
      `osp_exit_${mode}`,
      `osp_fork_${mode}`,
      "osp_oom_victim",
    ]);
    deepEqual(skipped.sort(), [`osp_exec_${other}`, `osp_exit_${other}`, `osp_fork_${other}`]);
    equal(results.every((r) => r.attached || r.skipped), true, JSON.stringify(results));
    equal(obj.info().attach_mode, support.tracingProg ? "tp_btf" : "raw_tp");
    for (const p of obj.programs()) ok(p.name.length <= 15 && p.name.startsWith("osp_"), p.name);
  },
});

Deno.test({
  name: "a child exiting with code 3 yields exactly one start, exec and exit (tp_btf)",
  ignore,
  async fn() {
    using lib = openLibrary();
    using obj = loadProc(lib);
    const { pid, events } = await exitThreeEvents(obj);
    checkExitThree(pid, events);
    equal(obj.lost().total, 0);
  },
});

Deno.test({
  name: "a child exiting with code 3 yields exactly one start, exec and exit (raw_tp fallback)",
  ignore,
  async fn() {
    using lib = openLibrary();
    using obj = loadProc(lib, true);
    equal(obj.info().attach_mode, "raw_tp");
    deepEqual(
      obj.programs().filter((p) => p.attached).map((p) => p.variant),
      ["raw_tp", "raw_tp", "raw_tp", "raw_tp"],
    );
    const { pid, events } = await exitThreeEvents(obj);
    checkExitThree(pid, events);
  },
});

/**
 * Whether the kernel's `sched_process_exit` tracepoint passes `group_dead` (a third argument, in
 * newer kernels), read independently of libosprey: bpftool's C dump of the kernel's BTF.
 */
async function exitTracepointHasGroupDead(): Promise<boolean> {
  const r = await new Deno.Command("bpftool", {
    args: ["btf", "dump", "file", "/sys/kernel/btf/vmlinux", "format", "c"],
    stdout: "piped",
    stderr: "piped",
  }).output();
  equal(r.code, 0, new TextDecoder().decode(r.stderr));
  const proto = new TextDecoder().decode(r.stdout).match(
    /^typedef void \(\*btf_trace_sched_process_exit\)\(([^)]*)\);$/m,
  );
  ok(proto, "btf_trace_sched_process_exit in the kernel's BTF");
  return proto[1].split(",").length === 3;
}

Deno.test({
  name: "a multi-threaded child yields one start and one exit (tp_btf, group_dead argument " +
    "where the kernel passes it)",
  ignore,
  async fn() {
    using lib = openLibrary();
    using obj = loadProc(lib);
    // Before group_dead was added (6.1 has none; the development kernel has it), the tp_btf
    // program falls back to the signal->live check, as raw_tp does.
    equal(obj.info().exit_group_dead_arg, await exitTracepointHasGroupDead() ? "1" : "0");
    await checkThreadedExit(obj);
  },
});

Deno.test({
  name: "a multi-threaded child yields one start and one exit (raw_tp, signal->live check)",
  ignore,
  async fn() {
    using lib = openLibrary();
    const obj = lib.openObject("proc", { forceRawTracepoint: true, legacyExitCheck: true });
    try {
      equal(obj.info().exit_group_dead_arg, "0");
      obj.load();
      deepEqual(obj.attach().filter((r) => !r.attached && !r.skipped), []);
      await checkThreadedExit(obj);
      const { pid, events } = await exitThreeEvents(obj);
      checkExitThree(pid, events);
    } finally {
      obj.close();
    }
  },
});

Deno.test({
  name: "an OOM-killed child yields exactly one OOM-flagged exit with signal 9",
  ignore,
  async fn() {
    using lib = openLibrary();
    using obj = loadProc(lib);
    const before = obj.procCounters();
    const collector = new EventCollector(obj.openRing("proc_events"));
    const cg = createMemoryCgroup(32 << 20);
    try {
      // move itself into the cgroup, then become a process that eats memory
      const child = new Deno.Command("/bin/sh", {
        args: ["-c", `echo $$ > ${cg.procs} && exec tail /dev/zero`],
        stdout: "null",
        stderr: "null",
      }).spawn();
      const status = await child.status;
      equal(status.signal, "SIGKILL", `child ended with ${JSON.stringify(status)} (${cg.version})`);
      await collector.waitFor((e) => e.type === "exit" && e.pid === child.pid, 10_000);
      await sleep(200);
      const exits = collector.events.filter((e) => e.type === "exit" && e.pid === child.pid);
      equal(exits.length, 1, JSON.stringify(exits));
      equal(exits[0].oomKilled, true);
      equal(exits[0].signal, 9);
      equal(exits[0].exitCode, 0);
      const others = collector.events.filter((e) => e.oomKilled && e.pid !== child.pid);
      deepEqual(others, []);
      const after = obj.procCounters();
      ok(after.oomMarks > before.oomMarks, "mark_victim counted");
      equal(after.oomJoined - before.oomJoined, 1);
      equal(obj.lost().total, 0);
    } finally {
      await collector.stop();
      await cg.remove();
    }
  },
});

Deno.test({
  name: "close() detaches: no osp_ program stays owned by this process",
  ignore,
  async fn() {
    const lib = openLibrary();
    const obj = loadProc(lib);
    obj.openRing("proc_events");
    const loaded = await ownedOspPrograms();
    deepEqual(
      loaded.map((p) => p.name).sort(),
      ["osp_exec_btf", "osp_exit_btf", "osp_fork_btf", "osp_oom_victim"],
    );
    obj.close();
    obj.close(); // idempotent
    lib.close();
    // our fds are gone at once; the kernel frees the programs after an RCU grace period
    deepEqual(await ownedOspPrograms(), []);
    let stillListed = await listed(loaded.map((p) => p.id));
    for (let i = 0; stillListed.length > 0 && i < 30; i++) {
      await sleep(100);
      stillListed = await listed(loaded.map((p) => p.id));
    }
    deepEqual(stillListed, []);
  },
});

Deno.test({
  name: "lost counters read 0 for every record type under normal load",
  ignore,
  async fn() {
    using lib = openLibrary();
    using obj = loadProc(lib);
    const collector = new EventCollector(obj.openRing("proc_events"));
    try {
      for (let i = 0; i < 20; i++) {
        await new Deno.Command("/bin/true").output();
      }
      await sleep(100);
    } finally {
      await collector.stop();
    }
    deepEqual(obj.lost(), { total: 0, byType: {} });
    ok(collector.events.filter((e) => e.type === "exec").length >= 20);
  },
});
