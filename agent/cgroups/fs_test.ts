import { deepEqual, equal, throws } from "node:assert/strict";
import { CgroupReadError } from "./errors.ts";
import { cgroupDirs, detectCgroupFs } from "./fs.ts";
import { parseProcCgroup } from "./proc_cgroup.ts";
import { fsRoot, procCgroupText } from "./_testing.ts";
import { hostPaths } from "../paths.ts";

const PODMAN =
  "/libpod_parent/libpod-8b15ca3596c17fea6fff6404d6fb4665b750088cf4600a9f78c6bb62ed596b63";
const DOCKER = "/docker/3c1b5a0c2e4f4d6b8a9e0f1d2c3b4a5968778695a4b3c2d1e0f9e8d7c6b5a493";

Deno.test("detectCgroupFs: v1 with co-mounted cpu,cpuacct and its symlinks", () => {
  const root = fsRoot("v1");
  const fs = detectCgroupFs(root + "/");
  equal(fs.root, root);
  equal(fs.layout, "v1");
  equal(fs.v2Root, null);
  deepEqual(fs.v2Controllers, []);
  equal(fs.v1Roots.cpu, `${root}/cpu,cpuacct`);
  equal(fs.v1Roots.cpuacct, `${root}/cpu,cpuacct`);
  equal(fs.v1Roots.net_prio, `${root}/net_cls,net_prio`);
  equal(fs.v1Roots.memory, `${root}/memory`);
  equal(fs.v1Roots["name=systemd"], `${root}/systemd`);
});

Deno.test("detectCgroupFs: hybrid, recorded on this host (v2 at unified, only hugetlb there)", () => {
  const root = fsRoot("hybrid");
  const fs = detectCgroupFs(root);
  equal(fs.layout, "hybrid");
  equal(fs.v2Root, `${root}/unified`);
  deepEqual(fs.v2Controllers, ["hugetlb"]);
  equal(fs.v1Roots.cpu, `${root}/cpu`);
  equal(fs.v1Roots.cpuacct, `${root}/cpuacct`);
  equal(fs.v1Roots.blkio, `${root}/blkio`);
  equal(fs.v1Roots["name=systemd"], `${root}/systemd`);
});

Deno.test("detectCgroupFs: v2 from the root's cgroup.controllers", () => {
  const root = fsRoot("v2");
  deepEqual(detectCgroupFs(root), {
    root,
    layout: "v2",
    v2Root: root,
    v1Roots: {},
    v2Controllers: ["cpuset", "cpu", "io", "memory", "hugetlb", "pids", "rdma", "misc"],
  });
});

Deno.test("detectCgroupFs throws CgroupReadError for a missing root or one without hierarchies", () => {
  throws(
    () => detectCgroupFs("/nonexistent/osprey"),
    (e: unknown) => e instanceof CgroupReadError && e.problem === "missing",
  );
  const empty = Deno.makeTempDirSync();
  try {
    Deno.mkdirSync(`${empty}/notacontroller`);
    throws(
      () => detectCgroupFs(empty),
      (e: unknown) => e instanceof CgroupReadError && e.problem === "no-controller",
    );
  } finally {
    Deno.removeSync(empty, { recursive: true });
  }
});

Deno.test("detectCgroupFs on the real host (through the host view)", () => {
  const paths = hostPaths();
  let fs;
  try {
    fs = detectCgroupFs(paths.cgroup);
  } catch (err) {
    if (err instanceof CgroupReadError) return; // no cgroupfs visible to this test
    throw err;
  }
  equal(["v1", "v2", "hybrid"].includes(fs.layout), true);
  if (fs.layout === "hybrid") equal(fs.v2Root, `${paths.cgroup}/unified`);
});

Deno.test("cgroupDirs: hybrid uses v1 for controllers bound there, v2 for the rest (PSI)", () => {
  const root = fsRoot("hybrid");
  const d = cgroupDirs(detectCgroupFs(root), parseProcCgroup(procCgroupText("podman-cgroupfs")));
  deepEqual(d, {
    v2: `${root}/unified${PODMAN}`,
    cpu: `${root}/cpu${PODMAN}`,
    cpuacct: `${root}/cpuacct${PODMAN}`,
    memory: `${root}/memory${PODMAN}`,
    blkio: `${root}/blkio${PODMAN}`,
  });
});

Deno.test("cgroupDirs: v1 co-mounted dirs; no v2 dir on a v1 host", () => {
  const root = fsRoot("v1");
  const d = cgroupDirs(detectCgroupFs(root), parseProcCgroup(procCgroupText("docker-cgroupfs")));
  deepEqual(d, {
    cpu: `${root}/cpu,cpuacct${DOCKER}`,
    cpuacct: `${root}/cpu,cpuacct${DOCKER}`,
    memory: `${root}/memory${DOCKER}`,
    blkio: `${root}/blkio${DOCKER}`,
  });
});

Deno.test("cgroupDirs: v2 only on a v2 host, even if the process lists v1 paths", () => {
  const root = fsRoot("v2");
  const c = parseProcCgroup("1:cpu:/x\n0::/system.slice/nginx.service\n");
  deepEqual(cgroupDirs(detectCgroupFs(root), c), { v2: `${root}/system.slice/nginx.service` });
});

Deno.test("cgroupDirs: a controller available on v2 is read there, not from a v1 mount", () => {
  const fs = {
    root: "/r",
    layout: "hybrid" as const,
    v2Root: "/r/unified",
    v1Roots: { cpu: "/r/cpu", memory: "/r/memory" },
    v2Controllers: ["memory"],
  };
  deepEqual(cgroupDirs(fs, { v2: "/a", v1: { cpu: "/a", memory: "/a" } }), {
    v2: "/r/unified/a",
    cpu: "/r/cpu/a",
  });
  // Without a v2 path the v1 mount is all there is.
  deepEqual(cgroupDirs(fs, { v2: null, v1: { memory: "/a" } }), { memory: "/r/memory/a" });
});

Deno.test("cgroupDirs leaves out root cgroups and paths from another cgroup namespace", () => {
  const root = fsRoot("hybrid");
  const fs = detectCgroupFs(root);
  // The runtime left the v2 path at "/": the container must not get the host's PSI.
  const d = cgroupDirs(fs, parseProcCgroup(procCgroupText("docker-hybrid-v2-root")));
  equal(d.v2, undefined);
  equal(d.cpu, `${root}/cpu${DOCKER}`);
  deepEqual(cgroupDirs(fs, parseProcCgroup(procCgroupText("host-root"))), {});
  deepEqual(cgroupDirs(fs, { v2: "/../../x", v1: { cpu: "/a/../b", memory: "/a/.." } }), {});
  // systemd on a hybrid host: blkio only at the slice, cpuset at the root.
  const s = cgroupDirs(fs, parseProcCgroup(procCgroupText("systemd-hybrid")));
  equal(s.blkio, `${root}/blkio/system.slice`);
  equal(s.memory, `${root}/memory/system.slice/cron.service`);
});
