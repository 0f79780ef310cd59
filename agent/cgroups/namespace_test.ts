/**
 * The agent in its own cgroup namespace, on fixture trees of the three layouts: the cgroup file
 * systems are real directories made here, mountinfo and `/proc/<pid>/cgroup` are the text the
 * kernel writes for a reader in such a namespace (root fields and paths relative to it).
 */
import { deepEqual, equal, ok } from "node:assert/strict";
import { cgroupDirs, detectCgroupFs } from "./fs.ts";
import {
  describeNamespace,
  detectCgroupNamespace,
  identityNamespace,
  readCgroupNamespace,
} from "./namespace.ts";
import { hostPaths } from "../paths.ts";
import { prng } from "./_testing.ts";
import { parseProcCgroup, primaryCgroupPath } from "./proc_cgroup.ts";
import { classifyCgroup } from "./classify.ts";

const AGENT_PID = 4242;
const K8S_POD = "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1a.slice";
const AGENT = `${K8S_POD}/cri-containerd-${"a".repeat(64)}.scope`;
const SIDECAR = `${K8S_POD}/cri-containerd-${"b".repeat(64)}.scope`;
const OTHER_POD = "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod2b.slice/" +
  `cri-containerd-${"c".repeat(64)}.scope`;

/** Makes `dir` + each cgroup, with cgroup.procs listing the given pids. */
function tree(dir: string, cgroups: Record<string, number[]>, files: Record<string, string> = {}) {
  Deno.mkdirSync(dir, { recursive: true });
  Deno.writeTextFileSync(`${dir}/cgroup.procs`, "1\n");
  for (const [path, pids] of Object.entries(cgroups)) {
    Deno.mkdirSync(dir + path, { recursive: true });
    Deno.writeTextFileSync(`${dir}${path}/cgroup.procs`, pids.map((p) => `${p}\n`).join(""));
  }
  for (const [path, text] of Object.entries(files)) Deno.writeTextFileSync(dir + path, text);
}

function mountLine(
  id: number,
  root: string,
  mountPoint: string,
  type: "cgroup" | "cgroup2",
  opts = "rw",
) {
  return `${id} 30 0:${id} ${root} ${mountPoint} ro,nosuid,nodev,noexec,relatime - ${type} ${type} ${opts}`;
}

function withTemp(fn: (dir: string) => void): void {
  const dir = Deno.makeTempDirSync({ prefix: "osprey-cgns-" });
  try {
    fn(dir);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
}

/** resolve() of one `/proc/<pid>/cgroup` text, as v2/v1 maps plus what failed. */
function resolver(ns: ReturnType<typeof detectCgroupNamespace>) {
  return (text: string) => {
    const r = ns.resolve(parseProcCgroup(text));
    return { ...r.cgroups, unresolved: [...r.unresolved] };
  };
}

Deno.test("v2, a pod's private namespace: every path rebased onto the host's hierarchy", () => {
  withTemp((tmp) => {
    const root = `${tmp}/host/sys/fs/cgroup`;
    tree(root, {
      [AGENT]: [AGENT_PID],
      [SIDECAR]: [100],
      [OTHER_POD]: [200],
      "/system.slice/nginx.service": [300],
      "/init.scope": [1],
    }, { "/cgroup.controllers": "cpuset cpu io memory pids\n" });
    const fs = detectCgroupFs(root);
    equal(fs.layout, "v2");
    const ns = detectCgroupNamespace(fs, {
      mountinfo: [
        "25 1 8:1 / / rw,relatime - ext4 /dev/sda1 rw",
        mountLine(31, "/", "/sys/fs/cgroup", "cgroup2"), // the runtime's, at the namespace root
        mountLine(40, "/../../../..", root, "cgroup2"), // the host's, 4 levels up
      ].join("\n"),
      self: parseProcCgroup("0::/\n"),
      pid: AGENT_PID,
    });
    ok(ns.own);
    equal(ns.hierarchies[0].nsRoot, AGENT);
    equal(ns.hierarchies[0].mountRoot, "/../../../..");
    const r = resolver(ns);
    deepEqual(r("0::/\n"), { v2: AGENT, v1: {}, unresolved: [] });
    deepEqual(r(`0::/../cri-containerd-${"b".repeat(64)}.scope\n`), {
      v2: SIDECAR,
      v1: {},
      unresolved: [],
    });
    const other = OTHER_POD.split("/").slice(2).join("/");
    deepEqual(r(`0::/../../../${other}\n`), { v2: OTHER_POD, v1: {}, unresolved: [] });
    deepEqual(r("0::/../../../../system.slice/nginx.service\n"), {
      v2: "/system.slice/nginx.service",
      v1: {},
      unresolved: [],
    });
    deepEqual(r("0::/../../../../init.scope\n"), { v2: "/init.scope", v1: {}, unresolved: [] });
    deepEqual(r("0::/../../../../..\n"), { v2: null, v1: {}, unresolved: ["v2"] });

    // The rest of the pipeline sees host paths: the sidecar is a containerd container whose
    // files are under the host's hierarchy.
    const side = ns.resolve(parseProcCgroup(`0::/../cri-containerd-${"b".repeat(64)}.scope\n`));
    const path = primaryCgroupPath(side.cgroups)!;
    equal(classifyCgroup(path).containerId, "b".repeat(64));
    equal(cgroupDirs(fs, side.cgroups).v2, root + SIDECAR);
  });
});

Deno.test("v2: without the namespace root's name, paths that climb to the mount's root resolve", () => {
  withTemp((tmp) => {
    tree(tmp, { [AGENT]: [AGENT_PID], "/system.slice/nginx.service": [300] }, {
      "/cgroup.controllers": "cpu memory\n",
    });
    const fs = detectCgroupFs(tmp);
    const ns = detectCgroupNamespace(fs, {
      mountinfo: mountLine(40, "/../../../..", tmp, "cgroup2"),
      self: parseProcCgroup("0::/\n"),
      pid: 999, // listed nowhere: the walk finds nothing
    });
    equal(ns.hierarchies[0].nsRoot, null);
    ok(ns.hierarchies[0].note.includes("pid 999"), ns.hierarchies[0].note);
    const r = resolver(ns);
    deepEqual(r("0::/../../../../system.slice/nginx.service\n"), {
      v2: "/system.slice/nginx.service",
      v1: {},
      unresolved: [],
    });
    deepEqual(r("0::/../sidecar\n"), { v2: null, v1: {}, unresolved: ["v2"] });
    deepEqual(r("0::/\n"), { v2: null, v1: {}, unresolved: ["v2"] });
  });
});

Deno.test("v2: a cgroupfs mounted at the namespace root reaches nothing above it", () => {
  withTemp((tmp) => {
    tree(tmp, { "/sub": [7] }, { "/cgroup.controllers": "cpu memory\n" });
    const fs = detectCgroupFs(tmp);
    const ns = detectCgroupNamespace(fs, {
      mountinfo: mountLine(31, "/", tmp, "cgroup2"),
      self: parseProcCgroup("0::/\n"),
      pid: AGENT_PID,
    });
    ok(!ns.own);
    const r = resolver(ns);
    const same = parseProcCgroup("0::/sub\n");
    equal(ns.resolve(same).cgroups, same, "outside a namespace the object itself comes back");
    deepEqual(r("0::/../../system.slice/x.service\n"), { v2: null, v1: {}, unresolved: ["v2"] });
  });
});

Deno.test("v2: a mount of a subtree resolves only paths through it", () => {
  withTemp((tmp) => {
    tree(tmp, { "/nginx.service": [300] }, { "/cgroup.controllers": "cpu memory\n" });
    const fs = detectCgroupFs(tmp);
    const ns = detectCgroupNamespace(fs, {
      mountinfo: mountLine(40, "/../../system.slice", tmp, "cgroup2"),
      self: parseProcCgroup("0::/\n"),
      pid: AGENT_PID,
    });
    const r = resolver(ns);
    deepEqual(r("0::/../../system.slice/nginx.service\n"), {
      v2: "/nginx.service",
      v1: {},
      unresolved: [],
    });
    deepEqual(r("0::/../../user.slice/x\n"), { v2: null, v1: {}, unresolved: ["v2"] });
  });
});

Deno.test("v1: every hierarchy has its own namespace root, found on its own", () => {
  withTemp((tmp) => {
    const DOCKER = `/docker/${"d".repeat(64)}`;
    tree(`${tmp}/cpu,cpuacct`, { [DOCKER]: [AGENT_PID], "/docker/other": [5] });
    tree(`${tmp}/memory`, { "/mem/a/b": [AGENT_PID], "/mem/x": [5] });
    tree(`${tmp}/blkio`, { "/docker/other": [5] }); // the agent is in the root blkio cgroup
    tree(`${tmp}/systemd`, { [DOCKER]: [AGENT_PID], "/system.slice/cron.service": [6] });
    Deno.symlinkSync("cpu,cpuacct", `${tmp}/cpu`);
    Deno.symlinkSync("cpu,cpuacct", `${tmp}/cpuacct`);
    const fs = detectCgroupFs(tmp);
    equal(fs.layout, "v1");
    const ns = detectCgroupNamespace(fs, {
      mountinfo: [
        mountLine(41, "/../..", `${tmp}/cpu,cpuacct`, "cgroup", "rw,cpu,cpuacct"),
        mountLine(42, "/../../..", `${tmp}/memory`, "cgroup", "rw,memory"),
        mountLine(43, "/", `${tmp}/blkio`, "cgroup", "rw,blkio"),
        mountLine(44, "/../..", `${tmp}/systemd`, "cgroup", "rw,name=systemd"),
      ].join("\n"),
      self: parseProcCgroup("4:memory:/\n3:cpu,cpuacct:/\n2:blkio:/\n1:name=systemd:/\n"),
      pid: AGENT_PID,
    });
    ok(ns.own);
    deepEqual(
      Object.fromEntries(ns.hierarchies.map((h) => [h.hierarchy, h.nsRoot])),
      { "blkio": "/", "cpu,cpuacct": DOCKER, "memory": "/mem/a/b", "systemd": DOCKER },
    );
    const r = resolver(ns);
    deepEqual(
      r(
        "5:net_cls:/../x\n4:memory:/../../../mem/x\n3:cpu,cpuacct:/../other\n" +
          "2:blkio:/docker/other\n1:name=systemd:/../../system.slice/cron.service\n",
      ),
      {
        v2: null,
        v1: {
          memory: "/mem/x",
          cpu: "/docker/other",
          cpuacct: "/docker/other",
          blkio: "/docker/other",
          "name=systemd": "/system.slice/cron.service",
        },
        unresolved: [], // net_cls is mounted nowhere: left out, not reported
      },
    );
    // the agent itself: its own cgroup in each hierarchy
    const self = ns.resolve(parseProcCgroup("4:memory:/\n3:cpu,cpuacct:/\n2:blkio:/\n"));
    deepEqual(self.cgroups.v1, { memory: "/mem/a/b", cpu: DOCKER, cpuacct: DOCKER, blkio: "/" });
    deepEqual(cgroupDirs(fs, self.cgroups), {
      cpu: `${tmp}/cpu,cpuacct${DOCKER}`,
      cpuacct: `${tmp}/cpu,cpuacct${DOCKER}`,
      memory: `${tmp}/memory/mem/a/b`,
    });
    // blkio is the identity: a path above its namespace root cannot be reached
    deepEqual(r("2:blkio:/../x\n").unresolved, ["blkio"]);
  });
});

Deno.test("hybrid: v1 controllers and the unified v2 hierarchy resolve apart", () => {
  withTemp((tmp) => {
    const LIBPOD = `/libpod_parent/libpod-${"e".repeat(64)}`;
    const OTHER = `/libpod_parent/libpod-${"f".repeat(64)}`;
    for (const h of ["cpu", "cpuacct", "memory", "systemd"]) {
      tree(`${tmp}/${h}`, { [LIBPOD]: [AGENT_PID], [OTHER]: [9], "/system.slice/x.service": [8] });
    }
    // the unified hierarchy: the agent sat one level deeper when the namespace was made
    tree(`${tmp}/unified`, { [`${LIBPOD}/agent`]: [AGENT_PID], [OTHER]: [9] }, {
      "/cgroup.controllers": "hugetlb\n",
    });
    const fs = detectCgroupFs(tmp);
    equal(fs.layout, "hybrid");
    const ns = detectCgroupNamespace(fs, {
      mountinfo: [
        mountLine(32, "/../..", `${tmp}/cpu`, "cgroup", "rw,cpu"),
        mountLine(33, "/../..", `${tmp}/cpuacct`, "cgroup", "rw,cpuacct"),
        mountLine(35, "/../..", `${tmp}/memory`, "cgroup", "rw,memory"),
        mountLine(40, "/../..", `${tmp}/systemd`, "cgroup", "rw,name=systemd"),
        mountLine(41, "/../../..", `${tmp}/unified`, "cgroup2"),
      ].join("\n"),
      self: parseProcCgroup("9:name=systemd:/\n4:memory:/\n2:cpuacct:/\n1:cpu:/\n0::/\n"),
      pid: AGENT_PID,
    });
    deepEqual(
      Object.fromEntries(ns.hierarchies.map((h) => [h.hierarchy, h.nsRoot])),
      { v2: `${LIBPOD}/agent`, cpu: LIBPOD, cpuacct: LIBPOD, memory: LIBPOD, systemd: LIBPOD },
    );
    const other = ns.resolve(parseProcCgroup(
      `9:name=systemd:/../libpod-${"f".repeat(64)}\n4:memory:/../libpod-${"f".repeat(64)}\n` +
        `2:cpuacct:/../libpod-${"f".repeat(64)}\n1:cpu:/../libpod-${"f".repeat(64)}\n` +
        `0::/../../libpod-${"f".repeat(64)}\n`,
    ));
    deepEqual(other.cgroups, {
      v2: OTHER,
      v1: { "name=systemd": OTHER, memory: OTHER, cpuacct: OTHER, cpu: OTHER },
    });
    equal(classifyCgroup(primaryCgroupPath(other.cgroups)!).containerId, "f".repeat(64));
    deepEqual(cgroupDirs(fs, other.cgroups), {
      v2: `${tmp}/unified${OTHER}`,
      cpu: `${tmp}/cpu${OTHER}`,
      cpuacct: `${tmp}/cpuacct${OTHER}`,
      memory: `${tmp}/memory${OTHER}`,
    });
    const svc = ns.resolve(parseProcCgroup(
      "4:memory:/../../system.slice/x.service\n1:cpu:/../../system.slice/x.service\n" +
        "0::/../../../system.slice/x.service\n",
    ));
    deepEqual(svc.cgroups, {
      v2: "/system.slice/x.service",
      v1: { memory: "/system.slice/x.service", cpu: "/system.slice/x.service" },
    });
  });
});

Deno.test("identityNamespace() and a fixture tree (not a cgroup mount) leave paths alone", () => {
  withTemp((tmp) => {
    tree(tmp, { "/a": [1] }, { "/cgroup.controllers": "cpu\n" });
    const fs = detectCgroupFs(tmp);
    for (
      const ns of [
        identityNamespace(fs),
        detectCgroupNamespace(fs, {
          mountinfo: "25 1 8:1 / / rw,relatime - ext4 /dev/sda1 rw",
          self: parseProcCgroup("0::/\n"),
        }),
      ]
    ) {
      ok(!ns.own);
      const c = parseProcCgroup("0::/a\n");
      equal(ns.resolve(c).cgroups, c);
      deepEqual(ns.resolve(parseProcCgroup("0::/../b\n")).unresolved, ["v2"]);
    }
  });
});

Deno.test({
  name: "readCgroupNamespace() on this host: the test's own cgroups resolve to where it is",
  ignore: Deno.uid() !== 0,
  fn() {
    const paths = hostPaths();
    const fs = detectCgroupFs(paths.cgroup);
    const ns = readCgroupNamespace(fs, paths.proc);
    equal(ns.hierarchies.length, new Set(Object.values(fs.v1Roots)).size + (fs.v2Root ? 1 : 0));
    for (const h of ns.hierarchies) ok(h.nsRoot !== null, describeNamespace(ns));
    // in whichever namespace the test runs, its own process resolves to the directories whose
    // cgroup.procs list its pid
    const self = ns.resolve(parseProcCgroup(Deno.readTextFileSync("/proc/self/cgroup")));
    deepEqual(self.unresolved, []);
    const dirs = Object.values(cgroupDirs(fs, self.cgroups));
    ok(dirs.length > 0);
    for (const d of dirs) {
      ok(Deno.readTextFileSync(`${d}/cgroup.procs`).split("\n").includes(String(Deno.pid)), d);
    }
  },
});

Deno.test("resolve() of random paths never throws and never yields '..' or a relative path", () => {
  withTemp((tmp) => {
    tree(tmp, { "/a/b": [AGENT_PID] }, { "/cgroup.controllers": "cpu\n" });
    const fs = detectCgroupFs(tmp);
    const namespaces = [
      detectCgroupNamespace(fs, {
        mountinfo: mountLine(1, "/../..", tmp, "cgroup2"),
        self: parseProcCgroup("0::/\n"),
        pid: AGENT_PID,
      }),
      detectCgroupNamespace(fs, {
        mountinfo: mountLine(1, "/../..", tmp, "cgroup2"),
        self: parseProcCgroup("0::/\n"),
        pid: 1, // no walk result
      }),
      detectCgroupNamespace(fs, {
        mountinfo: mountLine(1, "/../../x", tmp, "cgroup2"),
        self: parseProcCgroup("0::/\n"),
        pid: AGENT_PID,
      }),
      identityNamespace(fs),
    ];
    const parts = ["..", "..", "a", "b", "x", "caf\udce9", "", ".", "..x"];
    const rand = prng(7);
    for (let i = 0; i < 5000; i++) {
      const n = Math.floor(rand() * 7);
      const path = "/" + Array.from({ length: n }, () => parts[Math.floor(rand() * parts.length)])
        .join("/");
      for (const ns of namespaces) {
        const r = ns.resolve({ v2: path, v1: {} });
        const p = r.cgroups.v2;
        if (p === null) {
          deepEqual(r.unresolved, ["v2"], path);
          continue;
        }
        ok(p.startsWith("/"), `${path} → ${p}`);
        ok(!p.split("/").includes(".."), `${path} → ${p}`);
      }
    }
  });
});
