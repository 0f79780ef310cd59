import { deepEqual, equal, ok } from "node:assert/strict";
import { FIXTURES, harness, hexId, podmanCgroup, T0 } from "./_testing.ts";
import { SystemdUnits } from "./systemd.ts";

const A = hexId(0xa1);
const B = hexId(0xb2);
const C = hexId(0xc3);

Deno.test("a Podman container is discovered by a scan with its name, image and app type", async () => {
  const h = harness();
  try {
    h.md.add("podman", A, { name: "web", image: "localhost/nginx:1" });
    h.host.spawn(100, {
      cgroup: podmanCgroup(A),
      startMs: T0 - 5000,
      cmdline: ["nginx: master process nginx"],
    });
    h.host.spawn(101, { cgroup: podmanCgroup(A), startMs: T0 - 4000, cmdline: ["sh"] });
    h.host.spawn(1, { cgroup: "/init.scope", startMs: T0 - 900_000, cmdline: ["init"] });
    h.reg.scan();
    await h.reg.settled();
    h.reg.refresh();
    deepEqual(h.samples("container_info"), [{
      labels: {
        container_id: "/podman/web",
        app_id: "",
        image: "localhost/nginx:1",
        systemd_triggered_by: "",
        systemd_type: "",
      },
      value: 1,
    }]);
    equal(h.value("container_restarts_total", { container_id: "/podman/web" }), 0);
    equal(
      h.value("container_application_type", {
        container_id: "/podman/web",
        application_type: "nginx",
      }),
      1,
    );
    deepEqual(h.samples("container_oom_kills_total"), [], "only once > 0");
    equal(h.value("osprey_containers", { state: "running" }), 1);
    equal(h.value("osprey_container_registry_processes", {}), 3);
  } finally {
    h.close();
  }
});

Deno.test("restart: exactly one after all old processes exit and a new one starts", async () => {
  const h = harness();
  try {
    h.md.add("podman", A, { name: "app", image: "img" });
    h.host.spawn(100, { cgroup: podmanCgroup(A), startMs: T0 - 5000 });
    h.host.spawn(101, { cgroup: podmanCgroup(A), startMs: T0 - 4000 });
    h.reg.scan();
    await h.reg.settled();
    const restarts = () => h.value("container_restarts_total", { container_id: "/podman/app" });
    equal(restarts(), 0);
    // a process joining a running container is no restart
    h.clock.advance(1000);
    h.host.spawn(102, { cgroup: podmanCgroup(A), startMs: h.clock.ms, ppid: 100 });
    h.event({ type: "start", pid: 102, ppid: 100 });
    equal(restarts(), 0);
    for (const pid of [100, 101, 102]) {
      h.host.kill(pid);
      h.event({ type: "exit", pid });
    }
    equal(restarts(), 0, "dead is not restarted");
    h.reg.refresh();
    equal(h.value("osprey_containers", { state: "dead" }), 1);
    h.clock.advance(2000);
    h.host.spawn(200, { cgroup: podmanCgroup(A), startMs: h.clock.ms });
    h.event({ type: "start", pid: 200 });
    equal(restarts(), 1);
    h.host.spawn(201, { cgroup: podmanCgroup(A), startMs: h.clock.ms, ppid: 200 });
    h.event({ type: "start", pid: 201, ppid: 200 });
    h.event({ type: "exec", pid: 201 });
    equal(restarts(), 1, "more processes of the restarted container do not count again");
  } finally {
    h.close();
  }
});

Deno.test("restart seen by polling: old pids gone and new ones present in one rescan", async () => {
  const h = harness();
  try {
    h.md.add("podman", A, { name: "app" });
    h.host.spawn(100, { cgroup: podmanCgroup(A), startMs: T0 - 5000 });
    h.reg.scan();
    await h.reg.settled();
    h.host.kill(100);
    h.clock.advance(10_000);
    h.host.spawn(300, { cgroup: podmanCgroup(A), startMs: h.clock.ms - 3000 });
    h.reg.scan();
    equal(h.value("container_restarts_total", { container_id: "/podman/app" }), 1);
    equal(h.value("osprey_containers_event_source", { source: "polling" }), 1);
  } finally {
    h.close();
  }
});

Deno.test("OOM kills: exactly once per kill, 2 after a second kill, kept across a restart", async () => {
  const h = harness();
  try {
    h.md.add("podman", A, { name: "hog", image: "img" });
    h.host.spawn(100, { cgroup: podmanCgroup(A), startMs: T0 - 5000 });
    h.host.spawn(101, { cgroup: podmanCgroup(A), startMs: T0 - 4000, ppid: 100 });
    h.reg.scan();
    await h.reg.settled();
    const ooms = () => h.value("container_oom_kills_total", { container_id: "/podman/hog" });
    equal(ooms(), undefined);
    h.host.kill(101);
    h.event({ type: "exit", pid: 101, oomKilled: true });
    equal(ooms(), 1);
    // the same exit seen again by a rescan does not count again
    h.reg.scan();
    equal(ooms(), 1);
    h.host.kill(100);
    h.event({ type: "exit", pid: 100 });
    equal(ooms(), 1);
    // the container starts again and is killed again
    h.clock.advance(3000);
    h.host.spawn(400, { cgroup: podmanCgroup(A), startMs: h.clock.ms });
    h.event({ type: "start", pid: 400, cgroupId: 77 });
    h.host.kill(400);
    h.event({ type: "exit", pid: 400, oomKilled: true, cgroupId: 77 });
    equal(ooms(), 2);
    equal(h.value("container_restarts_total", { container_id: "/podman/hog" }), 1);
    // an OOM kill of a pid never seen, in a known cgroup (by its id): counted there
    h.event({ type: "exit", pid: 999, oomKilled: true, cgroupId: 77 });
    equal(ooms(), 3);
    // and of a pid and cgroup never seen: unattributed
    h.event({ type: "exit", pid: 998, oomKilled: true, cgroupId: 12345 });
    equal(ooms(), 3);
    equal(h.value("osprey_containers_oom_kills_unattributed_total", {}), 1);
  } finally {
    h.close();
  }
});

Deno.test("OOM kill of a process whose container is still being identified is counted once known", async () => {
  const h = harness();
  try {
    let release!: () => void;
    const gate = new Promise<void>((r) => release = r);
    h.md.table.set(
      `podman:${A}`,
      gate.then(() => ({ runtime: "podman", id: A, name: "quick", labels: {}, sources: [] })),
    );
    h.host.spawn(100, { cgroup: podmanCgroup(A), startMs: T0 });
    h.event({ type: "start", pid: 100, cgroupId: 5 });
    equal(h.value("osprey_containers", { state: "pending" }), undefined);
    h.reg.refresh();
    equal(h.value("osprey_containers", { state: "pending" }), 1);
    h.host.kill(100);
    h.event({ type: "exit", pid: 100, oomKilled: true, cgroupId: 5 });
    release();
    await h.reg.settled();
    equal(h.value("container_oom_kills_total", { container_id: "/podman/quick" }), 1);
    equal(h.value("container_restarts_total", { container_id: "/podman/quick" }), 0);
    h.reg.refresh();
    equal(h.value("osprey_containers", { state: "dead" }), 1);
  } finally {
    h.close();
  }
});

Deno.test("exec after runc moves the process into the container cgroup", async () => {
  const h = harness();
  try {
    h.md.add("podman", A, { name: "moved" });
    // runc init starts in the caller's cgroup
    h.host.spawn(100, { cgroup: "/user.slice/user-0.slice/session-1.scope", startMs: T0 });
    h.event({ type: "start", pid: 100, cgroupId: 1 });
    await h.reg.settled();
    deepEqual(h.samples("container_info"), []);
    h.host.setCgroup(100, podmanCgroup(A));
    h.host.setCmdline(100, ["redis-server *:6379"]);
    h.event({ type: "exec", pid: 100, cgroupId: 2, filename: "/usr/bin/redis-server" });
    await h.reg.settled();
    equal(h.value("container_restarts_total", { container_id: "/podman/moved" }), 0);
    // the app type is read from the new image's command line
    deepEqual(h.samples("container_application_type"), [{
      labels: { container_id: "/podman/moved", app_id: "", application_type: "redis" },
      value: 1,
    }]);
  } finally {
    h.close();
  }
});

Deno.test("pid reuse: a start event for a known pid replaces the old process", async () => {
  const h = harness();
  try {
    h.md.add("podman", A, { name: "a" });
    h.host.spawn(100, { cgroup: podmanCgroup(A), startMs: T0 - 1000 });
    h.reg.scan();
    await h.reg.settled();
    // exit of 100 was lost; the pid now belongs to a host process
    h.host.kill(100);
    h.clock.advance(5000);
    h.host.spawn(100, { cgroup: "/user.slice/x.scope", startMs: h.clock.ms });
    h.event({ type: "start", pid: 100 });
    h.reg.refresh();
    equal(h.value("osprey_containers", { state: "dead" }), 1);
    // polling finds reuse by start time too
    h.host.spawn(101, { cgroup: podmanCgroup(A), startMs: h.clock.ms });
    h.reg.scan();
    h.host.kill(101);
    h.clock.advance(5000);
    h.host.spawn(101, { cgroup: "/user.slice/x.scope", startMs: h.clock.ms });
    h.reg.scan();
    equal(h.value("osprey_containers", { state: "dead" }), 1);
    equal(h.value("container_restarts_total", { container_id: "/podman/a" }), 1);
  } finally {
    h.close();
  }
});

Deno.test("--min-container-age hides young containers and never shows short-lived ones", async () => {
  const h = harness({ minContainerAgeMs: 30_000 });
  try {
    h.md.add("podman", A, { name: "young", image: "img" });
    h.md.add("podman", B, { name: "brief", image: "img" });
    h.md.add("podman", C, { name: "old", image: "img" });
    h.host.spawn(100, { cgroup: podmanCgroup(A), startMs: T0 - 1000 });
    h.host.spawn(200, { cgroup: podmanCgroup(B), startMs: T0 - 1000 });
    h.host.spawn(300, { cgroup: podmanCgroup(C), startMs: T0 - 3_600_000 });
    h.reg.scan();
    await h.reg.settled();
    h.reg.refresh();
    deepEqual(h.samples("container_info").map((s) => s.labels.container_id), ["/podman/old"]);
    equal(h.value("osprey_containers", { state: "hidden" }), 2);
    h.clock.advance(10_000);
    h.host.kill(200);
    h.event({ type: "exit", pid: 200, oomKilled: true });
    h.clock.advance(25_000);
    h.reg.scan();
    deepEqual(
      h.samples("container_info").map((s) => s.labels.container_id).sort(),
      ["/podman/old", "/podman/young"],
    );
    deepEqual(h.samples("container_oom_kills_total"), [], "the brief one stays hidden");
    ok(!h.text().includes("/podman/brief"));
  } finally {
    h.close();
  }
});

Deno.test("allow and deny lists: regexes on the container ID", async () => {
  const h = harness({ allowlist: [/^\/podman\/(web|db)/], denylist: [/^\/podman\/db-secret$/] });
  try {
    h.md.add("podman", A, { name: "web" });
    h.md.add("podman", B, { name: "db-secret" });
    h.md.add("podman", C, { name: "batch" });
    h.host.spawn(100, { cgroup: podmanCgroup(A), startMs: T0 });
    h.host.spawn(200, { cgroup: podmanCgroup(B), startMs: T0 });
    h.host.spawn(300, { cgroup: podmanCgroup(C), startMs: T0 });
    h.reg.scan();
    await h.reg.settled();
    deepEqual(h.samples("container_restarts_total").map((s) => s.labels.container_id), [
      "/podman/web",
    ]);
    equal(h.value("osprey_containers_ignored_total", { reason: "denylist" }), 1);
    equal(h.value("osprey_containers_ignored_total", { reason: "allowlist" }), 1);
    // the ignored cgroups are not looked up again on rescans
    const calls = h.md.calls;
    h.reg.scan();
    h.reg.scan();
    equal(h.md.calls, calls);
  } finally {
    h.close();
  }
});

Deno.test("GC: a dead container's series are removed from every family after the grace", async () => {
  const h = harness({ gcGraceMs: 5000 });
  try {
    h.md.add("podman", A, { name: "gone", image: "img" });
    h.host.spawn(100, { cgroup: podmanCgroup(A), startMs: T0, cmdline: ["redis-server"] });
    h.reg.scan();
    await h.reg.settled();
    const c = [...h.reg.containers()][0];
    c.series.get(h.families.cpuUsage).set(1);
    c.series.get(h.families.diskReads, "/data", "vda", "").set(2);
    h.host.kill(100);
    h.event({ type: "exit", pid: 100, oomKilled: true });
    ok(h.text().includes("/podman/gone"));
    h.clock.advance(4999);
    h.reg.gc();
    ok(h.text().includes("/podman/gone"), "kept within the grace period");
    h.clock.advance(1);
    h.reg.gc();
    ok(!h.text().includes("/podman/gone"), h.text());
    equal([...h.reg.containers()].length, 0);
  } finally {
    h.close();
  }
});

Deno.test("counters survive a container recreated under the same name (a new cgroup)", async () => {
  const h = harness();
  try {
    h.md.add("podman", A, { name: "db", image: "pg:15" });
    h.md.add("podman", B, { name: "db", image: "pg:16" });
    h.host.spawn(100, { cgroup: podmanCgroup(A), startMs: T0 });
    h.reg.scan();
    await h.reg.settled();
    h.host.kill(100);
    h.event({ type: "exit", pid: 100, oomKilled: true });
    h.clock.advance(1000);
    h.host.spawn(200, { cgroup: podmanCgroup(B), startMs: h.clock.ms });
    h.event({ type: "start", pid: 200 });
    await h.reg.settled();
    equal(h.value("container_oom_kills_total", { container_id: "/podman/db" }), 1);
    equal(h.value("container_restarts_total", { container_id: "/podman/db" }), 1);
    // one container_info, with the newer image; no duplicate series anywhere
    deepEqual(h.samples("container_info").map((s) => s.labels.image), ["pg:16"]);
    const lines = h.text().split("\n").filter((l) => l !== "" && !l.startsWith("#"));
    const keys = lines.map((l) => l.slice(0, l.lastIndexOf(" ")));
    equal(new Set(keys).size, keys.length, "no duplicate series");
  } finally {
    h.close();
  }
});

Deno.test("caps: containers and processes beyond the limits are counted, then retried", async () => {
  const h = harness({ maxContainers: 2, maxProcesses: 4, gcGraceMs: 1000 });
  try {
    for (const [id, name] of [[A, "a"], [B, "b"], [C, "c"]]) h.md.add("podman", id, { name });
    h.host.spawn(100, { cgroup: podmanCgroup(A), startMs: T0 });
    h.host.spawn(200, { cgroup: podmanCgroup(B), startMs: T0 });
    h.host.spawn(300, { cgroup: podmanCgroup(C), startMs: T0 });
    h.host.spawn(301, { cgroup: podmanCgroup(C), startMs: T0 });
    h.host.spawn(302, { cgroup: podmanCgroup(C), startMs: T0 });
    h.reg.scan();
    await h.reg.settled();
    equal(h.samples("container_restarts_total").length, 2);
    equal(h.value("osprey_containers_overflow_total", { kind: "container" }), 1);
    equal(h.value("osprey_containers_overflow_total", { kind: "process" }), 1);
    equal(h.reg.processCount, 4);
    // a slot frees up: the overflowed container gets in on a later round
    h.host.kill(100);
    h.event({ type: "exit", pid: 100 });
    h.clock.advance(1000);
    h.reg.scan();
    await h.reg.settled();
    deepEqual(
      h.samples("container_restarts_total").map((s) => s.labels.container_id).sort(),
      ["/podman/b", "/podman/c"],
    );
  } finally {
    h.close();
  }
});

Deno.test("unknown cgroup layouts are counted once per cgroup, not logged per process", async () => {
  const h = harness();
  try {
    for (let pid = 100; pid < 110; pid++) {
      h.host.spawn(pid, { cgroup: "/weird/layout/x", startMs: T0 });
    }
    h.host.spawn(200, { cgroup: "/other/place", startMs: T0 });
    h.reg.scan();
    h.reg.scan();
    await h.reg.settled();
    equal(h.value("osprey_cgroup_unknown_layout_total", {}), 2);
    equal(h.value("osprey_cgroup_unknown_layouts", {}), 2);
    equal(h.logLines.filter((l) => l.includes("unknown layout")).length, 2);
    for (let pid = 100; pid < 110; pid++) h.host.kill(pid);
    h.reg.scan();
    equal(h.value("osprey_cgroup_unknown_layouts", {}), 1);
  } finally {
    h.close();
  }
});

Deno.test("metadata that cannot be read: the short id, a counted reason and one log line", async () => {
  const h = harness({ metadataRetryDelaysMs: [1, 1] });
  try {
    h.md.fail("podman", A, "unreadable");
    h.host.spawn(100, { cgroup: podmanCgroup(A), startMs: T0 });
    h.host.spawn(200, { cgroup: podmanCgroup(B), startMs: T0 }); // not found, retried
    h.reg.scan();
    await h.reg.settled();
    deepEqual(
      h.samples("container_restarts_total").map((s) => s.labels.container_id).sort(),
      [`/podman/${A.slice(0, 12)}`, `/podman/${B.slice(0, 12)}`],
    );
    equal(
      h.value("osprey_container_metadata_errors_total", {
        runtime: "podman",
        reason: "unreadable",
      }),
      1,
    );
    equal(
      h.value("osprey_container_metadata_errors_total", {
        runtime: "podman",
        reason: "not_found",
      }),
      1,
    );
    equal(h.md.calls, 1 + 3, "unreadable is final; not_found is tried 3 times");
    equal(h.logLines.filter((l) => l.includes("cannot read container metadata")).length, 2);
  } finally {
    h.close();
  }
});

Deno.test("a metadata lookup that hangs times out and falls back", async () => {
  const h = harness({ metadataTimeoutMs: 20 });
  try {
    h.md.table.set(`podman:${A}`, new Promise(() => {}));
    h.host.spawn(100, { cgroup: podmanCgroup(A), startMs: T0 });
    h.reg.scan();
    await h.reg.settled();
    equal(
      h.value("container_restarts_total", { container_id: `/podman/${A.slice(0, 12)}` }),
      0,
    );
    equal(
      h.value("osprey_container_metadata_errors_total", {
        runtime: "podman",
        reason: "timeout",
      }),
      1,
    );
  } finally {
    h.close();
  }
});

Deno.test("malformed proc files are counted, not thrown", async () => {
  const h = harness();
  try {
    h.host.spawn(100, { cgroup: "garbage without colons\n", startMs: T0 });
    h.host.spawn(101, { cgroup: podmanCgroup(A), startMs: T0 });
    Deno.writeTextFileSync(`${h.host.dir}/proc/101/stat`, "101 (x) S 1\n");
    h.reg.scan();
    await h.reg.settled();
    const counted = (file: string) =>
      h.value("osprey_parse_errors_total", { collector: "containers_discovery", file });
    equal(counted("<pid>/cgroup"), 1);
    equal(counted("<pid>/stat"), 1);
    equal(h.reg.processCount, 0);
  } finally {
    h.close();
  }
});

Deno.test("systemd services and LXC need no runtime files", async () => {
  const h = harness();
  try {
    h.host.spawn(100, { cgroup: "/system.slice/nginx.service", startMs: T0 });
    h.host.spawn(101, { cgroup: "/system.slice/systemd-journald.service", startMs: T0 });
    h.host.spawn(102, { cgroup: "/lxc.payload.web1", startMs: T0 });
    h.reg.scan();
    await h.reg.settled();
    deepEqual(
      h.samples("container_restarts_total").map((s) => s.labels.container_id).sort(),
      ["/lxc/web1", "/system.slice/nginx.service"],
    );
    equal(h.value("osprey_containers_ignored_total", { reason: "systemd_system_service" }), 1);
  } finally {
    h.close();
  }
});

Deno.test("a container ID that keeps getting new cgroups holds one, not all it ever had", async () => {
  const h = harness();
  try {
    let pid = 1000;
    for (let i = 0; i < 50; i++) {
      const id = hexId(0x1000 + i);
      h.md.add("podman", id, { name: "cron" });
      h.clock.advance(60_000);
      h.host.spawn(++pid, { cgroup: podmanCgroup(id), startMs: h.clock.ms });
      h.event({ type: "start", pid });
      await h.reg.settled();
      h.host.kill(pid);
      h.event({ type: "exit", pid });
    }
    equal(h.value("container_restarts_total", { container_id: "/podman/cron" }), 49);
    equal(h.reg.cgroupCount, 1);
  } finally {
    h.close();
  }
});

Deno.test("systemd services: Type and TriggeredBy from unit files in container_info and the skip rule", async () => {
  const units = new SystemdUnits(`${FIXTURES}/containers/systemd`);
  const h = harness({ systemdProps: (p) => units.props(p) });
  try {
    h.host.spawn(100, { cgroup: "/system.slice/app.service", startMs: T0 });
    h.host.spawn(101, { cgroup: "/system.slice/backup.service", startMs: T0 });
    h.host.spawn(102, { cgroup: "/system.slice/other.service", startMs: T0 });
    h.reg.scan();
    await h.reg.settled();
    deepEqual(
      h.samples("container_info").map((s) => [
        s.labels.container_id,
        s.labels.image,
        s.labels.systemd_type,
        s.labels.systemd_triggered_by,
      ]).sort(),
      [
        ["/system.slice/app.service", "", "notify", ""],
        ["/system.slice/other.service", "", "forking", ""],
      ],
    );
    equal(h.value("osprey_containers_ignored_total", { reason: "systemd_system_service" }), 1);
  } finally {
    h.close();
  }
});

Deno.test("systemd template instances: the instance's unit decides, the slice is the ID", async () => {
  const units = new SystemdUnits(`${FIXTURES}/containers/systemd`);
  const h = harness({ systemdProps: (p) => units.props(p) });
  try {
    // a socket-activated instance (echo.socket, Accept=yes) of echo@.service
    h.host.spawn(100, {
      cgroup: "/system.slice/system-echo.slice/echo@1-127.0.0.1:7-127.0.0.1:5000.service",
      startMs: T0,
    });
    // the slice's name says nothing, the unit's says "systemd-": a system service
    h.host.spawn(101, {
      cgroup: "/system.slice/system-systemd\\x2dfsck.slice/systemd-fsck@dev-vda1.service",
      startMs: T0,
    });
    h.reg.scan();
    await h.reg.settled();
    deepEqual(h.samples("container_info"), [{
      labels: {
        container_id: "/system.slice/system-echo.slice",
        app_id: "",
        image: "",
        systemd_triggered_by: "echo.socket",
        systemd_type: "simple",
      },
      value: 1,
    }]);
    deepEqual(
      h.samples("container_restarts_total").map((s) => s.labels.container_id),
      ["/system.slice/system-echo.slice"],
    );
    equal(h.value("osprey_containers_ignored_total", { reason: "systemd_system_service" }), 1);
  } finally {
    h.close();
  }
});

Deno.test("unknown layouts beyond 1024 distinct cgroups are counted as overflow", () => {
  const h = harness();
  try {
    for (let i = 0; i < 1030; i++) {
      h.host.spawn(10_000 + i, { cgroup: `/weird/${i}`, startMs: T0 });
    }
    h.reg.scan();
    equal(h.value("osprey_cgroup_unknown_layouts", {}), 1024);
    equal(h.value("osprey_cgroup_unknown_layout_total", {}), 1024);
    equal(h.value("osprey_containers_overflow_total", { kind: "unknown_layout" }), 6);
    equal(h.reg.processCount, 1030);
  } finally {
    h.close();
  }
});

Deno.test("lookupPid() finds a vanished process's container by the id of its cgroup directory", async () => {
  // a v2 hierarchy whose directories give the cgroup ids (their inodes), as cgroupfs does
  const cg = Deno.makeTempDirSync({ prefix: "osprey-cgfs-" });
  Deno.writeTextFileSync(`${cg}/cgroup.controllers`, "cpu\n");
  Deno.mkdirSync(`${cg}/system.slice/app.service`, { recursive: true });
  Deno.mkdirSync(`${cg}/system.slice/other.service`, { recursive: true });
  const appId = Deno.statSync(`${cg}/system.slice/app.service`).ino!;
  const otherId = Deno.statSync(`${cg}/system.slice/other.service`).ino!;
  const rootId = Deno.statSync(cg).ino!;
  const h = harness({
    cgroupFs: { root: cg, layout: "v2", v2Root: cg, v1Roots: {}, v2Controllers: ["cpu"] },
  });
  try {
    // found by a scan: no event ever named its cgroup id
    h.host.spawn(100, { cgroup: "/system.slice/app.service", startMs: T0 - 5000 });
    h.reg.scan();
    await h.reg.settled();
    const idOf = (v: ReturnType<typeof h.reg.lookupPid>) => typeof v === "object" ? v.id : v;
    equal(idOf(h.reg.lookupPid(100)), "/system.slice/app.service");
    // a process of it that exited before its record was handled
    equal(idOf(h.reg.lookupPid(4242, appId)), "/system.slice/app.service", "by its cgroup id");

    // a child forked in the root cgroup moves to other.service before it is read: its fork's
    // cgroup id (the root's) must not become other.service's
    h.host.spawn(200, { cgroup: "/system.slice/other.service", startMs: T0, ppid: 1 });
    h.event({ type: "start", pid: 200, ppid: 1, cgroupId: rootId });
    h.event({ type: "exec", pid: 200, cgroupId: otherId, filename: "/bin/client" });
    await h.reg.settled();
    equal(idOf(h.reg.lookupPid(4343, otherId)), "/system.slice/other.service");
    equal(h.reg.lookupPid(4444, rootId), undefined, "a vanished host process is in no container");
    // the cgroup made again under the same path (a restarted container): its new id is taken
    const app = `${cg}/system.slice/app.service`;
    Deno.mkdirSync(`${app}.new`);
    Deno.removeSync(app);
    Deno.renameSync(`${app}.new`, app);
    const appId2 = Deno.statSync(app).ino!;
    ok(appId2 !== appId);
    h.host.spawn(300, { cgroup: "/system.slice/app.service", startMs: T0 });
    h.event({ type: "exec", pid: 300, cgroupId: appId2, filename: "/bin/app" });
    equal(idOf(h.reg.lookupPid(4747, appId2)), "/system.slice/app.service");
    // read by a rescan between its fork and its move into other.service: the record decides
    h.host.spawn(400, { cgroup: "/", startMs: T0 });
    h.reg.scan();
    h.host.setCgroup(400, "/system.slice/other.service");
    equal(idOf(h.reg.lookupPid(400, otherId)), "/system.slice/other.service");
    equal(h.reg.lookupPid(400, 123_456_789), "unknown", "moved to a cgroup not seen yet");
    equal(h.reg.lookupPid(400, rootId), undefined);
    // the same in a cgroup that only a v1 hierarchy places (v2 at the root): it has the
    // root's id, which stays the root's
    h.host.spawn(500, { cgroup: "1:memory:/process_api/x\n0::/\n", startMs: T0 });
    h.reg.scan();
    h.host.setCgroup(500, "1:memory:/system.slice/other.service\n0::/system.slice/other.service\n");
    equal(idOf(h.reg.lookupPid(500, otherId)), "/system.slice/other.service");
    equal(h.reg.lookupPid(500, 135_791_113), "unknown");
    equal(h.reg.lookupPid(4848, rootId), undefined, "the root's id is still the root's");
    // read in a container's cgroup, then moved into one no process was seen in yet (the test
    // harness's case: a rescan re-reads only young processes outside containers): the record
    // makes the registry read its cgroup again
    Deno.mkdirSync(`${cg}/system.slice/third.service`);
    const thirdId = Deno.statSync(`${cg}/system.slice/third.service`).ino!;
    h.host.spawn(600, { cgroup: "/system.slice/app.service", startMs: T0 });
    h.reg.scan();
    h.host.setCgroup(600, "/system.slice/third.service");
    const moved = h.reg.lookupPid(600, thirdId);
    ok(moved === "pending" || idOf(moved) === "/system.slice/third.service", String(moved));
    await h.reg.settled();
    equal(idOf(h.reg.lookupPid(600, thirdId)), "/system.slice/third.service");
    equal(idOf(h.reg.lookupPid(4949, thirdId)), "/system.slice/third.service");
    // gone, in a cgroup never seen: neither a container nor none, yet
    equal(h.reg.lookupPid(4545, 987_654_321), "unknown");
    equal(h.reg.lookupPid(4646), "unknown");
  } finally {
    h.close();
    Deno.removeSync(cg, { recursive: true });
  }
});
