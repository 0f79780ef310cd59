/**
 * The registry's cgroup paths: a cgroup named with bytes that are not UTF-8, and an agent in
 * its own cgroup namespace (paths relative to it in every `/proc/<pid>/cgroup`).
 */
import { deepEqual, equal, ok } from "node:assert/strict";
import { detectCgroupFs, detectCgroupNamespace, parseProcCgroup } from "../cgroups/mod.ts";
import { encodeHostPath } from "../paths.ts";
import { harness, hexId, podmanCgroup, T0 } from "./_testing.ts";

const CAFE = "/system.slice/caf\udce9.service"; // raw 0xE9, as decodeHostText gives it

Deno.test("a cgroup named with a raw 0xE9 byte: read as bytes, reported as caf\\xe9", async () => {
  const h = harness({
    cgroupFs: {
      root: "/cg",
      layout: "v2",
      v2Root: "/cg",
      v1Roots: {},
      v2Controllers: ["cpu", "memory"],
    },
  });
  try {
    h.host.spawn(100, { cgroup: "/system.slice/placeholder.service", startMs: T0 });
    // the kernel's bytes: 0:: + path + newline
    Deno.writeFileSync(
      `${h.host.dir}/proc/100/cgroup`,
      new Uint8Array([...encodeHostPath(`0::${CAFE}`), 0x0a]),
    );
    h.reg.scan();
    await h.reg.settled();
    deepEqual([...h.reg.containers()].map((c) => c.id), ["/system.slice/caf\\xe9.service"]);
    // in the exposition the backslash is escaped, as every label value's
    ok(
      h.text().includes('container_restarts_total{container_id="/system.slice/caf\\\\xe9.service"'),
      h.text(),
    );
    const [c] = h.reg.containers();
    equal(c.dirs?.v2, `/cg${CAFE}`, "the directory keeps the raw byte");
    equal(h.value("osprey_cgroup_unreadable_total", { reason: "non_utf8_path" }), 0);
  } finally {
    h.close();
  }
});

Deno.test("without libosprey such a cgroup is counted unreadable, said once, still reported", async () => {
  const h = harness({
    cgroupFs: { root: "/cg", layout: "v2", v2Root: "/cg", v1Roots: {}, v2Controllers: ["cpu"] },
    rawPathsUnavailable: () => "--allow-ffi=/x/libosprey.so is not granted",
  });
  try {
    for (const [pid, name] of [[100, [0x63, 0xe9]], [101, [0x64, 0xff]]] as const) {
      h.host.spawn(pid, { cgroup: "/system.slice/x.service", startMs: T0 });
      Deno.writeFileSync(
        `${h.host.dir}/proc/${pid}/cgroup`,
        new Uint8Array([
          ...new TextEncoder().encode("0::/system.slice/"),
          ...name,
          ...new TextEncoder().encode(".service\n"),
        ]),
      );
    }
    h.host.spawn(102, { cgroup: "/system.slice/plain.service", startMs: T0 });
    h.reg.scan();
    await h.reg.settled();
    deepEqual(
      [...h.reg.containers()].map((c) => c.id).sort(),
      [
        "/system.slice/c\\xe9.service",
        "/system.slice/d\\xff.service",
        "/system.slice/plain.service",
      ],
    );
    equal(h.value("osprey_cgroup_unreadable_total", { reason: "non_utf8_path" }), 2);
    const said = h.logLines.filter((l) => l.includes("not UTF-8"));
    equal(said.length, 1, said.join("\n"));
    ok(said[0].includes("--allow-ffi=/x/libosprey.so"), said[0]);
    const dirs = Object.fromEntries([...h.reg.containers()].map((c) => [c.id, c.dirs]));
    deepEqual(dirs, {
      "/system.slice/c\\xe9.service": undefined,
      "/system.slice/d\\xff.service": undefined,
      "/system.slice/plain.service": { v2: "/cg/system.slice/plain.service" },
    });
  } finally {
    h.close();
  }
});

Deno.test("in its own cgroup namespace the registry sees host paths, and counts what it cannot", async () => {
  const tmp = Deno.makeTempDirSync({ prefix: "osprey-regns-" });
  const PID = 4242;
  const NS_ROOT = "/osprey-agent";
  const podman = podmanCgroup(hexId(1));
  try {
    const cg = `${tmp}/cgroup`;
    for (
      const [dir, pids] of [[NS_ROOT, [PID]], [podman, [100]], ["/system.slice/web.service", [
        101,
      ]]] as const
    ) {
      Deno.mkdirSync(cg + dir, { recursive: true });
      Deno.writeTextFileSync(`${cg}${dir}/cgroup.procs`, pids.join("\n") + "\n");
    }
    Deno.writeTextFileSync(`${cg}/cgroup.controllers`, "cpu memory\n");
    const fs = detectCgroupFs(cg);
    const ns = detectCgroupNamespace(fs, {
      mountinfo: `40 30 0:40 /.. ${cg} rw - cgroup2 cgroup2 rw`,
      self: parseProcCgroup("0::/\n"),
      pid: PID,
    });
    const h = harness({ cgroupFs: fs, cgroupNamespace: ns });
    try {
      h.md.add("podman", hexId(1), { name: "web", image: "img" });
      h.host.spawn(100, { cgroup: `/..${podman}`, startMs: T0 });
      h.host.spawn(101, { cgroup: "/../system.slice/web.service", startMs: T0 });
      h.host.spawn(102, { cgroup: "/../../above/x", startMs: T0 }); // above the host's root
      h.host.spawn(103, { cgroup: "/", startMs: T0 }); // the agent's own cgroup
      h.reg.scan();
      h.reg.scan();
      await h.reg.settled();
      deepEqual(
        h.samples("container_restarts_total").map((s) => s.labels.container_id).sort(),
        ["/podman/web", "/system.slice/web.service"],
      );
      const dirs = Object.fromEntries([...h.reg.containers()].map((c) => [c.id, c.dirs?.v2]));
      deepEqual(dirs, {
        "/podman/web": cg + podman,
        "/system.slice/web.service": `${cg}/system.slice/web.service`,
      });
      equal(h.value("osprey_cgroup_unreadable_total", { reason: "outside_namespace" }), 1);
      equal(h.logLines.filter((l) => l.includes("outside the agent's cgroup namespace")).length, 1);
      equal(h.reg.cgroupCount, 4, "podman, web, the unresolved one and the agent's own");
    } finally {
      h.close();
    }
  } finally {
    Deno.removeSync(tmp, { recursive: true });
  }
});
