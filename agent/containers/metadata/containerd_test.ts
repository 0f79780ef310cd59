import assert from "node:assert/strict";
import { kubernetesLabels, parseContainerdCriAnnotations } from "./containerd.ts";
import { lookupMetadata, MetadataError } from "./mod.ts";
import { fixtureOptions, FIXTURES, IDS, MISSING_ID } from "./_testing.ts";

const UID = "3f1c2a4e-8b7d-4c5e-9f60-1a2b3c4d5e6f";
const POD = "web-7d4b9c8f6d-x2x9q";
const TASK = `${FIXTURES}/containerd/run/containerd/io.containerd.runtime.v2.task`;

Deno.test("parseContainerdCriAnnotations() reads the CRI plugin's pod identity", () => {
  const info = parseContainerdCriAnnotations({
    "io.kubernetes.cri.container-type": "container",
    "io.kubernetes.cri.container-name": "web",
    "io.kubernetes.cri.sandbox-name": POD,
    "io.kubernetes.cri.sandbox-namespace": "shop",
    "io.kubernetes.cri.sandbox-uid": UID,
    "io.kubernetes.cri.image-name": "docker.io/library/nginx:1.25",
    "io.kubernetes.cri.sandbox-id": "abc",
  });
  assert.deepEqual(info, {
    containerType: "container",
    containerName: "web",
    podName: POD,
    podNamespace: "shop",
    podUid: UID,
    image: "docker.io/library/nginx:1.25",
    sandboxId: "abc",
  });
  assert.deepEqual(kubernetesLabels(info), {
    "io.kubernetes.pod.name": POD,
    "io.kubernetes.pod.namespace": "shop",
    "io.kubernetes.pod.uid": UID,
    "io.kubernetes.container.name": "web",
  });
});

Deno.test("parseContainerdCriAnnotations() treats empty and unknown values as absent", () => {
  assert.deepEqual(
    parseContainerdCriAnnotations({
      "io.kubernetes.cri.container-type": "vm",
      "io.kubernetes.cri.container-name": "",
    }),
    {},
  );
});

Deno.test("lookupMetadata('containerd') maps CRI annotations to io.kubernetes.* labels and finds the newest kubelet log", async () => {
  const md = await lookupMetadata("containerd", IDS.containerdWeb, fixtureOptions("containerd"));
  assert.equal(md.namespace, "k8s.io");
  assert.equal(md.containerType, "container");
  assert.equal(md.name, "web");
  assert.equal(md.image, "docker.io/library/nginx:1.25");
  assert.deepEqual(md.labels, {
    "io.kubernetes.pod.name": POD,
    "io.kubernetes.pod.namespace": "shop",
    "io.kubernetes.pod.uid": UID,
    "io.kubernetes.container.name": "web",
  });
  assert.equal(md.logPath, `/var/log/pods/shop_${POD}_${UID}/web/1.log`);
  assert.equal(md.logFormat, "cri");
  assert.match(await Deno.readTextFile(md.logFile!), / stdout F 10\.0\.0\.7 /);
  assert.equal(md.env?.NGINX_VERSION, "1.25.4");
  assert.ok(
    md.mounts?.some((m) =>
      m.destination === "/usr/share/nginx/html" && m.source.includes("kubernetes.io~csi/pvc-")
    ),
  );
  assert.deepEqual(md.sources, [`${TASK}/k8s.io/${IDS.containerdWeb}/config.json`]);
  assert.equal(md.notes, undefined);
});

Deno.test("lookupMetadata('containerd') marks the pod sandbox and gives it no container name or log", async () => {
  const md = await lookupMetadata(
    "containerd",
    IDS.containerdSandbox,
    fixtureOptions("containerd"),
  );
  assert.equal(md.containerType, "sandbox");
  assert.equal(md.name, undefined);
  assert.equal(md.logPath, undefined);
  assert.equal(md.labels["io.kubernetes.pod.name"], POD);
  assert.equal(md.labels["io.kubernetes.container.name"], undefined);
});

Deno.test("lookupMetadata('containerd') searches the k3s state dir and honours a custom kubelet pod log dir", async () => {
  const opts = fixtureOptions("containerd", { kubeletPodLogDir: "/srv/kubelet/pod-logs" });
  const md = await lookupMetadata("containerd", IDS.containerdK3s, opts);
  assert.equal(md.image, "docker.io/rancher/mirrored-coredns-coredns:1.10.1");
  assert.equal(md.labels["io.kubernetes.pod.namespace"], "kube-system");
  assert.equal(
    md.logPath,
    "/srv/kubelet/pod-logs/kube-system_coredns-6799fbcd5-9tq4l_a0b1c2d3-e4f5-4a6b-8c7d-9e0f1a2b3c4d/coredns/0.log",
  );
  const defaultDir = await lookupMetadata(
    "containerd",
    IDS.containerdK3s,
    fixtureOptions("containerd"),
  );
  assert.equal(defaultDir.logPath, undefined);
  assert.ok(
    defaultDir.notes?.some((n) => n.startsWith('no kubelet log directory "/var/log/pods/')),
  );
});

Deno.test("lookupMetadata('containerd') notes why a container without sandbox-uid has no log path", async () => {
  const md = await lookupMetadata("containerd", IDS.containerdNoUid, fixtureOptions("containerd"));
  assert.equal(md.name, "legacy");
  assert.equal(md.image, undefined);
  assert.equal(md.labels["io.kubernetes.pod.uid"], undefined);
  assert.equal(md.logPath, undefined);
  assert.deepEqual(md.notes, [
    "CRI annotations lack the pod namespace, name or uid: no kubelet log path",
  ]);
});

Deno.test("lookupMetadata('containerd') completes a moby bundle from dockerd's config.v2.json", async () => {
  const md = await lookupMetadata("containerd", IDS.mobyOnly, fixtureOptions("containerd"));
  assert.equal(md.runtime, "containerd");
  assert.equal(md.namespace, "moby");
  assert.equal(md.name, "cache");
  assert.equal(md.image, "redis:7.2");
  assert.deepEqual(md.labels, { "com.example.team": "platform" });
  assert.equal(md.logFormat, "docker-json");
  assert.equal(md.env?.REDIS_VERSION, "7.2.4");
  assert.deepEqual(md.mounts, [
    { destination: "/data", source: "/var/lib/docker/volumes/cache/_data", type: "volume" },
  ]);
  assert.deepEqual(md.sources.map((s) => s.slice(`${FIXTURES}/containerd`.length)), [
    `/run/containerd/io.containerd.runtime.v2.task/moby/${IDS.mobyOnly}/config.json`,
    `/var/lib/docker/containers/${IDS.mobyOnly}/config.v2.json`,
    `/var/lib/docker/containers/${IDS.mobyOnly}/hostconfig.json`,
  ]);
});

Deno.test("lookupMetadata('containerd') keeps a moby bundle as it is when Docker's files are gone", async () => {
  const md = await lookupMetadata(
    "containerd",
    IDS.mobyOnly,
    fixtureOptions("docker", {
      containerdStateDirs: ["/run/docker/containerd/daemon"],
    }),
  );
  assert.equal(md.namespace, "moby");
  assert.equal(md.name, undefined);
  assert.deepEqual(md.labels, {});
  assert.equal(md.env?.REDIS_VERSION, "7.2.4");
});

Deno.test("lookupMetadata('containerd') only searches the given state dirs", async () => {
  const opts = fixtureOptions("containerd", { containerdStateDirs: ["/run/containerd"] });
  await assert.rejects(
    lookupMetadata("containerd", IDS.containerdK3s, opts),
    (e: unknown) => e instanceof MetadataError && e.reason === "not_found",
  );
});

Deno.test("lookupMetadata('containerd') rejects an unknown id with not_found", async () => {
  const err = await lookupMetadata("containerd", MISSING_ID, fixtureOptions("containerd")).then(
    () => undefined,
    (e: unknown) => e,
  );
  assert.ok(err instanceof MetadataError);
  assert.equal(err.reason, "not_found");
  assert.equal(err.file, `${TASK}/k8s.io/${MISSING_ID}/config.json`);
  assert.match(err.message, /\/run\/k3s\/containerd\//);
});
