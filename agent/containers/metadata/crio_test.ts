import assert from "node:assert/strict";
import { parseCriOAnnotations } from "./crio.ts";
import { lookupMetadata, MetadataError, MetadataParseError } from "./mod.ts";
import { copyFixture, fixtureOptions, FIXTURES, IDS, MISSING_ID } from "./_testing.ts";
import { hostPaths } from "../../paths.ts";

const UID = "7c8d9e0f-1a2b-4c3d-8e4f-5a6b7c8d9e0f";
const STORAGE = `${FIXTURES}/crio/var/lib/containers/storage/overlay-containers`;

Deno.test("parseCriOAnnotations() reads Labels, Metadata, ImageName, LogPath and Volumes", async () => {
  const spec = JSON.parse(
    await Deno.readTextFile(`${STORAGE}/${IDS.crioApi}/userdata/config.json`),
  );
  const info = parseCriOAnnotations(spec.annotations);
  assert.equal(info.containerType, "container");
  assert.equal(info.containerName, "api");
  assert.equal(info.podName, "api-0");
  assert.equal(info.podNamespace, "payments");
  assert.equal(info.podUid, UID);
  assert.equal(info.image, "quay.io/acme/api:2.4.1");
  assert.equal(info.criName, `k8s_api_api-0_payments_${UID}_2`);
  assert.equal(info.logPath, `/var/log/pods/payments_api-0_${UID}/api/2.log`);
  assert.equal(info.kubeAnnotations["io.kubernetes.container.restartCount"], "2");
  assert.deepEqual(info.volumes.map((v) => v.destination), ["/etc/hosts", "/var/lib/api"]);
});

Deno.test("parseCriOAnnotations() takes the sandbox's pod name from KubeName and Metadata", () => {
  const info = parseCriOAnnotations({
    "io.kubernetes.cri-o.ContainerType": "sandbox",
    "io.kubernetes.cri-o.KubeName": "api-0",
    "io.kubernetes.cri-o.Namespace": "payments",
    "io.kubernetes.cri-o.Metadata": `{"name":"api-0","uid":"${UID}","namespace":"payments"}`,
  });
  assert.equal(info.containerType, "sandbox");
  assert.equal(info.containerName, undefined);
  assert.equal(info.podName, "api-0");
  assert.equal(info.podUid, UID);
});

Deno.test("parseCriOAnnotations() rejects a Labels annotation that is not a JSON object", () => {
  assert.throws(
    () => parseCriOAnnotations({ "io.kubernetes.cri-o.Labels": '{"io.kubernetes' }),
    MetadataParseError,
  );
  assert.throws(
    () => parseCriOAnnotations({ "io.kubernetes.cri-o.Labels": "[1]" }),
    MetadataParseError,
  );
});

Deno.test("lookupMetadata('crio') gives the pod identity, image and the LogPath annotation", async () => {
  const md = await lookupMetadata("crio", IDS.crioApi, fixtureOptions("crio"));
  assert.equal(md.name, "api");
  assert.equal(md.image, "quay.io/acme/api:2.4.1");
  assert.deepEqual(md.labels, {
    "io.kubernetes.container.name": "api",
    "io.kubernetes.pod.name": "api-0",
    "io.kubernetes.pod.namespace": "payments",
    "io.kubernetes.pod.uid": UID,
  });
  assert.equal(md.logPath, `/var/log/pods/payments_api-0_${UID}/api/2.log`);
  assert.equal(md.logFormat, "cri");
  assert.match(await Deno.readTextFile(md.logFile!), /listening on :8080/);
  assert.equal(md.env?.API_MODE, "prod");
  assert.ok(md.mounts?.some((m) => m.destination === "/var/lib/api" && m.type === "bind"));
  assert.equal(md.createdAt, "2024-05-14T09:12:33.123456789Z");
});

Deno.test("lookupMetadata('crio') finds a sandbox under the run root", async () => {
  const md = await lookupMetadata("crio", IDS.crioSandbox, fixtureOptions("crio"));
  assert.equal(md.containerType, "sandbox");
  assert.equal(md.name, undefined);
  assert.equal(md.logPath, undefined);
  assert.equal(md.labels["io.kubernetes.pod.name"], "api-0");
  assert.equal(md.labels.app, "api");
  assert.match(md.sources[0]!, /\/run\/containers\/storage\/overlay-containers\//);
});

Deno.test("lookupMetadata('crio') falls back to the kubelet log dir when LogPath is absent", async () => {
  const md = await lookupMetadata("crio", IDS.crioSidecar, fixtureOptions("crio"));
  assert.equal(md.name, "envoy");
  assert.equal(md.image, "docker.io/envoyproxy/envoy:v1.30.1");
  assert.equal(md.logPath, `/var/log/pods/payments_api-0_${UID}/envoy/0.log`);
});

Deno.test("lookupMetadata('crio') rejects an unknown id with not_found", async () => {
  await assert.rejects(
    lookupMetadata("crio", MISSING_ID, fixtureOptions("crio")),
    (e: unknown) =>
      e instanceof MetadataError && e.reason === "not_found" &&
      e.file === `${STORAGE}/${MISSING_ID}/userdata/config.json`,
  );
});

Deno.test("lookupMetadata('crio') rejects a garbled Labels annotation as malformed, naming the spec", async () => {
  const root = await copyFixture("crio");
  try {
    const file =
      `${root}/var/lib/containers/storage/overlay-containers/${IDS.crioApi}/userdata/config.json`;
    const spec = JSON.parse(await Deno.readTextFile(file));
    spec.annotations["io.kubernetes.cri-o.Labels"] = "{not json";
    await Deno.writeTextFile(file, JSON.stringify(spec));
    const err = await lookupMetadata("crio", IDS.crioApi, { paths: hostPaths({ hostRoot: root }) })
      .then(() => undefined, (e: unknown) => e);
    assert.ok(err instanceof MetadataError);
    assert.equal(err.reason, "malformed");
    assert.equal(err.file, file);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
