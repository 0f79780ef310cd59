import { deepEqual, equal, ok } from "node:assert/strict";
import {
  decodeFileOpenEvent,
  type FileOpenEvent,
  FileOpenFlag,
  forEachFrame,
  LogsCounter,
  openLibrary,
} from "../../ffi/mod.ts";
import { privilegedIgnoreReason, sleep } from "./_helpers.ts";

const ignoreReason = privilegedIgnoreReason();
if (ignoreReason) {
  console.warn(`tests/privileged/file_open_events_test.ts ignored: ${ignoreReason}`);
}
const ignore = ignoreReason !== "";

/**
 * A shell that opens files: its redirections use openat (">" with O_WRONLY|O_CREAT|O_TRUNC,
 * ">>" with O_APPEND, "<" read-only).
 */
function shell(script: string, cwd: string): Promise<Deno.CommandOutput> {
  return new Deno.Command("/bin/sh", { args: ["-c", script], cwd, stdout: "null", stderr: "piped" })
    .output();
}

Deno.test({
  name: "the logs object reports write opens under /var/log and relative ones, with pid and " +
    "fd, and nothing for reads or other absolute paths",
  ignore,
  async fn() {
    using lib = openLibrary();
    using obj = lib.openObject("logs");
    obj.load();
    const results = obj.attach();
    const failed = results.filter((r) => !r.attached && !r.skipped);
    deepEqual(failed, [], `attach failures: ${JSON.stringify(failed, null, 2)}`);
    ok(obj.info().syscalls.includes("openat"), JSON.stringify(obj.info()));
    const ring = obj.openRing("file_events");
    const events: FileOpenEvent[] = [];
    const stop = new AbortController();
    const loop = (async () => {
      for await (const b of ring.batches({ signal: stop.signal, timeoutMs: 50 })) {
        forEachFrame(b, (off) => {
          const e = decodeFileOpenEvent(b.bytes, off);
          if (e) events.push(e);
        });
      }
    })();
    const dir = await Deno.makeTempDir({ dir: "/var/log", prefix: "osprey_bpf_" });
    const tmp = await Deno.makeTempDir({ prefix: "osprey_bpf_" });
    try {
      const out = await shell(
        `exec 7>${dir}/a.log; exec 8>>rel.log; exec 9<${dir}/a.log; exec 6>${tmp}/x.log; ` +
          `echo $$ > ${tmp}/pid`,
        tmp,
      );
      equal(out.code, 0, new TextDecoder().decode(out.stderr));
      const pid = Number((await Deno.readTextFile(`${tmp}/pid`)).trim());
      let mine: FileOpenEvent[] = [];
      for (let i = 0; i < 50; i++) {
        mine = events.filter((e) => e.pid === pid);
        if (mine.length >= 2) break;
        await sleep(100);
      }
      // sh opens at the lowest free descriptor, then moves it to 7 and 8: the records name
      // the descriptor the open returned. The pid file (absolute, under /tmp), the read of
      // a.log and x.log (not under /var/log) are not reported.
      equal(mine.length, 2, JSON.stringify(mine));
      const [abs, rel] = mine;
      equal(abs.flags & FileOpenFlag.RELATIVE, 0);
      equal(abs.openFlags & 0o3, 1); // O_WRONLY
      equal(abs.openFlags & 0o1000, 0o1000); // O_TRUNC
      equal(rel.flags & FileOpenFlag.RELATIVE, FileOpenFlag.RELATIVE);
      equal(rel.openFlags & 0o2000, 0o2000); // O_APPEND
      ok(abs.fd >= 3 && rel.fd >= 3);
      ok(obj.counters()[LogsCounter.CANDIDATES] >= 2);
    } finally {
      stop.abort();
      await loop;
      await Deno.remove(dir, { recursive: true });
      await Deno.remove(tmp, { recursive: true });
    }
  },
});
