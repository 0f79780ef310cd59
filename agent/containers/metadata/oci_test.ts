import assert from "node:assert/strict";
import { parseOciConfig } from "./oci.ts";
import { FIXTURES, IDS } from "./_testing.ts";
import { MetadataParseError } from "./types.ts";

const RECORDED =
  `${FIXTURES}/podman/var/lib/containers/storage/overlay-containers/${IDS.podmanRecorded}/userdata/config.json`;

Deno.test("parseOciConfig() reads env, mounts, annotations and cgroupsPath of a recorded Podman spec", async () => {
  const spec = parseOciConfig(await Deno.readTextFile(RECORDED));
  assert.equal(spec.ociVersion, "1.0.2-dev");
  assert.deepEqual(spec.args, [
    "sh",
    "-c",
    "echo hello from osprey; echo oops >&2; exec sleep 300",
  ]);
  assert.equal(spec.env.container, "podman");
  assert.equal(spec.env.PATH, "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
  assert.equal(spec.hostname, IDS.podmanRecorded.slice(0, 12));
  assert.equal(spec.cgroupsPath, `/libpod_parent/libpod-${IDS.podmanRecorded}`);
  assert.equal(spec.annotations["io.container.manager"], "libpod");
  const shm = spec.mounts.find((m) => m.destination === "/dev/shm");
  assert.equal(shm?.type, "bind");
  assert.match(shm?.source ?? "", /overlay-containers\/[0-9a-f]{64}\/userdata\/shm$/);
});

Deno.test("parseOciConfig() splits env at the first '=' and lets later entries win", () => {
  const spec = parseOciConfig(
    JSON.stringify({ process: { env: ["A=1=2", "B", "=x", "A=3", 7] } }),
  );
  assert.deepEqual(spec.env, { A: "3", B: "" });
});

Deno.test("parseOciConfig() keeps a '__proto__' annotation as an own key", () => {
  const spec = parseOciConfig('{"annotations":{"__proto__":"x","a":"b"}}');
  assert.equal(Object.getPrototypeOf(spec.annotations), Object.prototype);
  assert.equal(Object.hasOwn(spec.annotations, "__proto__"), true);
  assert.equal(spec.annotations.a, "b");
});

Deno.test("parseOciConfig() skips mounts without a destination and fields of the wrong type", () => {
  const spec = parseOciConfig(
    JSON.stringify({
      ociVersion: 1,
      mounts: [{ source: "/x" }, null, { destination: "/d", source: 5 }],
      annotations: { a: 1, b: "2" },
      linux: { cgroupsPath: [] },
    }),
  );
  assert.deepEqual(spec.mounts, [{ destination: "/d", source: "" }]);
  assert.deepEqual(spec.annotations, { b: "2" });
  assert.equal(spec.ociVersion, undefined);
  assert.equal(spec.cgroupsPath, undefined);
});

Deno.test("parseOciConfig() rejects text that is not a spec", () => {
  for (const text of ["", "{", "[]", "null", '"x"', '{"foo":1}', "\u0000\u0001"]) {
    assert.throws(() => parseOciConfig(text), MetadataParseError, text);
  }
});
