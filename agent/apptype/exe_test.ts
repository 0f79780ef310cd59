import { deepEqual, equal } from "node:assert/strict";
import { buildTestBinaries, goInstalled } from "./_testing.ts";
import { builtLibrary, libraryIgnoreReason } from "../../ffi/_test_util.ts";
import { openLibrary } from "../../ffi/mod.ts";
import {
  ExeInspector,
  type ExeOutcome,
  type FileReader,
  libraryFileReader,
  nodeFileReader,
} from "./exe.ts";

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

/** The readers to test: node:fs, and libosprey's when it is built. */
function readers(): [string, FileReader | undefined][] {
  const lib = builtLibrary();
  const out: [string, FileReader | undefined][] = [["node", undefined]];
  if (lib !== undefined) {
    const opened = openLibrary(lib);
    globalThis.addEventListener("unload", () => opened.close());
    out.push(["library", libraryFileReader(opened)]);
  }
  return out;
}

for (const [name, read] of readers()) {
  Deno.test({
    name: `ExeInspector (${name} reader): live processes' executables, one read per binary`,
    ignore: Deno.build.os !== "linux",
    fn: () => liveProcesses(read),
  });
}

async function liveProcesses(read: FileReader | undefined): Promise<void> {
  {
    const b = await buildTestBinaries();
    const c = counted();
    const inspector = new ExeInspector({ ...c.opts, read });
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
  }
}

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

Deno.test("ExeInspector: two paths to one binary read at once are read and counted once", async () => {
  const b = await buildTestBinaries();
  try {
    const c = counted();
    // every read yields to the other inspection first, so both pass the cache lookup together
    const node = nodeFileReader();
    const read: FileReader = async (path, offset, buf) => {
      await new Promise((r) => setTimeout(r, 5));
      return await node(path, offset, buf);
    };
    const inspector = new ExeInspector({ ...c.opts, read, concurrency: 4 });
    const linked = `${b.dir}/linked`;
    Deno.linkSync(b.c, linked);
    const got = await Promise.all([inspector.inspect(b.c), inspector.inspect(linked)]);
    deepEqual(got, [NONE, NONE]);
    deepEqual(c.outcomes, ["other"]);
    equal(inspector.size, 1);
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

Deno.test({
  name: "ExeInspector: libosprey reads another mount namespace's binary with only <proc> " +
    "granted, as -P=agent does; node:fs cannot",
  ignore: Deno.uid() !== 0 || libraryIgnoreReason() !== "",
  async fn() {
    const repo = new URL("../../", import.meta.url).pathname;
    await new Deno.Command("sh", { args: [`${repo}agent/host_view.sh`] }).output();
    const proc = "/run/osprey/host/proc";
    const b = await buildTestBinaries();
    // the binary exists only in the child's mount namespace: its exe link's text names a path
    // the agent's namespace does not have
    const child = new Deno.Command("unshare", {
      args: [
        "--mount",
        "--propagation",
        "private",
        "sh",
        "-c",
        `mount -t tmpfs osprey-test /mnt && cp ${b.apphost} /mnt/only-here && exec /mnt/only-here`,
      ],
      stdout: "null",
      stderr: "piped",
    }).spawn();
    const dir = Deno.makeTempDirSync();
    try {
      const exe = `${proc}/${child.pid}/exe`;
      let link = "";
      for (let i = 0; i < 100 && link !== "/mnt/only-here"; i++) {
        await new Promise((r) => setTimeout(r, 20));
        try {
          link = Deno.readLinkSync(exe);
        } catch { /* not exec'd yet */ }
      }
      equal(link, "/mnt/only-here");
      const here = new URL(".", import.meta.url).pathname;
      const lib = builtLibrary()!;
      Deno.writeTextFileSync(
        `${dir}/probe.ts`,
        `import { openLibrary } from "${repo}ffi/mod.ts";
        import { ExeInspector, libraryFileReader, nodeFileReader } from "${here}exe.ts";
        using lib = openLibrary("${lib}");
        const out: Record<string, unknown> = {};
        for (const [name, read] of [["library", libraryFileReader(lib)], ["node", nodeFileReader()]] as const) {
          const outcomes: string[] = [];
          const i = new ExeInspector({ read, onOutcome: (o) => outcomes.push(o) });
          out[name] = { facts: await i.inspect("${exe}"), outcomes };
        }
        console.log(JSON.stringify(out));`,
      );
      const out = await new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "--no-check",
          "--no-lock",
          `--allow-read=${dir},${repo},${proc}`,
          `--allow-ffi=${lib}`,
          `${dir}/probe.ts`,
        ],
        stdout: "piped",
        stderr: "piped",
      }).output();
      const text = new TextDecoder().decode(out.stdout).trim();
      deepEqual(JSON.parse(text || "null"), {
        library: { facts: { ...NONE, dotnetApphost: true }, outcomes: ["dotnet"] },
        // Deno resolves the link by its text, "/mnt/only-here": not in this namespace
        node: { facts: NONE, outcomes: [] },
      }, new TextDecoder().decode(out.stderr));
    } finally {
      child.kill("SIGKILL");
      await child.output();
      Deno.removeSync(dir, { recursive: true });
    }
  },
});
