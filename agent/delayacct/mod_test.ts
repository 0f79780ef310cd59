import { deepEqual } from "node:assert/strict";
import { describeSources } from "./mod.ts";
import type { DelayacctState } from "./state.ts";

const OFF: DelayacctState = {
  sysctl: false,
  cmdline: "unset",
  enabled: false,
  reason: "kernel.task_delayacct=0",
};

Deno.test("describeSources(): the TO ENABLE column names what is missing", () => {
  deepEqual(
    describeSources({ ...OFF, sysctl: true, enabled: true, reason: "kernel.task_delayacct=1" }, ""),
    {
      note: "on: kernel.task_delayacct=1; CPU and disk delay from taskstats",
      hint: "",
    },
  );
  deepEqual(
    describeSources(OFF, "").hint,
    "--enable-delayacct (or delayacct on the kernel command line)",
  );
  // --enable-delayacct given without its write grant: the grant, not the flag again
  const grant = "--allow-write=/run/osprey/host/proc/sys/kernel/task_delayacct";
  deepEqual(describeSources(OFF, "", grant), {
    note: "off: kernel.task_delayacct=0; CPU delay from /proc/<pid>/task/<tid>/schedstat, " +
      "no disk delay",
    hint: grant,
  });
});
