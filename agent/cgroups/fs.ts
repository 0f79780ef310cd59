/**
 * Where a cgroup's files are: the layout of the cgroup file system (v1, v2 or hybrid) found
 * from its directory listing, and the directories of one process's cgroup in each hierarchy
 * the resource readers use.
 *
 * @module
 */
import { CgroupReadError } from "./errors.ts";
import type { ProcCgroups } from "./proc_cgroup.ts";

/** `v2`: one unified hierarchy at the root; `v1`: per-controller mounts; `hybrid`: both. */
export type CgroupLayout = "v1" | "v2" | "hybrid";

/** The cgroup file system of a host. */
export interface CgroupFs {
  /** The cgroupfs root (`/sys/fs/cgroup`, or a fixture tree). */
  root: string;
  layout: CgroupLayout;
  /** The v2 hierarchy's mount: `root` on v2, `<root>/unified` on hybrid, null on v1. */
  v2Root: string | null;
  /**
   * v1 controller → its hierarchy's directory. Co-mounted controllers share one directory
   * (`cpu` and `cpuacct` → `<root>/cpu,cpuacct`); the named systemd hierarchy is
   * `name=systemd`, as in `/proc/<pid>/cgroup`.
   */
  v1Roots: Record<string, string>;
  /** Controllers available in the v2 hierarchy (its root's `cgroup.controllers`). */
  v2Controllers: string[];
}

/** The v1 controllers the kernel knows (cgroups(7)); other directory names are ignored. */
const V1_CONTROLLERS = new Set([
  "cpu",
  "cpuacct",
  "cpuset",
  "memory",
  "devices",
  "freezer",
  "net_cls",
  "net_prio",
  "blkio",
  "perf_event",
  "hugetlb",
  "pids",
  "rdma",
  "misc",
]);

function isFile(path: string): boolean {
  try {
    return Deno.statSync(path).isFile;
  } catch {
    return false;
  }
}

function isDir(path: string): boolean {
  try {
    return Deno.statSync(path).isDirectory; // follows symlinks (cpu -> cpu,cpuacct)
  } catch {
    return false;
  }
}

function readControllers(dir: string): string[] {
  const path = `${dir}/cgroup.controllers`;
  let text: string;
  try {
    text = Deno.readTextFileSync(path);
  } catch (err) {
    throw new CgroupReadError(path, "unreadable", String(err), err);
  }
  return text.split(/\s+/).filter((c) => c !== "");
}

/**
 * Finds the layout of the cgroup file system mounted at `cgroupRoot`: v2 when the root itself
 * has `cgroup.controllers`; otherwise every directory named after v1 controllers (a comma list
 * for co-mounted ones, `systemd` for the named hierarchy) is a v1 hierarchy, and `unified` with
 * `cgroup.controllers` is the v2 one of a hybrid host. Real directories win over symlinks
 * (`cpu -> cpu,cpuacct`). Throws {@linkcode CgroupReadError} when the root cannot be listed or
 * holds no hierarchy.
 */
export function detectCgroupFs(cgroupRoot: string): CgroupFs {
  const root = cgroupRoot.length > 1 && cgroupRoot.endsWith("/")
    ? cgroupRoot.slice(0, -1)
    : cgroupRoot;
  if (isFile(`${root}/cgroup.controllers`)) {
    return { root, layout: "v2", v2Root: root, v1Roots: {}, v2Controllers: readControllers(root) };
  }
  let entries: Deno.DirEntry[];
  try {
    entries = [...Deno.readDirSync(root)].sort((a, b) => a.name < b.name ? -1 : 1);
  } catch (err) {
    const problem = err instanceof Deno.errors.NotFound ? "missing" : "unreadable";
    throw new CgroupReadError(root, problem, String(err), err);
  }
  const v1Roots: Record<string, string> = {};
  const viaLink: Record<string, string> = {};
  let v2Root: string | null = null;
  for (const e of entries) {
    const dir = `${root}/${e.name}`;
    if (!(e.isDirectory || (e.isSymlink && isDir(dir)))) continue;
    if (e.name === "unified") {
      if (isFile(`${dir}/cgroup.controllers`)) v2Root = dir;
      continue;
    }
    const into = e.isSymlink ? viaLink : v1Roots;
    if (e.name === "systemd") {
      into["name=systemd"] = dir;
      continue;
    }
    const names = e.name.split(",");
    if (!names.every((n) => V1_CONTROLLERS.has(n))) continue;
    for (const n of names) into[n] ??= dir;
  }
  for (const [n, dir] of Object.entries(viaLink)) v1Roots[n] ??= dir;
  const hasV1 = Object.keys(v1Roots).length > 0;
  if (!hasV1 && v2Root === null) {
    throw new CgroupReadError(root, "no-controller", "no cgroup hierarchy found");
  }
  return {
    root,
    layout: !hasV1 ? "v2" : v2Root === null ? "v1" : "hybrid",
    v2Root,
    v1Roots,
    v2Controllers: v2Root === null ? [] : readControllers(v2Root),
  };
}

/** The directories of one cgroup, absolute, for the hierarchies the readers use. */
export interface CgroupDirs {
  /** The v2 directory (always has cpu.stat and the PSI files; other files per controller). */
  v2?: string;
  /** v1 cpu controller (cpu.stat, cpu.cfs_quota_us, cpu.cfs_period_us). */
  cpu?: string;
  /** v1 cpuacct controller (cpuacct.usage). */
  cpuacct?: string;
  /** v1 memory controller (memory.stat, memory.limit_in_bytes). */
  memory?: string;
  /** v1 blkio controller (blkio.throttle.io_serviced, blkio.throttle.io_service_bytes). */
  blkio?: string;
}

/** v1 controller → the v2 controller that replaces it. */
const V2_EQUIVALENT: Record<string, string> = {
  cpu: "cpu",
  cpuacct: "cpu",
  memory: "memory",
  blkio: "io",
};

/**
 * A cgroup path usable under a hierarchy root: not the root cgroup (whose counters are the
 * whole host's, never a container's) and not relative to another cgroup namespace (`/..`).
 */
function usable(path: string | undefined | null): path is string {
  if (path === undefined || path === null || path === "/" || path === "") return false;
  return !(path.includes("/../") || path.endsWith("/..") || path.includes("/./"));
}

function join(root: string, path: string): string {
  return path.endsWith("/") ? root + path.slice(0, -1) : root + path;
}

/**
 * The directories of the cgroup `c` describes. A v1 directory is given only for a controller
 * that is mounted on v1 and not available in the v2 hierarchy (the kernel binds a controller
 * to one hierarchy at a time, so on a hybrid host the v1 one is where its counters are).
 * A hierarchy where the process sits in the root cgroup is left out, so a container is never
 * given the host's counters.
 */
export function cgroupDirs(fs: CgroupFs, c: ProcCgroups): CgroupDirs {
  const d: CgroupDirs = {};
  if (fs.v2Root !== null && usable(c.v2)) d.v2 = join(fs.v2Root, c.v2);
  for (const ctl of ["cpu", "cpuacct", "memory", "blkio"] as const) {
    if (d.v2 !== undefined && fs.v2Controllers.includes(V2_EQUIVALENT[ctl])) continue;
    const root = fs.v1Roots[ctl];
    const path = c.v1[ctl];
    if (root !== undefined && Object.hasOwn(c.v1, ctl) && usable(path)) d[ctl] = join(root, path);
  }
  return d;
}
