/**
 * The registry end to end on recorded runtime trees (tests/fixtures/runtimes, read by the real
 * metadata module) with the cgroup layout each runtime and driver makes: the container ID and
 * app_id that come out, or that the container is left out.
 */
import { deepEqual } from "node:assert/strict";
import { IDS } from "./metadata/_testing.ts";
import { lookupMetadata } from "./metadata/mod.ts";
import { FIXTURES, harness, T0 } from "./_testing.ts";

interface Case {
  name: string;
  root: string;
  cgroup: string;
  want: { id: string; app: string; image?: string } | { ignored: string };
}

const POD_WEB = "3f1c2a4e_8b7d_4c5e_9f60_1a2b3c4d5e6f";
const POD_API = "7c8d9e0f-1a2b-4c3d-8e4f-5a6b7c8d9e0f";

const CASES: Case[] = [
  {
    name: "containerd, systemd driver",
    root: "containerd",
    cgroup: `/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${POD_WEB}.slice/` +
      `cri-containerd-${IDS.containerdWeb}.scope`,
    want: {
      id: "/k8s/shop/web-7d4b9c8f6d-x2x9q/web",
      app: "/k8s/shop/web",
      image: "docker.io/library/nginx:1.25",
    },
  },
  {
    name: "containerd, cgroupfs driver (bare id)",
    root: "containerd",
    cgroup: `/kubepods/burstable/pod${POD_WEB.replaceAll("_", "-")}/${IDS.containerdWeb}`,
    want: { id: "/k8s/shop/web-7d4b9c8f6d-x2x9q/web", app: "/k8s/shop/web" },
  },
  {
    name: "containerd pause container",
    root: "containerd",
    cgroup: `/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${POD_WEB}.slice/` +
      `cri-containerd-${IDS.containerdSandbox}.scope`,
    want: { ignored: "pause_container" },
  },
  {
    name: "k3s containerd",
    root: "containerd",
    cgroup: `/kubepods/besteffort/poda0b1c2d3-e4f5-4a6b-8c7d-9e0f1a2b3c4d/${IDS.containerdK3s}`,
    want: {
      id: "/k8s/kube-system/coredns-6799fbcd5-9tq4l/coredns",
      app: "/k8s/kube-system/coredns",
    },
  },
  {
    name: "CRI-O, systemd driver",
    root: "crio",
    cgroup: `/kubepods.slice/kubepods-pod${POD_API.replaceAll("-", "_")}.slice/` +
      `crio-${IDS.crioApi}.scope`,
    want: { id: "/k8s/payments/api-0/api", app: "/k8s/payments/api" },
  },
  {
    name: "CRI-O, cgroupfs driver",
    root: "crio",
    cgroup: `/kubepods/pod${POD_API}/crio-${IDS.crioApi}`,
    want: { id: "/k8s/payments/api-0/api", app: "/k8s/payments/api" },
  },
  {
    name: "CRI-O pause container",
    root: "crio",
    cgroup: `/kubepods/pod${POD_API}/crio-${IDS.crioSandbox}`,
    want: { ignored: "pause_container" },
  },
  {
    name: "Docker, systemd driver",
    root: "docker",
    cgroup: `/system.slice/docker-${IDS.dockerWeb}.scope`,
    want: { id: "/docker/shop-web-1", app: "", image: "nginx:1.25-alpine" },
  },
  {
    name: "Docker, cgroupfs driver",
    root: "docker",
    cgroup: `/docker/${IDS.dockerWeb}`,
    want: { id: "/docker/shop-web-1", app: "" },
  },
  {
    name: "Docker Swarm task",
    root: "docker",
    cgroup: `/docker/${IDS.dockerSwarm}`,
    want: { id: "/swarm/acme/api/2", app: "" },
  },
  {
    name: "Nomad task on Docker",
    root: "docker",
    cgroup: `/system.slice/docker-${IDS.dockerDb}.scope`,
    want: { id: "/nomad/default/pg/db/5f3b1c2d-0e9f-4a8b-b7c6-d5e4f3a2b1c0/postgres", app: "" },
  },
  {
    name: "Podman, cgroupfs manager",
    root: "podman",
    cgroup: `/libpod_parent/libpod-${IDS.podmanRecorded}`,
    want: { id: "/podman/osprey-meta-test", app: "", image: "localhost/osprey-busybox:test" },
  },
  {
    name: "Podman, systemd manager",
    root: "podman",
    cgroup: `/machine.slice/libpod-${IDS.podmanRecorded}.scope`,
    want: { id: "/podman/osprey-meta-test", app: "" },
  },
  {
    name: "Podman --cgroups=split",
    root: "podman",
    cgroup: `/system.slice/app.service/libpod-payload-${IDS.podmanRecorded}`,
    want: { id: "/podman/osprey-meta-test", app: "" },
  },
  {
    name: "Podman conmon",
    root: "podman",
    cgroup: `/machine.slice/libpod-conmon-${IDS.podmanRecorded}.scope`,
    want: { ignored: "standalone" },
  },
];

for (const tc of CASES) {
  Deno.test(`layout: ${tc.name}`, async () => {
    const h: ReturnType<typeof harness> = harness({
      hostRoot: `${FIXTURES}/runtimes/${tc.root}`,
      lookupMetadata: (rt, id) => lookupMetadata(rt, id, { paths: h.host.paths }),
    });
    try {
      h.host.spawn(4242, { cgroup: tc.cgroup, startMs: T0 - 60_000 });
      h.reg.scan();
      await h.reg.settled();
      const ids = h.samples("container_restarts_total").map((s) => [
        s.labels.container_id,
        s.labels.app_id,
      ]);
      if ("ignored" in tc.want) {
        deepEqual(ids, []);
        if (tc.want.ignored !== "standalone") {
          deepEqual(h.value("osprey_containers_ignored_total", { reason: tc.want.ignored }), 1);
        }
        return;
      }
      deepEqual(ids, [[tc.want.id, tc.want.app]]);
      if (tc.want.image !== undefined) {
        deepEqual(h.samples("container_info").map((s) => s.labels.image), [tc.want.image]);
      }
      deepEqual(h.samples("osprey_container_metadata_errors_total"), []);
    } finally {
      h.close();
    }
  });
}
