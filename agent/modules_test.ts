import { equal, match, ok } from "node:assert/strict";
import { CollectorScheduler } from "./collector.ts";
import { silentLogger } from "./log.ts";
import { Registry } from "./metrics/mod.ts";
import { formatModuleTable, HOST_VIEW_HINT, startModules } from "./modules.ts";
import type { ModuleContext, ModuleSpec } from "./modules.ts";
import { hostPaths } from "./paths.ts";

function context(reg: Registry): ModuleContext {
  return {
    flags: {},
    paths: hostPaths(),
    registry: reg,
    scheduler: new CollectorScheduler(reg, silentLogger, { intervalMs: 60_000, timeoutMs: 1000 }),
    log: silentLogger,
    signal: new AbortController().signal,
  };
}

Deno.test({
  name: "startModules() starts granted modules and reports the others with the flag to add",
  permissions: { read: ["/etc"], env: true },
  async fn() {
    const reg = new Registry();
    let stopped = "";
    const specs: ModuleSpec[] = [
      {
        name: "granted",
        description: "",
        permissions:
          () => [{ descriptor: { name: "read", path: "/etc" }, flag: "--allow-read=/etc" }],
        start: () => ({ stop: () => void (stopped += "granted ") }),
      },
      {
        name: "needs_ffi",
        description: "",
        permissions: () => [{
          descriptor: { name: "ffi", path: "/opt/lib.so" },
          flag: "--allow-ffi=/opt/lib.so",
        }],
        start: () => {
          throw new Error("must not start");
        },
      },
      {
        name: "switched_off",
        description: "",
        permissions: () => [],
        disabledBy: () => ({ reason: "disabled by --disable-x", flag: "--no-disable-x" }),
        start: () => {
          throw new Error("must not start");
        },
      },
      {
        name: "broken",
        description: "",
        permissions: () => [],
        start: () => {
          throw new Error("kernel has no BTF");
        },
      },
    ];
    const ctx = context(reg);
    const started = await startModules(specs, ctx);
    ctx.scheduler.stop();
    const byName = Object.fromEntries(started.statuses.map((s) => [s.module, s]));
    equal(byName.granted.state, "on");
    equal(byName.needs_ffi.state, "off");
    equal(byName.needs_ffi.reason, "not granted: ffi /opt/lib.so");
    equal(byName.needs_ffi.enable, "--allow-ffi=/opt/lib.so");
    equal(byName.switched_off.state, "off");
    equal(byName.broken.state, "failed");
    equal(byName.broken.reason, "kernel has no BTF");
    const text = new TextDecoder().decode(reg.encode("text"));
    match(text, /^osprey_module_state\{module="needs_ffi",state="off"\} 1$/m);
    match(text, /^osprey_module_state\{module="needs_ffi",state="on"\} 0$/m);
    match(text, /^osprey_module_state\{module="broken",state="failed"\} 1$/m);
    const table = formatModuleTable(started.statuses);
    match(table, /^MODULE\s+STATE\s+REASON\s+TO ENABLE$/m);
    match(
      table,
      /^needs_ffi\s+off\s+not granted: ffi \/opt\/lib\.so\s+--allow-ffi=\/opt\/lib\.so$/m,
    );
    await started.stop(1000);
    equal(stopped, "granted ");
  },
});

Deno.test("startModules() stop() gives up on a module that hangs, within the timeout", async () => {
  const reg = new Registry();
  const ctx = context(reg);
  const started = await startModules([{
    name: "hangs",
    description: "",
    permissions: () => [],
    start: () => ({ stop: () => new Promise<void>(() => {}) }),
  }], ctx);
  ctx.scheduler.stop();
  const t0 = performance.now();
  await started.stop(100);
  ok(performance.now() - t0 < 1000);
});

for (const granted of [true, false]) {
  Deno.test({
    name: `startModules() names the host view, not --allow-read, for /proc and /sys (read ${
      granted ? "granted" : "not granted"
    })`,
    permissions: { read: granted ? ["/proc", "/sys"] : ["/etc"], env: true },
    async fn() {
      const reg = new Registry();
      const ctx = context(reg);
      const needs = (...paths: string[]) => () =>
        paths.map((path) => ({
          descriptor: { name: "read" as const, path },
          flag: `--allow-read=${path}`,
        }));
      const started = await startModules([
        {
          name: "hostly",
          description: "",
          permissions: needs("/proc", "/sys/fs/cgroup", "/etc"),
          start: () => {
            throw new Error("must not start");
          },
        },
        {
          name: "nodey",
          description: "",
          permissions: needs("/sys"),
          start: () => {
            throw new Error("must not start");
          },
        },
      ], ctx);
      ctx.scheduler.stop();
      equal(started.statuses[0].state, "off");
      equal(
        started.statuses[0].reason,
        "no host view: Deno reads /proc and /sys/fs/cgroup only with --allow-all",
      );
      equal(started.statuses[0].enable, HOST_VIEW_HINT);
      equal(started.statuses[1].enable, HOST_VIEW_HINT);
      const table = formatModuleTable(started.statuses);
      match(table, /agent\/host_view\.sh/);
      ok(!table.includes("--allow-read"), table);
    },
  });
}
