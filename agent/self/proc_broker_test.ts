import { deepEqual, equal, match } from "node:assert/strict";
import {
  formatBrokerLine,
  openProcBroker,
  procBrokerFor,
  withNetNamespace,
} from "./proc_broker.ts";

Deno.test("openProcBroker() is off without a Landlock domain, and nothing goes through it", async () => {
  const s = openProcBroker({ kind: "none", abi: 0, reason: "turned off" }, "/proc");
  deepEqual(s, { on: false, reason: "no Landlock domain" });
  equal(procBrokerFor("/proc"), undefined);
  // the namespace path is used as it is
  equal(
    await withNetNamespace("/proc", "/proc/42/ns/net", (p) => Promise.resolve(p)),
    "/proc/42/ns/net",
  );
  equal(await withNetNamespace("/proc", "", (p) => Promise.resolve(p)), "");
});

Deno.test("formatBrokerLine() says on, or off with the reason and what goes", () => {
  match(formatBrokerLine({ on: true, reason: "" }), /^BROKER {3}on: /);
  match(
    formatBrokerLine({ on: false, reason: "not granted: --allow-ffi=/x.so" }),
    /^BROKER {3}off \(not granted: --allow-ffi=\/x\.so\): Landlock refuses other processes' fd/,
  );
});
