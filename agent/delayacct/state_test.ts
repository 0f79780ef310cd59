import { equal } from "node:assert/strict";
import { describeState, parseCmdline, parseSysctl } from "./state.ts";

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
