import { deepEqual, equal, ok, rejects, throws } from "node:assert/strict";
import { CollectorScheduler } from "../../collector.ts";
import { FlagError, parseFlags } from "../../flags.ts";
import { createLogger, silentLogger } from "../../log.ts";
import { Registry } from "../../metrics/mod.ts";
import { FakeHost, FIXTURES, harness, podmanCgroup, T0 } from "../_testing.ts";
import type { ContainerMetadata, ContainerRuntime } from "../metadata/types.ts";
import { MetadataError } from "../metadata/types.ts";
import { CONTAINERS_FLAGS, containersModule } from "../mod.ts";
import { json, libpodAnswer, missingSocket, mockApi, notFound } from "./_mock.ts";
import {
  configuredSockets,
  RUNTIME_API_FLAGS,
  RuntimeApi,
  RuntimeApiFamilies,
  runtimeApiNeeds,
  socketNeeds,
} from "./mod.ts";

const ID = "c".repeat(64);
const POD_LABELS = {
  "io.kubernetes.pod.namespace": "ns",
  "io.kubernetes.pod.name": "web-6d4cf56db6-x2x8p",
  "io.kubernetes.container.name": "app",
};
const flags = (args: string[]) => parseFlags(RUNTIME_API_FLAGS, args, () => undefined).values;

Deno.test("flags: off by default, env twins, absolute paths only", () => {
  deepEqual(RUNTIME_API_FLAGS.map((f) => [f.name, f.env]), [
    ["docker-socket", "DOCKER_SOCKET"],
    ["podman-socket", "PODMAN_SOCKET"],
  ]);
  equal(configuredSockets(flags([])).size, 0);
  deepEqual(runtimeApiNeeds(flags([])), []);
  const env = parseFlags(
    RUNTIME_API_FLAGS,
    [],
    (k) => k === "PODMAN_SOCKET" ? "/run/podman/podman.sock" : undefined,
  ).values;
  deepEqual([...configuredSockets(env)], [["podman", "/run/podman/podman.sock"]]);
  deepEqual(
    [...configuredSockets(flags(["--docker-socket=/host/run/docker.sock", "--podman-socket=/p"]))],
    [["docker", "/host/run/docker.sock"], ["podman", "/p"]],
  );
  throws(() => configuredSockets(flags(["--docker-socket=run/docker.sock"])), FlagError);
});

Deno.test("permissions: net on unix:<path> and the placeholder host, read and write on the path", () => {
  const needs = socketNeeds("/run/podman/podman.sock");
  deepEqual(needs.map((n) => n.descriptor), [
    { name: "net", host: "unix:/run/podman/podman.sock" },
    { name: "net", host: "d:80" },
    { name: "read", path: "/run/podman/podman.sock" },
    { name: "write", path: "/run/podman/podman.sock" },
  ]);
  deepEqual([...new Set(needs.map((n) => n.flag))], [
    "--allow-net=unix:/run/podman/podman.sock,d",
    "--allow-read=/run/podman/podman.sock",
    "--allow-write=/run/podman/podman.sock",
  ]);
});

/** A RuntimeApi on one podman socket with its metrics and log lines. */
function apiOn(socket: string, runtime: "podman" | "docker" = "podman") {
  const metrics = new Registry();
  const lines: string[] = [];
  const { log } = createLogger({ write: (l) => lines.push(l), level: "debug", burst: 1000 });
  const api = new RuntimeApi({
    sockets: new Map([[runtime, socket]]),
    root: "/host",
    log,
    families: new RuntimeApiFamilies(metrics),
    timeoutMs: 300,
  });
  const text = () => new TextDecoder().decode(metrics.encode("text"));
  return { api, lines, text };
}

function filesMd(md: Partial<ContainerMetadata> = {}) {
  let calls = 0;
  const fn = (): Promise<ContainerMetadata> => {
    calls++;
    return Promise.resolve({ runtime: "podman", id: ID, labels: {}, sources: ["f"], ...md });
  };
  return { fn, calls: () => calls };
}

function filesFail(reason: MetadataError["reason"]) {
  return () => Promise.reject(new MetadataError("podman", ID, reason, `files: ${reason}`));
}

Deno.test("lookup: files without labels are completed by the API; files with everything are not", async () => {
  const srv = mockApi(() => json(libpodAnswer(ID, { name: "api-name", labels: POD_LABELS })));
  const { api } = apiOn(srv.path);
  try {
    const partial = filesMd({ name: "web", image: "localhost/x:1", logPath: "/l" });
    const md = await api.lookup("podman", ID, partial.fn);
    equal(md.name, "web", "the files' name wins");
    deepEqual(md.labels, POD_LABELS);
    ok(md.sources.includes(`podman API ${srv.path}`));
    const full = filesMd({ name: "web", image: "i", labels: { a: "b" }, logPath: "/l" });
    const same = await api.lookup("podman", "d".repeat(64), full.fn);
    deepEqual(same.labels, { a: "b" });
    equal(srv.requests.length, 1, "complete files: the API is not asked");
  } finally {
    api.close();
    await srv.close();
  }
});

Deno.test("lookup: files not found, API knows it → the API's metadata; API 404 → the files' error", async () => {
  const srv = mockApi((req) =>
    req.url.includes(ID) ? json(libpodAnswer(ID, { labels: POD_LABELS })) : notFound("x")
  );
  const { api, text } = apiOn(srv.path);
  try {
    const md = await api.lookup("podman", ID, filesFail("not_found"));
    equal(md.name, "osprey-api-web");
    equal(md.logFormat, "podman-k8s-file");
    ok(md.logFile?.startsWith("/host/var/lib/containers/storage/"));
    ok(md.notes?.includes("files: files: not_found"), md.notes?.join("\n"));
    const other = "e".repeat(64);
    await rejects(
      api.lookup(
        "podman",
        other,
        () => Promise.reject(new MetadataError("podman", other, "not_found", "no file")),
      ),
      (e) => e instanceof MetadataError && e.reason === "not_found" && e.message === "no file",
    );
    ok(
      text().includes(
        'osprey_container_runtime_api_errors_total{runtime="podman",reason="not_found"} 1',
      ),
    );
    // unsupported ids never reach the API
    await rejects(api.lookup("podman", ID, filesFail("unsupported")), MetadataError);
    equal(srv.requests.length, 2);
  } finally {
    api.close();
    await srv.close();
  }
});

Deno.test("lookup: only docker and podman containers are asked, each its own socket", async () => {
  const srv = mockApi(() => json(libpodAnswer(ID)));
  const { api } = apiOn(srv.path, "docker");
  try {
    for (const rt of ["podman", "containerd", "crio", "lxc"] as ContainerRuntime[]) {
      const f = filesMd();
      await api.lookup(rt, ID, f.fn);
      equal(f.calls(), 1);
    }
    equal(srv.requests.length, 0);
  } finally {
    api.close();
    await srv.close();
  }
});

Deno.test("lookup: a missing socket leaves the files' metadata, counted, warned once, up=0", async () => {
  const gone = missingSocket();
  const { api, lines, text } = apiOn(gone.path);
  try {
    for (let i = 0; i < 20; i++) {
      const md = await api.lookup(
        "podman",
        i.toString(16).padStart(64, "0"),
        filesMd({ name: "n" }).fn,
      );
      equal(md.name, "n");
      ok(md.notes?.some((n) => n.includes("unavailable")), md.notes?.join());
    }
    await rejects(api.lookup("podman", ID, filesFail("not_found")), MetadataError);
    const t = text();
    ok(
      t.includes(
        'osprey_container_runtime_api_errors_total{runtime="podman",reason="socket_missing"} 1',
      ),
      t,
    );
    ok(t.includes('osprey_container_runtime_api_up{runtime="podman"} 0'), t);
    const warned = lines.filter((l) => l.includes("does not answer"));
    equal(warned.length, 1, lines.join("\n"));
    ok(warned[0].includes("socket_missing") && warned[0].includes(gone.path), warned[0]);
  } finally {
    api.close();
    gone.cleanup();
  }
});

Deno.test("lookup: a timeout is counted and the files' metadata used", async () => {
  const srv = mockApi(async () => {
    await new Promise((r) => setTimeout(r, 800));
    return json(libpodAnswer(ID));
  });
  const { api, text } = apiOn(srv.path);
  try {
    const t0 = performance.now();
    const md = await api.lookup("podman", ID, filesMd({ name: "n" }).fn);
    ok(performance.now() - t0 < 700);
    equal(md.name, "n");
    deepEqual(md.labels, {});
    ok(
      text().includes(
        'osprey_container_runtime_api_errors_total{runtime="podman",reason="timeout"} 1',
      ),
    );
  } finally {
    api.close();
    await new Promise((r) => setTimeout(r, 900));
    await srv.close();
  }
});

Deno.test("registry: the API's pod labels make a Podman container /k8s/<ns>/<pod>/<container>", async () => {
  const srv = mockApi(() =>
    json(libpodAnswer(ID, { labels: { ...POD_LABELS, team: "payments" } }))
  );
  const { api } = apiOn(srv.path);
  const files = (rt: ContainerRuntime, id: string) =>
    Promise.resolve<ContainerMetadata>({
      runtime: rt,
      id,
      name: "web",
      image: "i",
      labels: {},
      sources: [],
    });
  const h = harness({ lookupMetadata: (rt, id) => api.lookup(rt, id, () => files(rt, id)) });
  try {
    h.host.spawn(100, { cgroup: podmanCgroup(ID), startMs: T0 });
    h.reg.scan();
    await h.reg.settled();
    h.reg.refresh();
    const info = h.samples("container_info");
    equal(info.length, 1, h.text());
    equal(info[0].labels.container_id, "/k8s/ns/web-6d4cf56db6-x2x8p/app");
    equal(info[0].labels.app_id, "/k8s/ns/web");
  } finally {
    h.close();
    api.close();
    await srv.close();
  }
});

function moduleContext(host: FakeHost, args: string[]) {
  const registry = new Registry();
  const scheduler = new CollectorScheduler(registry, silentLogger, {
    intervalMs: 60_000,
    timeoutMs: 5000,
  });
  const lines: string[] = [];
  const { log } = createLogger({ write: (l) => lines.push(l), level: "debug", burst: 1000 });
  const ctx = {
    flags: parseFlags(CONTAINERS_FLAGS, args, () => undefined).values,
    paths: host.paths,
    registry,
    scheduler,
    log,
    signal: new AbortController().signal,
  };
  return { ctx, registry, scheduler, lines };
}

async function poll<T>(what: string, fn: () => T | undefined, ms = 5000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = fn();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

Deno.test("module: --podman-socket granted → container identified from the API; client closed on stop", async () => {
  const srv = mockApi(() => json(libpodAnswer(ID, { name: "api-web", labels: POD_LABELS })));
  const host = FakeHost.create({ cgroupfsRoot: `${FIXTURES}/cgroups/fs/hybrid` });
  const { ctx, registry, scheduler, lines } = moduleContext(host, [
    "--min-container-age=0",
    `--podman-socket=${srv.path}`,
  ]);
  try {
    host.spawn(1, { cgroup: "/init.scope", startMs: T0 - 100_000 });
    host.spawn(200, { cgroup: podmanCgroup(ID), startMs: T0 - 50_000 });
    const inst = await containersModule.start(ctx);
    const text = () => new TextDecoder().decode(registry.encode("text"));
    const line = await poll(
      "container_info from the API",
      () => text().split("\n").find((l) => l.startsWith("container_info{")),
    );
    ok(line.includes('container_id="/k8s/ns/web-6d4cf56db6-x2x8p/app"'), line);
    ok(line.includes('image="localhost/osprey-test-busybox:test"'), line);
    ok(lines.some((l) => l.includes(`podman:${srv.path}`)), "start-up log names the socket");
    await inst.stop();
    equal(srv.requests.length, 1);
  } finally {
    scheduler.stop();
    host.cleanup();
    await srv.close();
  }
});

Deno.test({
  name: "module: a socket not granted is reported once with the flags to add; files only",
  permissions: { read: true, write: ["/tmp"], env: true, sys: true, net: ["127.0.0.1"] },
  async fn() {
    const host = FakeHost.create({ cgroupfsRoot: `${FIXTURES}/cgroups/fs/hybrid` });
    const sock = "/run/osprey-test/podman.sock";
    const { ctx, scheduler, lines } = moduleContext(host, [`--podman-socket=${sock}`]);
    try {
      const inst = await containersModule.start(ctx);
      const warn = lines.filter((l) => l.includes("optional permissions missing"));
      equal(warn.length, 1, lines.join("\n"));
      // read is granted here (all of it is); net on the socket and write are not
      for (const f of [`--allow-net=unix:${sock},d`, `--allow-write=${sock}`]) {
        ok(warn[0].includes(f), `${f} in ${warn[0]}`);
      }
      ok(!warn[0].includes(`--allow-read=${sock}`), warn[0]);
      equal(warn[0].split(`--allow-net=unix:${sock},d`).length, 2, "the net flag once");
      ok(lines.some((l) => l.includes("runtime_api=off")), lines.join("\n"));
      await inst.stop();
    } finally {
      scheduler.stop();
      host.cleanup();
    }
  },
});
