/**
 * `container_application_type` follows a container's live processes (reference errata §13.8):
 * the registry over a fake `<proc>` whose `exe` links point at real binaries (the deno binary
 * running the tests is a Rust program; a C program has no runtime facts).
 */
import { deepEqual, equal } from "node:assert/strict";
import { buildTestBinaries } from "../apptype/_testing.ts";
import { harness, hexId, podmanCgroup, T0 } from "./_testing.ts";
import type { Harness } from "./_testing.ts";

const A = hexId(0xa1);
const ID = "/podman/app";

function types(h: Harness): string[] {
  return h.samples("container_application_type", ID).map((s) => {
    equal(s.value, 1);
    return s.labels.application_type;
  }).sort();
}

Deno.test("application types are the union over live processes; an exited one's type goes away", async () => {
  const b = await buildTestBinaries();
  const h = harness();
  try {
    // an interpreter found by its executable's name: a C program linked as python3.11
    const python = `${h.host.dir}/python3.11`;
    Deno.linkSync(b.c, python);
    h.md.add("podman", A, { name: "app" });
    const cg = podmanCgroup(A);
    h.host.spawn(100, {
      cgroup: cg,
      startMs: T0 - 9000,
      cmdline: ["nginx: master process"],
      exe: b.c,
    });
    h.host.spawn(101, {
      cgroup: cg,
      startMs: T0 - 8000,
      cmdline: ["gunicorn: worker [app]"],
      exe: python,
    });
    h.host.spawn(102, {
      cgroup: cg,
      startMs: T0 - 7000,
      cmdline: ["/app/server", "-p", "80"],
      exe: b.rust,
    });
    // a zombie: an empty command line gives no type, whatever its executable
    h.host.spawn(103, { cgroup: cg, startMs: T0 - 7000, cmdline: [], exe: b.rust });
    h.reg.scan();
    await h.reg.settled();
    h.reg.refresh();
    deepEqual(types(h), ["nginx", "python", "rust"]);
    // the Rust binary and the C one (linked twice) are read once each
    equal(h.value("osprey_container_exe_checks_total", { result: "rust" }), 1);
    equal(h.value("osprey_container_exe_checks_total", { result: "other" }), 1);

    h.host.kill(100);
    h.event({ type: "exit", pid: 100 });
    h.reg.refresh();
    deepEqual(types(h), ["python", "rust"]);

    // without an event: the rescan finds it gone
    h.host.kill(102);
    h.reg.scan();
    deepEqual(types(h), ["python"]);

    h.host.kill(101);
    h.host.kill(103);
    h.reg.scan();
    deepEqual(types(h), [], "a container without processes has no type");
    equal(h.value("container_restarts_total", { container_id: ID }), 0, "its other series stay");
  } finally {
    h.close();
  }
});

Deno.test("an exec replaces a process's types; a forked child keeps its parent's", async () => {
  const b = await buildTestBinaries();
  const h = harness();
  try {
    h.md.add("podman", A, { name: "app" });
    const cg = podmanCgroup(A);
    h.host.spawn(100, { cgroup: cg, startMs: T0 - 9000, cmdline: ["sh", "-c", "run"], exe: b.c });
    h.reg.scan();
    await h.reg.settled();
    h.reg.refresh();
    deepEqual(types(h), []);

    // sh execs the server: a Rust binary titled redis-server
    h.host.setCmdline(100, ["redis-server *:6379"]);
    h.host.setExe(100, b.rust);
    h.event({ type: "exec", pid: 100, cgroupId: 7 });
    h.reg.refresh();
    await h.reg.settled();
    deepEqual(types(h), ["redis", "rust"]);

    // a fork in the same cgroup: the same image (its own cmdline is not read), then the
    // parent exits
    h.clock.advance(1000);
    h.host.spawn(101, { cgroup: cg, startMs: h.clock.ms, cmdline: ["(forking)"], ppid: 100 });
    h.event({ type: "start", pid: 101, ppid: 100, cgroupId: 7 });
    h.host.kill(100);
    h.event({ type: "exit", pid: 100 });
    h.reg.refresh();
    deepEqual(types(h), ["redis", "rust"]);

    // the child execs a shell: nothing left of redis
    h.host.setCmdline(101, ["sh"]);
    h.host.setExe(101, b.c);
    h.event({ type: "exec", pid: 101, cgroupId: 7 });
    h.reg.refresh();
    await h.reg.settled();
    deepEqual(types(h), []);
  } finally {
    h.close();
  }
});

Deno.test("a process that retitles itself without an exec is read again by rescans", async () => {
  const h = harness({ appTypeProbesPerRescan: 1 });
  try {
    h.md.add("podman", A, { name: "app" });
    const cg = podmanCgroup(A);
    h.host.spawn(100, { cgroup: cg, startMs: T0 - 9000, cmdline: ["starter"] });
    h.host.spawn(101, { cgroup: cg, startMs: T0 - 9000, cmdline: ["starter"] });
    h.reg.scan();
    await h.reg.settled();
    h.reg.refresh();
    deepEqual(types(h), []);
    h.host.setCmdline(100, ["postgres: checkpointer"]);
    h.host.setCmdline(101, ["memcached", "-m", "64"]);
    // one process per rescan (appTypeProbesPerRescan), the least recently read first
    h.reg.scan();
    equal(types(h).length, 1);
    h.reg.scan();
    deepEqual(types(h), ["memcached", "postgres"]);
    // a refresh between rescans reads nothing again
    h.host.setCmdline(100, ["starter"]);
    h.reg.refresh();
    deepEqual(types(h), ["memcached", "postgres"]);
  } finally {
    h.close();
  }
});
