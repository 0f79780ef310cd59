/**
 * The logs module: every container's log read as it is written, turned into
 * `container_log_messages_total{source,level,pattern_hash,sample}` (reference §2.7, §5).
 *
 * | collector     | what                                                                     | interval                     |
 * |---------------|--------------------------------------------------------------------------|------------------------------|
 * | `logs`        | adds the sources the containers' metadata names; writes the counts        | `--collect-interval`         |
 * | `logs_rescan` | every process's descriptors: log files opened before or without BPF       | 60 s with BPF, 10 s without  |
 *
 * Sources (manager.ts): the runtimes' log files from the metadata the containers module reads
 * (Docker json-file, CRI for containerd and CRI-O, Podman k8s-file), the journal (systemd
 * services by `_SYSTEMD_UNIT`, journald-logging containers by `CONTAINER_ID_FULL`, through
 * libosprey's sd_journal), and the files under /var/log that a container's processes have open
 * write-only (found from `<proc>/<pid>/fd` at start and on rescans, and from the logs BPF
 * object's file-open events). No runtime socket is asked.
 *
 * Off with `--disable-log-parsing`; a container whose process has
 * `COROOT_LOG_MONITORING=disabled` in its environment is not read.
 *
 * @module
 */
import { pushSinks } from "../sinks.ts";
import {
  BpfError,
  decodeFileOpenEvent,
  forEachFrame,
  openLibrary,
  type OspreyLibrary,
  type RingBuffer,
} from "../../ffi/mod.ts";
import { bpfFamilies, libraryPath, type LoadedObject, loadObject } from "../bpf/mod.ts";
import type { Collector } from "../collector.ts";
import { type ContainerDirectory, containerDirectory } from "../containers/mod.ts";
import type { FlagSpec, FlagValues } from "../flags.ts";
import type { ModuleInstance, ModuleSpec, PermissionNeed } from "../modules.ts";
import { type HostPaths, under } from "../paths.ts";
import { listPids } from "../procfs.ts";
import { processLogFiles, resolveLogFd } from "./fd_scan.ts";
import { hasJournalFiles, JournalSource } from "./journal_source.ts";
import { LogsManager, SourceStore } from "./manager.ts";
import { LogFamilies } from "./metrics.ts";

export { classifyOpenFile, logMonitoringDisabled, parseFdinfoFlags } from "./file_rules.ts";
export { processLogFiles, resolveLogFd } from "./fd_scan.ts";
export { JournalSource } from "./journal_source.ts";
export { JOURNALD_SOURCE, LogsManager, SourceStore, STDOUT_SOURCE } from "./manager.ts";
export { LogFamilies } from "./metrics.ts";
export { TailReader } from "./tail_reader.ts";
export type { TailPosition, TailStats } from "./tail_reader.ts";

const GROUP = "Logs";

/** The module's flags (the reference's, §9.1). */
export const LOGS_FLAGS: readonly FlagSpec[] = [
  {
    name: "disable-log-parsing",
    env: "DISABLE_LOG_PARSING",
    kind: "bool",
    help: "Parse no container logs (the logs module is off)",
    group: GROUP,
  },
  {
    name: "disable-json-log-parsing",
    env: "DISABLE_JSON_LOG_PARSING",
    kind: "bool",
    help: "Keep JSON log lines whole instead of taking their message, level and attributes",
    group: GROUP,
  },
  {
    name: "log-patterns-per-container",
    env: "LOG_PATTERNS_PER_CONTAINER",
    kind: "int",
    default: 256,
    min: 0,
    help: "Most log patterns tracked per container, source and level; more messages go to the " +
      "overflow pattern (hash 000…0)",
    group: GROUP,
  },
  {
    name: "max-label-length",
    env: "MAX_LABEL_LENGTH",
    kind: "int",
    default: 4096,
    min: 0,
    help: "Longest log sample kept in a label value, in bytes (longer ones are cut)",
    group: GROUP,
  },
];

/** Kept across starts of the module inside one agent: parsers, read positions, journal cursor. */
const STORE = new SourceStore();

/** The host's journal directories, in the order they are tried (reference §5.1). */
export function journalDirs(paths: HostPaths): string[] {
  return [under(paths.root, "/run/log/journal"), under(paths.root, "/var/log/journal")];
}

/** Processes whose descriptors are looked at between two yields to the event loop. */
const RESCAN_SLICE = 64;

/** How often descriptors are rescanned with and without the file-open events. */
const RESCAN_WITH_BPF_MS = 60_000;
const RESCAN_WITHOUT_BPF_MS = 10_000;

function granted(d: Deno.PermissionDescriptor): boolean {
  return Deno.permissions.querySync(d).state === "granted";
}

function readGrant(path: string): PermissionNeed {
  return { descriptor: { name: "read", path }, flag: `--allow-read=${path}` };
}

/** The read grants that widen what the module reads, and what each one gives. */
export function optionalReads(paths: HostPaths): { need: PermissionNeed; gives: string }[] {
  return [
    { need: readGrant(under(paths.root, "/var/log")), gives: "files under /var/log, CRI logs" },
    { need: readGrant(under(paths.root, "/run/log/journal")), gives: "the volatile journal" },
    { need: readGrant(under(paths.root, "/var/lib/docker")), gives: "Docker json-file logs" },
    {
      need: readGrant(under(paths.root, "/var/lib/containers")),
      gives: "Podman k8s-file logs",
    },
  ];
}

/** What a running module's row in the start-up table says. */
export function describeLogSources(o: {
  bpf: string;
  journal: string;
  missing: readonly string[];
}): string {
  const parts = [
    "stdout/stderr of Docker json-file, CRI and Podman k8s-file containers",
    `/var/log files (${o.bpf})`,
    `journald (${o.journal})`,
  ];
  let s = `sources: ${parts.join("; ")}`;
  if (o.missing.length > 0) s += `; not granted, so not read: ${o.missing.join(", ")}`;
  return s;
}

/** Follows the file-open events of the logs BPF object until stopped. */
async function consumeFileOpens(
  ring: RingBuffer,
  o: {
    proc: string;
    manager: LogsManager;
    directory: ContainerDirectory;
    registry: Parameters<typeof bpfFamilies>[0];
    signal: AbortSignal;
  },
): Promise<void> {
  const { records } = bpfFamilies(o.registry);
  const received = records.labels("file_events", "file_open");
  for await (const batch of ring.batches({ signal: o.signal, timeoutMs: 100 })) {
    const opens: { pid: number; fd: number; cgroupId: number }[] = [];
    forEachFrame(batch, (off) => {
      const e = decodeFileOpenEvent(batch.bytes, off);
      if (e !== undefined) opens.push({ pid: e.pid, fd: e.fd, cgroupId: e.cgroupId });
    });
    received.inc(opens.length);
    for (const { pid, fd, cgroupId } of opens) {
      const r = await resolveLogFd(o.proc, pid, fd);
      if (r.kind === "log") o.manager.addFile(o.directory, { ...r.file, cgroupId });
      else o.manager.countFileOpen(r.kind);
    }
  }
}

/** The module definition. */
export const logsModule: ModuleSpec = {
  name: "logs",
  description: "Container logs: messages by level and pattern (files, runtimes' logs, journald)",
  flags: LOGS_FLAGS,
  permissions(_flags: FlagValues, paths: HostPaths): PermissionNeed[] {
    return [readGrant(paths.proc)];
  },
  disabledBy(flags, paths) {
    if (flags["disable-log-parsing"] === true) {
      return { reason: "--disable-log-parsing", flag: "--disable-log-parsing=false" };
    }
    if (paths.fixture) {
      return { reason: "host paths point at a fixture tree", flag: "--host-root=/" };
    }
    return undefined;
  },
  start(ctx): ModuleInstance {
    const { flags, paths, log, registry } = ctx;
    const directory = containerDirectory.current;
    if (directory === undefined) {
      throw new Error("the logs module needs the containers module, which is not running");
    }
    const families = new LogFamilies(registry);
    const missing = optionalReads(paths).filter((r) => !granted(r.need.descriptor));
    const ffi = flags["disable-bpf"] !== true &&
      granted({ name: "ffi", path: libraryPath() });

    // the journal, through libosprey
    let lib: OspreyLibrary | undefined;
    let journal: JournalSource | undefined;
    let journalNote: string;
    const dirs = journalDirs(paths);
    if (!granted({ name: "ffi", path: libraryPath() })) {
      journalNote = `off: not granted --allow-ffi=${libraryPath()}`;
    } else {
      try {
        lib = openLibrary(libraryPath());
        journal = new JournalSource(lib, dirs, log, STORE.journalCursor);
        const found = dirs.find(hasJournalFiles);
        journalNote = found ?? `waiting for a journal in ${dirs.join(" or ")}`;
      } catch (err) {
        journalNote = `off: ${err instanceof Error ? err.message.split("\n")[0] : String(err)}`;
      }
    }

    const manager = new LogsManager({
      paths,
      families,
      log,
      store: STORE,
      journal,
      // push mode's OTLP logs: service.name is the workload (app id), container.id the id (§5.2)
      messageSink: (view) => {
        const sink = pushSinks.logs;
        if (sink === undefined) return undefined;
        const service = view.appId !== "" ? view.appId : view.id;
        return (m) => sink.emit(view.id, service, m);
      },
      parser: {
        jsonParsing: flags["disable-json-log-parsing"] !== true,
        patternsPerLevel: Number(flags["log-patterns-per-container"] ?? 256),
        maxLabelLength: Number(flags["max-label-length"] ?? 4096),
      },
    });

    // the file-open events
    let loaded: LoadedObject | undefined;
    let ring: RingBuffer | undefined;
    let bpfNote: string;
    if (!ffi) {
      bpfNote = flags["disable-bpf"] === true
        ? `descriptors rescanned every ${RESCAN_WITHOUT_BPF_MS / 1000} s (--disable-bpf)`
        : `descriptors rescanned every ${RESCAN_WITHOUT_BPF_MS / 1000} s (no --allow-ffi)`;
    } else {
      try {
        loaded = loadObject("logs", ctx);
        ring = loaded.obj.openRing("file_events");
        bpfNote = `open syscalls' tracepoints (${loaded.obj.info().syscalls}) and descriptor scans`;
      } catch (err) {
        loaded?.close();
        loaded = undefined;
        if (!(err instanceof Error)) throw err;
        const why = err instanceof BpfError ? err.message : err.message.split("\n")[0];
        log.warn("logs: no file-open events; descriptors are rescanned instead", { error: why });
        bpfNote = `descriptors rescanned every ${RESCAN_WITHOUT_BPF_MS / 1000} s (no BPF: ${why})`;
      }
    }

    const stopping = new AbortController();
    // every process's descriptors, yielding to the event loop between slices of processes
    const rescan = async () => {
      let n = 0;
      for (const pid of listPids(paths.proc)) {
        if (stopping.signal.aborted) return;
        const found = await processLogFiles(paths.proc, pid);
        // a refused process counts once per scan; its files are not followed
        if (found.unreadable) manager.countFileOpen("unreadable");
        for (const f of found.files) manager.addFile(directory, f, 0, true);
        if (++n % RESCAN_SLICE === 0) await new Promise((r) => setTimeout(r, 0));
      }
    };
    manager.sync(directory);
    const firstScan = rescan();
    manager.start();
    const journalLoop = journal?.start(stopping.signal) ?? Promise.resolve();
    journalLoop.catch((err) => log.error("logs: the journal reader stopped", { error: err }));
    const eventLoop = ring === undefined ? Promise.resolve() : consumeFileOpens(ring, {
      proc: paths.proc,
      manager,
      directory,
      registry,
      signal: stopping.signal,
    });
    eventLoop.catch((err) => log.error("logs: the file-open event loop stopped", { error: err }));
    const unsubscribe = directory.onContainerRemoved((v) => manager.forget(v.id));

    const note = describeLogSources({
      bpf: bpfNote,
      journal: journalNote,
      missing: missing.map((m) => m.need.flag.slice("--allow-read=".length)),
    });
    log.info("logs: sources", { sources: note });
    const collectors: Collector[] = [{
      name: "logs",
      collect: () => {
        manager.sync(directory);
        manager.write(directory);
      },
    }, {
      name: "logs_rescan",
      intervalMs: loaded === undefined ? RESCAN_WITHOUT_BPF_MS : RESCAN_WITH_BPF_MS,
      collect: () => rescan(),
    }];
    return {
      collectors,
      ready: firstScan,
      note,
      hint: missing.length > 0 ? [...new Set(missing.map((m) => m.need.flag))].join(" ") : "",
      async stop() {
        stopping.abort();
        unsubscribe();
        await eventLoop.catch(() => {});
        await journalLoop.catch(() => {});
        await firstScan.catch(() => {});
        STORE.journalCursor = journal?.cursor ?? STORE.journalCursor;
        await manager.stop();
        loaded?.close();
        lib?.close();
      },
    };
  },
};
