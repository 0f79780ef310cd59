import { deepEqual, equal, ok } from "node:assert/strict";
import { BpfError, Errno } from "./errors.ts";
import { openLibrary } from "./lib.ts";
import { builtLibrary, libraryIgnoreReason } from "./_test_util.ts";

const ignoreReason = libraryIgnoreReason();
if (ignoreReason) console.warn(`ffi/file_read_test.ts ignored: ${ignoreReason}`);

async function errnoOf(p: Promise<unknown>): Promise<number> {
  try {
    await p;
  } catch (err) {
    if (err instanceof BpfError) return err.errno;
    throw err;
  }
  return 0;
}

Deno.test({
  name: "readFile: positional reads and fstat through the kernel's path resolution",
  ignore: ignoreReason !== "",
  async fn() {
    using lib = openLibrary(builtLibrary());
    const exe = Deno.execPath();
    const info = Deno.statSync(exe);
    const buf = new Uint8Array(4);
    // /proc/self/exe is the deno binary running this test
    const r = await lib.readFile("/proc/self/exe", 0, buf);
    equal(r.bytesRead, 4);
    deepEqual([...buf], [0x7f, 0x45, 0x4c, 0x46]);
    equal(r.stat.size, info.size);
    equal(r.stat.ino, BigInt(info.ino!));
    equal(r.stat.dev, BigInt(info.dev));
    equal(r.stat.mode & 0o170000, 0o100000, "a regular file");
    equal(Number(r.stat.mtimeNs / 1_000_000n), info.mtime!.getTime());
    // at and past the end
    const tail = new Uint8Array(16);
    equal((await lib.readFile(exe, info.size - 3, tail)).bytesRead, 3);
    equal((await lib.readFile(exe, info.size + 100, tail)).bytesRead, 0);
  },
});

Deno.test({
  name: "readFile: a missing file is ENOENT; a FIFO or a directory is described, not read",
  ignore: ignoreReason !== "",
  async fn() {
    using lib = openLibrary(builtLibrary());
    const dir = Deno.makeTempDirSync();
    try {
      const buf = new Uint8Array(8);
      equal(await errnoOf(lib.readFile(`${dir}/missing`, 0, buf)), Errno.ENOENT);
      equal(await errnoOf(lib.readFile("", 0, buf)), Errno.EINVAL);
      equal(await errnoOf(lib.readFile("a\0b", 0, buf)), Errno.EINVAL);
      // a FIFO without a writer: opened without blocking, nothing read
      new Deno.Command("mkfifo", { args: [`${dir}/fifo`] }).outputSync();
      const f = await lib.readFile(`${dir}/fifo`, 0, buf);
      equal(f.bytesRead, 0);
      equal(f.stat.mode & 0o170000, 0o010000, "a FIFO");
      const d = await lib.readFile(dir, 0, buf);
      equal(d.bytesRead, 0);
      equal(d.stat.mode & 0o170000, 0o040000, "a directory");
      ok(d.stat.ino > 0n);
    } finally {
      Deno.removeSync(dir, { recursive: true });
    }
  },
});
