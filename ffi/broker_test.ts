import { equal, throws } from "node:assert/strict";
import { BpfError, Errno } from "./errors.ts";
import { openLibrary } from "./lib.ts";
import { builtLibrary, libraryIgnoreReason } from "./_test_util.ts";

const ignoreReason = libraryIgnoreReason();
if (ignoreReason) console.warn(`ffi/broker_test.ts ignored: ${ignoreReason}`);

Deno.test({
  name: "openBroker() refuses a descriptor that is not the broker's socket (EBADF, ENOTSOCK)",
  ignore: ignoreReason !== "",
  fn() {
    using lib = openLibrary(builtLibrary());
    // a descriptor number nothing holds
    throws(
      () => lib.openBroker(987_654, "/proc"),
      (e) => e instanceof BpfError && e.errno === Errno.EBADF,
    );
    // an open file that is no socket
    using _file = Deno.openSync(new URL("./broker.ts", import.meta.url));
    const fd = descriptorOf("/ffi/broker.ts");
    throws(
      () => lib.openBroker(fd, "/proc"),
      (e) => e instanceof BpfError && e.errno === Errno.ENOTSOCK,
    );
  },
});

/** The descriptor number this process holds the file whose path ends so under. */
function descriptorOf(suffix: string): number {
  let found = -1;
  for (const e of Deno.readDirSync("/proc/self/fd")) {
    try {
      if (Deno.readLinkSync(`/proc/self/fd/${e.name}`).endsWith(suffix)) found = Number(e.name);
    } catch { /* closed meanwhile (the directory's own descriptor) */ }
  }
  equal(found >= 0, true, `a descriptor of ${suffix}`);
  return found;
}
