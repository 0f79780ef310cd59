import { deepEqual, equal, ok } from "node:assert/strict";
import { countOpenFds, fdBudget, parseFdLimits, readFdLimits } from "./fd_limits.ts";
import { hostPaths } from "./paths.ts";

const LIMITS = `Limit                     Soft Limit           Hard Limit           Units     
Max cpu time              unlimited            unlimited            seconds   
Max open files            1024                 524288               files     
Max locked memory         8388608              8388608              bytes     
`;

Deno.test("parseFdLimits() reads the Max open files line of /proc/<pid>/limits", () => {
  deepEqual(parseFdLimits(LIMITS), { soft: 1024, hard: 524288 });
  deepEqual(
    parseFdLimits("Max open files            unlimited            unlimited            files\n"),
    { soft: Infinity, hard: Infinity },
  );
  equal(parseFdLimits("Max open files 12 files\n"), undefined);
  equal(parseFdLimits(""), undefined);
});

Deno.test("fdBudget() shares the soft limit out and keeps the configured caps", () => {
  const max = { httpConnections: 128, keptFiles: 4096 };
  deepEqual(fdBudget(1_048_576, max), max);
  deepEqual(fdBudget(1024, max), { httpConnections: 128, keptFiles: 480 });
  deepEqual(fdBudget(256, max), { httpConnections: 48, keptFiles: 96 });
  deepEqual(fdBudget(64, max), { httpConnections: 8, keptFiles: 16 });
  deepEqual(fdBudget(undefined, max), max);
  deepEqual(fdBudget(Infinity, max), max);
});

Deno.test({
  name: "readFdLimits() and countOpenFds() read the agent's own procfs entries",
  ignore: (() => {
    try {
      return !Deno.statSync("/run/osprey/host/proc/self/limits").isFile;
    } catch {
      return true;
    }
  })(),
  fn() {
    const paths = hostPaths();
    const limits = readFdLimits(paths)!;
    ok(limits.soft > 0 && limits.soft <= limits.hard, JSON.stringify(limits));
    const before = countOpenFds(paths)!;
    const files = Array.from({ length: 5 }, () => Deno.openSync(import.meta.filename!));
    equal(countOpenFds(paths), before + 5);
    for (const f of files) f.close();
    equal(countOpenFds(paths), before);
    equal(readFdLimits({ ...paths, fixture: true }), undefined);
  },
});
