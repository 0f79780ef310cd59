import { deepEqual, equal, ok } from "node:assert/strict";
import { containerIdentity } from "../container_id.ts";
import type { ContainerMetadata } from "../metadata/types.ts";
import type { ApiContainer } from "./inspect.ts";
import { mergeApi, needsApi } from "./merge.ts";

const ID = "a".repeat(64);
const API: ApiContainer = {
  id: ID,
  name: "from-api",
  image: "docker.io/library/api:1",
  labels: { "io.kubernetes.pod.namespace": "ns", team: "payments" },
  env: { A: "1" },
  logPath: "/var/lib/containers/storage/overlay-containers/x/userdata/ctr.log",
  logFormat: "podman-k8s-file",
  createdAt: "2026-11-27T09:00:00Z",
};
const OPTS = { runtime: "podman" as const, id: ID, root: "/host", source: "podman API /s" };

function files(md: Partial<ContainerMetadata> = {}): ContainerMetadata {
  return { runtime: "podman", id: ID, labels: {}, sources: ["/f/containers.json"], ...md };
}

Deno.test("needsApi: asked only for what the files left out", () => {
  const full = files({ name: "n", image: "i", labels: { a: "b" }, logPath: "/l" });
  equal(needsApi(full), false);
  equal(needsApi(undefined), true);
  equal(needsApi({ ...full, name: undefined }), true);
  equal(needsApi({ ...full, image: undefined }), true);
  equal(needsApi({ ...full, labels: {} }), true);
  equal(needsApi({ ...full, logPath: undefined }), true);
  equal(needsApi({ ...full, logPath: undefined, logFormat: "journald" }), false);
});

Deno.test("files first: the files' name, image, labels, env and log stay; the API fills gaps", () => {
  const f = files({
    name: "from-files",
    image: "localhost/files:1",
    labels: { team: "files-team" },
    env: { B: "2" },
    logPath: "/files/ctr.log",
    logFile: "/host/files/ctr.log",
    logFormat: "podman-k8s-file",
    createdAt: "2026-01-01T00:00:00Z",
    notes: ["no event in the events log"],
  });
  const { md, filled } = mergeApi(f, API, OPTS);
  equal(md.name, "from-files");
  equal(md.image, "localhost/files:1");
  deepEqual(md.labels, { team: "files-team", "io.kubernetes.pod.namespace": "ns" });
  deepEqual(md.env, { B: "2" });
  equal(md.logPath, "/files/ctr.log");
  equal(md.createdAt, "2026-01-01T00:00:00Z");
  deepEqual(filled, ["labels"]);
  deepEqual(md.sources, ["/f/containers.json", "podman API /s"]);
  deepEqual(md.notes, ["no event in the events log", "filled from the podman API /s: labels"]);
  // the files' object is not changed
  deepEqual(f.labels, { team: "files-team" });
  deepEqual(f.sources, ["/f/containers.json"]);
});

Deno.test("the API fills every gap, with the log file under the host root", () => {
  const { md, filled } = mergeApi(files(), API, OPTS);
  deepEqual(filled, ["name", "image", "labels", "env", "log", "created"]);
  equal(md.name, "from-api");
  equal(md.logFile, "/host/var/lib/containers/storage/overlay-containers/x/userdata/ctr.log");
  equal(md.logFormat, "podman-k8s-file");
});

Deno.test("a journald log from the files is kept (no path is not a gap)", () => {
  const { md, filled } = mergeApi(
    files({ name: "n", image: "i", logFormat: "journald" }),
    API,
    OPTS,
  );
  equal(md.logFormat, "journald");
  equal(md.logPath, undefined);
  ok(!filled.includes("log"));
});

Deno.test("no files: metadata from the API alone, the files' error kept as a note", () => {
  const { md } = mergeApi(undefined, API, { ...OPTS, filesError: "No Podman container" });
  equal(md.runtime, "podman");
  equal(md.id, ID);
  equal(md.name, "from-api");
  deepEqual(md.sources, ["podman API /s"]);
  deepEqual(md.notes, [
    "files: No Podman container",
    "filled from the podman API /s: name, image, labels, env, log, created",
  ]);
});

Deno.test("an answer that adds nothing says so", () => {
  const f = files({ name: "n", image: "i", labels: { a: "b" } });
  const { md, filled } = mergeApi(f, { id: ID, labels: { a: "api" } }, OPTS);
  deepEqual(filled, []);
  deepEqual(md.labels, { a: "b" });
  deepEqual(md.notes, ["the podman API /s added nothing"]);
});

Deno.test("the API's pod labels give a Podman container its Kubernetes identity (§4.4)", () => {
  const cls = { kind: "container" as const, runtime: "podman", containerId: ID };
  const f = files({ name: "web", image: "i" });
  deepEqual(containerIdentity(cls, f), { id: "/podman/web", appId: "", source: "metadata" });
  const { md } = mergeApi(f, {
    id: ID,
    labels: {
      "io.kubernetes.pod.namespace": "ns",
      "io.kubernetes.pod.name": "web-6d4cf56db6-x2x8p",
      "io.kubernetes.container.name": "app",
    },
  }, OPTS);
  deepEqual(containerIdentity(cls, md), {
    id: "/k8s/ns/web-6d4cf56db6-x2x8p/app",
    appId: "/k8s/ns/web",
    source: "metadata",
  });
});
