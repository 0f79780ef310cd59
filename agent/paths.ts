/**
 * The one place that knows where the host's /proc, /sys, cgroupfs and root are.
 *
 * Every module reads host files through a {@linkcode HostPaths}, so the same code runs on the
 * host, inside a container with host mounts, and against a fixture host tree.
 *
 * @module
 */

/** Where the host's file systems are mounted, as absolute paths without a trailing slash. */
export interface HostPaths {
  /** The host's root file system (`/`, or `/host` in a container, or a fixture tree). */
  readonly root: string;
  /** The host's procfs. */
  readonly proc: string;
  /** The host's sysfs. */
  readonly sys: string;
  /** The host's cgroupfs mount point. */
  readonly cgroup: string;
  /**
   * True when `proc` is not a live procfs (a fixture tree): its `self` is not the kernel's
   * link to the reader's pid. A host's procfs mounted elsewhere (`/host/proc` in a pod) is live.
   */
  readonly fixture: boolean;
}

/** Options for {@linkcode hostPaths}. */
export interface HostPathsOptions {
  /** Host root; `/` unless the agent sees the host through a mount or a fixture. */
  hostRoot?: string;
  /** Overrides `<hostRoot>/sys/fs/cgroup` (coroot-node-agent's `--cgroupfs-root`). */
  cgroupfsRoot?: string;
  /** Overrides `<hostRoot>/proc`. */
  procfsRoot?: string;
  /** Overrides `<hostRoot>/sys`. */
  sysfsRoot?: string;
  /**
   * Where agent/host_view.sh bind-mounts the host's /proc and /sys. Used for procfs and sysfs
   * when the host root is `/`, no override is given and `<hostView>/proc` is readable.
   * @default "/run/osprey/host"
   */
  hostView?: string;
}

/** Where agent/host_view.sh puts the host's /proc and /sys. */
export const DEFAULT_HOST_VIEW = "/run/osprey/host";

/**
 * Deno refuses reads under /proc and /sys without --allow-all, whatever --allow-read says;
 * the same file systems bind-mounted elsewhere (the host view, or /host/proc in a pod) are
 * readable with a scoped --allow-read. True when `dir/stat`-like probing says the view is
 * there and granted.
 */
function viewUsable(dir: string): boolean {
  try {
    if (Deno.permissions.querySync({ name: "read", path: dir }).state !== "granted") return false;
    return Deno.statSync(`${dir}/proc/stat`).isFile;
  } catch {
    return false;
  }
}

function trimSlash(p: string): string {
  return p.length > 1 && p.endsWith("/") ? p.slice(0, -1) : p;
}

function join(root: string, rel: string): string {
  return root === "/" ? `/${rel}` : `${root}/${rel}`;
}

/** Resolves the host paths from the agent's options. Relative paths resolve against the CWD. */
export function hostPaths(opts: HostPathsOptions = {}): HostPaths {
  const abs = (p: string) => trimSlash(p.startsWith("/") ? p : `${Deno.cwd()}/${p}`);
  const root = abs(opts.hostRoot ?? "/");
  const view = abs(opts.hostView ?? DEFAULT_HOST_VIEW);
  const useView = root === "/" && !opts.procfsRoot && !opts.sysfsRoot && viewUsable(view);
  const proc = opts.procfsRoot ? abs(opts.procfsRoot) : join(useView ? view : root, "proc");
  const sys = opts.sysfsRoot ? abs(opts.sysfsRoot) : join(useView ? view : root, "sys");
  const cgroup = opts.cgroupfsRoot ? abs(opts.cgroupfsRoot) : `${sys}/fs/cgroup`;
  return { root, proc, sys, cgroup, fixture: !isLiveProcfs(proc) };
}

/**
 * A live procfs has `self` as a link to a pid (in whichever pid namespace mounted it); a
 * fixture tree has a directory there, or nothing. When the link cannot be read (no permission)
 * the answer is "live": that is what a missing grant on a real host means.
 */
function isLiveProcfs(proc: string): boolean {
  try {
    return /^\d+$/.test(Deno.readLinkSync(`${proc}/self`));
  } catch (e) {
    return e instanceof Deno.errors.NotCapable || e instanceof Deno.errors.PermissionDenied;
  }
}

/** Joins a path under one of the host roots: `under(paths.proc, "stat")`. */
export function under(base: string, rel: string): string {
  return join(base, rel.startsWith("/") ? rel.slice(1) : rel);
}
