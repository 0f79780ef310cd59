/**
 * The containers' resource collectors: background rounds that read each visible, running
 * container's cgroup files (`containers_resources`) and its mounts and file system sizes
 * (`containers_disk`), and set the contract's `container_resources_*` series. A scrape only
 * encodes what the last rounds set.
 *
 * | collector              | families                                               | reads per container |
 * |------------------------|--------------------------------------------------------|---------------------|
 * | `containers_resources` | cpu usage/throttled/limit, memory rss/cache/limit, PSI, disk reads/writes/bytes | cgroup files through kept descriptors (v1: cpuacct.usage, cpu.stat, cfs quota/period, memory.stat, limit, 2 blkio files; v2: cpu.stat, cpu.max, memory.stat, memory.max, io.stat, 3 pressure files) |
 * | `containers_disk`      | disk size/used/reserved                                | `<proc>/<pid>/mountinfo`, one statfs per mount |
 *
 * A container whose processes are all gone stops reporting resource series (its cgroup is
 * gone); they return, from the new cgroup's counters, when it runs again. A line of a cgroup
 * file or of mountinfo that cannot be read costs only the series it feeds and is counted in
 * `osprey_parse_errors_total{collector,file}`. A read that fails for a live container (a file
 * missing, unreadable, or without one readable line) clears that group of series for the round
 * and is counted in `osprey_containers_read_errors_total{source}`.
 *
 * @module
 */
import type { Collector } from "../collector.ts";
import {
  type CgroupFileSource,
  type IoStat,
  readCpu,
  readIo,
  readMemory,
  readPsi,
} from "../cgroups/mod.ts";
import { BpfError, Errno, type ProcBroker } from "../../ffi/mod.ts";
import type { HostPaths } from "../paths.ts";
import { procBrokerFor } from "../self/proc_broker.ts";
import { under } from "../paths.ts";
import { isContractDiskKind } from "../node/mod.ts";
import {
  type BlockDevice,
  BlockDevices,
  concurrencyLimit,
  type ContainerDisk,
  type FsUsage,
  selectMounts,
  StatfsTimeout,
  statfsUsage,
} from "./disk.ts";
import type { ContainerFamilies, SeriesFamily, SeriesOwner } from "./metrics.ts";
import { parseMountInfo, readProcText } from "./proc.ts";
import type { ContainerView } from "./registry.ts";

/** What both collectors share about one container's mounts. */
interface DiskState {
  /** Mounts with their labels, from the last disk round. */
  disks: { disk: ContainerDisk; device: string; diskDev: string }[];
}

/** Options of {@linkcode ContainerDisks}. */
export interface ContainerDisksOptions {
  /**
   * Whether the node families report a whole disk of this name: only such a disk labels a
   * mount's `device`. @default isContractDiskKind (the contract's kinds)
   */
  readonly reported?: (name: string) => boolean;
}

/** The mounts known per container, shared by the two collectors. */
export class ContainerDisks {
  readonly #state = new Map<string, DiskState>();
  readonly devices: BlockDevices;
  readonly #skipUntil = new Map<string, number>();
  readonly #reported: (name: string) => boolean;

  constructor(paths: HostPaths, opts: ContainerDisksOptions = {}) {
    this.devices = new BlockDevices(paths.sys);
    this.#reported = opts.reported ?? isContractDiskKind;
  }

  /**
   * The `device` label of a mount on `dev` (reference §13 item 4): the whole disk behind it
   * when the node families report that disk, else "" (loop, nbd, zram, a ZFS dataset or any
   * device sysfs does not know).
   */
  deviceLabel(dev: BlockDevice | null): string {
    return dev !== null && this.#reported(dev.name) ? dev.name : "";
  }

  get(id: string): DiskState | undefined {
    return this.#state.get(id);
  }

  set(id: string, s: DiskState): void {
    this.#state.set(id, s);
  }

  /** Forgets a removed container. */
  forget(id: string): void {
    this.#state.delete(id);
    for (const k of this.#skipUntil.keys()) if (k.startsWith(id + "\0")) this.#skipUntil.delete(k);
  }

  skipped(key: string, now: number): boolean {
    const until = this.#skipUntil.get(key);
    if (until === undefined) return false;
    if (now >= until) {
      this.#skipUntil.delete(key);
      return false;
    }
    return true;
  }

  skip(key: string, until: number): void {
    this.#skipUntil.set(key, until);
  }
}

/** Options of {@linkcode resourcesCollector}. */
export interface ResourcesOptions {
  readonly containers: () => Iterable<ContainerView>;
  readonly families: ContainerFamilies;
  readonly files: CgroupFileSource;
  readonly disks: ContainerDisks;
  readonly intervalMs?: number;
}

/**
 * Counts a read that failed for a live container. Lines its parsers skipped were counted in
 * `osprey_parse_errors_total` already; what is left here is a file missing, unreadable, or
 * without one readable line.
 */
function countFailure(f: ContainerFamilies, source: string): void {
  f.readErrors.labels(source).inc();
}

type SetSeries = { set(v: number): void };

/** Sets the container's one series of `family`, or removes it when `v` is undefined. */
function put(s: SeriesOwner, family: SeriesFamily<SetSeries>, v: number | undefined): void {
  if (v !== undefined) s.get(family).set(v);
  else s.remove([family]);
}

/** Sets the `kind` series of a PSI family for the kinds read; removes the others. */
function putPressure(
  s: SeriesOwner,
  family: SeriesFamily<SetSeries>,
  p: { some?: number; full?: number },
): void {
  const keep = new Set<string>();
  for (const kind of ["some", "full"] as const) {
    const v = p[kind];
    if (v === undefined) continue;
    s.get(family, kind).set(v);
    keep.add(kind);
  }
  s.retain([family], keep);
}

function setIo(
  f: ContainerFamilies,
  s: SeriesOwner,
  io: readonly IoStat[],
  state: DiskState | undefined,
): void {
  const keep = new Set<string>();
  if (state !== undefined && io.length > 0) {
    for (const { disk, device, diskDev } of state.disks) {
      const st = io.find((x) => x.device === diskDev) ?? io.find((x) => x.device === disk.dev);
      if (st === undefined) continue;
      const extra = [disk.mountPoint, device, disk.volume];
      keep.add(extra.join("\0"));
      s.get(f.diskReads, ...extra).set(st.reads);
      s.get(f.diskWrites, ...extra).set(st.writes);
      s.get(f.diskReadBytes, ...extra).set(st.readBytes);
      s.get(f.diskWrittenBytes, ...extra).set(st.writtenBytes);
    }
  }
  s.retain(f.ioFamilies, keep);
}

/** Reads one container's cgroup and sets its series; returns false when it read nothing. */
function collectOne(o: ResourcesOptions, c: ContainerView): void {
  const f = o.families;
  const s = c.series;
  const dirs = c.dirs!;
  const skip = f.skipped.cgroup;
  try {
    const cpu = readCpu(dirs, o.files, skip);
    put(s, f.cpuUsage, cpu.usageSeconds);
    // The contract emits the throttled counter whenever the CPU stats are readable, as 0 when
    // the cgroup has no throttling counter (v1 without throttled_time, v2 without the cpu
    // controller's throttled_usec); a skipped line of the counter costs the series instead.
    if (cpu.throttledUnreadable) s.remove([f.cpuThrottled]);
    else s.get(f.cpuThrottled).set(cpu.throttledSeconds ?? 0);
    if (cpu.limitCores !== undefined && cpu.limitCores > 0) s.get(f.cpuLimit).set(cpu.limitCores);
    else s.remove([f.cpuLimit]);
  } catch {
    countFailure(f, "cpu");
    s.remove([f.cpuUsage, f.cpuThrottled, f.cpuLimit]);
  }
  try {
    const mem = readMemory(dirs, o.files, skip);
    put(s, f.memRss, mem.rssBytes);
    put(s, f.memCache, mem.cacheBytes);
    if (mem.limitBytes !== undefined && mem.limitBytes > 0) s.get(f.memLimit).set(mem.limitBytes);
    else s.remove([f.memLimit]);
  } catch {
    countFailure(f, "memory");
    s.remove([f.memRss, f.memCache, f.memLimit]);
  }
  try {
    const psi = readPsi(dirs, o.files, skip);
    if (psi !== undefined) {
      putPressure(s, f.cpuPressure, psi.cpu);
      putPressure(s, f.memPressure, psi.memory);
      putPressure(s, f.ioPressure, psi.io);
    } else s.remove([f.cpuPressure, f.memPressure, f.ioPressure]);
  } catch {
    countFailure(f, "psi");
    s.remove([f.cpuPressure, f.memPressure, f.ioPressure]);
  }
  try {
    setIo(f, s, readIo(dirs, o.files, skip), o.disks.get(c.id));
  } catch {
    countFailure(f, "io");
    s.remove(f.ioFamilies);
  }
}

/**
 * The `containers_resources` collector: CPU, memory, PSI and block I/O of every visible
 * running container, from its newest cgroup.
 */
export function resourcesCollector(o: ResourcesOptions): Collector {
  const f = o.families;
  const perContainer = f.roundPerContainer.labels("containers_resources");
  return {
    name: "containers_resources",
    intervalMs: o.intervalMs,
    collect() {
      const started = performance.now();
      let n = 0;
      for (const c of o.containers()) {
        if (!c.visible) continue;
        if (!c.live || c.dirs === undefined) {
          if (c.series.size > 0) c.series.remove(f.resourceFamilies);
          continue;
        }
        n++;
        collectOne(o, c);
      }
      perContainer.set(n === 0 ? 0 : (performance.now() - started) / 1000 / n);
    },
  };
}

/** Options of {@linkcode diskCollector}. */
export interface DiskOptions {
  readonly containers: () => Iterable<ContainerView>;
  readonly families: ContainerFamilies;
  readonly paths: HostPaths;
  readonly disks: ContainerDisks;
  readonly intervalMs?: number;
  /** One statfs call's timeout. @default 2000 */
  readonly statfsTimeoutMs?: number;
  /** How long a mount whose statfs timed out is skipped. @default 300000 */
  readonly statfsBackoffMs?: number;
  /**
   * Mounts checked at once (a stat and a statfs each, both on Deno's blocking thread pool: this
   * bounds the threads a round adds, see {@linkcode concurrencyLimit}). @default 4
   */
  readonly statfsConcurrency?: number;
  /** The statfs call (tests). @default statfsUsage */
  readonly statfs?: (path: string, timeoutMs: number) => Promise<FsUsage>;
  readonly now?: () => number;
}

/**
 * statfs of `mountPoint` beneath `<proc>/<pid>/root` through the procfs broker; undefined for a
 * file (ENOTDIR: a file bind-mounted into the container is no file system of its own).
 */
async function brokerUsage(
  broker: ProcBroker,
  pid: number,
  mountPoint: string,
  timeoutMs: number,
): Promise<FsUsage | undefined> {
  try {
    const s = await broker.rootStatfs(pid, mountPoint, timeoutMs);
    return {
      sizeBytes: s.blocks * s.bsize,
      usedBytes: (s.blocks - s.bfree) * s.bsize,
      reservedBytes: (s.bfree - s.bavail) * s.bsize,
    };
  } catch (err) {
    if (err instanceof BpfError && err.errno === Errno.ENOTDIR) return undefined;
    throw err;
  }
}

/** Resolves with `p`, or rejects with a StatfsTimeout-like error after `ms`. */
function within<T>(p: Promise<T>, path: string, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new StatfsTimeout(path, ms)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

/**
 * The `containers_disk` collector: each visible running container's mounts (from one of its
 * processes' mountinfo) and their statfs sizes.
 */
export function diskCollector(o: DiskOptions): Collector {
  const f = o.families;
  const now = o.now ?? Date.now;
  const timeoutMs = o.statfsTimeoutMs ?? 2000;
  const backoffMs = o.statfsBackoffMs ?? 300_000;
  const statfs = o.statfs ?? statfsUsage;
  const limited = concurrencyLimit(o.statfsConcurrency ?? 4);
  const broker = o.statfs === undefined ? procBrokerFor(o.paths.proc) : undefined;
  const perContainer = f.roundPerContainer.labels("containers_disk");
  let rounds = 0;
  return {
    name: "containers_disk",
    intervalMs: o.intervalMs,
    async collect(signal) {
      const started = performance.now();
      if (++rounds % 20 === 0) o.disks.devices.clear();
      let n = 0;
      const jobs: Promise<void>[] = [];
      for (const c of o.containers()) {
        if (signal.aborted) break;
        if (!c.visible) continue;
        const pid = c.anyPid();
        if (!c.live || pid === undefined) {
          if (c.series.size > 0) c.series.remove(f.diskFamilies);
          continue;
        }
        let text: string | undefined;
        try {
          text = readProcText(under(o.paths.proc, `${pid}/mountinfo`));
        } catch (err) {
          // an exiting process has no mount namespace left: opening its mountinfo gives EINVAL
          // (fs/proc_namespace.c, mounts_open_common); anything else costs this container
          // its disk series this round, not the round
          if ((err as { code?: unknown }).code !== "EINVAL") f.readErrors.labels("mountinfo").inc();
          continue;
        }
        if (text === undefined) continue; // the process just exited; next round
        n++;
        const mounts = parseMountInfo(text, `/proc/${pid}/mountinfo`, f.skipped.mountinfo);
        const root = under(o.paths.proc, `${pid}/root`);
        const candidates = selectMounts(mounts, c.metadata?.mounts).map((disk) => {
          const dev = o.disks.devices.resolve(disk.dev);
          return { disk, device: o.disks.deviceLabel(dev), diskDev: dev?.dev ?? disk.dev };
        });
        const s = c.series;
        const keep = new Set<string>();
        const dirs: DiskState["disks"] = [];
        const perMount = candidates.map((d) =>
          limited(async () => {
            const extra = [d.disk.mountPoint, d.device, d.disk.volume];
            const key = extra.join("\0");
            const skipKey = `${c.id}\0${key}`;
            if (signal.aborted || c.removed || o.disks.skipped(skipKey, now())) return;
            const path = root + d.disk.mountPoint;
            try {
              let u: FsUsage;
              if (broker !== undefined) {
                // under Landlock, <proc>/<pid>/root is the broker's to follow
                const got = await brokerUsage(broker, pid, d.disk.mountPoint, timeoutMs);
                if (got === undefined) return;
                dirs.push(d);
                u = got;
              } else {
                // a file bind-mounted into the container (a config file) is no file system of
                // its own; asynchronous because even a stat can hang on a sick disk
                if (!(await within(Deno.stat(path), path, timeoutMs)).isDirectory) return;
                dirs.push(d);
                u = await statfs(path, timeoutMs);
              }
              if (c.removed) return;
              keep.add(key);
              s.get(f.diskSize, ...extra).set(u.sizeBytes);
              s.get(f.diskUsed, ...extra).set(u.usedBytes);
              s.get(f.diskReserved, ...extra).set(u.reservedBytes);
            } catch (err) {
              if (
                err instanceof StatfsTimeout ||
                err instanceof BpfError && err.errno === Errno.ETIMEDOUT
              ) {
                f.statfsTimeouts.labels().inc();
                o.disks.skip(skipKey, now() + backoffMs);
              } else if (
                !(err instanceof Deno.errors.NotFound) &&
                !(err instanceof BpfError &&
                  (err.errno === Errno.ENOENT || err.errno === Errno.ESRCH))
              ) {
                f.readErrors.labels("statfs").inc();
              }
            }
          })
        );
        jobs.push(
          Promise.allSettled(perMount).then(() => {
            // A removed container's state was forgotten already; an abandoned round keeps the
            // last complete one.
            if (c.removed || signal.aborted) return;
            dirs.sort((a, b) => a.disk.mountPoint < b.disk.mountPoint ? -1 : 1);
            o.disks.set(c.id, { disks: dirs });
            s.retain(f.diskFamilies, keep);
          }),
        );
      }
      await Promise.allSettled(jobs);
      perContainer.set(n === 0 ? 0 : (performance.now() - started) / 1000 / n);
    },
  };
}
