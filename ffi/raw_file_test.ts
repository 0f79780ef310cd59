import { deepEqual, equal, ok, throws } from "node:assert/strict";
import { BpfError, Errno } from "./errors.ts";
import { openLibrary } from "./lib.ts";
import { builtLibrary, libraryIgnoreReason } from "./_test_util.ts";

const ignoreReason = libraryIgnoreReason();
if (ignoreReason) console.warn(`ffi/raw_file_test.ts ignored: ${ignoreReason}`);

const enc = (s: string) => new TextEncoder().encode(s);
const cat = (...parts: Uint8Array[]) => new Uint8Array(parts.flatMap((p) => [...p]));

/** Makes `<dir>/caf\xe9/data` (raw byte 0xE9) with `text` in it; Deno cannot name that path. */
function makeRawFile(dir: string, text: string): Uint8Array {
  const r = new Deno.Command("sh", {
    args: [
      "-c",
      `d="$1/$(printf 'caf\\351')" && mkdir "$d" && printf %s "$2" > "$d/data"`,
      "sh",
      dir,
      text,
    ],
  }).outputSync();
  equal(r.code, 0, new TextDecoder().decode(r.stderr));
  return cat(enc(dir), enc("/caf"), new Uint8Array([0xe9]), enc("/data"));
}

Deno.test({
  name: "OspreyLibrary.openFile() reads a file whose path is not UTF-8, again and again",
  ignore: ignoreReason !== "",
  fn() {
    const dir = Deno.makeTempDirSync({ prefix: "osprey-raw-" });
    try {
      const text = "usage_usec 12345\n".repeat(1000); // 17 kB: the buffer must grow
      const path = makeRawFile(dir, text);
      // what Deno makes of the same path: the lossy name does not exist
      throws(() => Deno.readFileSync(new TextDecoder().decode(path)), Deno.errors.NotFound);
      using lib = openLibrary(builtLibrary());
      using f = lib.openFile(path, `${dir}/caf\\xe9/data`);
      equal(new TextDecoder().decode(f.readAll()), text);
      equal(new TextDecoder().decode(f.readAll()), text, "a second read from offset 0");
      const four = new Uint8Array(4);
      equal(f.pread(four, 6), 4);
      deepEqual(four, enc("usec"));
      equal(f.pread(four, text.length), 0, "end of file");
      f.close();
      f.close(); // idempotent
      throws(() => f.readAll(), (e: unknown) => e instanceof BpfError && e.errno === Errno.EBADF);
    } finally {
      Deno.removeSync(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "OspreyLibrary.openFile() fails with the errno: missing, a directory, a NUL, closed",
  ignore: ignoreReason !== "",
  fn() {
    const dir = Deno.makeTempDirSync({ prefix: "osprey-raw-" });
    try {
      using lib = openLibrary(builtLibrary());
      const errno = (fn: () => unknown) => {
        try {
          fn();
        } catch (e) {
          ok(e instanceof BpfError, String(e));
          return e.errno;
        }
        throw new Error("did not throw");
      };
      equal(errno(() => lib.openFile(enc(`${dir}/none`), "none")), Errno.ENOENT);
      equal(errno(() => lib.openFile(enc(dir), "dir")), Errno.EINVAL);
      equal(errno(() => lib.openFile(enc(`${dir}\0x`), "nul")), Errno.EINVAL);
      const f = lib.openFile(enc("/etc/hostname"), "/etc/hostname");
      lib.close(); // the library closes its files
      ok(f.closed);
    } finally {
      Deno.removeSync(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "a RawFile of a removed cgroup reads ENODEV (kept handles of dead cgroups fail cleanly)",
  ignore: ignoreReason !== "" || Deno.uid() !== 0 || !cgroupV2Dir(),
  fn() {
    const dir = `${cgroupV2Dir()}/osprey-rawfile-${Deno.pid}`;
    Deno.mkdirSync(dir);
    try {
      using lib = openLibrary(builtLibrary());
      using f = lib.openFile(enc(`${dir}/cgroup.procs`), "cgroup.procs");
      equal(f.readAll().length, 0);
      Deno.removeSync(dir);
      throws(() => f.readAll(), (e: unknown) => e instanceof BpfError && e.errno === 19);
    } finally {
      try {
        Deno.removeSync(dir);
      } catch { /* removed above */ }
    }
  },
});

function cgroupV2Dir(): string | undefined {
  for (const d of ["/sys/fs/cgroup/unified", "/sys/fs/cgroup"]) {
    try {
      if (Deno.statSync(`${d}/cgroup.controllers`).isFile) return d;
    } catch { /* not v2 */ }
  }
  return undefined;
}
