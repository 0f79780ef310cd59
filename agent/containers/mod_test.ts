import { deepEqual, equal, ok, rejects, throws } from "node:assert/strict";
import { CollectorScheduler } from "../collector.ts";
import { FlagError, parseFlags } from "../flags.ts";
import { silentLogger } from "../log.ts";
import { Registry } from "../metrics/mod.ts";
import { processEventHub } from "../process_events/hub.ts";
import { FakeHost, FIXTURES, T0 } from "./_testing.ts";
import { compileFilters, CONTAINERS_FLAGS, containersModule, runtimeStateDirs } from "./mod.ts";

Deno.test("flags: contract names, UPPER_SNAKE env twins, defaults", () => {
  for (const f of CONTAINERS_FLAGS) {
    equal(f.env, f.name.toUpperCase().replaceAll("-", "_"), f.name);
  }
  const { values } = parseFlags(CONTAINERS_FLAGS, [
    "--min-container-age=0",
    "--container-gc-grace=2s",
    "--container-denylist",
    "^/k8s/kube-system/",
    "--container-denylist=^/system.slice/",
  ], () => undefined);
  equal(values["min-container-age"], 0);
  equal(values["container-gc-grace"], 2000);
  deepEqual(values["container-denylist"], ["^/k8s/kube-system/", "^/system.slice/"]);
  equal(values["max-containers"], 5000);
  equal(values["max-processes"], 100_000);
  equal(values["skip-systemd-system-services"], true);
  equal(values["container-rescan-interval"], 10_000);
});

Deno.test("compileFilters names the flag of a bad regex", () => {
  equal(compileFilters("container-allowlist", ["^/podman/"])[0].test("/podman/x"), true);
  throws(() => compileFilters("container-denylist", ["("]), (e) => {
    return e instanceof FlagError && e.message.includes("--container-denylist");
  });
});

Deno.test("runtime state dirs are resolved under the host root", () => {
  const host = FakeHost.create({ hostRoot: "/host" });
  try {
    const dirs = runtimeStateDirs(host.paths);
    ok(dirs.includes("/host/var/lib/containers/storage"));
    ok(dirs.includes("/host/var/lib/docker"));
    ok(dirs.every((d) => d.startsWith("/host/")));
  } finally {
    host.cleanup();
  }
});

function context(host: FakeHost, args: string[]) {
  const registry = new Registry();
  const scheduler = new CollectorScheduler(registry, silentLogger, {
    intervalMs: 60_000,
    timeoutMs: 5000,
  });
  return {
    registry,
    scheduler,
    ctx: {
      flags: parseFlags(CONTAINERS_FLAGS, args, () => undefined).values,
      paths: host.paths,
      registry,
      scheduler,
      log: silentLogger,
      signal: new AbortController().signal,
    },
  };
}

Deno.test("the module starts on a host tree, follows process events once they come, stops", async () => {
  const host = FakeHost.create({ cgroupfsRoot: `${FIXTURES}/cgroups/fs/hybrid` });
  const { ctx, registry, scheduler } = context(host, ["--min-container-age=0"]);
  try {
    host.spawn(1, { cgroup: "/init.scope", startMs: T0 - 100_000 });
    const inst = await containersModule.start(ctx);
    const names = (inst.collectors ?? []).map((c) => c.name);
    ok(
      names.includes("containers_discovery") && names.includes("containers_resources"),
      names.join(),
    );
    const text = () => new TextDecoder().decode(registry.encode("text"));
    ok(text().includes('osprey_containers_event_source{source="polling"} 1'));
    host.spawn(50, { cgroup: "/user.slice/session-1.scope", startMs: T0 });
    processEventHub.emit({
      type: "start",
      pid: 50,
      ppid: 1,
      cgroupId: 0,
      oomKilled: false,
      filename: "",
      tsNs: 1e9,
      cpu: 0,
      status: 0,
      exitCode: 0,
      signal: 0,
      coreDumped: false,
      comm: "sh",
      filenameTruncated: false,
    });
    ok(text().includes('osprey_containers_event_source{source="bpf"} 1'));
    for (const c of inst.collectors ?? []) await c.collect(new AbortController().signal);
    await inst.stop();
    const before = text();
    processEventHub.emit({
      type: "exit",
      pid: 50,
      ppid: 1,
      cgroupId: 0,
      oomKilled: false,
      filename: "",
      tsNs: 2e9,
      cpu: 0,
      status: 0,
      exitCode: 0,
      signal: 0,
      coreDumped: false,
      comm: "sh",
      filenameTruncated: false,
    });
    equal(text(), before, "unsubscribed");
  } finally {
    scheduler.stop();
    host.cleanup();
  }
});

Deno.test("the module refuses a bad allowlist regex and a missing cgroup root", async () => {
  const host = FakeHost.create({ cgroupfsRoot: `${FIXTURES}/cgroups/fs/hybrid` });
  try {
    await rejects(
      async () => await containersModule.start(context(host, ["--container-allowlist=["]).ctx),
      FlagError,
    );
  } finally {
    host.cleanup();
  }
  const bare = FakeHost.create();
  try {
    await rejects(async () => await containersModule.start(context(bare, []).ctx), /cgroup/i);
  } finally {
    bare.cleanup();
  }
});

Deno.test("permissions: read on proc and the cgroup root are required", () => {
  const host = FakeHost.create();
  try {
    const needs = containersModule.permissions({}, host.paths);
    deepEqual(needs.map((n) => n.flag), [
      `--allow-read=${host.paths.proc}`,
      `--allow-read=${host.paths.cgroup}`,
    ]);
  } finally {
    host.cleanup();
  }
});
