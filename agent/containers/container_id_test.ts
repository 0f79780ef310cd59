import { deepEqual, equal } from "node:assert/strict";
import {
  appIdOf,
  containerIdentity,
  cronJobOf,
  isSystemdSystemService,
  unescapeUnitPath,
  workloadOf,
} from "./container_id.ts";
import type { IdentityClass, IdentityMetadata } from "./container_id.ts";

const HEX = "1276b3895632554d203dc097897115f705cedd32cf535f1419c316b2ae8f8e6f";
const NOW = Date.UTC(2026, 10, 27, 8, 0, 0);
const MINUTES_NOW = Math.floor(NOW / 60_000);

const docker: IdentityClass = { kind: "container", runtime: "docker", containerId: HEX };
const containerd: IdentityClass = { kind: "container", runtime: "containerd", containerId: HEX };
const crio: IdentityClass = { kind: "container", runtime: "crio", containerId: HEX };
const podman: IdentityClass = { kind: "container", runtime: "podman", containerId: HEX };

function k8s(ns: string, pod: string, container?: string): IdentityMetadata {
  const labels: Record<string, string> = {
    "io.kubernetes.pod.namespace": ns,
    "io.kubernetes.pod.name": pod,
    "io.kubernetes.pod.uid": "0f6e7b7e-1111-2222-3333-444455556666",
  };
  if (container !== undefined) labels["io.kubernetes.container.name"] = container;
  return { labels };
}

const id = (cls: IdentityClass, md: IdentityMetadata | undefined, opts = {}) =>
  containerIdentity(cls, md, { nowMs: NOW, ...opts });

Deno.test("Kubernetes containers: /k8s/<ns>/<pod>/<container> and the workload as app_id", () => {
  deepEqual(id(containerd, k8s("default", "web-7d4b9c8f6-x2kqp", "nginx")), {
    id: "/k8s/default/web-7d4b9c8f6-x2kqp/nginx",
    appId: "/k8s/default/web",
    source: "metadata",
  });
  deepEqual(id(crio, k8s("kube-system", "fluent-bit-x2kqp", "fluent-bit")), {
    id: "/k8s/kube-system/fluent-bit-x2kqp/fluent-bit",
    appId: "/k8s/kube-system/fluent-bit",
    source: "metadata",
  });
  deepEqual(id(docker, k8s("db", "postgres-0", "postgres")), {
    id: "/k8s/db/postgres-0/postgres",
    appId: "/k8s/db/postgres",
    source: "metadata",
  });
  // a bare pod: no owner pattern, no app_id
  deepEqual(id(containerd, k8s("default", "debug", "sh")), {
    id: "/k8s/default/debug/sh",
    appId: "",
    source: "metadata",
  });
});

Deno.test("Kubernetes sandboxes are 'sandbox'; pause containers are ignored", () => {
  const sandbox: IdentityClass = { kind: "sandbox", runtime: "containerd" };
  deepEqual(id(sandbox, k8s("default", "web-7d4b9c8f6-x2kqp")), {
    id: "/k8s/default/web-7d4b9c8f6-x2kqp/sandbox",
    appId: "/k8s/default/web",
    source: "metadata",
  });
  deepEqual(id(containerd, k8s("default", "web-7d4b9c8f6-x2kqp")), { ignored: "pause_container" });
  deepEqual(id(docker, k8s("default", "web-7d4b9c8f6-x2kqp", "POD")), {
    ignored: "pause_container",
  });
  deepEqual(id(sandbox, undefined), { ignored: "no_metadata" });
  deepEqual(id(sandbox, { name: "x", labels: {} }), { ignored: "no_metadata" });
});

Deno.test("CronJob pods within ±7 days collapse to /k8s-cronjob/<ns>/<cronjob>/<container>", () => {
  const pod = `backup-${MINUTES_NOW - 60}-abcde`;
  deepEqual(id(containerd, k8s("ops", pod, "job")), {
    id: "/k8s-cronjob/ops/backup/job",
    appId: "/k8s/ops/backup",
    source: "metadata",
  });
  equal(cronJobOf(`backup-${MINUTES_NOW + 6 * 24 * 60}-abcde`, NOW), "backup");
  equal(cronJobOf(`backup-${MINUTES_NOW - 8 * 24 * 60}-abcde`, NOW), undefined);
  // digits that are no schedule time: a plain pod
  deepEqual(id(containerd, k8s("ops", "ticket-12345678-abcde", "c")), {
    id: "/k8s/ops/ticket-12345678-abcde/c",
    appId: "",
    source: "metadata",
  });
});

Deno.test("workloadOf and appIdOf", () => {
  equal(workloadOf("coredns-5d78c9869d-4wxkz"), "coredns");
  equal(workloadOf("kube-proxy-vq9zt"), "kube-proxy");
  equal(workloadOf("redis-12"), "redis");
  equal(workloadOf("mypod"), "");
  equal(appIdOf("/docker/web"), "");
  equal(appIdOf("/system.slice/nginx.service"), "");
  equal(appIdOf("/k8s/ns/redis-1/redis"), "/k8s/ns/redis");
  equal(appIdOf("/k8s-cronjob/ns/backup/job"), "/k8s/ns/backup");
});

Deno.test("Docker Swarm: /swarm/<stack or _>/<service>/<slot>", () => {
  const labels = {
    "com.docker.swarm.task.name": "shop_api.2.k1j2h3g4f5d6",
    "com.docker.swarm.service.name": "shop_api",
    "com.docker.stack.namespace": "shop",
  };
  deepEqual(id(docker, { name: "shop_api.2.k1j2h3g4f5d6", labels }), {
    id: "/swarm/shop/api/2",
    appId: "",
    source: "metadata",
  });
  deepEqual(
    id(docker, { name: "x", labels: { "com.docker.swarm.task.name": "web.1.abc" } }),
    { id: "/swarm/_/web/1", appId: "", source: "metadata" },
  );
});

Deno.test("Nomad: /nomad/<ns>/<job>/<group>/<alloc>/<task> from the environment", () => {
  const env = [
    "NOMAD_ALLOC_ID=5b0d7c1e-aaaa-bbbb-cccc-0123456789ab",
    "NOMAD_GROUP_NAME=cache",
    "NOMAD_JOB_NAME=example",
    "NOMAD_NAMESPACE=default",
    "NOMAD_TASK_NAME=redis",
    "PATH=/usr/bin",
  ];
  deepEqual(id(docker, { name: "redis-5b0d", labels: {}, env }), {
    id: "/nomad/default/example/cache/5b0d7c1e-aaaa-bbbb-cccc-0123456789ab/redis",
    appId: "",
    source: "metadata",
  });
  // a map works too; an incomplete set falls through to the name
  deepEqual(
    id(docker, { name: "/r", labels: {}, env: { NOMAD_ALLOC_ID: "a", NOMAD_JOB_NAME: "j" } }),
    { id: "/docker/r", appId: "", source: "metadata" },
  );
});

Deno.test("Docker, containerd and Podman by name; unnamed Docker is ignored", () => {
  deepEqual(id(docker, { name: "/web", labels: {} }), {
    id: "/docker/web",
    appId: "",
    source: "metadata",
  });
  deepEqual(id(containerd, { name: "buildkit", labels: {} }), {
    id: "/docker/buildkit",
    appId: "",
    source: "metadata",
  });
  deepEqual(id(podman, { name: "osprey-meta-test", labels: {} }), {
    id: "/podman/osprey-meta-test",
    appId: "",
    source: "metadata",
  });
  deepEqual(id(docker, { labels: {} }), { ignored: "unnamed" });
});

Deno.test("without metadata: /<runtime>/<short id>", () => {
  deepEqual(id(podman, undefined), {
    id: "/podman/1276b3895632",
    appId: "",
    source: "fallback",
  });
  deepEqual(id(docker, undefined), { id: "/docker/1276b3895632", appId: "", source: "fallback" });
  deepEqual(id(crio, undefined), { id: "/crio/1276b3895632", appId: "", source: "fallback" });
  deepEqual(id({ kind: "container", runtime: "docker" }, undefined), { ignored: "no_id" });
});

Deno.test("LXC: /lxc/<name>, with or without metadata", () => {
  const lxc: IdentityClass = { kind: "container", runtime: "lxc", containerId: "web1" };
  deepEqual(id(lxc, undefined), { id: "/lxc/web1", appId: "", source: "cgroup" });
  deepEqual(id(lxc, { labels: {} }), { id: "/lxc/web1", appId: "", source: "cgroup" });
});

Deno.test("systemd services: unit path, system services skipped unless asked", () => {
  const svc = (unit: string): IdentityClass => ({
    kind: "systemd_service",
    runtime: "systemd",
    containerId: unit,
  });
  deepEqual(id(svc("/system.slice/nginx.service"), undefined), {
    id: "/system.slice/nginx.service",
    appId: "",
    source: "cgroup",
  });
  deepEqual(id(svc("/system.slice/system-postgresql.slice"), undefined), {
    id: "/system.slice/system-postgresql.slice",
    appId: "",
    source: "cgroup",
  });
  deepEqual(id(svc("/system.slice/my\\x2dapp.service"), undefined), {
    id: "/system.slice/my-app.service",
    appId: "",
    source: "cgroup",
  });
  deepEqual(id(svc("/system.slice/systemd-journald.service"), undefined), {
    ignored: "systemd_system_service",
  });
  deepEqual(
    id(svc("/system.slice/systemd-journald.service"), undefined, {
      skipSystemdSystemServices: false,
    }),
    { id: "/system.slice/systemd-journald.service", appId: "", source: "cgroup" },
  );
  deepEqual(
    id(svc("/system.slice/backup.service"), undefined, {
      systemd: { type: "simple", triggeredBy: "backup.timer" },
    }),
    { ignored: "systemd_system_service" },
  );
  equal(isSystemdSystemService("/system.slice/dbus.service"), true);
  equal(isSystemdSystemService("/system.slice/app.service", { type: "oneshot" }), true);
  equal(isSystemdSystemService("/system.slice/app.service", { type: "notify" }), false);
  equal(unescapeUnitPath("/system.slice/a\\x2db\\x2dc.service"), "/system.slice/a-b-c.service");
});

Deno.test("Talos, standalone and unknown", () => {
  deepEqual(id({ kind: "talos", runtime: "talos", containerId: "init" }, undefined), {
    id: "/talos/init",
    appId: "",
    source: "cgroup",
  });
  deepEqual(id({ kind: "talos", runtime: "talos", containerId: "/talos/apid" }, undefined), {
    id: "/talos/apid",
    appId: "",
    source: "cgroup",
  });
  deepEqual(id({ kind: "standalone" }, undefined), { ignored: "standalone" });
  deepEqual(id({ kind: "unknown" }, undefined), { ignored: "unknown_layout" });
});
