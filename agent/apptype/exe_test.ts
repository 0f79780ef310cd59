import { deepEqual, equal } from "node:assert/strict";
import { buildTestBinaries, goInstalled } from "./_testing.ts";
import { ExeInspector, type ExeOutcome } from "./exe.ts";

const NONE = { go: false, rust: false, dotnetApphost: false };

function counted() {
  const outcomes: ExeOutcome[] = [];
  let evictions = 0;
  return {
    outcomes,
    evictions: () => evictions,
    opts: { onOutcome: (o: ExeOutcome) => outcomes.push(o), onEvict: () => evictions++ },
  };
}

/** Starts `path` (a sleeper) and returns its pid and a stop function. */
function start(path: string): { pid: number; stop(): Promise<void> } {
  const child = new Deno.Command(path, { stdout: "null", stderr: "null" }).spawn();
  return {
    pid: child.pid,
    async stop() {
      child.kill("SIGKILL");
      await child.status;
    },
  };
}

Deno.test({
  name: "ExeInspector: live processes' executables through /proc/<pid>/exe, one read per binary",
  ignore: Deno.build.os !== "linux",
  async fn() {
    const b = await buildTestBinaries();
    const c = counted();
    const inspector = new ExeInspector(c.opts);
    const procs = [start(b.c), start(b.c), start(b.apphost)];
    const go = goInstalled() ? start(b.go!) : undefined;
    try {
      deepEqual(await inspector.inspect("/proc/self/exe"), { ...NONE, rust: true });
      deepEqual(await inspector.inspect(`/proc/${procs[0].pid}/exe`), NONE);
      deepEqual(await inspector.inspect(`/proc/${procs[1].pid}/exe`), NONE); // cached
      deepEqual(await inspector.inspect(`/proc/${procs[2].pid}/exe`), {
        ...NONE,
        dotnetApphost: true,
      });
      const expected: ExeOutcome[] = ["rust", "other", "dotnet"];
      if (go !== undefined) {
        deepEqual(await inspector.inspect(`/proc/${go.pid}/exe`), { ...NONE, go: true });
        expected.push("golang");
      }
      deepEqual(c.outcomes, expected, "each binary is counted once");
      equal(inspector.size, expected.length);
      // a process that is gone has no facts and is not counted
      const gone = procs.pop()!;
      const pid = gone.pid;
      await gone.stop();
      deepEqual(await inspector.inspect(`/proc/${pid}/exe`), NONE);
      equal(c.outcomes.length, expected.length);
      // a script and a directory are no ELF executables
      Deno.writeTextFileSync(`${b.dir}/run.sh`, "#!/bin/sh\n");
      deepEqual(await inspector.inspect(`${b.dir}/run.sh`), NONE);
      deepEqual(await inspector.inspect(b.dir), NONE);
      deepEqual(c.outcomes.slice(expected.length), ["not_elf", "not_elf"]);
    } finally {
      for (const p of procs) await p.stop();
      await go?.stop();
      b.cleanup();
    }
  },
});

Deno.test("ExeInspector: a binary replaced in place is read again; the cache evicts the oldest", async () => {
  const b = await buildTestBinaries();
  try {
    const c = counted();
    const inspector = new ExeInspector({ ...c.opts, maxEntries: 2 });
    const file = `${b.dir}/app`;
    Deno.copyFileSync(b.c, file);
    deepEqual(await inspector.inspect(file), NONE);
    Deno.copyFileSync(b.rust, file); // same inode, new contents
    deepEqual(await inspector.inspect(file), { ...NONE, rust: true });
    equal(c.evictions(), 0);
    deepEqual(await inspector.inspect(b.apphost), { ...NONE, dotnetApphost: true });
    equal(c.evictions(), 1, "three binaries in a cache of two");
    equal(inspector.size, 2);
    deepEqual(c.outcomes, ["other", "rust", "dotnet"]);
  } finally {
    b.cleanup();
  }
});

Deno.test("ExeInspector: a read that hangs times out, and stuck reads stop new ones", async () => {
  const dir = Deno.makeTempDirSync();
  const fifo = `${dir}/fifo`;
  // opening a FIFO for reading blocks until a writer comes: a stand-in for a hung file system
  new Deno.Command("mkfifo", { args: [fifo] }).outputSync();
  const c = counted();
  const inspector = new ExeInspector({ ...c.opts, timeoutMs: 100, maxStuck: 1 });
  try {
    equal(await inspector.inspect(fifo), undefined);
    equal(await inspector.inspect("/proc/self/exe"), undefined, "refused while one is stuck");
    deepEqual(c.outcomes, ["timeout", "busy"]);
    equal(inspector.stuck, 1);
  } finally {
    // let the stuck open finish: a writer comes and goes
    const w = await Deno.open(fifo, { write: true });
    w.close();
    while (inspector.stuck > 0) await new Promise((r) => setTimeout(r, 10));
    Deno.removeSync(dir, { recursive: true });
  }
  deepEqual(c.outcomes, ["timeout", "busy", "not_elf"], "the late result is still counted");
  deepEqual(await inspector.inspect("/proc/self/exe"), { ...NONE, rust: true });
});
