import { deepEqual, equal } from "node:assert/strict";
import {
  appIdOf,
  containerIdentity,
  cronJobOf,
  isSystemdSystemService,
  systemdUnitOf,
  unescapeUnitPath,
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

Deno.test("CronJob pods within 7 days collapse to /k8s-cronjob/<ns>/<cronjob>/<container>", () => {
  const pod = `backup-${MINUTES_NOW - 60}-x2kqp`;
  // the contract maps only /k8s/ IDs to a workload: a CronJob's app_id is empty (§13.1)
  deepEqual(id(containerd, k8s("ops", pod, "job")), {
    id: "/k8s-cronjob/ops/backup/job",
    appId: "",
    source: "metadata",
  });
  equal(cronJobOf(`backup-${MINUTES_NOW + 6 * 24 * 60}-x2kqp`, NOW), "backup");
  equal(cronJobOf(`backup-${MINUTES_NOW - 8 * 24 * 60}-x2kqp`, NOW), undefined);
  // strictly within: exactly 7 days away is out
  equal(cronJobOf(`b-${MINUTES_NOW + 7 * 24 * 60}-x2kqp`, MINUTES_NOW * 60_000), undefined);
  equal(cronJobOf(`b-${MINUTES_NOW + 7 * 24 * 60 - 1}-x2kqp`, MINUTES_NOW * 60_000), "b");
  // the Job's time has exactly 8 digits, the pod's suffix is in Kubernetes' alphabet
  equal(cronJobOf(`backup-0${MINUTES_NOW}-x2kqp`, NOW), undefined);
  equal(cronJobOf(`backup-${MINUTES_NOW}-abcde`, NOW), undefined);
  // searched for, not anchored, as in the reference: a dotted pod name keeps its last part
  equal(cronJobOf(`team.backup-${MINUTES_NOW}-x2kqp`, NOW), "backup");
  equal(cronJobOf(`backup-${MINUTES_NOW}-x2kqp-extra`, NOW), "backup");
  // digits that are no schedule time: a plain pod
  deepEqual(id(containerd, k8s("ops", "ticket-12345678-x2kqp", "c")), {
    id: "/k8s/ops/ticket-12345678-x2kqp/c",
    appId: "/k8s/ops/ticket", // the digits pass for a Deployment's hash
    source: "metadata",
  });
});

Deno.test("appIdOf: the workload patterns of the contract (§13.2), exact values", () => {
  const cases: [string, string][] = [
    // Deployment: <name>-<1 to 10 hex>-<5 generated>
    ["/k8s/default/web-7d4b9c8f6-x2kqp/nginx", "/k8s/default/web"],
    ["/k8s/kube-system/coredns-5d78c9869d-4wxkz/coredns", "/k8s/kube-system/coredns"],
    ["/k8s/default/web-5-x2kqp/nginx", "/k8s/default/web"], // a 1-digit hash
    ["/k8s/default/api-v2-6f-x2kqp/api", "/k8s/default/api-v2"],
    // an 11-hex hash is no Deployment's: the pod's generated suffix alone is taken
    ["/k8s/default/web-12345678901-x2kqp/nginx", "/k8s/default/web-12345678901"],
    // a hash with non-hex letters: likewise (the reference's pattern wants hex)
    ["/k8s/default/coredns-6b9fdbfx7c-4wxkz/coredns", "/k8s/default/coredns-6b9fdbfx7c"],
    // DaemonSet: <name>-<5 generated>
    ["/k8s/kube-system/kube-proxy-vq9zt/kube-proxy", "/k8s/kube-system/kube-proxy"],
    ["/k8s/coroot/coroot-node-agent-np9pk/node-agent", "/k8s/coroot/coroot-node-agent"],
    // the longest workload that leaves a matching suffix
    ["/k8s/ns/a-1a-bcdfg-bcdfg/c", "/k8s/ns/a-1a-bcdfg"],
    // StatefulSet: <name>-<ordinal>
    ["/k8s/db/postgres-0/postgres", "/k8s/db/postgres"],
    ["/k8s/default/cassandra-main-12/cassandra", "/k8s/default/cassandra-main"],
    ["/k8s/ns/redis-1/redis", "/k8s/ns/redis"],
    // a suffix with vowels or look-alikes is not generated: no owner
    ["/k8s/default/web-abcde/c", ""],
    ["/k8s/default/web-x2kq1/c", ""],
    ["/k8s/default/debug/sh", ""],
    // names outside [a-z0-9-]: dots, upper case, underscores
    ["/k8s/default/my.app-7d4b9c8f6-x2kqp/c", ""],
    ["/k8s/default/Web-7d4b9c8f6-x2kqp/c", ""],
    ["/k8s/Default/web-7d4b9c8f6-x2kqp/c", ""],
    ["/k8s/default/my_app-0/c", ""],
    ["/k8s//web-0/c", ""], // no namespace
    ["/k8s/default/web-0/", ""], // no container name
    // not Kubernetes pods
    ["/k8s-cronjob/ns/backup/job", ""],
    ["/docker/web-0", ""],
    ["/system.slice/nginx.service", ""],
    ["/swarm/shop/api-0/1", ""],
  ];
  for (const [cid, app] of cases) equal(appIdOf(cid), app, cid);
});

Deno.test("a pod name without a namespace label still gives a /k8s/ ID, as in the reference", () => {
  const labels = { "io.kubernetes.pod.name": "web-0", "io.kubernetes.container.name": "c" };
  deepEqual(id(containerd, { labels }), { id: "/k8s//web-0/c", appId: "", source: "metadata" });
  // a namespace without a pod name is no Kubernetes container
  deepEqual(id(docker, { name: "/n", labels: { "io.kubernetes.pod.namespace": "ns" } }), {
    id: "/docker/n",
    appId: "",
    source: "metadata",
  });
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
    id(docker, {
      name: "x",
      labels: {
        "com.docker.swarm.task.name": "web.1.abc",
        "com.docker.swarm.service.name": "web",
      },
    }),
    { id: "/swarm/_/web/1", appId: "", source: "metadata" },
  );
  // the slot is the task name's second field, the service only its label (as in the reference)
  deepEqual(
    id(docker, { name: "x", labels: { "com.docker.swarm.task.name": "a.b.3.xyz" } }),
    { id: "/swarm/_//b", appId: "", source: "metadata" },
  );
  // a task name with fewer than two dots is no Swarm task
  deepEqual(
    id(docker, { name: "/x", labels: { "com.docker.swarm.task.name": "web.1" } }),
    { id: "/docker/x", appId: "", source: "metadata" },
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
  // only \x2d is decoded (§13.12): other escapes stay as systemd wrote them
  deepEqual(id(svc("/system.slice/run\\x40x\\x2dy\\x5cz.service"), undefined), {
    id: "/system.slice/run\\x40x-y\\x5cz.service",
    appId: "",
    source: "cgroup",
  });
  deepEqual(id(svc("/system.slice/caf\\xc3\\xa9.service"), undefined), {
    id: "/system.slice/caf\\xc3\\xa9.service",
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
  equal(unescapeUnitPath("/system.slice/a\\x2Db.service"), "/system.slice/a\\x2Db.service");
  equal(unescapeUnitPath(unescapeUnitPath("/a\\x5cx2d\\x2d")), "/a\\x5cx2d-");
});

Deno.test("a template instance is judged by its own unit, not its slice", () => {
  const slice: IdentityClass = {
    kind: "systemd_service",
    runtime: "systemd",
    containerId: "/system.slice/system-systemd\\x2dfsck.slice",
  };
  const path = "/system.slice/system-systemd\\x2dfsck.slice/systemd-fsck@dev-vda1.service";
  equal(systemdUnitOf(path), "systemd-fsck@dev-vda1.service");
  equal(systemdUnitOf("/system.slice/nginx.service"), "nginx.service");
  equal(systemdUnitOf("/system.slice/nginx.service/worker"), "nginx.service");
  equal(systemdUnitOf("/system.slice/system-foo.slice"), "system-foo.slice");
  // the unit's name starts with "systemd-": a system service, though its slice's does not
  deepEqual(id(slice, undefined, { systemdUnit: systemdUnitOf(path) }), {
    ignored: "systemd_system_service",
  });
  deepEqual(id(slice, undefined, { systemdUnit: "postgresql@15-main.service" }), {
    id: "/system.slice/system-systemd-fsck.slice",
    appId: "",
    source: "cgroup",
  });
  // and by the instance's properties
  deepEqual(
    id(slice, undefined, { systemdUnit: "modprobe@drm.service", systemd: { type: "oneshot" } }),
    { ignored: "systemd_system_service" },
  );
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
