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

// ---- host paths as bytes -------------------------------------------------------------------
//
// Linux paths are bytes; a cgroup or file name need not be UTF-8 (`caf\xe9.service` with a raw
// 0xE9). Deno's strings are UTF-16 and its file APIs take UTF-8 paths only: a lossy decode
// (U+FFFD) names a different file, so such a cgroup's files could not be read at all.
//
// Host text that may hold paths is therefore decoded losslessly: valid UTF-8 as itself, and each
// byte of an invalid sequence as the lone surrogate U+DC00 + byte (U+DC80..U+DCFF), the scheme
// Python's `surrogateescape` uses (PEP 383). Valid UTF-8 never encodes a surrogate, so the
// mapping is one-to-one and {@linkcode encodeHostPath} gives the exact bytes back. A path is
// an ordinary string whenever its bytes are UTF-8, which is nearly always; only a path for
// which {@linkcode isRawHostPath} is true must be opened through its bytes (libosprey), and
// only {@linkcode printableHostPath} of it may become a label value or log text.

const strictUtf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
const utf8 = new TextEncoder();

/** Length of the valid UTF-8 sequence starting at `b[i]`, or 0 when none starts there. */
function utf8SequenceAt(b: Uint8Array, i: number): number {
  const b0 = b[i];
  if (b0 < 0x80) return 1;
  const cont = (j: number, lo = 0x80, hi = 0xbf) => j < b.length && b[j] >= lo && b[j] <= hi;
  if (b0 >= 0xc2 && b0 <= 0xdf) return cont(i + 1) ? 2 : 0;
  if (b0 >= 0xe0 && b0 <= 0xef) {
    const lo = b0 === 0xe0 ? 0xa0 : 0x80, hi = b0 === 0xed ? 0x9f : 0xbf; // no overlong, no surrogate
    return cont(i + 1, lo, hi) && cont(i + 2) ? 3 : 0;
  }
  if (b0 >= 0xf0 && b0 <= 0xf4) {
    const lo = b0 === 0xf0 ? 0x90 : 0x80, hi = b0 === 0xf4 ? 0x8f : 0xbf; // ≤ U+10FFFF
    return cont(i + 1, lo, hi) && cont(i + 2) && cont(i + 3) ? 4 : 0;
  }
  return 0;
}

/**
 * Decodes host bytes that may hold paths (`/proc/<pid>/cgroup`, a directory name) without
 * losing any: UTF-8 as itself (a byte-order mark included), every byte of an invalid sequence
 * as U+DC00 + byte. `encodeHostPath(decodeHostText(b))` equals `b` for any bytes.
 */
export function decodeHostText(bytes: Uint8Array): string {
  try {
    return strictUtf8.decode(bytes);
  } catch (err) {
    if (!(err instanceof TypeError)) throw err; // TypeError: not UTF-8
  }
  let out = "";
  let run = 0; // start of the current valid run
  for (let i = 0; i < bytes.length;) {
    const n = utf8SequenceAt(bytes, i);
    if (n > 0) {
      i += n;
      continue;
    }
    out += strictUtf8.decode(bytes.subarray(run, i)) + String.fromCharCode(0xdc00 + bytes[i]);
    run = ++i;
  }
  return out + strictUtf8.decode(bytes.subarray(run));
}

/** True when `path` holds bytes that are not UTF-8 (escaped by {@linkcode decodeHostText}). */
export function isRawHostPath(path: string): boolean {
  return !path.isWellFormed();
}

/**
 * The bytes a path string stands for: the inverse of {@linkcode decodeHostText}. A surrogate
 * that is not an escaped byte (which decodeHostText never makes) is encoded as U+FFFD.
 */
export function encodeHostPath(path: string): Uint8Array {
  if (path.isWellFormed()) return utf8.encode(path);
  const out: number[] = [];
  for (let i = 0; i < path.length; i++) {
    const c = path.charCodeAt(i);
    if (c >= 0xdc80 && c <= 0xdcff) {
      out.push(c - 0xdc00);
      continue;
    }
    let cp = c;
    if (c >= 0xd800 && c <= 0xdbff) {
      const d = path.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        cp = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00);
        i++;
      } else cp = 0xfffd;
    } else if (c >= 0xdc00 && c <= 0xdfff) cp = 0xfffd;
    out.push(...utf8.encode(String.fromCodePoint(cp)));
  }
  return new Uint8Array(out);
}

const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

/**
 * A path as valid text, for label values and logs: each byte that is not UTF-8 is written
 * `\xNN` (two lowercase hex digits), the form systemd itself uses for bytes it escapes in unit
 * names, so distinct cgroups keep distinct IDs (U+FFFD would merge `caf\xe9` and `caf\xe8`).
 * Any other lone surrogate becomes U+FFFD. A UTF-8 path is returned unchanged.
 */
export function printableHostPath(path: string): string {
  if (path.isWellFormed()) return path;
  return path.replace(LONE_SURROGATE, (s) => {
    const c = s.charCodeAt(0);
    return c >= 0xdc80 && c <= 0xdcff
      ? `\\x${(c - 0xdc00).toString(16).padStart(2, "0")}`
      : "\ufffd";
  });
}
