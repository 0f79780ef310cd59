/**
 * Every metric family of the containers module in one table: the contract's container
 * families (reference §2.2, all carrying `container_id` and `app_id`) and Osprey's own
 * `osprey_container*` families that make discovery, overflow and failures visible.
 *
 * A container's series are created through its {@linkcode SeriesOwner}, which remembers them,
 * so removing a container removes its series from every family, and a round can drop the
 * series it did not refresh (a mount that went away) without touching the others.
 *
 * @module
 */
import type { SkipLine } from "../file_format_error.ts";
import type { Logger } from "../log.ts";
import type { Counter, Gauge, Registry } from "../metrics/mod.ts";
import { parseErrors } from "../parse_errors.ts";

/**
 * Where the containers module's parsers report the lines they skipped: one sink per
 * collector and file kind of `osprey_parse_errors_total{collector,file}`.
 */
export interface ContainerSkips {
  /** `/proc/<pid>/stat` (collector `containers_discovery`). */
  readonly stat: SkipLine;
  /** `/proc/<pid>/cgroup` (collector `containers_discovery`). */
  readonly procCgroup: SkipLine;
  /** `/proc/<pid>/mountinfo` (collector `containers_disk`). */
  readonly mountinfo: SkipLine;
  /** The cgroup resource files, labelled by base name (collector `containers_resources`). */
  readonly cgroup: SkipLine;
}

const C = ["container_id", "app_id"] as const;
const DISK = [...C, "mount_point", "device", "volume"] as const;

/** The families, registered once per module start. */
export class ContainerFamilies {
  readonly info: Gauge<readonly string[]>;
  readonly restarts: Counter<readonly string[]>;
  readonly oomKills: Counter<readonly string[]>;
  readonly appType: Gauge<readonly string[]>;
  readonly cpuLimit: Gauge<readonly string[]>;
  readonly cpuUsage: Counter<readonly string[]>;
  readonly cpuThrottled: Counter<readonly string[]>;
  readonly memRss: Gauge<readonly string[]>;
  readonly memCache: Gauge<readonly string[]>;
  readonly memLimit: Gauge<readonly string[]>;
  readonly cpuPressure: Counter<readonly string[]>;
  readonly memPressure: Counter<readonly string[]>;
  readonly ioPressure: Counter<readonly string[]>;
  readonly diskSize: Gauge<readonly string[]>;
  readonly diskUsed: Gauge<readonly string[]>;
  readonly diskReserved: Gauge<readonly string[]>;
  readonly diskReads: Counter<readonly string[]>;
  readonly diskWrites: Counter<readonly string[]>;
  readonly diskReadBytes: Counter<readonly string[]>;
  readonly diskWrittenBytes: Counter<readonly string[]>;

  // Osprey's own
  readonly containers: Gauge<readonly string[]>;
  readonly processes: Gauge<readonly string[]>;
  readonly overflow: Counter<readonly string[]>;
  readonly unknownLayout: Counter<readonly string[]>;
  readonly unknownLayouts: Gauge<readonly string[]>;
  readonly unreadableCgroups: Counter<readonly string[]>;
  readonly ignored: Counter<readonly string[]>;
  readonly metadataErrors: Counter<readonly string[]>;
  readonly skipped: ContainerSkips;
  readonly readErrors: Counter<readonly string[]>;
  readonly eventSource: Gauge<readonly string[]>;
  readonly events: Counter<readonly string[]>;
  readonly oomUnattributed: Counter<readonly string[]>;
  readonly roundPerContainer: Gauge<readonly string[]>;
  readonly statfsTimeouts: Counter<readonly string[]>;
  readonly exeChecks: Counter<readonly string[]>;

  /** The contract's resource families a dead container stops reporting. */
  readonly resourceFamilies: readonly (Gauge<readonly string[]> | Counter<readonly string[]>)[];
  /** The per-mount file system families (statfs). */
  readonly diskFamilies: readonly Gauge<readonly string[]>[];
  /** The per-mount block I/O families. */
  readonly ioFamilies: readonly Counter<readonly string[]>[];

  /** `log` gets the rate-limited lines about skipped lines (see `parse_errors.ts`). */
  constructor(r: Registry, log?: Logger) {
    this.info = r.gauge({
      name: "container_info",
      help: "Meta information about the container",
      labelNames: [...C, "image", "systemd_triggered_by", "systemd_type"],
    });
    this.restarts = r.counter({
      name: "container_restarts_total",
      help: "Number of times the container was restarted",
      labelNames: C,
    });
    this.oomKills = r.counter({
      name: "container_oom_kills_total",
      help: "Total number of times the container was terminated by the OOM killer",
      labelNames: C,
    });
    this.appType = r.gauge({
      name: "container_application_type",
      help: "Type of the application running in the container (e.g. memcached, postgres, mysql)",
      labelNames: [...C, "application_type"],
    });
    this.cpuLimit = r.gauge({
      name: "container_resources_cpu_limit_cores",
      help: "CPU limit of the container",
      labelNames: C,
    });
    this.cpuUsage = r.counter({
      name: "container_resources_cpu_usage_seconds_total",
      help: "Total CPU time consumed by the container",
      labelNames: C,
    });
    this.cpuThrottled = r.counter({
      name: "container_resources_cpu_throttled_seconds_total",
      help: "Total time duration the container has been throttled",
      labelNames: C,
    });
    this.memRss = r.gauge({
      name: "container_resources_memory_rss_bytes",
      help: "Amount of physical memory used by the container (doesn't include page cache)",
      labelNames: C,
    });
    this.memCache = r.gauge({
      name: "container_resources_memory_cache_bytes",
      help: "Amount of page cache memory allocated by the container",
      labelNames: C,
    });
    this.memLimit = r.gauge({
      name: "container_resources_memory_limit_bytes",
      help: "Memory limit of the container",
      labelNames: C,
    });
    this.cpuPressure = r.counter({
      name: "container_resources_cpu_pressure_waiting_seconds_total",
      help: "Total time in seconds that the container were delayed due to CPU pressure",
      labelNames: [...C, "kind"],
    });
    this.memPressure = r.counter({
      name: "container_resources_memory_pressure_waiting_seconds_total",
      help: "Total time in seconds that the container were delayed due to memory pressure",
      labelNames: [...C, "kind"],
    });
    this.ioPressure = r.counter({
      name: "container_resources_io_pressure_waiting_seconds_total",
      help: "Total time in seconds that the container were delayed due to I/O pressure",
      labelNames: [...C, "kind"],
    });
    this.diskSize = r.gauge({
      name: "container_resources_disk_size_bytes",
      help: "The total size of the file system",
      labelNames: DISK,
    });
    this.diskUsed = r.gauge({
      name: "container_resources_disk_used_bytes",
      help: "The amount of space used on the file system",
      labelNames: DISK,
    });
    this.diskReserved = r.gauge({
      name: "container_resources_disk_reserved_bytes",
      help: "The amount of space reserved on the file system for the root user",
      labelNames: DISK,
    });
    this.diskReads = r.counter({
      name: "container_resources_disk_reads_total",
      help: "Total number of reads completed successfully by the container",
      labelNames: DISK,
    });
    this.diskWrites = r.counter({
      name: "container_resources_disk_writes_total",
      help: "Total number of writes completed successfully by the container",
      labelNames: DISK,
    });
    this.diskReadBytes = r.counter({
      name: "container_resources_disk_read_bytes_total",
      help: "Total number of bytes read from the disk by the container",
      labelNames: DISK,
    });
    this.diskWrittenBytes = r.counter({
      name: "container_resources_disk_written_bytes_total",
      help: "Total number of bytes written to the disk by the container",
      labelNames: DISK,
    });

    this.containers = r.gauge({
      name: "osprey_containers",
      help: "Containers the registry tracks, by state (pending metadata, hidden by " +
        "--min-container-age, running, dead awaiting --container-gc-grace)",
      labelNames: ["state"],
    });
    this.processes = r.gauge({
      name: "osprey_container_registry_processes",
      help: "Processes the container registry tracks (every process on the host, up to " +
        "--max-processes)",
      labelNames: [],
    });
    this.overflow = r.counter({
      name: "osprey_containers_overflow_total",
      help: "What the container registry did not track because a cap was reached: " +
        "kind=container (--max-containers), process (--max-processes), unknown_layout, " +
        "binary (executables' runtime facts evicted from their cache)",
      labelNames: ["kind"],
    });
    this.unknownLayout = r.counter({
      name: "osprey_cgroup_unknown_layout_total",
      help: "Cgroups whose path matches no known container layout (counted once per cgroup " +
        "while processes live in it)",
      labelNames: [],
    });
    this.unknownLayouts = r.gauge({
      name: "osprey_cgroup_unknown_layouts",
      help: "Distinct cgroups of unknown layout that currently hold processes",
      labelNames: [],
    });
    this.unreadableCgroups = r.counter({
      name: "osprey_cgroup_unreadable_total",
      help: "Cgroups with processes whose files the agent cannot read, counted once per cgroup: " +
        "outside_namespace (its path in /proc/<pid>/cgroup is relative to the agent's cgroup " +
        "namespace and no mounted hierarchy reaches it), non_utf8_path (its path is not UTF-8 " +
        "and libosprey, which opens such paths, is not granted or cannot be loaded)",
      labelNames: ["reason"],
    });
    this.ignored = r.counter({
      name: "osprey_containers_ignored_total",
      help: "Containers not reported, by reason (denylist, allowlist, pause_container, " +
        "unnamed, no_metadata, no_id, systemd_system_service)",
      labelNames: ["reason"],
    });
    this.metadataErrors = r.counter({
      name: "osprey_container_metadata_errors_total",
      help: "Containers whose runtime metadata could not be read (they are reported under " +
        "a fallback id), by runtime and reason",
      labelNames: ["runtime", "reason"],
    });
    const skips = parseErrors(r, { log });
    this.skipped = {
      stat: skips.sink("containers_discovery", "<pid>/stat"),
      procCgroup: skips.sink("containers_discovery", "<pid>/cgroup"),
      mountinfo: skips.sink("containers_disk", "<pid>/mountinfo"),
      cgroup: skips.sink("containers_resources"),
    };
    this.readErrors = r.counter({
      name: "osprey_containers_read_errors_total",
      help: "Cgroup, mount or statfs reads of live containers that failed, by source",
      labelNames: ["source"],
    });
    this.eventSource = r.gauge({
      name: "osprey_containers_event_source",
      help: "How the registry learns of processes: bpf (process events; restarts and OOM " +
        "kills exact) or polling (rescans only; OOM kills cannot be counted)",
      labelNames: ["source"],
    });
    this.events = r.counter({
      name: "osprey_containers_process_events_total",
      help: "Process events the container registry handled, by type",
      labelNames: ["type"],
    });
    this.oomUnattributed = r.counter({
      name: "osprey_containers_oom_kills_unattributed_total",
      help: "OOM kills of processes the registry could not place in a container (untracked " +
        "pid, unknown cgroup)",
      labelNames: [],
    });
    this.roundPerContainer = r.gauge({
      name: "osprey_containers_round_seconds_per_container",
      help: "Wall time of the last collector round divided by the containers it read",
      labelNames: ["collector"],
    });
    this.statfsTimeouts = r.counter({
      name: "osprey_containers_statfs_timeouts_total",
      help: "statfs calls on container mounts that did not answer in time (the mount is " +
        "skipped for a while)",
      labelNames: [],
    });
    this.exeChecks = r.counter({
      name: "osprey_container_exe_checks_total",
      help: "Executables of container processes read for their runtime (golang, rust, dotnet " +
        "from the ELF headers), by result: golang, rust, dotnet, other (ELF, none of them), " +
        "not_elf, truncated, malformed, too_large, unreadable, timeout, busy (not read now, " +
        "retried later); a binary is read once while it stays in the cache",
      labelNames: ["result"],
    });
    this.diskFamilies = [this.diskSize, this.diskUsed, this.diskReserved];
    this.ioFamilies = [this.diskReads, this.diskWrites, this.diskReadBytes, this.diskWrittenBytes];
    this.resourceFamilies = [
      this.cpuLimit,
      this.cpuUsage,
      this.cpuThrottled,
      this.memRss,
      this.memCache,
      this.memLimit,
      this.cpuPressure,
      this.memPressure,
      this.ioPressure,
      ...this.diskFamilies,
      ...this.ioFamilies,
    ];
    for (const kind of ["container", "process", "unknown_layout", "binary"]) {
      this.overflow.labels(kind);
    }
    this.unknownLayout.labels();
    for (const reason of ["outside_namespace", "non_utf8_path"]) {
      this.unreadableCgroups.labels(reason);
    }
    this.oomUnattributed.labels();
  }
}

/** A family a {@linkcode SeriesOwner} can create and remove series in. */
export interface SeriesFamily<S> {
  readonly name: string;
  labels(...values: string[]): S;
  remove(...values: string[]): boolean;
}

interface Owned {
  family: SeriesFamily<unknown>;
  values: string[];
  extraKey: string;
  series: unknown;
}

/**
 * The series one container created. Series are looked up by family and extra label values
 * (the container's own `container_id`, `app_id` come first), so the same label set always
 * gives the same series: a duplicate can never reach the exposition.
 */
export class SeriesOwner {
  readonly #prefix: readonly string[];
  #owned = new Map<string, Owned>();

  constructor(containerId: string, appId: string) {
    this.#prefix = [containerId, appId];
  }

  /** The series of `family` with the container's labels followed by `extra`. */
  get<S>(family: SeriesFamily<S>, ...extra: string[]): S {
    const extraKey = extra.join("\0");
    const key = family.name + "\0" + extraKey;
    let o = this.#owned.get(key);
    if (o === undefined) {
      const values = [...this.#prefix, ...extra];
      o = {
        family: family as SeriesFamily<unknown>,
        values,
        extraKey,
        series: family.labels(...values),
      };
      this.#owned.set(key, o);
    }
    return o.series as S;
  }

  /** Whether the series exists. */
  has(family: SeriesFamily<unknown>, ...extra: string[]): boolean {
    return this.#owned.has(family.name + "\0" + extra.join("\0"));
  }

  /**
   * Removes the series of `families` whose extra label values (joined with NUL) are not in
   * `keep`: what a round did not see again (a mount that went away).
   */
  retain(families: readonly SeriesFamily<unknown>[], keep: ReadonlySet<string>): void {
    for (const [key, o] of this.#owned) {
      if (!keep.has(o.extraKey) && families.includes(o.family)) {
        o.family.remove(...o.values);
        this.#owned.delete(key);
      }
    }
  }

  /** Removes the series of `families` (all when omitted). */
  remove(families?: readonly SeriesFamily<unknown>[]): void {
    for (const [key, o] of this.#owned) {
      if (families === undefined || families.includes(o.family)) {
        o.family.remove(...o.values);
        this.#owned.delete(key);
      }
    }
  }

  /** Number of series held. */
  get size(): number {
    return this.#owned.size;
  }
}
