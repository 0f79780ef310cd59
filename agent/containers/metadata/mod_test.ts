import assert from "node:assert/strict";
import { type ContainerRuntime, isValidContainerId, lookupMetadata, MetadataError } from "./mod.ts";
import { copyFixture, fixtureOptions, IDS } from "./_testing.ts";
import { hostPaths } from "../../paths.ts";

Deno.test("lookupMetadata() gives systemd and Talos containers their id and nothing else", async () => {
  for (
    const [runtime, id] of [["systemd", "/system.slice/nginx.service"], [
      "talos",
      "/talos/kubelet",
    ]] as const
  ) {
    const md = await lookupMetadata(runtime, id, fixtureOptions("docker"));
    assert.deepEqual(md, { runtime, id, labels: {}, sources: [] });
  }
});

Deno.test("lookupMetadata() rejects an unknown runtime as unsupported", async () => {
  await assert.rejects(
    lookupMetadata("rkt" as ContainerRuntime, IDS.dockerWeb, fixtureOptions("docker")),
    (e: unknown) => e instanceof MetadataError && e.reason === "unsupported",
  );
});

Deno.test("lookupMetadata() refuses ids that would leave the runtime's directory", async () => {
  for (
    const [runtime, id] of [
      ["docker", "../../../etc"],
      ["docker", ""],
      ["podman", "a/b"],
      ["containerd", ".hidden"],
      ["crio", "x\u0000y"],
      ["lxc", ".."],
      ["lxc", "a/../../b"],
      ["systemd", ""],
    ] as const
  ) {
    const err = await lookupMetadata(runtime, id, fixtureOptions("docker")).then(
      () => undefined,
      (e: unknown) => e,
    );
    assert.ok(err instanceof MetadataError, `${runtime} ${JSON.stringify(id)}`);
    assert.equal(err.reason, "unsupported");
  }
  assert.equal(isValidContainerId("lxc", "my container"), true);
  assert.equal(isValidContainerId("docker", IDS.dockerWeb), true);
});

Deno.test("lookupMetadata() reports a directory in place of a file as unreadable, with the file", async () => {
  const root = await copyFixture("docker");
  try {
    const file = `${root}/var/lib/docker/containers/${IDS.dockerWeb}/config.v2.json`;
    await Deno.remove(file);
    await Deno.mkdir(file);
    const err = await lookupMetadata("docker", IDS.dockerWeb, {
      paths: hostPaths({ hostRoot: root }),
    })
      .then(() => undefined, (e: unknown) => e);
    assert.ok(err instanceof MetadataError);
    assert.equal(err.reason, "unreadable");
    assert.equal(err.file, file);
    assert.match(err.message, /not a regular file/);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("lookupMetadata() does not block on a FIFO in place of a file", async () => {
  const root = await copyFixture("crio");
  try {
    const file =
      `${root}/var/lib/containers/storage/overlay-containers/${IDS.crioApi}/userdata/config.json`;
    await Deno.remove(file);
    const mk = await new Deno.Command("mkfifo", { args: [file] }).output();
    assert.ok(mk.success);
    await assert.rejects(
      lookupMetadata("crio", IDS.crioApi, { paths: hostPaths({ hostRoot: root }) }),
      (e: unknown) => e instanceof MetadataError && e.reason === "unreadable" && e.file === file,
    );
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("lookupMetadata() reports a file Deno may not read (--deny-read) as unreadable, with the file", async () => {
  const root = await copyFixture("docker");
  try {
    const file = `${root}/var/lib/docker/containers/${IDS.dockerWeb}/config.v2.json`;
    const script = `${root}/probe.ts`;
    await Deno.writeTextFile(
      script,
      [
        `import { lookupMetadata } from ${
          JSON.stringify(new URL("./mod.ts", import.meta.url).href)
        };`,
        `import { hostPaths } from ${
          JSON.stringify(new URL("../../paths.ts", import.meta.url).href)
        };`,
        `const paths = hostPaths({ hostRoot: ${JSON.stringify(root)} });`,
        `const r = await lookupMetadata("docker", ${JSON.stringify(IDS.dockerWeb)}, { paths })`,
        `  .then(() => ({}), (e) => ({ name: e.name, reason: e.reason, file: e.file }));`,
        `console.log(JSON.stringify(r));`,
      ].join("\n"),
    );
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--no-prompt", "--allow-read", `--deny-read=${file}`, script],
      env: { NO_COLOR: "1", DENO_NO_UPDATE_CHECK: "1" },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = new TextDecoder().decode(out.stdout).trim();
    assert.ok(out.success, new TextDecoder().decode(out.stderr));
    assert.deepEqual(JSON.parse(text), { name: "MetadataError", reason: "unreadable", file });
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("lookupMetadata() treats a missing host root as not_found for every file-based runtime", async () => {
  const paths = hostPaths({ hostRoot: "/nonexistent/osprey-host" });
  for (const runtime of ["docker", "containerd", "crio", "podman", "lxc"] as const) {
    await assert.rejects(
      lookupMetadata(runtime, IDS.dockerWeb, { paths }),
      (e: unknown) =>
        e instanceof MetadataError && e.reason === "not_found" && e.runtime === runtime,
      runtime,
    );
  }
});
