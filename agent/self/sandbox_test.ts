import { deepEqual } from "node:assert/strict";
import { formatSandboxLine, parseSandboxState } from "./sandbox.ts";

Deno.test("parseSandboxState: the launcher's values", () => {
  deepEqual(parseSandboxState("landlock:7"), { kind: "landlock", abi: 7, reason: "" });
  deepEqual(parseSandboxState("none:turned off"), {
    kind: "none",
    abi: 0,
    reason: "turned off",
  });
  deepEqual(parseSandboxState(undefined).reason, "not started through the launcher");
  deepEqual(parseSandboxState("landlock:x").kind, "none");
  deepEqual(parseSandboxState("landlock:0").kind, "none");
  deepEqual(parseSandboxState("weird").reason, 'unrecognised OSPREY_SANDBOX="weird"');
});

Deno.test("formatSandboxLine names the ABI or the reason", () => {
  deepEqual(
    formatSandboxLine({ kind: "landlock", abi: 7, reason: "" }),
    "SANDBOX  landlock ABI 7: the kernel enforces the file and TCP grants",
  );
  deepEqual(
    formatSandboxLine({ kind: "landlock", abi: 3, reason: "" }),
    "SANDBOX  landlock ABI 3: the kernel enforces the file grants (TCP: Deno's checks)",
  );
  deepEqual(
    formatSandboxLine({ kind: "none", abi: 0, reason: "turned off" }),
    "SANDBOX  none (turned off): Deno's permission checks only",
  );
});
