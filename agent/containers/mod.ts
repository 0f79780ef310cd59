/**
 * The containers module: the container registry (who runs where, under which `container_id`)
 * and the contract's container families (reference §2.2 except delay accounting and GPU, §4).
 *
 * | collector              | what                                                           | interval |
 * |------------------------|----------------------------------------------------------------|----------|
 * | `containers_discovery` | rescan of `<proc>`, GC of dead containers, meta series         | `--container-rescan-interval` |
 * | `containers_resources` | CPU, memory, PSI, block I/O from each container's cgroup       | `--collect-interval` |
 * | `containers_disk`      | mounts and statfs sizes (needs `--allow-sys=statfs`)           | `--container-disk-interval` |
 *
 * Processes come from the process_events module's BPF events when it runs (exact restarts
 * and OOM kills), and from rescans always; `osprey_containers_event_source{source}` says which.
 * Without BPF, OOM kills cannot be counted and restarts are seen at rescan granularity.
 *
 * Permissions: read on `<proc>` and the cgroup root are needed; read on `<sys>` (block device
 * names), on the runtimes' state directories under the host root (names, images, labels; a
 * container whose metadata cannot be read is reported under its short ID) and
 * `--allow-sys=statfs` (file system sizes) are optional and reported at start when missing.
 * `--docker-socket` / `--podman-socket` add the runtimes' APIs as a second source after the
 * files, when their sockets are granted too (see runtime_api/mod.ts).
 *
 * @module
 */
import { libraryCandidates, openLibrary, type OspreyLibrary } from "../../ffi/mod.ts";
import {
  brokerFileReader,
  ExeInspector,
  type FileReader,
  libraryFileReader,
  nodeFileReader,
} from "../apptype/mod.ts";
import {
  describeNamespace,
  detectCgroupFs,
  identityNamespace,
  KeptFiles,
  LibraryRawFiles,
  readCgroupNamespace,
} from "../cgroups/mod.ts";
import { checkRegExp } from "../flag_syntax.ts";
import { fdBudget, readFdLimits } from "../fd_limits.ts";
import { FlagError } from "../flags.ts";
import type { FlagSpec, FlagValues } from "../flags.ts";
import type { Collector } from "../collector.ts";
import type { Logger } from "../log.ts";
import type { ModuleInstance, ModuleSpec, PermissionNeed } from "../modules.ts";
import { DISK_EXTRA_FLAG, wholeDiskFilter } from "../node/mod.ts";
import { readUserHz } from "../node/user_hz.ts";
import type { HostPaths } from "../paths.ts";
import { under } from "../paths.ts";
import { procBrokerFor } from "../self/proc_broker.ts";
import { processEventHub } from "../process_events/hub.ts";
import {
  DEFAULT_CONTAINERD_STATE_DIRS,
  DEFAULT_CRIO_ROOTS,
  DEFAULT_DOCKER_ROOT,
  DEFAULT_KUBELET_POD_LOG_DIR,
  INCUS_CONTAINER_DIRS,
  lookupMetadata,
  LXC_PATH,
  PODMAN_GRAPH_ROOT,
  PODMAN_RUN_ROOT,
  PODMAN_TMPDIR,
} from "./metadata/mod.ts";
import { ContainerFamilies } from "./metrics.ts";
import { parseUptime, readProcText } from "./proc.ts";
import { ContainerRegistry } from "./registry.ts";
import { containerDirectory } from "./directory.ts";
import {
  API_TIMEOUT_MS,
  configuredSockets,
  RUNTIME_API_FLAGS,
  RuntimeApi,
  RuntimeApiFamilies,
  runtimeApiNeeds,
  socketNeeds,
} from "./runtime_api/mod.ts";
import { ContainerDisks, diskCollector, resourcesCollector } from "./resources.ts";
import { SystemdUnits, UNIT_DIRS } from "./systemd.ts";

export { ContainerRegistry } from "./registry.ts";
export { type ContainerDirectory, containerDirectory } from "./directory.ts";
export type { ContainerRegistryOptions, ContainerView, ProcessEventLike } from "./registry.ts";
export { ContainerFamilies, SeriesOwner } from "./metrics.ts";
export { appIdOf, containerIdentity } from "./container_id.ts";
export type { Identity, IdentityClass, IdentityMetadata } from "./container_id.ts";

const GROUP = "Containers";

/** The module's flags (coroot-node-agent's names where it has the option). */
export const CONTAINERS_FLAGS: readonly FlagSpec[] = [
  {
    name: "min-container-age",
    env: "MIN_CONTAINER_AGE",
    kind: "duration",
    default: 30_000,
    min: 0,
    max: 86_400_000,
    help: "Report nothing for containers younger than this (short-lived ones never), " +
      "to keep cardinality down on nodes that start many; 0 reports every container",
    group: GROUP,
  },
  {
    name: "container-allowlist",
    env: "CONTAINER_ALLOWLIST",
    kind: "list",
    check: checkRegExp,
    accepts: "a regular expression (repeatable)",
    help: "Report only containers whose ID matches one of these regular expressions " +
      "(repeatable; empty reports all)",
    group: GROUP,
  },
  {
    name: "container-denylist",
    env: "CONTAINER_DENYLIST",
    kind: "list",
    check: checkRegExp,
    accepts: "a regular expression (repeatable)",
    help: "Do not report containers whose ID matches one of these regular expressions " +
      "(repeatable)",
    group: GROUP,
  },
  {
    name: "skip-systemd-system-services",
    env: "SKIP_SYSTEMD_SYSTEM_SERVICES",
    kind: "bool",
    default: true,
    help: "Do not report well-known system units (systemd-*, dbus, getty, ...) as containers",
    group: GROUP,
  },
  {
    name: "container-gc-grace",
    env: "CONTAINER_GC_GRACE",
    kind: "duration",
    default: 600_000,
    min: 0,
    max: 86_400_000,
    help: "How long a container whose processes all exited keeps its series (and counters, " +
      "should it start again) before they are removed",
    group: GROUP,
  },
  {
    name: "max-containers",
    env: "MAX_CONTAINERS",
    kind: "int",
    default: 5000,
    min: 1,
    max: 100_000,
    help: "Most containers tracked at once, so memory stays bounded; more are counted in " +
      'osprey_containers_overflow_total{kind="container"} and retried later',
    group: GROUP,
  },
  {
    name: "max-processes",
    env: "MAX_PROCESSES",
    kind: "int",
    default: 100_000,
    min: 1,
    max: 4_194_304, // the kernel's PID_MAX_LIMIT: no host has more processes
    help: "Most processes tracked at once, so memory stays bounded; more are counted in " +
      'osprey_containers_overflow_total{kind="process"}',
    group: GROUP,
  },
  {
    name: "container-rescan-interval",
    env: "CONTAINER_RESCAN_INTERVAL",
    kind: "duration",
    default: 10_000,
    min: 100,
    max: 3_600_000,
    help: "How often /proc is rescanned for processes (the only discovery path without BPF " +
      "process events, the repair path with them) and dead containers are collected",
    group: GROUP,
  },
  {
    name: "container-disk-interval",
    env: "CONTAINER_DISK_INTERVAL",
    kind: "duration",
    default: 15_000,
    min: 100,
    max: 3_600_000,
    help: "How often containers' mounts and file system sizes are read",
    group: GROUP,
  },
  {
    name: "container-metadata-timeout",
    env: "CONTAINER_METADATA_TIMEOUT",
    kind: "duration",
    default: 5000,
    min: 100,
    max: 60_000,
    help: "Longest one read of a container's runtime metadata may take",
    group: GROUP,
  },
  ...RUNTIME_API_FLAGS,
];

/** Compiles the allow/deny regexes; a bad one is a FlagError naming the flag. */
export function compileFilters(flag: string, patterns: readonly string[]): RegExp[] {
  return patterns.map((p) => {
    try {
      return new RegExp(p);
    } catch (err) {
      throw new FlagError(`Cannot compile --${flag} "${p}": ${(err as Error).message}`);
    }
  });
}

/** The runtimes' state directories the metadata readers look in, under the host root. */
export function runtimeStateDirs(paths: HostPaths): string[] {
  const dirs = [
    PODMAN_GRAPH_ROOT,
    PODMAN_RUN_ROOT,
    PODMAN_TMPDIR,
    DEFAULT_DOCKER_ROOT,
    "/run/docker/containerd/daemon", // the containerd dockerd < 23 starts itself
    ...DEFAULT_CONTAINERD_STATE_DIRS,
    ...DEFAULT_CRIO_ROOTS,
    DEFAULT_KUBELET_POD_LOG_DIR,
    LXC_PATH,
    ...INCUS_CONTAINER_DIRS,
    ...UNIT_DIRS,
  ];
  return [...new Set(dirs.map((d) => under(paths.root, d)))];
}

function read(path: string): PermissionNeed {
  return { descriptor: { name: "read", path }, flag: `--allow-read=${path}` };
}

/** The permissions the module cannot run without. */
function requiredNeeds(paths: HostPaths): PermissionNeed[] {
  return [...new Set([paths.proc, paths.cgroup])].map(read);
}

/** libosprey's path, for reading executables (the one process_events opens too). */
function libraryPath(): string {
  return libraryCandidates()[0] ?? "libosprey.so";
}

/** The permissions that add something when granted (the sockets only when configured). */
export function optionalNeeds(paths: HostPaths, flags: FlagValues = {}): PermissionNeed[] {
  const lib = libraryPath();
  return [
    read(paths.sys),
    { descriptor: { name: "ffi", path: lib }, flag: `--allow-ffi=${lib}` },
    ...runtimeStateDirs(paths).map(read),
    { descriptor: { name: "sys", kind: "statfs" }, flag: "--allow-sys=statfs" },
    ...runtimeApiNeeds(flags),
  ];
}

function granted(n: PermissionNeed): boolean {
  return Deno.permissions.querySync(n.descriptor).state === "granted";
}

function num(flags: FlagValues, name: string, fallback: number): number {
  const v = flags[name];
  return typeof v === "number" ? v : fallback;
}

function list(flags: FlagValues, name: string): string[] {
  const v = flags[name];
  return Array.isArray(v) ? v : [];
}

/**
 * Which whole disks label a mount's `device`: those the node families report (the contract's
 * kinds, and the node module's `--disk-devices-extra-regex`; a regex that does not compile is
 * the node module's failure to report, here only the contract's kinds count).
 */
function reportedDisks(flags: FlagValues, log: Logger): (name: string) => boolean {
  try {
    return wholeDiskFilter(String(flags[DISK_EXTRA_FLAG] ?? ""));
  } catch (err) {
    if (!(err instanceof FlagError)) throw err;
    log.warn("containers: device labels use the contract's disk kinds only", { error: err });
    return wholeDiskFilter();
  }
}

/**
 * How executables are read for the golang, rust and dotnet application types: through
 * libosprey when its --allow-ffi is granted (Deno's own file APIs cannot open
 * `<proc>/<pid>/exe` under scoped read permissions), through the procfs broker under the
 * Landlock sandbox, through node:fs when reads are not scoped at all, else not (said once).
 */
function executableReader(
  log: Logger,
  proc: string,
): { read?: FileReader; lib?: OspreyLibrary } {
  // under Landlock the kernel refuses <proc>/<pid>/exe of processes outside the domain
  const broker = procBrokerFor(proc);
  if (broker !== undefined) return { read: brokerFileReader(broker, proc) };
  const path = libraryPath();
  let why = `not granted: --allow-ffi=${path}`;
  if (Deno.permissions.querySync({ name: "ffi", path }).state === "granted") {
    try {
      const lib = openLibrary(path);
      return { read: libraryFileReader(lib), lib };
    } catch (err) {
      why = err instanceof Error ? err.message.split("\n")[0] : String(err);
    }
  }
  if (Deno.permissions.querySync({ name: "read" }).state === "granted") {
    return { read: nodeFileReader() };
  }
  log.warn("containers: no golang, rust or dotnet application types from executables", {
    reason: why,
  });
  return {};
}

/** The module definition. */
export const containersModule: ModuleSpec = {
  name: "containers",
  description: "Containers: identity, metadata, restarts, OOM kills and cgroup resources",
  flags: CONTAINERS_FLAGS,
  permissions: (_flags, paths) => requiredNeeds(paths),
  async start(ctx): Promise<ModuleInstance> {
    const { flags, paths, log } = ctx;
    const allowlist = compileFilters("container-allowlist", list(flags, "container-allowlist"));
    const denylist = compileFilters("container-denylist", list(flags, "container-denylist"));
    const missing = optionalNeeds(paths, flags).filter((n) => !granted(n));
    if (missing.length > 0) {
      log.warn("containers: optional permissions missing; some data is left out", {
        missing: [...new Set(missing.map((m) => m.flag))].join(" "),
        effect: "no block device names without <sys>; short IDs instead of names without " +
          "runtime dirs; no container_resources_disk_{size,used,reserved}_bytes without " +
          "statfs; no golang, rust or dotnet application types without libosprey; a " +
          "--docker-socket or --podman-socket not granted is not asked",
      });
    }
    const sockets = new Map(
      [...configuredSockets(flags)].filter(([, path]) => socketNeeds(path).every(granted)),
    );
    const statfsOk = granted({ descriptor: { name: "sys", kind: "statfs" }, flag: "" });

    const cgroupFs = detectCgroupFs(paths.cgroup);
    const cgroupNs = paths.fixture
      ? identityNamespace(cgroupFs, "host paths are a fixture tree")
      : readCgroupNamespace(cgroupFs, paths.proc);
    const userHz = (await readUserHz(paths)).hz;
    const uptimeText = readProcText(under(paths.proc, "uptime"));
    if (uptimeText === undefined) throw new Error(`Cannot read ${under(paths.proc, "uptime")}`);
    const bootTimeMs = Date.now() - parseUptime(uptimeText) * 1000;
    // Kept cgroup descriptors stay within half of what RLIMIT_NOFILE leaves (fd_limits.ts);
    // beyond that, files are read with open/read/close.
    const keptFilesMax = fdBudget(readFdLimits(paths)?.soft, {
      httpConnections: 0,
      keptFiles: 4096,
    }).keptFiles;
    log.info("containers: sources", {
      kept_files_max: keptFilesMax,
      cgroup_layout: cgroupFs.layout,
      cgroup_root: cgroupFs.root,
      cgroup_namespace: cgroupNs.own ? "own (paths rebased)" : "the mounts'",
      user_hz: userHz,
      runtime_api: [...sockets].map(([rt, path]) => `${rt}:${path}`).join(" ") || "off",
    });

    if (cgroupNs.own) {
      const lost = cgroupNs.hierarchies.filter((h) => h.nsRoot === null).map((h) => h.hierarchy);
      const fields = { hierarchies: describeNamespace(cgroupNs) };
      const msg = "containers: the agent is in its own cgroup namespace; cgroup paths are " +
        "rebased onto the mounted hierarchies";
      if (lost.length === 0) log.info(msg, fields);
      else {
        log.warn(msg, {
          ...fields,
          effect: `in ${lost.join(", ")} only paths that climb to the mount's root resolve; ` +
            "the other cgroups are counted in osprey_cgroup_unreadable_total",
        });
      }
    }

    const families = new ContainerFamilies(ctx.registry, ctx.log);
    // Cgroup paths that are not UTF-8 are opened through libosprey (Deno cannot); every
    // other path through Deno. The library loads on the first such path, if granted.
    const rawFiles = new LibraryRawFiles({
      libraryPath: libraryCandidates()[0] ?? "libosprey.so",
      roots: [cgroupFs.root],
    });
    const exe = executableReader(log, paths.proc);
    const files = new KeptFiles({ raw: rawFiles, maxOpen: keptFilesMax });
    const disks = new ContainerDisks(paths, { reported: reportedDisks(ctx.flags, ctx.log) });
    const units = new SystemdUnits(paths.root);
    const metadataTimeoutMs = num(flags, "container-metadata-timeout", 5000);
    const api = sockets.size === 0 ? undefined : new RuntimeApi({
      sockets,
      root: paths.root,
      log,
      families: new RuntimeApiFamilies(ctx.registry),
      timeoutMs: Math.min(API_TIMEOUT_MS, metadataTimeoutMs),
    });
    const registry = new ContainerRegistry({
      paths,
      families,
      log,
      cgroupFs,
      cgroupNamespace: cgroupNs,
      rawPathsUnavailable: () => rawFiles.unavailable(),
      lookupMetadata: api === undefined
        ? (runtime, id) => lookupMetadata(runtime, id, { paths })
        : (runtime, id) => api.lookup(runtime, id, () => lookupMetadata(runtime, id, { paths })),
      minContainerAgeMs: num(flags, "min-container-age", 30_000),
      gcGraceMs: num(flags, "container-gc-grace", 600_000),
      maxContainers: num(flags, "max-containers", 5000),
      maxProcesses: num(flags, "max-processes", 100_000),
      allowlist,
      denylist,
      skipSystemdSystemServices: flags["skip-systemd-system-services"] !== false,
      metadataTimeoutMs,
      systemdProps: (unitPath) => units.props(unitPath),
      bootTimeMs,
      userHz,
      exeInspector: exe.read === undefined ? null : new ExeInspector({
        read: exe.read,
        onOutcome: (o) => families.exeChecks.labels(o).inc(),
        onEvict: () => families.overflow.labels("binary").inc(),
      }),
      onRemove(c) {
        disks.forget(c.id);
        if (c.metadata) api?.forget(c.metadata.runtime, c.metadata.id);
      },
      forgetDirs(d) {
        for (const dir of Object.values(d)) if (typeof dir === "string") files.forget(dir);
      },
    });

    let sawEvent = false;
    const unsubscribe = processEventHub.subscribe((e) => {
      if (!sawEvent) {
        sawEvent = true;
        registry.setEventSource("bpf");
        log.info("containers: following BPF process events (exact restarts and OOM kills)");
      }
      registry.handleEvent(e);
    });
    registry.scan();
    containerDirectory.publish(registry);

    const collectors: Collector[] = [
      {
        name: "containers_discovery",
        intervalMs: num(flags, "container-rescan-interval", 10_000),
        collect: () => registry.scan(),
      },
      resourcesCollector({
        containers: () => {
          registry.gc();
          return registry.containers();
        },
        families,
        files,
        disks,
      }),
    ];
    if (statfsOk) {
      collectors.push(diskCollector({
        containers: () => registry.containers(),
        families,
        paths,
        disks,
        intervalMs: num(flags, "container-disk-interval", 15_000),
      }));
    }
    return {
      collectors,
      stop() {
        containerDirectory.publish(undefined);
        unsubscribe();
        registry.close();
        api?.close();
        files.close();
        rawFiles.close();
        exe.lib?.close();
      },
    };
  },
};
