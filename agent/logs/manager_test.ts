import { deepStrictEqual as assertEquals, equal } from "node:assert/strict";
import type { ContainerDirectory, ContainerView } from "../containers/mod.ts";
import { SeriesOwner } from "../containers/mod.ts";
import { silentLogger } from "../log.ts";
import { Registry } from "../metrics/mod.ts";
import type { HostPaths } from "../paths.ts";
import { LogsManager, SourceStore, STDOUT_SOURCE } from "./manager.ts";
import { LogFamilies } from "./metrics.ts";

/** A container as the registry would show it, with a CRI log file and one process. */
function fakeView(id: string, logFile: string, pid: number): ContainerView {
  return {
    id,
    appId: "",
    visible: true,
    live: true,
    removed: false,
    series: new SeriesOwner(id, ""),
    dirs: undefined,
    anyPid: () => pid,
    forEachProcess: (fn) => fn(pid, 0),
    metadata: {
      runtime: "containerd",
      id: "0".repeat(64),
      labels: {},
      sources: [],
      logPath: logFile,
      logFile,
      logFormat: "cri",
    },
  };
}

function fakeDirectory(views: ContainerView[]): ContainerDirectory {
  return {
    lookupPid: (pid) => views.find((v) => v.anyPid() === pid),
    onContainerRemoved: () => () => {},
    containers: () => views.values(),
  };
}

const PATHS: HostPaths = {
  root: "/",
  proc: "/proc",
  sys: "/sys",
  cgroup: "/sys/fs/cgroup",
  fixture: false,
};

function criLines(from: number, to: number, word: string): string {
  let s = "";
  for (let i = from; i < to; i++) {
    s += `2026-11-30T09:00:00.000000000Z stdout F ${word} step ${i} done\n`;
  }
  return s;
}

/** Counts per level of the container's series in the registry's text. */
function counts(registry: Registry, id: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of new TextDecoder().decode(registry.encode("text")).split("\n")) {
    if (
      !line.startsWith("container_log_messages_total{") || !line.includes(`container_id="${id}"`)
    ) continue;
    const level = /level="([a-z]+)"/.exec(line)![1];
    out[level] = (out[level] ?? 0) + Number(line.slice(line.lastIndexOf(" ") + 1));
  }
  return out;
}

async function until(what: string, check: () => boolean): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (check()) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`timed out waiting for ${what}`);
}

Deno.test("LogsManager resumes each source where a stopped manager left it: no line lost or counted twice", async () => {
  const dir = await Deno.makeTempDir({ prefix: "osprey_manager_" });
  try {
    const log = `${dir}/0.log`;
    await Deno.writeTextFile(log, criLines(0, 5, "ERROR")); // before: not counted (the end)
    const view = fakeView("/k8s/ns/pod/app", log, 4242);
    const directory = fakeDirectory([view]);
    const registry = new Registry();
    const families = new LogFamilies(registry);
    const store = new SourceStore();
    const options = {
      paths: PATHS,
      families,
      log: silentLogger,
      store,
      parser: { jsonParsing: true, patternsPerLevel: 256, maxLabelLength: 4096 },
      pollIntervalMs: 10,
      readEnviron: () => new Uint8Array(),
    };
    const a = new LogsManager(options);
    a.sync(directory);
    a.start();
    equal(a.sourceCounts().stdout, 1);
    await new Promise((r) => setTimeout(r, 50)); // opened at the end
    await Deno.writeTextFile(log, criLines(5, 15, "ERROR"), { append: true });
    await until("10 errors", () => {
      a.write(directory);
      return counts(registry, view.id).error === 10;
    });
    await a.stop();

    // written while no manager runs, half a line at the end
    await Deno.writeTextFile(
      log,
      criLines(15, 20, "ERROR") + "2026-11-30T09:00:00Z stdout F WARN",
      {
        append: true,
      },
    );
    const b = new LogsManager(options);
    b.sync(directory);
    b.start();
    await Deno.writeTextFile(log, "ING half a line\n" + criLines(20, 25, "ERROR"), {
      append: true,
    });
    await until("20 errors and 1 warning", () => {
      b.write(directory);
      const c = counts(registry, view.id);
      return c.error === 20 && c.warning === 1;
    });
    await new Promise((r) => setTimeout(r, 1200)); // the multiline timeout passes
    b.write(directory);
    assertEquals(counts(registry, view.id), { error: 20, warning: 1 });
    await b.stop();
    equal(store.size, 1);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("LogsManager opens no source for a container whose process opted out", () => {
  const registry = new Registry();
  const view = fakeView("/k8s/ns/pod/quiet", "/nonexistent/0.log", 7);
  const m = new LogsManager({
    paths: PATHS,
    families: new LogFamilies(registry),
    log: silentLogger,
    store: new SourceStore(),
    parser: { jsonParsing: true, patternsPerLevel: 256, maxLabelLength: 4096 },
    readEnviron: () => new TextEncoder().encode("A=1\0COROOT_LOG_MONITORING=disabled\0"),
  });
  m.sync(fakeDirectory([view]));
  assertEquals(m.sourceCounts(), { stdout: 0, file: 0, journald: 0 });
  equal(STDOUT_SOURCE, "stdout/stderr");
});

Deno.test("LogsManager reads a container created after it started from its log's first line", async () => {
  const dir = await Deno.makeTempDir({ prefix: "osprey_manager_" });
  try {
    const log = `${dir}/0.log`;
    const view = fakeView("/k8s/ns/pod/new", log, 4343);
    (view.metadata as { createdAt?: string }).createdAt = new Date(Date.now() + 1000).toISOString();
    const old = fakeView("/k8s/ns/pod/old", `${dir}/old.log`, 4344);
    (old.metadata as { createdAt?: string }).createdAt = "2024-05-14T09:00:00.123456789Z";
    await Deno.writeTextFile(log, criLines(0, 3, "ERROR"));
    await Deno.writeTextFile(`${dir}/old.log`, criLines(0, 3, "ERROR"));
    const directory = fakeDirectory([view, old]);
    const registry = new Registry();
    const m = new LogsManager({
      paths: PATHS,
      families: new LogFamilies(registry),
      log: silentLogger,
      store: new SourceStore(),
      parser: { jsonParsing: true, patternsPerLevel: 256, maxLabelLength: 4096 },
      pollIntervalMs: 10,
      readEnviron: () => new Uint8Array(),
      clock: () => Date.now(),
    });
    m.sync(directory);
    m.start();
    await until("3 errors of the new container", () => {
      m.write(directory);
      return counts(registry, view.id).error === 3;
    });
    m.write(directory);
    assertEquals(counts(registry, old.id), {});
    await m.stop();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("LogsManager.sync asks once about each file whose container is still being looked up", () => {
  const registry = new Registry();
  const view = fakeView("/podman/fresh", "/nonexistent/0.log", 42);
  let lookups = 0;
  let answer: "pending" | "unknown" | ContainerView = "pending";
  const directory: ContainerDirectory = {
    lookupPid: () => {
      // without one question per file per sync, sync asked forever (the start-up spin)
      if (++lookups > 1000) throw new Error("sync asked about a pending file again and again");
      return answer;
    },
    onContainerRemoved: () => () => {},
    containers: () => [].values(),
  };
  const m = new LogsManager({
    paths: PATHS,
    families: new LogFamilies(registry),
    log: silentLogger,
    store: new SourceStore(),
    parser: { jsonParsing: true, patternsPerLevel: 256, maxLabelLength: 4096 },
    readEnviron: () => undefined,
  });
  const f = { pid: 42, fd: 3, path: "/var/log/fresh/app.log" };
  equal(m.addFile(directory, f), "no_container");
  equal(lookups, 1);
  m.sync(directory);
  equal(lookups, 2);
  m.sync(directory);
  equal(lookups, 3);
  // a process in no known container is asked about at each sync, one try each
  answer = "unknown";
  for (let i = 0; i < 10; i++) m.sync(directory);
  equal(lookups, 13);
  answer = view;
  m.sync(directory);
  equal(lookups, 14);
  assertEquals(m.sourceCounts(), { stdout: 0, file: 1, journald: 0 });
  m.sync(directory);
  equal(lookups, 14); // followed: no longer pending
});
