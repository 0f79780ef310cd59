import assert from "node:assert/strict";
import {
  indexPodmanEvents,
  parseConmonCmdline,
  parsePodmanEvents,
  parseStorageContainersJson,
  parseStorageImagesJson,
} from "./podman.ts";
import { lookupMetadata, MetadataError, MetadataParseError } from "./mod.ts";
import { copyFixture, fixtureOptions, FIXTURES, IDS, MISSING_ID } from "./_testing.ts";
import { hostPaths } from "../../paths.ts";

const REC = `${FIXTURES}/podman`;
const STORAGE = `${REC}/var/lib/containers/storage`;
const IMAGE = "localhost/osprey-busybox:test";
const IMAGE_ID = "21472037871e58fcc29919259d3afb76d0ff7a31487613d8e55fefbb4e18c9a6";

Deno.test("parseStorageContainersJson() reads names and the metadata string of a recorded Podman 4.3 store", async () => {
  const list = parseStorageContainersJson(
    await Deno.readTextFile(`${STORAGE}/overlay-containers/containers.json`),
  );
  assert.equal(list.length, 1);
  const c = list[0]!;
  assert.equal(c.id, IDS.podmanRecorded);
  assert.deepEqual(c.names, ["osprey-meta-test"]);
  assert.equal(c.image, IMAGE_ID);
  assert.equal(c.metadata.name, "osprey-meta-test");
  assert.equal(c.metadata.imageName, IMAGE);
  assert.equal(c.metadata.imageId, IMAGE_ID);
  assert.equal(typeof c.metadata.createdAt, "number");
});

Deno.test("parseStorageContainersJson() skips entries without an id and keeps entries with bad metadata", () => {
  const list = parseStorageContainersJson(
    '[{"names":["x"]},7,{"id":"a","metadata":"{broken"},{"id":"b","metadata":"[]"}]',
  );
  assert.deepEqual(list, [
    { id: "a", names: [], metadata: {} },
    { id: "b", names: [], metadata: {} },
  ]);
  assert.throws(() => parseStorageContainersJson("{}"), MetadataParseError);
  assert.throws(() => parseStorageContainersJson("[{"), MetadataParseError);
});

Deno.test("parseStorageImagesJson() reads image names", async () => {
  const images = parseStorageImagesJson(
    await Deno.readTextFile(`${STORAGE}/overlay-images/images.json`),
  );
  assert.deepEqual(images.map((i) => [i.id, i.names]), [[IMAGE_ID, [IMAGE]]]);
});

Deno.test("parseConmonCmdline() reads id, name, bundle, log driver and the exit command's globals", async () => {
  const args = parseConmonCmdline(await Deno.readTextFile(`${REC}/proc/4242/cmdline`));
  assert.equal(args.containerId, IDS.podmanRecorded);
  assert.equal(args.name, "osprey-meta-test");
  assert.equal(
    args.bundle,
    `/var/lib/containers/storage/overlay-containers/${IDS.podmanRecorded}/userdata`,
  );
  assert.equal(args.logDriver, "k8s-file");
  assert.equal(
    args.logPath,
    `/var/lib/containers/storage/overlay-containers/${IDS.podmanRecorded}/userdata/ctr.log`,
  );
  assert.equal(args.tmpdir, "/run/libpod");
  assert.equal(args.eventsBackend, "file");
  assert.equal(args.root, "/var/lib/containers/storage");
  assert.equal(args.runroot, "/run/containers/storage");
});

Deno.test("parseConmonCmdline() reads journald, none, bare paths and --opt=value forms", () => {
  const c = (...a: string[]) => parseConmonCmdline(["/usr/libexec/podman/conmon", ...a].join("\0"));
  assert.deepEqual(
    [c("-l", "journald:").logDriver, c("-l", "journald:").logPath],
    ["journald", undefined],
  );
  assert.equal(c("-l", "none").logDriver, "none");
  assert.deepEqual([c("--log-path=/x/ctr.log").logDriver, c("--log-path=/x/ctr.log").logPath], [
    "k8s-file",
    "/x/ctr.log",
  ]);
  assert.equal(c("--name=web", "-n", "other").name, "web");
  assert.equal(c("-c").containerId, undefined);
  assert.throws(() => parseConmonCmdline("/bin/sleep\u0000300\u0000"), MetadataParseError);
  assert.throws(() => parseConmonCmdline(""), MetadataParseError);
});

Deno.test("parsePodmanEvents() takes labels from the container's latest event and skips torn lines", async () => {
  const text = await Deno.readTextFile(`${FIXTURES}/podman-variants/run/libpod/events/events.log`);
  const info = parsePodmanEvents(text, IDS.podmanStopped);
  assert.deepEqual(info.labels, { schedule: "nightly", team: "data" });
  assert.equal(info.name, "batch-job");
  assert.equal(info.image, "docker.io/library/alpine:3.19");
  assert.equal(info.events, 3);
  assert.deepEqual(parsePodmanEvents(text, MISSING_ID), { events: 0 });
});

Deno.test("indexPodmanEvents() indexes every container of the events log in one pass", async () => {
  const text = await Deno.readTextFile(`${FIXTURES}/podman-variants/run/libpod/events/events.log`);
  const index = indexPodmanEvents(text);
  assert.deepEqual([...index.keys()].sort(), [IDS.podmanStopped, IDS.podmanReused].sort());
  assert.deepEqual(index.get(IDS.podmanReused)?.labels, { tier: "x" });
});

Deno.test("lookupMetadata('podman') sees a container added to a containers.json it parsed before", async () => {
  const root = await copyFixture("podman");
  try {
    const paths = hostPaths({ hostRoot: root });
    const first = await lookupMetadata("podman", IDS.podmanRecorded, { paths });
    assert.equal(first.name, "osprey-meta-test");
    const file = `${root}/var/lib/containers/storage/overlay-containers/containers.json`;
    const list = JSON.parse(await Deno.readTextFile(file));
    const added = "a".repeat(64);
    list.push({ ...list[0], id: added, names: ["added"], metadata: '{"name":"added"}' });
    await Deno.writeTextFile(file, JSON.stringify(list));
    const md = await lookupMetadata("podman", added, { paths });
    assert.equal(md.name, "added");
    assert.equal(md.image, IMAGE); // through images.json
    assert.equal(new Set(md.sources).size, md.sources.length);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("lookupMetadata('podman') on the recorded store gives name, image, labels, env and k8s-file log", async () => {
  const md = await lookupMetadata("podman", IDS.podmanRecorded, fixtureOptions("podman"));
  assert.equal(md.name, "osprey-meta-test");
  assert.equal(md.image, IMAGE);
  assert.deepEqual(md.labels, { app: "demo" });
  assert.equal(md.env?.container, "podman");
  assert.equal(md.logFormat, "podman-k8s-file");
  assert.equal(
    md.logPath,
    `/var/lib/containers/storage/overlay-containers/${IDS.podmanRecorded}/userdata/ctr.log`,
  );
  assert.match(await Deno.readTextFile(md.logFile!), / stdout F hello from osprey\n/);
  assert.equal(md.annotations?.["io.container.manager"], "libpod");
  assert.deepEqual(md.sources.map((s) => s.slice(REC.length)), [
    "/var/lib/containers/storage/overlay-containers/containers.json",
    `/run/containers/storage/overlay-containers/${IDS.podmanRecorded}/userdata/conmon.pid`,
    "/proc/4242/cmdline",
    `/var/lib/containers/storage/overlay-containers/${IDS.podmanRecorded}/userdata/config.json`,
    "/run/libpod/events/events.log",
  ]);
  assert.equal(md.notes, undefined);
});

Deno.test("lookupMetadata('podman') without the events log still gives name and image, and says where labels are", async () => {
  const root = await copyFixture("podman");
  try {
    await Deno.remove(`${root}/run/libpod/events/events.log`);
    const md = await lookupMetadata("podman", IDS.podmanRecorded, {
      paths: hostPaths({ hostRoot: root }),
    });
    assert.equal(md.name, "osprey-meta-test");
    assert.equal(md.image, IMAGE);
    assert.deepEqual(md.labels, {});
    assert.ok(md.notes?.some((n) => n.includes("bolt_state.db")));
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("lookupMetadata('podman') on a stopped container resolves the image id through images.json and finds ctr.log", async () => {
  const md = await lookupMetadata("podman", IDS.podmanStopped, fixtureOptions("podman-variants"));
  assert.equal(md.name, "batch-job");
  assert.equal(md.image, "docker.io/library/alpine:3.19");
  assert.deepEqual(md.labels, { schedule: "nightly", team: "data" });
  assert.equal(md.logFormat, "podman-k8s-file");
  assert.match(md.logPath ?? "", /\/userdata\/ctr\.log$/);
  assert.ok(md.notes?.some((n) => n.startsWith("no conmon pid file")));
});

Deno.test("lookupMetadata('podman') ignores a conmon pid that now belongs to another container", async () => {
  const md = await lookupMetadata("podman", IDS.podmanReused, fixtureOptions("podman-variants"));
  assert.equal(md.name, "reused-pid");
  assert.equal(md.logPath, undefined);
  assert.ok(md.notes?.some((n) => n.includes("is conmon for another container")));
});

Deno.test("lookupMetadata('podman') names a --rootfs container from conmon when c/storage has no entry", async () => {
  const md = await lookupMetadata("podman", IDS.podmanRootfs, fixtureOptions("podman-variants"));
  assert.equal(md.name, "festive_wilbur");
  assert.equal(md.image, undefined);
  assert.equal(md.logPath, undefined);
  assert.ok(md.notes?.includes('log driver "none" keeps no file'));
});

Deno.test("lookupMetadata('podman') searches rootless stores given in podmanRoots", async () => {
  const root = "/home/alice/.local/share/containers/storage";
  await assert.rejects(
    lookupMetadata("podman", IDS.podmanRootless, fixtureOptions("podman-variants")),
    (e: unknown) => e instanceof MetadataError && e.reason === "not_found",
  );
  const md = await lookupMetadata(
    "podman",
    IDS.podmanRootless,
    fixtureOptions("podman-variants", { podmanRoots: [root] }),
  );
  assert.equal(md.name, "alice-web");
  assert.equal(md.image, "docker.io/library/caddy:2");
  assert.equal(md.logPath, `${root}/overlay-containers/${IDS.podmanRootless}/userdata/ctr.log`);
});

Deno.test({
  name:
    "lookupMetadata('podman') finds a rootless store's conmon and events under /run/user/<owner uid>",
  ignore: Deno.uid() !== 0,
  async fn() {
    const root = await copyFixture("podman-variants");
    try {
      const store = "/home/alice/.local/share/containers/storage";
      await Deno.chown(`${root}${store}`, 1000, 1000);
      const userdata = `overlay-containers/${IDS.podmanRootless}/userdata`;
      const runroot = `${root}/run/user/1000/containers/${userdata}`;
      await Deno.mkdir(runroot, { recursive: true });
      await Deno.writeTextFile(`${runroot}/conmon.pid`, "7171\n");
      await Deno.mkdir(`${root}/proc/7171`, { recursive: true });
      const cmdline = [
        "/usr/bin/conmon",
        "-c",
        IDS.podmanRootless,
        "-n",
        "alice-web",
        "-l",
        `k8s-file:${store}/${userdata}/ctr.log`,
        "--exit-command-arg",
        "--tmpdir",
        "--exit-command-arg",
        "/run/user/1000/libpod/tmp",
      ].join("\u0000");
      await Deno.writeTextFile(`${root}/proc/7171/cmdline`, cmdline + "\u0000");
      await Deno.mkdir(`${root}/run/user/1000/libpod/tmp/events`, { recursive: true });
      await Deno.writeTextFile(
        `${root}/run/user/1000/libpod/tmp/events/events.log`,
        JSON.stringify({
          ID: IDS.podmanRootless,
          Name: "alice-web",
          Status: "start",
          Type: "container",
          Attributes: { owner: "alice" },
        }) + "\n",
      );
      const md = await lookupMetadata("podman", IDS.podmanRootless, {
        paths: hostPaths({ hostRoot: root }),
        podmanRoots: [store],
      });
      assert.deepEqual(md.labels, { owner: "alice" });
      assert.equal(md.logPath, `${store}/${userdata}/ctr.log`);
      assert.ok(md.sources.some((s) => s.endsWith("/proc/7171/cmdline")));
    } finally {
      await Deno.remove(root, { recursive: true });
    }
  },
});

Deno.test("lookupMetadata('podman') reports a garbled containers.json as malformed when nothing else names the container", async () => {
  const root = await copyFixture("podman");
  try {
    const file = `${root}/var/lib/containers/storage/overlay-containers/containers.json`;
    await Deno.writeTextFile(file, '[{"id":"4d4d');
    await Deno.remove(
      `${root}/var/lib/containers/storage/overlay-containers/${IDS.podmanRecorded}`,
      {
        recursive: true,
      },
    );
    await Deno.remove(`${root}/run/containers/storage`, { recursive: true });
    const err = await lookupMetadata("podman", IDS.podmanRecorded, {
      paths: hostPaths({ hostRoot: root }),
    }).then(() => undefined, (e: unknown) => e);
    assert.ok(err instanceof MetadataError);
    assert.equal(err.reason, "malformed");
    assert.equal(err.file, file);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

// ---- live Podman -------------------------------------------------------------------------------

async function run(
  cmd: string,
  args: string[],
): Promise<{ ok: boolean; out: string; err: string }> {
  try {
    const o = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).output();
    const d = new TextDecoder();
    return { ok: o.success, out: d.decode(o.stdout).trim(), err: d.decode(o.stderr).trim() };
  } catch (e) {
    return { ok: false, out: "", err: String(e) };
  }
}

function canRunPodman(): boolean {
  if (Deno.uid() !== 0) return false;
  try {
    return Deno.statSync("/usr/bin/podman").isFile && Deno.statSync("/bin/busybox").isFile;
  } catch {
    return false;
  }
}

const LIVE_IMAGE = "localhost/osprey-busybox:test";
const PODMAN_FLAGS = ["--runtime", "runc", "--cgroup-manager", "cgroupfs"];

async function ensureImage(): Promise<void> {
  if ((await run("podman", ["image", "exists", LIVE_IMAGE])).ok) return;
  const dir = await Deno.makeTempDir({ prefix: "osprey-busybox-" });
  try {
    await Deno.mkdir(`${dir}/bin`);
    await Deno.copyFile("/bin/busybox", `${dir}/bin/busybox`);
    await Deno.chmod(`${dir}/bin/busybox`, 0o755);
    for (const applet of ["sh", "sleep", "cat", "echo", "ls"]) {
      await Deno.symlink("busybox", `${dir}/bin/${applet}`);
    }
    const r = await run("sh", ["-c", `tar -C '${dir}' -c . | podman import - ${LIVE_IMAGE}`]);
    if (!r.ok && !(await run("podman", ["image", "exists", LIVE_IMAGE])).ok) {
      throw new Error(`Cannot import ${LIVE_IMAGE}: ${r.err}`);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test({
  name: "lookupMetadata('podman') reads a live Podman 4.3 container's name, image, labels and log",
  ignore: !canRunPodman(),
  async fn() {
    await ensureImage();
    const name = `osprey-meta-test-${Deno.pid}`;
    const r = await run("podman", [
      ...PODMAN_FLAGS,
      "run",
      "-d",
      "--name",
      name,
      "--label",
      "app=demo",
      "--ulimit",
      "nofile=1024:1024",
      "--ulimit",
      "nproc=1024:1024",
      "-e",
      "NOMAD_TASK_NAME=web",
      LIVE_IMAGE,
      "sh",
      "-c",
      "echo hello from osprey; exec sleep 300",
    ]);
    assert.ok(r.ok, `podman run failed: ${r.err}`);
    const id = r.out.split("\n").pop()!;
    try {
      const md = await lookupMetadata("podman", id, { paths: hostPaths() });
      assert.equal(md.id, id);
      assert.equal(md.name, name);
      assert.equal(md.image, LIVE_IMAGE);
      assert.equal(md.env?.NOMAD_TASK_NAME, "web");
      const journald = md.notes?.some((n) => n.includes('events backend "journald"')) ?? false;
      if (!journald) assert.deepEqual(md.labels, { app: "demo" });
      assert.equal(md.logFormat, "podman-k8s-file");
      assert.equal(
        md.logPath,
        `/var/lib/containers/storage/overlay-containers/${id}/userdata/ctr.log`,
      );
      let log = "";
      for (let i = 0; i < 50 && !log.includes("hello from osprey"); i++) {
        log = await Deno.readTextFile(md.logFile!);
        if (!log.includes("hello from osprey")) await new Promise((r) => setTimeout(r, 100));
      }
      assert.match(log, / stdout F hello from osprey\n/);
      assert.ok(md.sources.some((s) => s.endsWith("/cmdline")), "conmon's cmdline was read");
    } finally {
      await run("podman", ["rm", "-f", "-t", "0", id]);
    }
  },
});
