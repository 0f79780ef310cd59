import { deepEqual, equal, ok, throws } from "node:assert/strict";
import { MetadataParseError } from "../metadata/types.ts";
import { parseInspect } from "./inspect.ts";
import { recorded, RECORDED_ID } from "./_mock.ts";

const LABELS = {
  "io.kubernetes.container.name": "app",
  "io.kubernetes.pod.name": "web-6d4cf56db6-x2x8p",
  "io.kubernetes.pod.namespace": "ns",
  team: "payments",
};
const CTR_LOG = `/var/lib/containers/storage/overlay-containers/${RECORDED_ID}/userdata/ctr.log`;

Deno.test("libpod inspect (recorded from Podman 4.3): name, image, labels, env, k8s-file log", () => {
  const c = parseInspect(JSON.stringify(recorded("libpod")), "libpod");
  equal(c.id, RECORDED_ID);
  equal(c.name, "osprey-api-web");
  equal(c.image, "localhost/osprey-test-busybox:test");
  deepEqual(c.labels, LABELS);
  equal(c.env?.HOME, "/root");
  equal(c.logDriver, "k8s-file");
  equal(c.logPath, CTR_LOG);
  equal(c.logFormat, "podman-k8s-file");
  equal(c.createdAt, "2026-11-27T09:09:49.391501321Z");
});

Deno.test("Docker-shaped inspect (Podman's compat API): leading / dropped, Config.Image, LogPath", () => {
  const c = parseInspect(JSON.stringify(recorded("compat")), "docker");
  equal(c.name, "osprey-api-web");
  equal(c.image, "localhost/osprey-test-busybox:test");
  deepEqual(c.labels, LABELS);
  // Podman's compat layer says json-file for its k8s-file log: why Podman is asked via libpod.
  equal(c.logDriver, "json-file");
  equal(c.logFormat, "docker-json");
  equal(c.logPath, CTR_LOG);
});

Deno.test("log drivers: journald has no file; local, none and unknown drivers give no log", () => {
  const doc = (type: string, flavor: "docker" | "libpod") => {
    const d = recorded(flavor === "docker" ? "compat" : "libpod");
    ((d.HostConfig as Record<string, unknown>).LogConfig as Record<string, unknown>).Type = type;
    return parseInspect(JSON.stringify(d), flavor);
  };
  for (const flavor of ["docker", "libpod"] as const) {
    const j = doc("journald", flavor);
    equal(j.logFormat, "journald");
    equal(j.logPath, undefined);
    for (const t of ["local", "none", "syslog", "passthrough"]) {
      const c = doc(t, flavor);
      equal(c.logFormat, undefined, `${flavor} ${t}`);
      equal(c.logPath, undefined, `${flavor} ${t}`);
    }
  }
  // libpod's json-file is k8s-file's alias; Docker's k8s-file does not exist.
  equal(doc("json-file", "libpod").logFormat, "podman-k8s-file");
  equal(doc("k8s-file", "docker").logFormat, undefined);
});

Deno.test("garbage: not JSON, not an object, no Id are parse errors", () => {
  for (const text of ["", "{", "<html>", "[]", "null", '"x"', "{}", '{"Id":7}', '{"Id":""}']) {
    throws(() => parseInspect(text, "docker"), MetadataParseError, text);
    throws(() => parseInspect(text, "libpod"), MetadataParseError, text);
  }
});

Deno.test("fields of the wrong type are left out; a __proto__ label stays a label", () => {
  const c = parseInspect(
    JSON.stringify({
      Id: "ab",
      Name: 5,
      ImageName: ["x"],
      Config: { Image: {}, Labels: { ok: "1", n: 2, __proto__x: "y" }, Env: "PATH=/" },
      HostConfig: { LogConfig: { Type: "k8s-file", Path: "relative/ctr.log" } },
    }),
    "libpod",
  );
  deepEqual(c, { id: "ab", labels: { ok: "1", __proto__x: "y" }, logDriver: "k8s-file" });
  const p = parseInspect('{"Id":"ab","Config":{"Labels":{"__proto__":"evil"}}}', "docker");
  ok(Object.hasOwn(p.labels, "__proto__"));
  equal(p.labels["__proto__"], "evil");
  equal(Object.getPrototypeOf(p.labels), Object.prototype);
  deepEqual(parseInspect('{"Id":"ab","Config":null,"HostConfig":7}', "docker"), {
    id: "ab",
    labels: {},
  });
});
