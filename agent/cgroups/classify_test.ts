import { deepEqual, equal } from "node:assert/strict";
import { type CgroupClass, classifyCgroup } from "./classify.ts";
import { parseProcCgroup, primaryCgroupPath } from "./proc_cgroup.ts";
import { layouts, procCgroupText } from "./_testing.ts";

const H1 = "3c1b5a0c2e4f4d6b8a9e0f1d2c3b4a5968778695a4b3c2d1e0f9e8d7c6b5a493";
const H2 = "5d4c3b2a1f0e9d8c7b6a5f4e3d2c1b0a99887766554433221100ffeeddccbbaa";
const H3 = "0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9";
const H4 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
const POD = "6b2a8f0e-3c1d-4e5f-9a7b-1c2d3e4f5a6b";
/** The Podman containers recorded on this machine (podman 4.3, runc, cgroupfs manager). */
const REAL_PODMAN = "8b15ca3596c17fea6fff6404d6fb4665b750088cf4600a9f78c6bb62ed596b63";
const REAL_POD = "7496220f18533127929c1278cae1c188a6b99b8ffa9791b09c12cf048997b6f5";
const REAL_IN_POD = "86ccf3aaa2da9b020c29434408a234223310c5f3c405c8019d814e8b27a01bc5";

/** Fixture → the primary path and what classifyCgroup says about it (null: no primary path). */
const EXPECTED: Record<string, CgroupClass | null> = {
  "host-root": null,
  "init-scope": null,
  "docker-cgroupfs": { kind: "container", runtime: "docker", containerId: H1 },
  "docker-systemd": { kind: "container", runtime: "docker", containerId: H4 },
  "docker-deleted": { kind: "container", runtime: "docker", containerId: H4 },
  "docker-hybrid-v2-root": { kind: "container", runtime: "docker", containerId: H1 },
  "containerd-kubepods-cgroupfs": {
    kind: "container",
    runtime: "containerd",
    containerId: H3,
    runtimeCandidates: ["containerd", "docker"],
    kubernetes: { podUid: POD, qos: "burstable" },
  },
  "containerd-kubepods-systemd": {
    kind: "container",
    runtime: "containerd",
    containerId: H2,
    kubernetes: { podUid: POD, qos: "burstable" },
  },
  "crio-kubepods-cgroupfs": {
    kind: "container",
    runtime: "crio",
    containerId: H3,
    kubernetes: { podUid: POD, qos: "besteffort" },
  },
  "crio-kubepods-systemd": {
    kind: "container",
    runtime: "crio",
    containerId: H4,
    kubernetes: { podUid: POD, qos: "besteffort" },
  },
  "crio-conmon-systemd": { kind: "standalone", reason: "CRI-O conmon monitor" },
  "dockershim-kubepods-cgroupfs": {
    kind: "container",
    runtime: "containerd",
    containerId: H1,
    runtimeCandidates: ["containerd", "docker"],
    kubernetes: { podUid: POD, qos: "guaranteed" },
  },
  "dockershim-kubepods-systemd": {
    kind: "container",
    runtime: "docker",
    containerId: H1,
    kubernetes: { podUid: POD, qos: "guaranteed" },
  },
  "kubepods-sandbox-cgroupfs": { kind: "sandbox", kubernetes: { podUid: POD, qos: "burstable" } },
  "kubepods-sandbox-systemd": { kind: "sandbox", kubernetes: { podUid: POD, qos: "besteffort" } },
  "systemd-service": {
    kind: "systemd_service",
    runtime: "systemd",
    containerId: "/system.slice/nginx.service",
  },
  "systemd-escaped": {
    kind: "systemd_service",
    runtime: "systemd",
    containerId: "/system.slice/my-app.service",
  },
  "systemd-template": {
    kind: "systemd_service",
    runtime: "systemd",
    containerId: "/system.slice/system-postgresql.slice",
  },
  "systemd-kube-slice": {
    kind: "systemd_service",
    runtime: "systemd",
    containerId: "/kube.slice/kubelet.service",
  },
  "systemd-hybrid": {
    kind: "systemd_service",
    runtime: "systemd",
    containerId: "/system.slice/cron.service",
  },
  "systemd-scope": { kind: "standalone", reason: "transient scope" },
  "user-session": { kind: "standalone", reason: "user session" },
  "single-component": { kind: "standalone", reason: "single-component cgroup" },
  "talos-init": { kind: "talos", runtime: "talos", containerId: "/talos/init" },
  "talos-system": { kind: "talos", runtime: "talos", containerId: "/talos/runtime" },
  "talos-podruntime": { kind: "talos", runtime: "talos", containerId: "/talos/kubelet" },
  "podman-cgroupfs": { kind: "container", runtime: "podman", containerId: REAL_PODMAN },
  "podman-conmon-cgroupfs": { kind: "standalone", reason: "Podman conmon monitor" },
  "podman-pod-cgroupfs": {
    kind: "container",
    runtime: "podman",
    containerId: REAL_IN_POD,
    podmanPodId: REAL_POD,
  },
  "podman-systemd": { kind: "container", runtime: "podman", containerId: H2 },
  "podman-systemd-nested": { kind: "container", runtime: "podman", containerId: H2 },
  "podman-split": { kind: "container", runtime: "podman", containerId: H3 },
  "podman-conmon-systemd": { kind: "standalone", reason: "Podman conmon monitor" },
  "podman-rootless": { kind: "container", runtime: "podman", containerId: H4 },
  "podman-pod-systemd": {
    kind: "container",
    runtime: "podman",
    containerId: H2,
    podmanPodId: H1,
  },
  "lxc-v1": { kind: "container", runtime: "lxc", containerId: "web01" },
  "lxc-payload": { kind: "container", runtime: "lxc", containerId: "web01" },
  "lxc-payload-slash": { kind: "container", runtime: "lxc", containerId: "web01" },
  "incus-payload": { kind: "container", runtime: "lxc", containerId: "myproj_web02" },
  "lxc-monitor": { kind: "standalone", reason: "LXC monitor" },
  "libvirt-vm": { kind: "unknown", reason: "units of machine.slice are not reported" },
  "unknown-slice": { kind: "unknown", reason: "units of mystery.slice are not reported" },
};

Deno.test("every layout fixture has an expectation, and every expectation a fixture", () => {
  deepEqual(layouts(), Object.keys(EXPECTED).sort());
});

for (const [layout, want] of Object.entries(EXPECTED)) {
  Deno.test(`classify layout ${layout}`, () => {
    const path = primaryCgroupPath(parseProcCgroup(procCgroupText(layout)));
    if (want === null) {
      equal(path, null);
      return;
    }
    if (path === null) throw new Error(`${layout}: no primary path`);
    deepEqual(classifyCgroup(path), want);
  });
}

Deno.test("classifyCgroup: raw paths, uncut and nested", () => {
  // Uncut LXC payload paths classify the same as the cut ones.
  deepEqual(classifyCgroup("/lxc.payload.web01/system.slice/nginx.service"), {
    kind: "container",
    runtime: "lxc",
    containerId: "web01",
  });
  // Containerd's colon form (kubelet's systemd cgroup name, cgroupfs-style).
  equal(classifyCgroup(`/kubepods/besteffort/pod${POD}/cri-containerd:${H2}`).containerId, H2);
  // kind: Kubernetes nodes in Docker containers; the pod's container wins.
  const kind = classifyCgroup(
    `/system.slice/docker-${H1}.scope/kubelet.slice/kubelet-kubepods.slice/` +
      `kubelet-kubepods-besteffort.slice/kubelet-kubepods-besteffort-pod${
        POD.replaceAll("-", "_")
      }.slice/cri-containerd-${H2}.scope`,
  );
  deepEqual(kind, {
    kind: "container",
    runtime: "containerd",
    containerId: H2,
    kubernetes: { podUid: POD, qos: "besteffort" },
  });
  // A process inside a Docker container's own sub-cgroup.
  equal(classifyCgroup(`/docker/${H1}/sub`).containerId, H1);
  // Rootless Docker.
  equal(
    classifyCgroup(`/user.slice/user-1000.slice/user@1000.service/docker-${H1}.scope`).runtime,
    "docker",
  );
  // crio's cgroupfs conmon.
  equal(classifyCgroup(`/kubepods/burstable/pod${POD}/crio-conmon-${H3}`).kind, "standalone");
  // A pod-level path with a QoS class only.
  deepEqual(classifyCgroup("/kubepods/besteffort"), {
    kind: "sandbox",
    kubernetes: { qos: "besteffort" },
  });
});

Deno.test("classifyCgroup: systemd slices and scopes", () => {
  equal(classifyCgroup("/system.slice").kind, "standalone");
  equal(classifyCgroup("/system.slice/docker.service").containerId, "/system.slice/docker.service");
  equal(
    classifyCgroup("/system.slice/system-foo.slice/foo@x\\x2dy.service").containerId,
    "/system.slice/system-foo.slice",
  );
  equal(classifyCgroup("/system.slice/system-foo.slice/run-1.scope").kind, "standalone");
  // the reference looks at the path's end: a scope below a service is no service...
  equal(classifyCgroup("/system.slice/foo.service/payload.scope").kind, "standalone");
  equal(classifyCgroup("/system.slice/system-foo.slice/x.service/y.scope").kind, "standalone");
  // ...and a cgroup below a scope is the scope's "unit"
  equal(classifyCgroup("/system.slice/run-u1.scope/sub").containerId, "/system.slice/run-u1.scope");
  equal(classifyCgroup("/system.slice/foo.service/sub").containerId, "/system.slice/foo.service");
  // only \x2d is decoded
  equal(
    classifyCgroup("/system.slice/a\\x2db\\x40c\\x5cd.service").containerId,
    "/system.slice/a-b\\x40c\\x5cd.service",
  );
  equal(classifyCgroup("/runtime.slice/containerd.service").kind, "systemd_service");
  equal(classifyCgroup("/azure.slice/walinuxagent.service").kind, "systemd_service");
  equal(classifyCgroup("/reserved.slice/kubelet.service").kind, "systemd_service");
  equal(classifyCgroup("/podruntime.slice/kubelet.service").kind, "systemd_service");
  equal(classifyCgroup("/systemd/system.slice").kind, "standalone");
});

Deno.test("classifyCgroup: never throws; odd paths are unknown with a reason", () => {
  const odd = ["", "relative/path", "/../../docker/x", "/a/./b", `/foo/bar/${H1}`, "/foo/bar"];
  for (const p of odd) {
    const c = classifyCgroup(p);
    equal(c.kind, "unknown", p);
    equal(typeof c.reason, "string");
  }
  equal(classifyCgroup(`/foo/bar/${H1}`).reason, "a container ID in an unrecognised layout");
  equal(classifyCgroup("/").kind, "standalone");
  // IDs must be 64 lowercase hex digits.
  equal(classifyCgroup(`/docker/${H1.toUpperCase()}`).kind, "unknown");
  equal(classifyCgroup(`/docker/${H1.slice(1)}`).kind, "unknown");
  equal(classifyCgroup(`/system.slice/docker-${H1}x.scope`).kind, "standalone");
});
