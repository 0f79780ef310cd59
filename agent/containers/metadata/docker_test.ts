import assert from "node:assert/strict";
import { dockerLogFormat, parseDockerConfigV2, parseDockerHostConfig } from "./docker.ts";
import { lookupMetadata, MetadataError, MetadataParseError } from "./mod.ts";
import { copyFixture, fixtureOptions, FIXTURES, IDS, MISSING_ID } from "./_testing.ts";
import { hostPaths } from "../../paths.ts";

const DIR = `${FIXTURES}/docker/var/lib/docker/containers`;

Deno.test("parseDockerConfigV2() reads name without '/', image, labels, env, log path, state", async () => {
  const c = parseDockerConfigV2(await Deno.readTextFile(`${DIR}/${IDS.dockerWeb}/config.v2.json`));
  assert.equal(c.id, IDS.dockerWeb);
  assert.equal(c.name, "shop-web-1");
  assert.equal(c.image, "nginx:1.25-alpine");
  assert.match(c.imageId ?? "", /^sha256:[0-9a-f]{64}$/);
  assert.equal(c.labels["com.docker.compose.service"], "web");
  assert.equal(c.env.NGINX_VERSION, "1.25.4");
  assert.equal(c.logPath, `/var/lib/docker/containers/${IDS.dockerWeb}/${IDS.dockerWeb}-json.log`);
  assert.equal(c.running, true);
  assert.equal(c.pid, 2345);
  assert.deepEqual(c.mounts, [{
    destination: "/usr/share/nginx/html",
    source: "/srv/shop/html",
    type: "bind",
    rw: false,
  }]);
});

Deno.test("parseDockerConfigV2() rejects JSON that is not a container config", () => {
  for (const text of ["[]", "{}", '{"Foo":1}', "nope", ""]) {
    assert.throws(() => parseDockerConfigV2(text), MetadataParseError, text);
  }
  assert.equal(parseDockerConfigV2('{"Name":"/"}').name, undefined);
});

Deno.test("parseDockerHostConfig() reads the log driver", async () => {
  const h = parseDockerHostConfig(
    await Deno.readTextFile(`${DIR}/${IDS.dockerWeb}/hostconfig.json`),
  );
  assert.equal(h.logType, "json-file");
  assert.deepEqual(h.logConfig, { "max-file": "3", "max-size": "10m" });
  assert.deepEqual(h.binds, ["/srv/shop/html:/usr/share/nginx/html:ro"]);
});

Deno.test("dockerLogFormat() maps drivers Osprey can read", () => {
  assert.equal(dockerLogFormat("json-file", "/x"), "docker-json");
  assert.equal(dockerLogFormat("journald", undefined), "journald");
  assert.equal(dockerLogFormat("local", "/x/local-logs/container.log"), undefined);
  assert.equal(dockerLogFormat(undefined, "/x/id-json.log"), "docker-json");
  assert.equal(dockerLogFormat(undefined, undefined), undefined);
});

Deno.test("lookupMetadata('docker') gives a compose container's name, image, labels and json-file log", async () => {
  const md = await lookupMetadata("docker", IDS.dockerWeb, fixtureOptions("docker"));
  assert.equal(md.runtime, "docker");
  assert.equal(md.name, "shop-web-1");
  assert.equal(md.image, "nginx:1.25-alpine");
  assert.equal(md.labels["com.docker.compose.project"], "shop");
  assert.equal(md.logFormat, "docker-json");
  assert.equal(md.logPath, `/var/lib/docker/containers/${IDS.dockerWeb}/${IDS.dockerWeb}-json.log`);
  assert.equal(md.logFile, `${FIXTURES}/docker${md.logPath}`);
  const firstLine = (await Deno.readTextFile(md.logFile!)).split("\n")[0]!;
  assert.equal(JSON.parse(firstLine).stream, "stdout");
  assert.deepEqual(md.sources, [
    `${DIR}/${IDS.dockerWeb}/config.v2.json`,
    `${DIR}/${IDS.dockerWeb}/hostconfig.json`,
  ]);
  assert.equal(md.notes, undefined);
});

Deno.test("lookupMetadata('docker') gives a swarm task's labels and a journald log without a path", async () => {
  const md = await lookupMetadata("docker", IDS.dockerSwarm, fixtureOptions("docker"));
  assert.equal(md.labels["com.docker.swarm.task.name"], "acme_api.2.k3x9m2v8q1w7e5r4t6y8u0i2o");
  assert.equal(md.labels["com.docker.stack.namespace"], "acme");
  assert.equal(md.logFormat, "journald");
  assert.equal(md.logPath, undefined);
});

Deno.test("lookupMetadata('docker') resolves a named local volume and gives Nomad env; 'local' logs are noted", async () => {
  const md = await lookupMetadata("docker", IDS.dockerDb, fixtureOptions("docker"));
  assert.equal(md.name, "pg");
  assert.equal(md.env?.NOMAD_JOB_NAME, "pg");
  assert.equal(md.env?.NOMAD_ALLOC_ID, "5f3b1c2d-0e9f-4a8b-b7c6-d5e4f3a2b1c0");
  assert.deepEqual(md.mounts, [
    { destination: "/run/secrets", source: "/srv/pg/secrets", type: "bind" },
    {
      destination: "/var/lib/postgresql/data",
      source: "/var/lib/docker/volumes/pgdata/_data",
      type: "volume",
    },
  ]);
  assert.equal(md.logPath, undefined);
  assert.equal(md.logFormat, undefined);
  assert.deepEqual(md.notes, ['log driver "local" keeps no file Osprey can tail']);
});

Deno.test("lookupMetadata('docker') honours dockerRoot", async () => {
  const md = await lookupMetadata(
    "docker",
    IDS.dockerWeb,
    fixtureOptions("docker", { dockerRoot: "/var/lib/docker/" }),
  );
  assert.equal(md.name, "shop-web-1");
  await assert.rejects(
    lookupMetadata(
      "docker",
      IDS.dockerWeb,
      fixtureOptions("docker", { dockerRoot: "/srv/docker" }),
    ),
    (e: unknown) => e instanceof MetadataError && e.reason === "not_found",
  );
});

Deno.test("lookupMetadata('docker') falls back to dockerd's moby bundle when config.v2.json is gone", async () => {
  const md = await lookupMetadata("docker", IDS.mobyOnly, fixtureOptions("docker"));
  assert.equal(md.namespace, "moby");
  assert.equal(md.name, undefined);
  assert.equal(md.env?.REDIS_VERSION, "7.2.4");
  assert.ok(md.notes?.[0]?.includes("config.v2.json"));
});

Deno.test("lookupMetadata('docker') rejects a missing container with not_found and the config path", async () => {
  const err = await lookupMetadata("docker", MISSING_ID, fixtureOptions("docker")).then(
    () => assert.fail("resolved"),
    (e: unknown) => e,
  );
  assert.ok(err instanceof MetadataError);
  assert.equal(err.reason, "not_found");
  assert.equal(err.runtime, "docker");
  assert.equal(err.id, MISSING_ID);
  assert.equal(err.file, `${DIR}/${MISSING_ID}/config.v2.json`);
});

Deno.test("lookupMetadata('docker') rejects a truncated config.v2.json as malformed; a bad hostconfig.json is only noted", async () => {
  const root = await copyFixture("docker");
  try {
    const dir = `${root}/var/lib/docker/containers/${IDS.dockerWeb}`;
    await Deno.writeTextFile(`${dir}/hostconfig.json`, '{"LogConfig":');
    const md = await lookupMetadata("docker", IDS.dockerWeb, {
      paths: hostPaths({ hostRoot: root }),
    });
    assert.equal(md.logFormat, "docker-json"); // from the -json.log suffix
    assert.ok(md.notes?.some((n) => n.startsWith("hostconfig.json: Cannot parse")));
    const text = await Deno.readTextFile(`${dir}/config.v2.json`);
    await Deno.writeTextFile(`${dir}/config.v2.json`, text.slice(0, 100));
    const err = await lookupMetadata("docker", IDS.dockerWeb, {
      paths: hostPaths({ hostRoot: root }),
    })
      .then(() => undefined, (e: unknown) => e);
    assert.ok(err instanceof MetadataError);
    assert.equal(err.reason, "malformed");
    assert.equal(err.file, `${dir}/config.v2.json`);
    assert.ok(err.cause instanceof MetadataParseError);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
