import { deepEqual, equal, ok, throws } from "node:assert/strict";
import { defaultLibraryPath } from "../../ffi/mod.ts";
import { decodeHostText } from "../paths.ts";
import { CgroupReadError } from "./errors.ts";
import { LibraryRawFiles, RawPathRefused } from "./raw_files.ts";
import {
  directFiles,
  KeptFiles,
  type RawOpenFile,
  type RawPathFiles,
  RawPathsUnavailable,
  readCpu,
  readMemory,
} from "./read.ts";

const RAW = "/cg/system.slice/caf\udce9.service"; // raw byte 0xE9, as decodeHostText gives it

/** An in-memory RawPathFiles: what was opened, and the text of each file. */
function fakeRaw(files: Record<string, string>): RawPathFiles & { opened: string[] } {
  const opened: string[] = [];
  return {
    opened,
    open(path: string): RawOpenFile | undefined {
      opened.push(path);
      const text = files[path];
      if (text === undefined) return undefined;
      return { readAll: () => new TextEncoder().encode(text), close() {} };
    },
  };
}

Deno.test("KeptFiles opens a path that is not UTF-8 through its RawPathFiles, and keeps it", () => {
  const raw = fakeRaw({
    [`${RAW}/cpu.stat`]: "usage_usec 2500000\nuser_usec 1\nsystem_usec 1\n",
    [`${RAW}/memory.stat`]: "anon 4096\nfile 8192\nfile_mapped 1024\n",
  });
  const kept = new KeptFiles({ raw });
  try {
    deepEqual(readCpu({ v2: RAW }, kept), { usageSeconds: 2.5 });
    deepEqual(readCpu({ v2: RAW }, kept), { usageSeconds: 2.5 });
    deepEqual(readMemory({ v2: RAW }, kept), { rssBytes: 5120, cacheBytes: 8192 });
    // cpu.stat opened once and kept; cpu.max and memory.max do not exist (no limit)
    deepEqual(raw.opened.filter((p) => p.endsWith("/cpu.stat")), [`${RAW}/cpu.stat`]);
    ok(raw.opened.includes(`${RAW}/memory.max`));
    equal(kept.size, 2);
  } finally {
    kept.close();
  }
});

Deno.test("a path that is not UTF-8 without a RawPathFiles is a CgroupReadError 'raw-path'", () => {
  for (const files of [directFiles, new KeptFiles()]) {
    throws(() => readCpu({ v2: RAW }, files), (e: unknown) => {
      ok(e instanceof CgroupReadError);
      equal(e.problem, "raw-path");
      equal(e.file, "/cg/system.slice/caf\\xe9.service/cpu.stat", "printable in the error");
      return true;
    });
  }
  const unavailable: RawPathFiles = {
    open() {
      throw new RawPathsUnavailable("--allow-ffi=/x/libosprey.so is not granted");
    },
  };
  throws(() => readCpu({ v2: RAW }, new KeptFiles({ raw: unavailable })), (e: unknown) => {
    ok(e instanceof CgroupReadError);
    equal(e.problem, "raw-path");
    ok(e.message.includes("--allow-ffi=/x/libosprey.so"), e.message);
    return true;
  });
});

const LIB = (() => {
  const p = defaultLibraryPath();
  try {
    return p && Deno.statSync(p).isFile ? p : undefined;
  } catch {
    return undefined;
  }
})();

Deno.test({
  name: "LibraryRawFiles reads cgroup files below a directory named with a raw 0xE9 byte",
  ignore: LIB === undefined,
  fn() {
    const root = Deno.makeTempDirSync({ prefix: "osprey-rawcg-" });
    // Deno cannot make that directory either: the shell does.
    const r = new Deno.Command("sh", {
      args: [
        "-c",
        `d="$1/system.slice/$(printf 'caf\\351').service" && mkdir -p "$d" &&
         printf 'usage_usec 7000000\\nthrottled_usec 250000\\n' > "$d/cpu.stat" &&
         printf '50000 100000\\n' > "$d/cpu.max" &&
         printf 'anon 100\\nfile 30\\nfile_mapped 20\\n' > "$d/memory.stat"`,
        "sh",
        root,
      ],
    }).outputSync();
    equal(r.code, 0, new TextDecoder().decode(r.stderr));
    const name = [...Deno.readDirSync(`${root}/system.slice`)][0].name;
    equal(name, "caf\ufffd.service", "Deno lists the name lossily");
    // The path as the registry has it: /proc/<pid>/cgroup decoded without loss.
    const dir = decodeHostText(
      new Uint8Array([...new TextEncoder().encode(`${root}/system.slice/caf`), 0xe9]),
    ) + ".service";
    const raw = new LibraryRawFiles({ libraryPath: LIB!, roots: [root] });
    const kept = new KeptFiles({ raw });
    try {
      equal(raw.unavailable(), undefined, "-A grants the library");
      throws(() => readCpu({ v2: dir }, directFiles), CgroupReadError);
      deepEqual(readCpu({ v2: dir }, kept), {
        usageSeconds: 7,
        throttledSeconds: 0.25,
        limitCores: 0.5,
      });
      deepEqual(readMemory({ v2: dir }, kept), { rssBytes: 120, cacheBytes: 30 });
      equal(kept.size, 3, "cpu.stat, cpu.max and memory.stat kept; memory.max does not exist");
      throws(() => raw.open(`/etc/caf\udce9`), RawPathRefused);
      throws(() => raw.open(`${root}/../etc/caf\udce9`), RawPathRefused);
    } finally {
      kept.close();
      raw.close();
      Deno.removeSync(root, { recursive: true });
    }
  },
});
