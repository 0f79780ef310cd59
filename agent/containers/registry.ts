/**
 * The container registry: the one owner of per-container state (ARCHITECTURE.md, "the one
 * owner of per-container state").
 *
 * pid → `<proc>/<pid>/cgroup` → primary cgroup path → classification → runtime metadata (async,
 * with a timeout and a few retries while the runtime is still writing its files) →
 * `container_id` → container. Three inputs feed it, all on the one event loop:
 *
 * - an initial scan of `<proc>`;
 * - process events (start, exec, exit with the OOM flag) when the process_events module runs;
 * - a periodic rescan: the only discovery path without BPF, and the repair path with it (lost
 *   events, pid reuse, processes moved between cgroups).
 *
 * Containers are keyed by their ID, not their cgroup: a container recreated under the same
 * name (a new cgroup) keeps its counters, and so does one whose processes all exit and start
 * again. A container with no processes is "dead" and removed, with every series it had, after
 * the GC grace period.
 *
 * **Restarts** (reference §4.6): a process joining a container that has had processes before
 * and has none now (all old processes gone, a new one started) is a restart. The contract's
 * wording, "the minimum start time of the current processes moved forward", says the same
 * thing but would also count a forking daemon whose parent exits as a restart; an empty
 * container in between is what a restart is.
 *
 * **OOM kills**: an exit event with the OOM flag whose pid belongs to a container (or, for a
 * pid the registry never saw, whose cgroup id is a container's) counts once for that
 * container. The kill of a process whose container is still being identified is kept and
 * counted when the container's ID is known.
 *
 * **Application types** (reference errata §13.8) follow the live processes: each process's
 * types come from its command line (or exe link) and its executable's ELF headers (golang,
 * rust, dotnet; read asynchronously, cached per binary), are read when it is first seen or
 * after an exec (a forked child takes its parent's), and a few per container are read again
 * each rescan (a process may rewrite its title). A container's types are the union over its
 * live processes, recomputed when processes come and go: a type whose processes all exited
 * goes away.
 *
 * **Bounds**: at most `maxProcesses` processes and `maxContainers` containers (pending ones
 * included); what does not fit is counted in `osprey_containers_overflow_total{kind}` and tried
 * again on later rescans. Cgroups of an unknown layout are counted once per cgroup
 * (`osprey_cgroup_unknown_layout_total`), never logged per process.
 *
 * **Paths**: `/proc/<pid>/cgroup` is read as bytes and decoded without loss (agent/paths.ts),
 * so a cgroup named with bytes that are not UTF-8 keeps its files; only its `container_id`
 * label is made printable (`\xNN`). When the agent runs in its own cgroup namespace every path
 * is rebased onto the mounted hierarchies first (cgroups/namespace.ts); a cgroup that cannot be
 * placed is counted once in `osprey_cgroup_unreadable_total{reason="outside_namespace"}`.
 *
 * @module
 */
import { procBrokerFor } from "../self/proc_broker.ts";
import { FileFormatError } from "../file_format_error.ts";
import {
  type CgroupClass,
  type CgroupDirs,
  cgroupDirs,
  type CgroupFs,
  type CgroupNamespace,
  classifyCgroup,
  parseProcCgroup,
  primaryCgroupPath,
  type ProcCgroups,
} from "../cgroups/mod.ts";
import { ExeInspector, guessByCmdline, guessByExe, isDotnetCommand } from "../apptype/mod.ts";
import type { Logger } from "../log.ts";
import type { HostPaths } from "../paths.ts";
import { decodeHostText, isRawHostPath, printableHostPath, under } from "../paths.ts";
import {
  containerIdentity,
  type IgnoreReason,
  systemdUnitOf,
  type SystemdUnitProps,
} from "./container_id.ts";
import type { ContainerMetadata, ContainerRuntime } from "./metadata/mod.ts";
import { MetadataError } from "./metadata/mod.ts";
import { type ContainerFamilies, SeriesOwner } from "./metrics.ts";
import { listPids, parseProcStat, readProcBytes, readProcText } from "./proc.ts";

/** Looks a container's metadata up (bound to the host paths). */
export type MetadataLookup = (runtime: ContainerRuntime, id: string) => Promise<ContainerMetadata>;

/** A decoded process event (the fields the registry reads; the object may be reused). */
export interface ProcessEventLike {
  readonly type: string;
  readonly pid: number;
  readonly ppid: number;
  readonly cgroupId: number;
  readonly oomKilled: boolean;
  readonly filename: string;
  /** CLOCK_BOOTTIME nanoseconds. */
  readonly tsNs: number;
}

/** Options of {@linkcode ContainerRegistry}. */
export interface ContainerRegistryOptions {
  readonly paths: HostPaths;
  readonly families: ContainerFamilies;
  readonly log: Logger;
  /** The cgroup file system (for each container's cgroup directories). */
  readonly cgroupFs?: CgroupFs;
  /**
   * Rebases `/proc/<pid>/cgroup` paths when the agent runs in its own cgroup namespace; paths
   * are used as read without it.
   */
  readonly cgroupNamespace?: CgroupNamespace;
  /**
   * Why cgroup paths that are not UTF-8 cannot be read (naming the flag that fixes it), or
   * undefined when they can. Such a cgroup's container is still reported, without resource
   * series, and counted in `osprey_cgroup_unreadable_total{reason="non_utf8_path"}`.
   */
  readonly rawPathsUnavailable?: () => string | undefined;
  readonly lookupMetadata: MetadataLookup;
  /** `--min-container-age`. @default 30000 */
  readonly minContainerAgeMs?: number;
  /** `--container-gc-grace`. @default 600000 */
  readonly gcGraceMs?: number;
  /** `--max-containers`. @default 5000 */
  readonly maxContainers?: number;
  /** `--max-processes`. @default 100000 */
  readonly maxProcesses?: number;
  /** `--container-allowlist`: when not empty, only matching IDs are reported. */
  readonly allowlist?: readonly RegExp[];
  /** `--container-denylist`: matching IDs are not reported. */
  readonly denylist?: readonly RegExp[];
  /** `--skip-systemd-system-services`. @default true */
  readonly skipSystemdSystemServices?: boolean;
  /** Metadata lookups run at once; more wait their turn. @default 4 */
  readonly metadataConcurrency?: number;
  /** One metadata lookup's timeout. @default 5000 */
  readonly metadataTimeoutMs?: number;
  /**
   * Delays before retrying a lookup that found no runtime file (the runtime may not have
   * written it yet when the first process is seen). @default [500, 2000, 5000]
   */
  readonly metadataRetryDelaysMs?: readonly number[];
  /**
   * systemd unit properties (Type=, TriggeredBy=) of a unit (its name, e.g.
   * `getty@tty1.service`), when known.
   */
  readonly systemdProps?: (unitPath: string) => SystemdUnitProps | undefined;
  /** Wall clock in ms. @default Date.now */
  readonly now?: () => number;
  /** Wall-clock ms of boot (for process start times). */
  readonly bootTimeMs: number;
  /** USER_HZ. @default 100 */
  readonly userHz?: number;
  /**
   * Processes per container whose command line is read again for its application type in a
   * rescan (the oldest reads first); new and exec'd processes are always read. @default 20
   */
  readonly appTypeProbesPerRescan?: number;
  /**
   * Reads executables for golang, rust and dotnet; `null`: no types from executables. By
   * default one over node:fs with the module's counters (right where reads are not scoped).
   */
  readonly exeInspector?: ExeInspector | null;
  /** Longest read of one executable by the default inspector (ms). @default 2000 */
  readonly exeTimeoutMs?: number;
  /** Called when a container is removed (its series are already gone). */
  readonly onRemove?: (c: ContainerView) => void;
  /** Called with the directories of a cgroup the registry forgets, or whose container died (to close kept files). */
  readonly forgetDirs?: (dirs: CgroupDirs) => void;
}

type EntryState = "pending" | "container" | "ignored";
type EntryIgnore =
  | IgnoreReason
  | "allowlist"
  | "denylist"
  | "overflow"
  | "root"
  | "outside_namespace";

/** A cgroup the registry saw processes in. */
class CgroupEntry {
  readonly path: string;
  cgroups: ProcCgroups;
  readonly cls: CgroupClass;
  state: EntryState = "pending";
  ignore?: EntryIgnore;
  container?: Container;
  readonly pids = new Set<number>();
  /** Start times of processes that joined while the container was being identified. */
  pendingStarts: number[] = [];
  pendingOoms = 0;
  readonly cgroupIds = new Set<number>();
  /** Its v2 cgroup id, the inode of its v2 directory (what BPF records carry); 0 unknown. */
  v2Id = 0;
  dirs?: CgroupDirs;

  constructor(path: string, cgroups: ProcCgroups, cls: CgroupClass) {
    this.path = path;
    this.cgroups = cgroups;
    this.cls = cls;
  }
}

interface Proc {
  readonly pid: number;
  readonly startMs: number;
  readonly firstSeenMs: number;
  entry: CgroupEntry;
  /** v2 cgroup id from the last event, 0 when unknown. */
  cgroupId: number;
  /**
   * Application types from its command line and executable path; `null` for an empty command
   * line (no type at all, as in the contract); undefined until read (again, after an exec).
   */
  types?: readonly string[] | null;
  /** The rescan round its types were last read in. */
  typesRound: number;
  /** Bumped on exec: an inspection started before belongs to the old image. */
  image: number;
  /** golang, rust, dotnet from its executable; undefined until inspected. */
  binaryTypes?: readonly string[];
  binaryPending: boolean;
  /** When {@linkcode ContainerRegistry.lookupPid} last re-read its cgroup for a moved record. */
  movedCheckMs?: number;
}

/** A container as the collectors see it. */
export interface ContainerView {
  readonly id: string;
  readonly appId: string;
  readonly visible: boolean;
  readonly live: boolean;
  readonly series: SeriesOwner;
  /** The cgroup directories of its newest cgroup with processes. */
  readonly dirs: CgroupDirs | undefined;
  /** A live pid (for `<proc>/<pid>/mountinfo` and `/root`), or undefined. */
  anyPid(): number | undefined;
  /**
   * Calls `fn` with each live process the registry places in the container: its pid and its
   * start time (wall-clock ms; a pid reused by another process comes with another start).
   */
  forEachProcess(fn: (pid: number, startMs: number) => void): void;
  readonly metadata?: ContainerMetadata;
  /** The systemd unit of a systemd-service container (its journal entries' `_SYSTEMD_UNIT`). */
  readonly systemdUnit?: string;
  /** True once the container was removed (its series are gone; setting any would leak). */
  readonly removed: boolean;
}

class Container implements ContainerView {
  readonly id: string;
  readonly appId: string;
  readonly series: SeriesOwner;
  readonly entries = new Set<CgroupEntry>();
  current?: CgroupEntry;
  liveCount = 0;
  hadProcesses = false;
  createdAt: number;
  deadSince?: number;
  restarts = 0;
  oomKills = 0;
  visible = false;
  metadata?: ContainerMetadata;
  image = "";
  systemd?: SystemdUnitProps;
  systemdUnit?: string;
  /** The application types of its live processes, as last computed. */
  appTypes: string[] = [];
  /** The types its `container_application_type` series show. */
  shownTypes = "";
  /** A process joined, left or got new types since {@linkcode appTypes} was computed. */
  typesDirty = true;
  /** The label values of its `container_info` series, to replace it when they change. */
  infoKey = "";
  removed = false;
  readonly #procs: ReadonlyMap<number, Proc>;

  constructor(id: string, appId: string, createdAt: number, procs: ReadonlyMap<number, Proc>) {
    this.id = id;
    this.appId = appId;
    this.createdAt = createdAt;
    this.series = new SeriesOwner(id, appId);
    this.#procs = procs;
  }

  forEachProcess(fn: (pid: number, startMs: number) => void): void {
    for (const e of this.entries) {
      for (const pid of e.pids) {
        const p = this.#procs.get(pid);
        if (p !== undefined) fn(pid, p.startMs);
      }
    }
  }

  get live(): boolean {
    return this.liveCount > 0;
  }

  get dirs(): CgroupDirs | undefined {
    return this.current?.dirs;
  }

  anyPid(): number | undefined {
    const e = this.current;
    if (e && e.pids.size > 0) return e.pids.values().next().value;
    for (const x of this.entries) if (x.pids.size > 0) return x.pids.values().next().value;
    return undefined;
  }
}

const UNKNOWN_LOG_LIMIT = 5;
/** Distinct cgroups of unknown layout held at once; more are counted as overflow. */
const MAX_UNKNOWN_CGROUPS = 1024;
const YOUNG_PROCESS_MS = 60_000;
/** Least time between two re-reads of one process's cgroup asked by a record that moved it. */
const MOVED_RECHECK_MS = 1_000;
const FULL_RESCAN_EVERY_MS = 600_000;
const START_TOLERANCE_MS = 1000;
const METADATA_LOG_EVERY_MS = 60_000;
const UNREADABLE_LOG_LIMIT = 5;

/** The registry. Not safe to share between agents; one per containers module. */
export class ContainerRegistry {
  readonly #o: ContainerRegistryOptions;
  readonly #f: ContainerFamilies;
  readonly #now: () => number;
  readonly #hz: number;
  readonly #minAge: number;
  readonly #grace: number;
  readonly #maxContainers: number;
  readonly #maxProcesses: number;
  readonly #retries: readonly number[];
  readonly #timeoutMs: number;
  readonly #probes: number;
  readonly #exe: ExeInspector | undefined;
  /** Rescans so far: the age of a process's application types. */
  #round = 0;
  #rereadDue = false;

  readonly #procs = new Map<number, Proc>();
  readonly #entries = new Map<string, CgroupEntry>();
  readonly #byCgroupId = new Map<number, CgroupEntry>();
  readonly #containers = new Map<string, Container>();
  readonly #root: CgroupEntry;
  readonly #inflight = new Set<Promise<void>>();
  readonly #closing = new AbortController();
  #pendingCount = 0;
  #unknownCount = 0;
  #unknownLogged = 0;
  #outsideLogged = 0;
  #rawPathLogged = false;
  #lastFullScan = 0;
  #polling = true;
  readonly #metadataLogged = new Map<string, number>();
  readonly #concurrency: number;
  #running = 0;
  readonly #waiting: (() => void)[] = [];
  readonly #removeListeners = new Set<(c: ContainerView) => void>();

  constructor(opts: ContainerRegistryOptions) {
    this.#o = opts;
    this.#f = opts.families;
    this.#now = opts.now ?? Date.now;
    this.#hz = opts.userHz ?? 100;
    this.#minAge = opts.minContainerAgeMs ?? 30_000;
    this.#grace = opts.gcGraceMs ?? 600_000;
    this.#maxContainers = opts.maxContainers ?? 5000;
    this.#maxProcesses = opts.maxProcesses ?? 100_000;
    this.#retries = opts.metadataRetryDelaysMs ?? [500, 2000, 5000];
    this.#timeoutMs = opts.metadataTimeoutMs ?? 5000;
    this.#probes = opts.appTypeProbesPerRescan ?? 20;
    this.#exe = opts.exeInspector === null ? undefined : opts.exeInspector ?? new ExeInspector({
      timeoutMs: opts.exeTimeoutMs,
      onOutcome: (o) => this.#f.exeChecks.labels(o).inc(),
      onEvict: () => this.#f.overflow.labels("binary").inc(),
    });
    this.#concurrency = Math.max(1, opts.metadataConcurrency ?? 4);
    this.#root = new CgroupEntry("/", { v2: "/", v1: {} }, { kind: "standalone" });
    this.#root.state = "ignored";
    this.#root.ignore = "root";
    // the host's own processes that exit before they are read are known to be in no container
    const v2Root = opts.cgroupFs?.v2Root;
    if (v2Root) {
      try {
        this.#root.v2Id = Deno.statSync(v2Root).ino ?? 0;
        if (this.#root.v2Id !== 0) this.#byCgroupId.set(this.#root.v2Id, this.#root);
      } catch { /* not readable: such records are "unknown" */ }
    }
    this.setEventSource("polling");
  }

  // ---- public surface --------------------------------------------------------------------

  /** Says where processes come from: `bpf` events, or `polling` (rescans) only. */
  setEventSource(source: "bpf" | "polling"): void {
    this.#polling = source === "polling";
    this.#f.eventSource.labels("bpf").set(source === "bpf" ? 1 : 0);
    this.#f.eventSource.labels("polling").set(source === "polling" ? 1 : 0);
  }

  /** The containers, for the resource collectors. */
  containers(): IterableIterator<ContainerView> {
    return this.#containers.values();
  }

  /**
   * The container a process belongs to, as far as the registry knows now: its view,
   * `"pending"` while its identity is being looked up, or undefined (not in a container). A
   * pid the registry has not seen yet is read from `<proc>` first; when that fails (the
   * process already exited), the cgroup v2 id a BPF record carried finds the container by
   * another of its processes, and it decides too when it is not the id of the cgroup read for
   * the pid (the process moved since). `"unknown"` when neither is known: the process is gone
   * and no process of its cgroup was seen (yet: another may be seen soon, or at the next
   * rescan). Other modules (the network module) attribute their events with it.
   */
  lookupPid(pid: number, cgroupId = 0): ContainerView | "pending" | "unknown" | undefined {
    let proc = this.#procs.get(pid);
    if (proc === undefined && pid > 0) {
      this.#discover(pid, { cgroupId });
      proc = this.#procs.get(pid);
    }
    let entry = proc?.entry;
    if (cgroupId !== 0 && entry !== undefined && entry.v2Id !== 0 && entry.v2Id !== cgroupId) {
      // the process moved after its cgroup was read (read between fork and the move into its
      // container, by a rescan or a start event): the record says where it is. Not known yet:
      // read the process's cgroup again (once a second at most), since a rescan re-reads it
      // only while it is young and not in a container, so the wait could last ten minutes.
      if (!this.#byCgroupId.has(cgroupId) && proc !== undefined) this.#recheckMoved(proc, cgroupId);
      return this.#byCgroupId.has(cgroupId)
        ? this.#answer(this.#byCgroupId.get(cgroupId)!)
        : "unknown";
    }
    // a pid reused by another cgroup since the record was written: trust the record
    if (
      cgroupId !== 0 &&
      (entry === undefined || (proc!.cgroupId !== 0 && proc!.cgroupId !== cgroupId))
    ) {
      entry = this.#byCgroupId.get(cgroupId) ?? entry;
    }
    if (entry === undefined) return "unknown";
    return this.#answer(entry);
  }

  #recheckMoved(proc: Proc, cgroupId: number): void {
    const now = this.#now();
    if (proc.movedCheckMs !== undefined && now - proc.movedCheckMs < MOVED_RECHECK_MS) return;
    proc.movedCheckMs = now;
    this.#recheckCgroup(proc);
    // still running: its cgroup as read now takes the record's id if its directory has it
    if (this.#procs.get(proc.pid) === proc) this.#noteEventCgroupId(proc.entry, cgroupId);
  }

  #answer(entry: CgroupEntry): ContainerView | "pending" | undefined {
    if (entry.state === "pending") return "pending";
    return entry.state === "container" ? entry.container : undefined;
  }

  /** Calls `fn` with every container the registry removes (after its series went); returns an unsubscribe function. */
  onContainerRemoved(fn: (c: ContainerView) => void): () => void {
    this.#removeListeners.add(fn);
    return () => this.#removeListeners.delete(fn);
  }

  /** Number of tracked processes. */
  get processCount(): number {
    return this.#procs.size;
  }

  /** Number of cgroups the registry holds (containers', pending and ignored ones with processes). */
  get cgroupCount(): number {
    return this.#entries.size;
  }

  /** Resolves when every metadata lookup started so far has finished (tests, shutdown). */
  async settled(): Promise<void> {
    while (this.#inflight.size > 0) await Promise.allSettled([...this.#inflight]);
  }

  /** Stops retries and ignores lookups that finish later. */
  close(): void {
    this.#closing.abort();
  }

  /**
   * Reconciles the process table with `<proc>`: new pids are resolved, vanished ones exit, and
   * (when polling, or every 10 minutes) reused pids and processes that moved to another cgroup
   * are found by their start time and cgroup. Then runs {@linkcode gc} and refreshes series.
   */
  scan(): void {
    const now = this.#now();
    const full = now - this.#lastFullScan >= FULL_RESCAN_EVERY_MS;
    if (full) this.#lastFullScan = now;
    const listed = new Set(listPids(this.#o.paths.proc));
    this.#round++;
    this.#rereadDue = true;
    for (const [pid, proc] of this.#procs) {
      if (!listed.has(pid)) this.#exit(proc, false);
    }
    for (const pid of listed) {
      const proc = this.#procs.get(pid);
      if (proc === undefined) {
        this.#discover(pid, {});
        continue;
      }
      if (!this.#polling && !full) continue;
      const startMs = this.#readStartMs(pid);
      if (startMs === undefined) {
        this.#exit(proc, false);
        continue;
      }
      if (Math.abs(startMs - proc.startMs) > START_TOLERANCE_MS) {
        this.#exit(proc, false); // the pid was reused
        this.#discover(pid, { startMs });
        continue;
      }
      if (full || (proc.entry.state !== "container" && now - proc.firstSeenMs < YOUNG_PROCESS_MS)) {
        this.#recheckCgroup(proc);
      }
    }
    this.gc();
  }

  /** Handles one process event (a reused object: nothing of it is kept). */
  handleEvent(e: ProcessEventLike): void {
    switch (e.type) {
      case "start": {
        this.#f.events.labels("start").inc();
        const old = this.#procs.get(e.pid);
        if (old !== undefined) this.#exit(old, false); // its exit was lost
        const parent = this.#procs.get(e.ppid);
        const hint = parent !== undefined && e.cgroupId !== 0 && parent.cgroupId === e.cgroupId
          ? parent.entry
          : undefined;
        this.#discover(e.pid, {
          startMs: this.#o.bootTimeMs + e.tsNs / 1e6,
          cgroupId: e.cgroupId,
          entry: hint,
          // a forked child runs its parent's image: same command line, same binary
          parent: hint !== undefined ? parent : undefined,
        });
        break;
      }
      case "exec": {
        this.#f.events.labels("exec").inc();
        const proc = this.#procs.get(e.pid);
        if (proc === undefined) {
          this.#discover(e.pid, { cgroupId: e.cgroupId });
          break;
        }
        // a new image: its types are read at the next refresh, if it still runs then
        proc.image++;
        proc.types = undefined;
        proc.binaryTypes = undefined;
        proc.binaryPending = false;
        if (proc.entry.container !== undefined) proc.entry.container.typesDirty = true;
        if (e.cgroupId === 0 || e.cgroupId !== proc.cgroupId) {
          proc.cgroupId = e.cgroupId;
          this.#recheckCgroup(proc);
        }
        break;
      }
      case "exit": {
        this.#f.events.labels("exit").inc();
        const proc = this.#procs.get(e.pid);
        if (proc !== undefined) {
          this.#exit(proc, e.oomKilled);
        } else if (e.oomKilled) {
          const entry = this.#byCgroupId.get(e.cgroupId);
          if (entry !== undefined && entry.state === "pending") entry.pendingOoms++;
          else if (entry?.state === "container" && entry.container) {
            entry.container.oomKills++;
            this.#show(entry.container);
          } else this.#f.oomUnattributed.labels().inc();
        }
        break;
      }
    }
  }

  /**
   * Removes dead containers whose grace period is over (and all their series), retries
   * cgroups that overflowed the container cap, updates visibility and the state gauges.
   */
  gc(): void {
    const now = this.#now();
    for (const c of this.#containers.values()) {
      if (c.liveCount === 0 && c.deadSince !== undefined && now - c.deadSince >= this.#grace) {
        this.#removeContainer(c);
      }
    }
    for (const entry of this.#entries.values()) {
      if (entry.state === "ignored" && entry.ignore === "overflow" && this.#hasRoom()) {
        entry.state = "pending";
        entry.ignore = undefined;
        entry.pendingStarts = [];
        for (const pid of entry.pids) {
          const p = this.#procs.get(pid);
          if (p) entry.pendingStarts.push(p.startMs);
        }
        this.#resolve(entry);
      }
    }
    this.refresh();
  }

  /**
   * Updates visibility (`--min-container-age`), the application types of live processes (new
   * and exec'd ones always; after a rescan also the oldest few per container again) and the
   * meta series of every container.
   */
  refresh(): void {
    let hidden = 0, running = 0, dead = 0;
    const reread = this.#rereadDue;
    this.#rereadDue = false;
    for (const c of this.#containers.values()) {
      this.#appTypes(c, reread);
      this.#show(c);
      if (!c.visible) hidden++;
      else if (c.liveCount > 0) running++;
      else dead++;
    }
    this.#f.containers.labels("pending").set(this.#pendingCount);
    this.#f.containers.labels("hidden").set(hidden);
    this.#f.containers.labels("running").set(running);
    this.#f.containers.labels("dead").set(dead);
    this.#f.processes.labels().set(this.#procs.size);
    this.#f.unknownLayouts.labels().set(this.#unknownCount);
  }

  // ---- processes -------------------------------------------------------------------------

  #readStartMs(pid: number): number | undefined {
    const text = readProcText(under(this.#o.paths.proc, `${pid}/stat`));
    if (text === undefined) return undefined;
    try {
      return this.#o.bootTimeMs + (parseProcStat(text, `/proc/${pid}/stat`).startTicks / this.#hz) *
          1000;
    } catch (err) {
      if (!(err instanceof FileFormatError)) throw err;
      this.#f.skipped.stat(err);
      return undefined;
    }
  }

  /**
   * The cgroup entry of a pid from `<proc>/<pid>/cgroup` (bytes, decoded without loss, paths
   * rebased out of the agent's cgroup namespace); undefined when the process is gone.
   */
  #entryOf(pid: number): CgroupEntry | undefined {
    const bytes = readProcBytes(under(this.#o.paths.proc, `${pid}/cgroup`));
    if (bytes === undefined) return undefined;
    let read: ProcCgroups;
    try {
      read = parseProcCgroup(decodeHostText(bytes), `/proc/${pid}/cgroup`);
    } catch (err) {
      if (!(err instanceof FileFormatError)) throw err;
      this.#f.skipped.procCgroup(err);
      return undefined;
    }
    const ns = this.#o.cgroupNamespace;
    const resolved = ns === undefined ? undefined : ns.resolve(read);
    const cgroups = resolved === undefined ? read : resolved.cgroups;
    const path = primaryCgroupPath(cgroups);
    if (resolved !== undefined && resolved.unresolved.length > 0) {
      // Keyed by the path as read: `..` never starts a host path, so no entry is shared.
      const key = path ?? primaryCgroupPath(read);
      if (key === null) return this.#root;
      return this.#entries.get(key) ??
        this.#unresolvedEntry(key, cgroups, path === null, resolved.unresolved);
    }
    if (path === null) return this.#root;
    return this.#entries.get(path) ?? this.#newEntry(path, cgroups);
  }

  /**
   * A cgroup with a hierarchy whose path could not be rebased out of the agent's namespace:
   * counted once and logged a few times. Without a primary path it is ignored; with one (another
   * hierarchy resolved it) it is a container that lacks that hierarchy's files.
   */
  #unresolvedEntry(
    key: string,
    cgroups: ProcCgroups,
    noPath: boolean,
    hierarchies: readonly string[],
  ): CgroupEntry {
    this.#f.unreadableCgroups.labels("outside_namespace").inc();
    if (this.#outsideLogged < UNREADABLE_LOG_LIMIT) {
      this.#outsideLogged++;
      this.#o.log.warn(
        "cgroup outside the agent's cgroup namespace that no mounted hierarchy reaches " +
          "(counted in osprey_cgroup_unreadable_total)",
        {
          cgroup: printableHostPath(key),
          hierarchies: hierarchies.join(","),
          effect: noPath ? "its processes are in no container" : "its files in those are not read",
          fix: "mount the host's whole cgroup hierarchies (e.g. /sys/fs/cgroup at " +
            "/host/sys/fs/cgroup) and point --cgroupfs-root at them",
          more: this.#outsideLogged === UNREADABLE_LOG_LIMIT ? "further ones are only counted" : "",
        },
      );
    }
    if (!noPath) return this.#newEntry(key, cgroups);
    const entry = new CgroupEntry(key, cgroups, {
      kind: "standalone",
      reason: "outside namespace",
    });
    this.#entries.set(key, entry);
    this.#ignore(entry, "outside_namespace");
    return entry;
  }

  #discover(
    pid: number,
    o: { startMs?: number; cgroupId?: number; entry?: CgroupEntry; parent?: Proc },
  ): void {
    if (this.#procs.size >= this.#maxProcesses) {
      this.#f.overflow.labels("process").inc();
      return;
    }
    const startMs = o.startMs ?? this.#readStartMs(pid);
    if (startMs === undefined) return;
    const entry = o.entry ?? this.#entryOf(pid);
    if (entry === undefined) return;
    const parent = o.parent;
    const proc: Proc = {
      pid,
      startMs,
      firstSeenMs: this.#now(),
      entry,
      cgroupId: o.cgroupId ?? 0,
      types: parent?.types,
      typesRound: parent?.typesRound ?? 0,
      image: 0,
      binaryTypes: parent?.binaryTypes,
      binaryPending: false,
    };
    this.#procs.set(pid, proc);
    this.#attach(proc, entry);
    this.#noteEventCgroupId(entry, proc.cgroupId);
  }

  /**
   * Notes the cgroup id an event carried for the cgroup `<proc>/<pid>/cgroup` named later.
   * A process may have moved in between (a fork's id is its parent's cgroup's, and the child
   * may join another before it is read), so where the directory gave the cgroup's own id,
   * another is taken only if the directory now has it (the cgroup was made again under the
   * same path, as a restarted Podman container's is): a wrong one would send another
   * cgroup's vanished processes here.
   */
  #noteEventCgroupId(entry: CgroupEntry, id: number): void {
    if (id === 0 || entry === this.#root) return;
    if (entry.v2Id !== 0 && entry.v2Id !== id) {
      if (this.#v2Id(entry.cgroups) !== id) return;
      entry.v2Id = id;
    }
    this.#noteCgroupId(entry, id);
  }

  #noteCgroupId(entry: CgroupEntry, id: number): void {
    // the root's id is the root's, whatever other hierarchies say of its processes
    if (entry.cgroupIds.has(id) || (id === this.#root.v2Id && entry !== this.#root)) return;
    entry.cgroupIds.add(id);
    this.#byCgroupId.set(id, entry);
  }

  /** Re-reads a process's cgroup; moves it when the cgroup changed. */
  #recheckCgroup(proc: Proc): void {
    const entry = this.#entryOf(proc.pid);
    if (entry === undefined) {
      this.#exit(proc, false);
      return;
    }
    this.#noteEventCgroupId(entry, proc.cgroupId);
    if (entry === proc.entry) return;
    this.#detach(proc, false);
    proc.entry = entry;
    this.#attach(proc, entry);
  }

  #exit(proc: Proc, oom: boolean): void {
    this.#procs.delete(proc.pid);
    this.#detach(proc, oom);
  }

  #attach(proc: Proc, entry: CgroupEntry): void {
    if (entry === this.#root) return;
    entry.pids.add(proc.pid);
    if (entry.state === "pending") entry.pendingStarts.push(proc.startMs);
    else if (entry.state === "container" && entry.container) {
      this.#join(entry.container, entry, proc.startMs, 1);
    }
  }

  #detach(proc: Proc, oom: boolean): void {
    const entry = proc.entry;
    entry.pids.delete(proc.pid);
    if (entry.state === "pending") {
      if (oom) entry.pendingOoms++;
    } else if (entry.state === "container" && entry.container) {
      const c = entry.container;
      c.liveCount--;
      c.typesDirty = true;
      if (oom) c.oomKills++;
      if (c.liveCount === 0) {
        c.deadSince = this.#now();
        this.#closeFiles(c);
      }
      if (c.current === entry && entry.pids.size === 0) c.current = this.#newestLive(c);
      this.#prune(c);
      this.#show(c);
    }
    this.#dropIfEmpty(entry);
  }

  /**
   * Forgets a container's empty cgroups other than its current one, so a container ID that
   * keeps getting new cgroups (a CronJob's pods, a container recreated under its name) holds
   * one cgroup, not all it ever had.
   */
  #prune(c: Container): void {
    if (c.entries.size < 2) return;
    for (const e of c.entries) {
      if (e === c.current || e.pids.size > 0) continue;
      c.entries.delete(e);
      this.#deleteEntry(e);
      if (e.dirs) this.#o.forgetDirs?.(e.dirs);
    }
  }

  /**
   * A container died: the descriptors kept on its cgroups' files are closed now rather than at
   * GC, so short-lived containers cannot pile up descriptors for the whole grace period. Its
   * series keep their values; the files are opened again should it run again.
   */
  #closeFiles(c: Container): void {
    for (const e of c.entries) if (e.dirs) this.#o.forgetDirs?.(e.dirs);
  }

  /** A container gains `n` processes of `entry`, the earliest started at `startMs`. */
  #join(c: Container, entry: CgroupEntry, startMs: number, n: number): void {
    if (n <= 0) return;
    if (c.liveCount === 0) {
      if (c.hadProcesses) c.restarts++;
      c.deadSince = undefined;
    }
    c.liveCount += n;
    c.typesDirty = true;
    c.hadProcesses = true;
    if (startMs < c.createdAt) c.createdAt = startMs;
    if (c.current !== entry) {
      c.current = entry;
      this.#prune(c);
    }
    this.#show(c);
  }

  #newestLive(c: Container): CgroupEntry | undefined {
    let best: CgroupEntry | undefined;
    for (const e of c.entries) if (e.pids.size > 0) best = e; // insertion order: newest last
    return best ?? c.current;
  }

  #dropIfEmpty(entry: CgroupEntry): void {
    if (entry.pids.size > 0 || entry === this.#root) return;
    if (entry.state === "ignored") this.#deleteEntry(entry);
  }

  #deleteEntry(entry: CgroupEntry): void {
    if (this.#entries.get(entry.path) !== entry) return;
    this.#entries.delete(entry.path);
    for (const id of entry.cgroupIds) {
      if (this.#byCgroupId.get(id) === entry) this.#byCgroupId.delete(id);
    }
    if (entry.state === "ignored" && entry.ignore === "unknown_layout") this.#unknownCount--;
    if (entry.state === "pending") this.#pendingCount--;
  }

  // ---- cgroups → containers --------------------------------------------------------------

  #hasRoom(): boolean {
    return this.#containers.size + this.#pendingCount < this.#maxContainers;
  }

  #newEntry(path: string, cgroups: ProcCgroups): CgroupEntry {
    const cls = classifyCgroup(path);
    if (cls.kind === "unknown" && this.#unknownCount >= MAX_UNKNOWN_CGROUPS) {
      // its processes are tracked (so they are not read again), the cgroup is not
      this.#f.overflow.labels("unknown_layout").inc();
      return this.#root;
    }
    const entry = new CgroupEntry(path, cgroups, cls);
    this.#entries.set(path, entry);
    // so a record of a process that exited before it was read still finds its cgroup
    entry.v2Id = this.#v2Id(cgroups);
    if (entry.v2Id !== 0) this.#noteCgroupId(entry, entry.v2Id);
    if (cls.kind === "unknown") {
      this.#ignore(entry, "unknown_layout");
      this.#unknownCount++;
      this.#f.unknownLayout.labels().inc();
      if (this.#unknownLogged < UNKNOWN_LOG_LIMIT) {
        this.#unknownLogged++;
        this.#o.log.info(
          "cgroup of an unknown layout (counted in osprey_cgroup_unknown_layout_total)",
          {
            cgroup: printableHostPath(path),
            why: cls.reason ?? "",
            more: this.#unknownLogged === UNKNOWN_LOG_LIMIT ? "further ones are only counted" : "",
          },
        );
      }
      return entry;
    }
    if (cls.kind === "standalone") {
      this.#ignore(entry, "standalone");
      return entry;
    }
    if (!this.#hasRoom()) {
      this.#ignore(entry, "overflow");
      this.#f.overflow.labels("container").inc();
      return entry;
    }
    this.#resolve(entry);
    return entry;
  }

  /** The v2 cgroup id of a cgroup: its v2 directory's inode; 0 without one or unreadable. */
  #v2Id(cgroups: ProcCgroups): number {
    if (this.#o.cgroupFs === undefined) return 0;
    // a cgroup placed by another hierarchy (v1, hybrid) that is the root one in v2
    if (cgroups.v2 === "/") return this.#root.v2Id;
    const dir = cgroupDirs(this.#o.cgroupFs, cgroups).v2;
    if (dir === undefined || isRawHostPath(dir)) return 0;
    try {
      return Deno.statSync(dir).ino ?? 0;
    } catch {
      return 0; // gone already, or not permitted: events' ids are used instead
    }
  }

  #ignore(entry: CgroupEntry, why: EntryIgnore): void {
    entry.state = "ignored";
    entry.ignore = why;
    entry.pendingStarts = [];
    entry.pendingOoms = 0;
  }

  /** Starts identifying a pending entry's container. */
  #resolve(entry: CgroupEntry): void {
    this.#pendingCount++;
    const cls = entry.cls;
    const id = cls.containerId;
    const needsLookup = (cls.kind === "container" || cls.kind === "sandbox") && id !== undefined;
    // Always finished asynchronously: the process that made the entry is attached first.
    const p = (needsLookup ? this.#lookup(cls, id) : Promise.resolve(undefined)).then(
      (md) => this.#finish(entry, md, undefined),
      (err) => this.#finish(entry, undefined, err),
    ).catch((err) => {
      this.#o.log.error("container registry: cannot finish a container", { error: err });
    });
    this.#inflight.add(p);
    p.finally(() => this.#inflight.delete(p));
  }

  async #lookup(cls: CgroupClass, id: string): Promise<ContainerMetadata> {
    const runtimes =
      (cls.runtimeCandidates ?? (cls.runtime ? [cls.runtime] : [])) as ContainerRuntime[];
    let last: unknown = new MetadataError(
      (cls.runtime ?? "docker") as ContainerRuntime,
      id,
      "unsupported",
      "no runtime to ask",
    );
    for (let attempt = 0;; attempt++) {
      let onlyNotFound = true;
      for (const rt of runtimes) {
        try {
          return await this.#limited(() =>
            this.#withTimeout(this.#o.lookupMetadata(rt, id), rt, id)
          );
        } catch (err) {
          last = err;
          if (!(err instanceof MetadataError && err.reason === "not_found")) onlyNotFound = false;
        }
      }
      const idNeedsIt = cls.runtime !== "lxc";
      if (
        !onlyNotFound || !idNeedsIt || attempt >= this.#retries.length ||
        this.#closing.signal.aborted
      ) {
        throw last;
      }
      await this.#sleep(this.#retries[attempt]);
    }
  }

  /**
   * Runs `fn` when fewer than `metadataConcurrency` lookups are running. A burst of new
   * containers (a node starting 200 pods) would otherwise read and parse the runtimes' shared
   * state files 200 times at once: measured at +110 MB of RSS for 300 concurrent Podman lookups,
   * against 14 ms for 20 in a row.
   */
  async #limited<T>(fn: () => Promise<T>): Promise<T> {
    while (this.#running >= this.#concurrency) {
      await new Promise<void>((resolve) => this.#waiting.push(resolve));
    }
    this.#running++;
    try {
      return await fn();
    } finally {
      this.#running--;
      this.#waiting.shift()?.();
    }
  }

  #withTimeout(p: Promise<ContainerMetadata>, rt: ContainerRuntime, id: string) {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new MetadataTimeout(rt, id, this.#timeoutMs)),
        this.#timeoutMs,
      );
    });
    return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const signal = this.#closing.signal;
      const t = setTimeout(done, ms);
      function done() {
        clearTimeout(t);
        signal.removeEventListener("abort", done);
        resolve();
      }
      signal.addEventListener("abort", done);
    });
  }

  #noteMetadataError(entry: CgroupEntry, err: unknown, id: string): void {
    const runtime = err instanceof MetadataError || err instanceof MetadataTimeout
      ? err.runtime
      : entry.cls.runtime ?? "unknown";
    const reason = err instanceof MetadataError
      ? err.reason
      : err instanceof MetadataTimeout
      ? "timeout"
      : "error";
    this.#f.metadataErrors.labels(runtime, reason).inc();
    const key = `${runtime}\0${reason}`;
    const now = this.#now();
    const last = this.#metadataLogged.get(key);
    if (last !== undefined && now - last < METADATA_LOG_EVERY_MS) return;
    this.#metadataLogged.set(key, now);
    this.#o.log.warn("cannot read container metadata; reporting it under its short id", {
      runtime,
      reason,
      container_id: printableHostPath(id),
      cgroup: printableHostPath(entry.path),
      file: err instanceof MetadataError ? err.file ?? "" : "",
      error: err instanceof Error ? err.message : String(err),
    });
  }

  #finish(entry: CgroupEntry, md: ContainerMetadata | undefined, err: unknown): void {
    if (this.#closing.signal.aborted || this.#entries.get(entry.path) !== entry) return;
    if (entry.state !== "pending") return;
    this.#pendingCount--;
    const cls = entry.cls;
    // a service's properties are its own unit's: a template instance's, not its slice's
    const unit = cls.kind === "systemd_service" ? systemdUnitOf(entry.path) : undefined;
    const systemd = unit !== undefined ? this.#o.systemdProps?.(unit) : undefined;
    const ident = containerIdentity(cls, md, {
      skipSystemdSystemServices: this.#o.skipSystemdSystemServices ?? true,
      nowMs: this.#now(),
      systemd,
      systemdUnit: unit,
    });
    if ("ignored" in ident) {
      this.#f.ignored.labels(ident.ignored).inc();
      this.#ignore(entry, ident.ignored);
      this.#dropIfEmpty(entry);
      return;
    }
    // The label value: bytes of the cgroup path that are not UTF-8 written as \xNN.
    const id = printableHostPath(ident.id);
    if (err !== undefined) this.#noteMetadataError(entry, err, id);
    const allow = this.#o.allowlist ?? [];
    const deny = this.#o.denylist ?? [];
    if (allow.length > 0 && !allow.some((re) => re.test(id))) {
      this.#f.ignored.labels("allowlist").inc();
      this.#ignore(entry, "allowlist");
      this.#dropIfEmpty(entry);
      return;
    }
    if (deny.some((re) => re.test(id))) {
      this.#f.ignored.labels("denylist").inc();
      this.#ignore(entry, "denylist");
      this.#dropIfEmpty(entry);
      return;
    }
    const now = this.#now();
    let c = this.#containers.get(id);
    const starts = entry.pendingStarts;
    if (c === undefined && starts.length === 0 && entry.pids.size === 0) {
      // nothing ever ran in it that we saw: no container
      this.#ignore(entry, "no_id");
      this.#deleteEntry(entry);
      return;
    }
    if (c === undefined) {
      const created = starts.length > 0 ? Math.min(...starts) : now;
      c = new Container(id, printableHostPath(ident.appId), created, this.#procs);
      this.#containers.set(id, c);
    }
    if (md !== undefined) {
      c.metadata = md;
      c.image = md.image ?? c.image;
    }
    if (systemd !== undefined) c.systemd = systemd;
    if (unit !== undefined) c.systemdUnit = unit;
    entry.state = "container";
    entry.container = c;
    c.entries.delete(entry);
    c.entries.add(entry);
    if (this.#o.cgroupFs !== undefined) {
      try {
        entry.dirs = this.#readableDirs(entry, cgroupDirs(this.#o.cgroupFs, entry.cgroups));
      } catch {
        this.#f.readErrors.labels("cgroup_dirs").inc();
      }
    }
    // processes that came and went while the ID was being found
    if (starts.length > 0) {
      if (c.liveCount === 0 && c.hadProcesses) c.restarts++;
      c.hadProcesses = true;
      const first = Math.min(...starts);
      if (first < c.createdAt) c.createdAt = first;
    }
    c.oomKills += entry.pendingOoms;
    entry.pendingStarts = [];
    entry.pendingOoms = 0;
    if (entry.pids.size > 0) {
      c.liveCount += entry.pids.size;
      c.typesDirty = true;
      c.deadSince = undefined;
      c.current = entry;
      this.#prune(c);
      this.#appTypes(c, false);
    } else if (c.liveCount === 0) {
      c.deadSince ??= now;
      c.current = entry;
      this.#prune(c);
    }
    this.#show(c);
  }

  /**
   * The directories, unless one is not UTF-8 and such paths cannot be opened: then none (the
   * container is reported without resource series), counted once per cgroup and said once.
   */
  #readableDirs(entry: CgroupEntry, dirs: CgroupDirs): CgroupDirs | undefined {
    const raw = Object.values(dirs).some((d) => typeof d === "string" && isRawHostPath(d));
    if (!raw) return dirs;
    const why = this.#o.rawPathsUnavailable?.();
    if (why === undefined) return dirs;
    this.#f.unreadableCgroups.labels("non_utf8_path").inc();
    if (!this.#rawPathLogged) {
      this.#rawPathLogged = true;
      this.#o.log.warn(
        "cgroup path is not UTF-8: its resource files cannot be read (counted in " +
          'osprey_cgroup_unreadable_total{reason="non_utf8_path"}; said once)',
        { cgroup: printableHostPath(entry.path), why },
      );
    }
    return undefined;
  }

  #removeContainer(c: Container): void {
    c.removed = true;
    c.series.remove();
    this.#containers.delete(c.id);
    for (const e of c.entries) {
      if (e.pids.size > 0) continue;
      this.#deleteEntry(e);
      if (e.dirs) this.#o.forgetDirs?.(e.dirs);
    }
    this.#o.onRemove?.(c);
    for (const fn of this.#removeListeners) fn(c);
  }

  // ---- application type ------------------------------------------------------------------

  /**
   * Recomputes a container's application types from its live processes (reference errata
   * §13.8): reads the types of processes that have none yet, and with `reread` those of the
   * `appTypeProbesPerRescan` least recently read ones again; starts inspecting the executables
   * of processes whose binary was not inspected yet.
   */
  #appTypes(c: Container, reread: boolean): void {
    if (c.liveCount === 0) {
      if (c.appTypes.length > 0) c.appTypes = [];
      c.typesDirty = false;
      return;
    }
    if (!c.typesDirty && !reread) return;
    const stale: Proc[] = [];
    const live: Proc[] = [];
    for (const entry of c.entries) {
      for (const pid of entry.pids) {
        const p = this.#procs.get(pid);
        if (p === undefined) continue;
        live.push(p);
        if (p.types === undefined) this.#readTypes(p);
        else if (reread && p.typesRound < this.#round) stale.push(p);
      }
    }
    if (stale.length > 0) {
      stale.sort((a, b) => a.typesRound - b.typesRound);
      for (const p of stale.slice(0, this.#probes)) this.#readTypes(p);
    }
    const types = new Set<string>();
    for (const p of live) {
      if (!p.types) continue; // an empty command line: no type, not even from the binary
      for (const t of p.types) types.add(t);
      if (p.binaryTypes === undefined) this.#inspectBinary(p);
      else for (const t of p.binaryTypes) types.add(t);
    }
    c.appTypes = [...types].sort();
    c.typesDirty = false;
  }

  /** Reads a process's types from `<proc>/<pid>/cmdline` and, if need be, its exe link. */
  #readTypes(p: Proc): void {
    p.typesRound = this.#round;
    const raw = readProcText(under(this.#o.paths.proc, `${p.pid}/cmdline`));
    if (raw === undefined || raw === "") {
      p.types = null; // gone, or a zombie
      return;
    }
    let type = guessByCmdline(raw);
    if (type === "") {
      try {
        // under Landlock another process's exe link is the procfs broker's to read
        const broker = procBrokerFor(this.#o.paths.proc);
        type = guessByExe(
          broker !== undefined
            ? broker.exeLink(p.pid)
            : Deno.readLinkSync(under(this.#o.paths.proc, `${p.pid}/exe`)),
        );
      } catch {
        // exited, or no executable (a kernel thread): no type from it
      }
    }
    const types = type === "" ? [] : [type];
    if (isDotnetCommand(raw) && type !== "dotnet") types.push("dotnet");
    p.types = types;
  }

  /** Starts reading a process's executable; its types count once the read is done. */
  #inspectBinary(p: Proc): void {
    if (p.binaryPending || this.#exe === undefined) return;
    p.binaryPending = true;
    const image = p.image;
    const job = this.#exe.inspect(under(this.#o.paths.proc, `${p.pid}/exe`)).then((facts) => {
      if (this.#procs.get(p.pid) !== p || p.image !== image) return; // exited or exec'd
      p.binaryPending = false;
      if (facts === undefined || this.#closing.signal.aborted) return; // busy: next refresh
      const types: string[] = [];
      if (facts.go) types.push("golang");
      if (facts.rust) types.push("rust");
      if (facts.dotnetApphost) types.push("dotnet");
      p.binaryTypes = types;
      const c = p.entry.state === "container" ? p.entry.container : undefined;
      if (c !== undefined && types.length > 0) {
        c.typesDirty = true;
        this.#appTypes(c, false);
        this.#show(c);
      }
    }).catch((err) => {
      this.#o.log.error("container registry: cannot inspect an executable", { error: err });
    });
    this.#inflight.add(job);
    job.finally(() => this.#inflight.delete(job));
  }

  // ---- series ----------------------------------------------------------------------------

  /** Makes `c` visible once old enough, then sets its meta series. */
  #show(c: Container): void {
    if (!c.visible) {
      const end = c.liveCount > 0 ? this.#now() : c.deadSince ?? this.#now();
      if (end - c.createdAt < this.#minAge) return;
      c.visible = true;
    }
    const f = this.#f;
    const s = c.series;
    const sd = c.systemd;
    if (c.image !== "" || sd?.type || sd?.triggeredBy) {
      const info = [c.image, sd?.triggeredBy ?? "", sd?.type ?? ""];
      const key = info.join("\0");
      if (key !== c.infoKey) {
        s.remove([f.info]);
        c.infoKey = key;
      }
      s.get(f.info, ...info).set(1);
    }
    s.get(f.restarts).set(c.restarts);
    if (c.oomKills > 0) s.get(f.oomKills).set(c.oomKills);
    const shown = c.appTypes.join("\0");
    if (shown !== c.shownTypes) {
      s.retain([f.appType], new Set(c.appTypes));
      c.shownTypes = shown;
    }
    for (const t of c.appTypes) s.get(f.appType, t).set(1);
  }
}

/** A metadata lookup that took longer than the timeout. */
export class MetadataTimeout extends Error {
  readonly runtime: ContainerRuntime;
  readonly id: string;
  constructor(runtime: ContainerRuntime, id: string, ms: number) {
    super(`Metadata lookup of ${runtime} container ${id.slice(0, 12)} took over ${ms} ms`);
    this.name = "MetadataTimeout";
    this.runtime = runtime;
    this.id = id;
  }
}
