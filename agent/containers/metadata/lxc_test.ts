import assert from "node:assert/strict";
import { parseIncusBackupYaml, parseLxcConfig, readYamlMappings } from "./lxc.ts";
import { lookupMetadata, MetadataError, MetadataParseError } from "./mod.ts";
import { fixtureOptions, FIXTURES } from "./_testing.ts";

Deno.test("parseLxcConfig() reads uts name, rootfs, env, mounts and the download template's distribution", async () => {
  const c = parseLxcConfig(await Deno.readTextFile(`${FIXTURES}/lxc/var/lib/lxc/web/config`));
  assert.equal(c.utsName, "web");
  assert.equal(c.rootfsPath, "dir:/var/lib/lxc/web/rootfs");
  assert.deepEqual(c.env, { APP_ENV: "prod" });
  assert.deepEqual(c.mounts, [{ destination: "/srv/www", source: "/srv/www", type: "none" }]);
  assert.equal(c.template, "/usr/share/lxc/templates/lxc-download");
  assert.equal(c.dist, "debian");
  assert.equal(c.release, "bookworm");
  assert.ok(c.entries.some(([k, v]) => k === "lxc.net.0.link" && v === "lxcbr0"));
});

Deno.test("parseLxcConfig() reads LXC 2 key names and rejects lines without '='", () => {
  const c = parseLxcConfig("lxc.utsname = old\nlxc.rootfs = /var/lib/lxc/old/rootfs\n");
  assert.equal(c.utsName, "old");
  assert.equal(c.rootfsPath, "/var/lib/lxc/old/rootfs");
  assert.throws(() => parseLxcConfig("lxc.uts.name = a\ngarbage\n"), MetadataParseError);
  assert.throws(() => parseLxcConfig("# only comments\n"), MetadataParseError);
  assert.throws(() => parseLxcConfig("foo = bar\n"), MetadataParseError);
});

Deno.test("readYamlMappings() reads nested maps, quoted scalars and skips sequences and block scalars", () => {
  const m = readYamlMappings(
    [
      "a:",
      "  b: 'it''s'",
      '  c: "x\\ty"',
      "  list:",
      "  - one",
      "  - k: v",
      "    deep: 1",
      "  d: plain # comment",
      "  text: |",
      "    e: not a key",
      "  f: {}",
      "top: 1",
    ].join("\n"),
  );
  const get = (...p: string[]) => m.get(p.join("\u0000"));
  assert.equal(get("a", "b"), "it's");
  assert.equal(get("a", "c"), "x\ty");
  assert.equal(get("a", "d"), "plain");
  assert.equal(get("a", "text", "e"), undefined);
  assert.equal(get("a", "k"), undefined);
  assert.equal(get("a", "f"), undefined);
  assert.equal(get("top"), "1");
  assert.throws(() => readYamlMappings("a:\n\tb: 1\n"), MetadataParseError);
});

Deno.test("parseIncusBackupYaml() reads config, devices, name and project", async () => {
  const b = parseIncusBackupYaml(
    await Deno.readTextFile(`${FIXTURES}/lxc/var/lib/incus/containers/db/backup.yaml`),
  );
  assert.equal(b.name, "db");
  assert.equal(b.project, "default");
  assert.equal(b.type, "container");
  assert.equal(b.config["image.os"], "Debian");
  assert.equal(b.config["image.serial"], "20240514_05:24");
  assert.equal(b.config["user.tier"], "db");
  assert.deepEqual(b.devices, {
    pgdata: { path: "/var/lib/postgresql", source: "/srv/pgdata", type: "disk" },
  });
  assert.throws(() => parseIncusBackupYaml("pool:\n  name: default\n"), MetadataParseError);
});

Deno.test("lookupMetadata('lxc') reads an LXC container made by the download template", async () => {
  const md = await lookupMetadata("lxc", "web", fixtureOptions("lxc"));
  assert.equal(md.name, "web");
  assert.equal(md.image, "debian/bookworm");
  assert.deepEqual(md.labels, {});
  assert.deepEqual(md.env, { APP_ENV: "prod" });
  assert.deepEqual(md.sources, [`${FIXTURES}/lxc/var/lib/lxc/web/config`]);
});

Deno.test("lookupMetadata('lxc') reads an Incus instance: user.* labels, image, environment.*, disk devices", async () => {
  const md = await lookupMetadata("lxc", "db", fixtureOptions("lxc"));
  assert.equal(md.image, "debian/bookworm");
  assert.deepEqual(md.labels, { "user.team": "data", "user.tier": "db" });
  assert.deepEqual(md.env, { PGDATA: "/var/lib/postgresql/16/main" });
  assert.deepEqual(md.mounts, [{
    destination: "/var/lib/postgresql",
    source: "/srv/pgdata",
    type: "disk",
  }]);
});

Deno.test("lookupMetadata('lxc') reads an Incus instance of a project (<project>_<name>)", async () => {
  const md = await lookupMetadata("lxc", "shop_cache", fixtureOptions("lxc"));
  assert.equal(md.name, "shop_cache");
  assert.equal(md.image, "alpine/3.19");
  assert.deepEqual(md.labels, { "user.app": "cache" });
});

Deno.test("lookupMetadata('lxc') rejects an unknown name with not_found naming the LXC config", async () => {
  await assert.rejects(
    lookupMetadata("lxc", "nope", fixtureOptions("lxc")),
    (e: unknown) =>
      e instanceof MetadataError && e.reason === "not_found" &&
      e.file === `${FIXTURES}/lxc/var/lib/lxc/nope/config`,
  );
});
