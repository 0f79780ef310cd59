import { deepEqual, equal, throws } from "node:assert/strict";
import { CgroupFormatError } from "./errors.ts";
import { parseProcCgroup, primaryCgroupPath } from "./proc_cgroup.ts";
import { procCgroupText } from "./_testing.ts";

const PODMAN =
  "/libpod_parent/libpod-8b15ca3596c17fea6fff6404d6fb4665b750088cf4600a9f78c6bb62ed596b63";

Deno.test("parseProcCgroup: a Podman container on this hybrid host (recorded)", () => {
  const c = parseProcCgroup(procCgroupText("podman-cgroupfs"));
  equal(c.v2, PODMAN);
  deepEqual(Object.keys(c.v1).sort(), [
    "blkio",
    "cpu",
    "cpuacct",
    "cpuset",
    "devices",
    "freezer",
    "memory",
    "name=systemd",
    "pids",
  ]);
  for (const path of Object.values(c.v1)) equal(path, PODMAN);
  equal(primaryCgroupPath(c), PODMAN);
});

Deno.test("parseProcCgroup: co-mounted controllers split to each name; a v1 host has no v2 line", () => {
  const c = parseProcCgroup(procCgroupText("docker-cgroupfs"));
  equal(c.v2, null);
  const id = "/docker/3c1b5a0c2e4f4d6b8a9e0f1d2c3b4a5968778695a4b3c2d1e0f9e8d7c6b5a493";
  equal(c.v1.cpu, id);
  equal(c.v1.cpuacct, id);
  equal(c.v1.net_cls, id);
  equal(c.v1.net_prio, id);
  equal(c.v1["name=systemd"], id);
  equal(c.v1.rdma, "/");
  equal(primaryCgroupPath(c), id);
});

Deno.test("parseProcCgroup: a pure v2 process has only the v2 path", () => {
  deepEqual(parseProcCgroup("0::/system.slice/nginx.service\n"), {
    v2: "/system.slice/nginx.service",
    v1: {},
  });
  deepEqual(parseProcCgroup(""), { v2: null, v1: {} });
});

Deno.test("parseProcCgroup drops the ' (deleted)' suffix of a removed v2 cgroup", () => {
  const c = parseProcCgroup(procCgroupText("docker-deleted"));
  equal(
    c.v2,
    "/system.slice/docker-e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855.scope",
  );
});

Deno.test("parseProcCgroup keeps colons inside the path and a __proto__ name as a plain key", () => {
  const c = parseProcCgroup("3:name=__proto__:/a:b\n0::/x:y\n");
  equal(c.v2, "/x:y");
  equal(Object.getPrototypeOf(c.v1), Object.prototype);
  deepEqual(Object.entries(c.v1), [["name=__proto__", "/a:b"]]);
  const p = parseProcCgroup("3:__proto__:/a\n");
  deepEqual(Object.keys(p.v1), ["__proto__"]);
  equal(Object.getPrototypeOf(p.v1), Object.prototype);
});

Deno.test("parseProcCgroup rejects garbage, naming the file and line", () => {
  const cases: [string, RegExp][] = [
    ["0::/\ngarbage\n", /line 2: expected "id:controllers:path"/],
    ["x:cpu:/\n", /line 1: hierarchy ID is not a number/],
    [":cpu:/\n", /hierarchy ID is not a number/],
    ["1:cpu:relative\n", /cgroup path is not absolute/],
    ["1:cpu:\n", /cgroup path is not absolute/],
    ["1::/\n", /v1 hierarchy without controllers/],
    ["0:cpu:/\n", /hierarchy 0 with controllers/],
    ["0::/a\n0::/b\n", /line 2: a second v2 line/],
    ["1:cpu,,cpuacct:/\n", /bad controller name ""/],
    ["1:cpu x:/\n", /bad controller name "cpu x"/],
    ["1:cpu:/\n2:cpu:/\n", /controller "cpu" listed twice/],
  ];
  for (const [text, re] of cases) {
    throws(() => parseProcCgroup(text, "/proc/42/cgroup"), (err: unknown) => {
      if (!(err instanceof CgroupFormatError) || !(err instanceof SyntaxError)) return false;
      equal(err.file, "/proc/42/cgroup");
      return re.test(err.message) && err.message.startsWith(`Cannot parse "/proc/42/cgroup"`);
    }, text);
  }
});

Deno.test("primaryCgroupPath: kubepods cpu/memory path wins over v2; then v2, cpu, memory, name=systemd", () => {
  const k = "/kubepods/burstable/podX/abc";
  equal(primaryCgroupPath({ v2: "/other", v1: { cpu: k } }), k);
  equal(primaryCgroupPath({ v2: "/other", v1: { memory: k, cpu: "/c" } }), k);
  equal(primaryCgroupPath({ v2: "/v2", v1: { cpu: "/c", memory: "/m" } }), "/v2");
  equal(primaryCgroupPath({ v2: null, v1: { cpu: "/c", memory: "/m" } }), "/c");
  equal(primaryCgroupPath({ v2: null, v1: { memory: "/m", "name=systemd": "/s" } }), "/m");
  equal(primaryCgroupPath({ v2: null, v1: { "name=systemd": "/s" } }), "/s");
});

Deno.test("primaryCgroupPath skips '/' and '/init.scope'; null when nothing is left", () => {
  equal(primaryCgroupPath(parseProcCgroup(procCgroupText("host-root"))), null);
  equal(primaryCgroupPath(parseProcCgroup(procCgroupText("init-scope"))), null);
  equal(primaryCgroupPath({ v2: "/init.scope", v1: { cpu: "/", memory: "/init.scope" } }), null);
  // A hybrid host whose runtime left the v2 path at the root: the v1 path names the container.
  equal(
    primaryCgroupPath(parseProcCgroup(procCgroupText("docker-hybrid-v2-root"))),
    "/docker/3c1b5a0c2e4f4d6b8a9e0f1d2c3b4a5968778695a4b3c2d1e0f9e8d7c6b5a493",
  );
  // Podman's conmon on this host: v2 and name=systemd at "/", the v1 controllers below.
  equal(
    primaryCgroupPath(parseProcCgroup(procCgroupText("podman-conmon-cgroupfs"))),
    "/libpod_parent/conmon",
  );
});

Deno.test("primaryCgroupPath cuts an LXC/Incus payload's nested cgroups to the container's", () => {
  equal(primaryCgroupPath(parseProcCgroup(procCgroupText("lxc-payload"))), "/lxc.payload.web01");
  equal(
    primaryCgroupPath(parseProcCgroup(procCgroupText("incus-payload"))),
    "/lxc.payload.myproj_web02",
  );
  equal(primaryCgroupPath({ v2: "/lxc.payload/web01/init.scope", v1: {} }), "/lxc.payload/web01");
  equal(primaryCgroupPath({ v2: null, v1: { cpu: "/lxc/web01/sub" } }), "/lxc/web01");
  equal(primaryCgroupPath({ v2: "/lxc.payload.c1", v1: {} }), "/lxc.payload.c1");
  equal(primaryCgroupPath({ v2: "/lxc.monitor.c1", v1: {} }), "/lxc.monitor.c1");
});
