/**
 * A container's file systems: which mounts are reported, their block device and Kubernetes
 * volume, and their size from statfs (reference §2.2, `container_resources_disk_*`).
 *
 * **Which mounts.** The contract reports a mount only after the container opened a file for
 * writing on it (from file-open events), and only mounts with a real block device (major ≠ 0)
 * or ZFS. Osprey has no file-open events: it reports every such mount of the container's mount
 * namespace that is a directory, leaving out the files runtimes bind into every container
 * (`/etc/hosts`, `/etc/hostname`, `/etc/resolv.conf`, `/run/.containerenv`,
 * `/dev/termination-log`), which would otherwise repeat the host disk for each container. A
 * stacked mount point keeps the topmost mount (the one the container sees), so a label set
 * never repeats.
 *
 * **Device.** `device` is the whole disk behind the mount's major:minor: for a partition, its
 * parent in sysfs (`<sys>/dev/block/8:1` → `…/sda/sda1` → `sda`). Block I/O counters are kept
 * per disk by the kernel (io.stat, blkio), so each mount on a disk carries that disk's counters.
 *
 * **Volume.** A Kubernetes persistent volume name (`pvc-<uuid>`) found in the mount's host-side
 * source in the runtime's mount list (OCI `config.json` mounts, Docker's mount points, CRI-O's
 * volumes annotation), looked up by the mount point; "" otherwise, as in the reference (§13.5).
 * The mount's root in mountinfo is not used: the reference does not use it either.
 *
 * **statfs** goes through `<proc>/<pid>/root/<mount point>` with `node:fs` (`--allow-sys=statfs`
 * and read on `<proc>`), asynchronously and with a timeout, because a hung network file system
 * would block a synchronous call forever. A mount that timed out is skipped for a while.
 *
 * @module
 */
import { statfs } from "node:fs";
import type { ContainerMount } from "./metadata/mod.ts";
import type { MountInfo } from "./proc.ts";

/** The files runtimes bind-mount into containers: not file systems of the container's own. */
export const RUNTIME_FILE_MOUNTS: ReadonlySet<string> = new Set([
  "/etc/hosts",
  "/etc/hostname",
  "/etc/resolv.conf",
  "/run/.containerenv",
  "/dev/termination-log",
]);

const PVC = /pvc-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g;

/**
 * The Kubernetes persistent volume name (`pvc-<uuid>`, lower-case hex) in a mount's host-side
 * source, or "". The name is searched for anywhere, as the reference does (errata §13.5), so
 * CSI paths (`…/kubernetes.io~csi/pvc-<uuid>/mount`), subpaths, k3s/local-path directories
 * (`…/storage/pvc-<uuid>_<ns>_<claim>`), microk8s' (`…/<ns>-<claim>-pvc-<uuid>`) and
 * `csi-pvc-<uuid>` all give `pvc-<uuid>`. Exactly as the reference's pattern picks it: the name
 * needs at least one character before it on its line, the last one on the first line that has
 * one wins.
 *
 * @example
 * ```ts
 * volumeOf("/var/lib/rancher/k3s/storage/pvc-0a1b2c3d-1111-2222-3333-444455556666_db_data");
 * // "pvc-0a1b2c3d-1111-2222-3333-444455556666"
 * ```
 */
export function volumeOf(source: string): string {
  if (!source.includes("pvc-")) return "";
  for (const line of source.split("\n")) {
    let found = "";
    for (const m of line.matchAll(PVC)) if (m.index >= 1) found = m[0];
    if (found !== "") return found;
  }
  return "";
}

/** A mount the container's disk series are reported for. */
export interface ContainerDisk {
  readonly mountPoint: string;
  /** `major:minor` of the mount itself. */
  readonly dev: string;
  readonly major: number;
  readonly minor: number;
  readonly volume: string;
}

/**
 * The mounts to report from a container's mountinfo: a real device or ZFS, not a runtime's
 * file bind mount, one per mount point (the last, topmost one).
 */
export function selectMounts(
  mounts: readonly MountInfo[],
  runtimeMounts: readonly ContainerMount[] = [],
): ContainerDisk[] {
  const byPoint = new Map<string, ContainerDisk>();
  const sources = new Map(runtimeMounts.map((m) => [m.destination, m.source]));
  for (const m of mounts) {
    if (m.major === 0 && m.fsType !== "zfs") {
      byPoint.delete(m.mountPoint); // an overmount hides what was below
      continue;
    }
    if (RUNTIME_FILE_MOUNTS.has(m.mountPoint)) continue;
    // from the runtime's mount list only, as the reference does
    const volume = volumeOf(sources.get(m.mountPoint) ?? "");
    byPoint.delete(m.mountPoint);
    byPoint.set(m.mountPoint, {
      mountPoint: m.mountPoint,
      dev: `${m.major}:${m.minor}`,
      major: m.major,
      minor: m.minor,
      volume,
    });
  }
  return [...byPoint.values()];
}

/** A block device: its name and `major:minor` (of the whole disk for a partition). */
export interface BlockDevice {
  readonly name: string;
  readonly dev: string;
}

/**
 * Resolves `major:minor` to the whole disk through `<sys>/dev/block`, cached. A device sysfs
 * does not know (a ZFS dataset's anonymous device number) resolves to null; the caller labels
 * such a mount with its source (`tank/data`).
 */
export class BlockDevices {
  readonly #sys: string;
  #cache = new Map<string, BlockDevice | null>();

  constructor(sys: string) {
    this.#sys = sys;
  }

  /** The disk behind `dev`, or null when sysfs has no such block device. */
  resolve(dev: string): BlockDevice | null {
    let d = this.#cache.get(dev);
    if (d !== undefined) return d;
    d = this.#lookup(dev);
    if (this.#cache.size > 4096) this.#cache.clear();
    this.#cache.set(dev, d);
    return d;
  }

  /** Forgets everything (devices come and go; called every few minutes). */
  clear(): void {
    this.#cache.clear();
  }

  #lookup(dev: string): BlockDevice | null {
    let real: string;
    try {
      real = Deno.realPathSync(`${this.#sys}/dev/block/${dev}`);
    } catch {
      return null;
    }
    let isPartition = false;
    try {
      isPartition = Deno.statSync(`${real}/partition`).isFile;
    } catch {
      // not a partition
    }
    const dir = isPartition ? real.slice(0, real.lastIndexOf("/")) : real;
    const name = dir.slice(dir.lastIndexOf("/") + 1);
    let diskDev = dev;
    if (isPartition) {
      try {
        diskDev = Deno.readTextFileSync(`${dir}/dev`).trim();
      } catch {
        // keep the partition's numbers
      }
    }
    return { name, dev: diskDev };
  }
}

/** statfs figures in bytes. */
export interface FsUsage {
  readonly sizeBytes: number;
  readonly usedBytes: number;
  readonly reservedBytes: number;
}

/** Thrown when statfs does not answer in time. */
export class StatfsTimeout extends Error {
  constructor(path: string, ms: number) {
    super(`statfs "${path}" did not answer within ${ms} ms`);
    this.name = "StatfsTimeout";
  }
}

/** statfs of `path` with a timeout (the call itself cannot be cancelled; it is abandoned). */
export function statfsUsage(path: string, timeoutMs: number): Promise<FsUsage> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new StatfsTimeout(path, timeoutMs)), timeoutMs);
    statfs(path, (err, s) => {
      clearTimeout(timer);
      if (err) {
        reject(err);
        return;
      }
      const bsize = Number(s.bsize);
      const blocks = Number(s.blocks), bfree = Number(s.bfree), bavail = Number(s.bavail);
      resolve({
        sizeBytes: blocks * bsize,
        usedBytes: (blocks - bfree) * bsize,
        reservedBytes: (bfree - bavail) * bsize,
      });
    });
  });
}
