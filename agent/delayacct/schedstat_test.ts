import { equal, ok, throws } from "node:assert/strict";
import { parseSchedstat, readThreadRunDelays, SchedstatFormatError } from "./schedstat.ts";

Deno.test("parseSchedstat() reads the run-queue wait and refuses anything else", () => {
  equal(parseSchedstat("1234567 890123 45\n"), 890123);
  equal(parseSchedstat("0 0 0"), 0);
  for (const bad of ["", "1 2", "1 2 3 4", "1 -2 3", "1 x 3", "1  2 3"]) {
    throws(() => parseSchedstat(bad), SchedstatFormatError, bad);
  }
});

Deno.test({
  name: "readThreadRunDelays() sums nothing and lists each thread of a live process",
  ignore: Deno.build.os !== "linux",
  fn() {
    const threads = readThreadRunDelays("/proc", Deno.pid);
    ok(threads !== undefined && threads.size >= 1);
    ok(threads.has(Deno.pid));
    equal(readThreadRunDelays("/proc", 0x7ffffffe), undefined);
  },
});
