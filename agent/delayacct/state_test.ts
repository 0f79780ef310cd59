import { deepEqual, equal } from "node:assert/strict";
import { describeState, parseCmdline, parseSysctl, readDelayacctState } from "./state.ts";

Deno.test("parseCmdline() takes the last delayacct word before the init arguments", () => {
  equal(parseCmdline("console=ttyS0 quiet psi=1\n"), "unset");
  equal(parseCmdline("BOOT_IMAGE=/vmlinuz delayacct ro"), "delayacct");
  equal(parseCmdline("delayacct nodelayacct"), "nodelayacct");
  equal(parseCmdline("nodelayacct delayacct"), "delayacct");
  equal(parseCmdline("quiet -- delayacct"), "unset"); // init's argument, not the kernel's
  equal(parseCmdline("xdelayacct delayacct=1"), "unset");
});

Deno.test("parseSysctl() and describeState() say what the kernel does", () => {
  equal(parseSysctl("1\n"), true);
  equal(parseSysctl("0\n"), false);
  equal(parseSysctl("2\n"), undefined);
  equal(describeState(false, "unset").enabled, false);
  equal(
    describeState(false, "unset").reason,
    "kernel.task_delayacct=0 (not on the kernel command line)",
  );
  equal(describeState(true, "delayacct").reason, "kernel.task_delayacct=1 (delayacct at boot)");
  equal(describeState(undefined, "unset").enabled, true);
});

Deno.test("readDelayacctState() reads the sysctl and the command line under <proc>", () => {
  const dir = Deno.makeTempDirSync();
  try {
    const proc = `${dir}/proc`;
    Deno.mkdirSync(`${proc}/sys/kernel`, { recursive: true });
    Deno.writeTextFileSync(`${proc}/cmdline`, "ro quiet delayacct\n");
    const paths = { root: dir, proc, sys: `${dir}/sys`, cgroup: `${dir}/cg`, fixture: true };
    // no sysctl: a kernel before 5.14, which always accounts
    equal(readDelayacctState(paths).enabled, true);
    Deno.writeTextFileSync(`${proc}/sys/kernel/task_delayacct`, "0\n");
    const off = readDelayacctState(paths);
    deepEqual([off.enabled, off.cmdline, off.reason], [
      false,
      "delayacct",
      "kernel.task_delayacct=0 (delayacct at boot)",
    ]);
    Deno.writeTextFileSync(`${proc}/sys/kernel/task_delayacct`, "1\n");
    equal(readDelayacctState(paths).enabled, true);
    Deno.writeTextFileSync(`${proc}/sys/kernel/task_delayacct`, "yes\n");
    const odd = readDelayacctState(paths);
    deepEqual([odd.enabled, odd.reason], [
      false,
      'kernel.task_delayacct reads "yes": taken as off',
    ]);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});
