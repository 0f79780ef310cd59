/**
 * Cgroup paths of an agent that runs in its own cgroup namespace, turned into paths of the
 * cgroup file system it reads.
 *
 * The kernel writes every path in `/proc/<pid>/cgroup` relative to the cgroup namespace of the
 * process *reading* the file (cgroup_namespaces(7)). An agent in a container or pod with a
 * private cgroup namespace (the default on cgroup v2) therefore reads `0::/../../kubepods/...`
 * for the host's processes and `0::/` for its own, while the host's cgroupfs it mounted
 * (`/host/sys/fs/cgroup`) is laid out from the host's root. To read a process's cgroup files
 * and classify its cgroup, each path must be rebased onto the mount's root.
 *
 * How, per hierarchy (v2, and each v1 hierarchy: on v1 and hybrid hosts the namespace's root
 * is a different cgroup in every hierarchy, the one the process that made the namespace was in):
 *
 * 1. **The mount's root, from mountinfo.** The root field of a cgroup mount in
 *    `/proc/self/mountinfo` is also written relative to the reader's cgroup namespace: the
 *    host's whole hierarchy mounted in a namespace rooted three levels down reads `/../../..`.
 *    Outside a namespace (or with a cgroupfs the container runtime mounted at the namespace's
 *    root) it reads `/`.
 * 2. **The namespace root's names, from a walk.** `/..` says how far up the host's root is,
 *    not what the namespace root is called, and no line of any `/proc/<pid>/cgroup` ever names
 *    it. So the mount is walked down that many levels for the one directory whose
 *    `cgroup.procs` lists the agent's own pid (below its own path from `/proc/self/cgroup`,
 *    normally `/`). That takes one listing per directory above that depth and one read per
 *    candidate, once at start.
 *
 * Then a path `p` of any process resolves to `<namespace root> + p`, normalised (`..` pops).
 * Without a walk result, paths that climb exactly to the mount's root still resolve (the rest
 * of the path is below the mount); others cannot, and are reported, never guessed.
 *
 * Why not coroot-node-agent's way: it `setns()`es into PID 1's cgroup namespace to read its own
 * path, once, and prefixes that single path to every hierarchy. setns needs CAP_SYS_ADMIN
 * (Osprey's pod runs without it) and native code, and one prefix is wrong on v1 and hybrid
 * hosts, where the namespace root differs per hierarchy. The walk needs only read access to the
 * cgroupfs the agent reads anyway.
 *
 * @module
 */
import { decodeHostText, printableHostPath } from "../paths.ts";
import type { CgroupFs } from "./fs.ts";
import { parseProcCgroup, type ProcCgroups } from "./proc_cgroup.ts";

/** How one hierarchy's paths are resolved. */
export interface HierarchyNamespace {
  /** `v2`, or the v1 hierarchy's directory name (`cpu,cpuacct`, `memory`, `systemd`). */
  readonly hierarchy: string;
  /** The hierarchy's directory (where its files are read). */
  readonly dir: string;
  /** The mount's root as mountinfo shows it to the agent: `/` unless in a namespace. */
  readonly mountRoot: string;
  /**
   * The agent's namespace root below the mount's root (a host path when the mount is the host's
   * whole hierarchy): `/` outside a namespace; null when unknown (`note` says why).
   */
  readonly nsRoot: string | null;
  /** How `nsRoot` was found, or why not. */
  readonly note: string;
}

/** A process's cgroups after {@linkcode CgroupNamespace.resolve}. */
export interface ResolvedCgroups {
  /** Paths below the mounts' roots; hierarchies that could not be resolved are left out. */
  readonly cgroups: ProcCgroups;
  /** `v2` and the v1 controllers whose paths could not be resolved (empty nearly always). */
  readonly unresolved: readonly string[];
}

interface Hierarchy extends HierarchyNamespace {
  /** null: identity; else the namespace root's components. */
  readonly rootComps: readonly string[] | null;
  /** Leading `..` of the mount root, and the components after them. */
  readonly ups: number;
  readonly down: readonly string[];
  readonly identity: boolean;
}

const NONE: readonly string[] = [];

function components(p: string): string[] {
  return p.split("/").filter((c) => c !== "" && c !== ".");
}

function hasDotDot(p: string): boolean {
  return p === "/.." || p.startsWith("/../") || p.includes("/../") || p.endsWith("/..");
}

/** Rebases one path of `h`; null when it cannot be resolved. */
function resolvePath(h: Hierarchy, p: string): string | null {
  if (h.identity) return hasDotDot(p) ? null : p;
  const comps = components(p);
  if (h.rootComps !== null) {
    const out = [...h.rootComps];
    for (const c of comps) {
      if (c !== "..") out.push(c);
      else if (out.length === 0) return null; // above the mount's root
      else out.pop();
    }
    return "/" + out.join("/");
  }
  let j = 0;
  while (j < comps.length && comps[j] === "..") j++;
  if (j !== h.ups || comps.length - j < h.down.length) return null;
  for (let i = 0; i < h.down.length; i++) if (comps[j + i] !== h.down[i]) return null;
  const rest = comps.slice(j + h.down.length);
  if (rest.includes("..")) return null;
  return "/" + rest.join("/");
}

/** Resolves the paths of `/proc/<pid>/cgroup` read in the agent's cgroup namespace. */
export class CgroupNamespace {
  /** Every hierarchy of the cgroupfs, in order (v2 first). */
  readonly hierarchies: readonly HierarchyNamespace[];
  /** True when the agent is in a cgroup namespace other than the mounts' (paths are rebased). */
  readonly own: boolean;
  readonly #v2: Hierarchy | undefined;
  readonly #v1: Map<string, Hierarchy>;

  /** Use {@linkcode detectCgroupNamespace}. */
  constructor(v2: Hierarchy | undefined, v1: Map<string, Hierarchy>) {
    this.#v2 = v2;
    this.#v1 = v1;
    const all = [...(v2 ? [v2] : []), ...new Set(v1.values())];
    this.hierarchies = all;
    this.own = all.some((h) => !h.identity);
  }

  /**
   * The paths of `c` below the mounts' roots. Outside a namespace `c` itself is returned
   * (a path with `..` in it cannot be resolved there either: the cgroupfs was mounted at the
   * namespace's root). A v1 controller with no mounted hierarchy is kept as is outside a
   * namespace and left out inside one; it is not reported (no reader uses it).
   */
  resolve(c: ProcCgroups): ResolvedCgroups {
    let unresolved: string[] | undefined;
    let out: ProcCgroups | undefined;
    const fail = (key: string) => (unresolved ??= []).push(key);
    const copy = () => out ??= { v2: c.v2, v1: { ...c.v1 } };
    if (c.v2 !== null && this.#v2 !== undefined) {
      const p = resolvePath(this.#v2, c.v2);
      if (p !== c.v2) {
        copy().v2 = p;
        if (p === null) fail("v2");
      }
    }
    for (const ctl in c.v1) {
      const path = c.v1[ctl];
      const h = this.#v1.get(ctl);
      if (h === undefined) {
        if (this.own) delete copy().v1[ctl];
        continue;
      }
      const p = resolvePath(h, path);
      if (p === path) continue;
      if (p === null) {
        delete copy().v1[ctl];
        fail(ctl);
      } else copy().v1[ctl] = p;
    }
    return { cgroups: out ?? c, unresolved: unresolved ?? NONE };
  }
}

/** A namespace that leaves every path as it is (fixtures; an agent in the host's namespace). */
export function identityNamespace(
  fs: CgroupFs,
  note = "not in a cgroup namespace",
): CgroupNamespace {
  const make = (hierarchy: string, dir: string): Hierarchy => ({
    hierarchy,
    dir,
    mountRoot: "/",
    nsRoot: "/",
    note,
    rootComps: NONE,
    ups: 0,
    down: NONE,
    identity: true,
  });
  const v1 = new Map<string, Hierarchy>();
  const byDir = new Map<string, Hierarchy>();
  for (const [ctl, dir] of Object.entries(fs.v1Roots)) {
    let h = byDir.get(dir);
    if (h === undefined) byDir.set(dir, h = make(dir.slice(dir.lastIndexOf("/") + 1), dir));
    v1.set(ctl, h);
  }
  return new CgroupNamespace(fs.v2Root === null ? undefined : make("v2", fs.v2Root), v1);
}

/** One cgroup mount of mountinfo. */
interface CgroupMount {
  mountPoint: string;
  root: string;
  fsType: string;
}

function unescapeOctal(s: string): string {
  return s.indexOf("\\") < 0
    ? s
    : s.replace(/\\([0-7]{3})/g, (_, oct) => String.fromCharCode(parseInt(oct, 8)));
}

/** The mounts of mountinfo text (proc(5)); lines without the documented shape are skipped. */
function parseMounts(text: string): CgroupMount[] {
  const out: CgroupMount[] = [];
  for (const line of text.split("\n")) {
    const f = line.split(" ");
    const sep = f.indexOf("-", 6);
    if (sep < 0 || f.length < sep + 2) continue;
    out.push({ root: unescapeOctal(f[3]), mountPoint: unescapeOctal(f[4]), fsType: f[sep + 1] });
  }
  return out;
}

/** The mount holding `dir` (the topmost of the deepest mount point) and the rest of the path. */
function mountOf(mounts: readonly CgroupMount[], dir: string): [CgroupMount, string] | undefined {
  let best: CgroupMount | undefined;
  for (const m of mounts) {
    const mp = m.mountPoint;
    const holds = dir === mp || mp === "/" || dir.startsWith(mp + "/");
    if (holds && (best === undefined || mp.length >= best.mountPoint.length)) best = m;
  }
  if (best === undefined) return undefined;
  const rest = best.mountPoint === "/" ? dir : dir.slice(best.mountPoint.length);
  return [best, rest];
}

/** Options of {@linkcode detectCgroupNamespace}. */
export interface CgroupNamespaceOptions {
  /** The agent's own `/proc/self/mountinfo`. */
  mountinfo: string;
  /** The agent's own cgroups (`/proc/self/cgroup`), as read in its namespace. */
  self: ProcCgroups;
  /** The agent's pid as `cgroup.procs` shows it to the agent. @default Deno.pid */
  pid?: number;
  /**
   * Most directories one hierarchy's walk lists before it gives up.
   * @default 100000
   */
  maxWalk?: number;
}

/** Reads a directory's subdirectories; [] when it cannot be listed. */
function subdirs(dir: string): string[] {
  try {
    const out: string[] = [];
    for (const e of Deno.readDirSync(dir)) if (e.isDirectory) out.push(e.name);
    return out;
  } catch {
    return [];
  }
}

function listsPid(file: string, pid: string): boolean {
  try {
    return Deno.readTextFileSync(file).split("\n").includes(pid);
  } catch {
    return false;
  }
}

/**
 * Finds the directory `depth` levels below `dir` under which `self`'s cgroup.procs lists
 * `pid`. Returns its path relative to `dir` (`/a/b`), or a reason.
 */
function walk(
  dir: string,
  depth: number,
  self: string,
  pid: number,
  maxWalk: number,
): { found: string; listed: number } | { why: string } {
  const below = self === "/" ? "" : self;
  let level = [""];
  let listed = 0;
  for (let d = 0; d < depth; d++) {
    const next: string[] = [];
    for (const rel of level) {
      if (++listed > maxWalk) return { why: `more than ${maxWalk} cgroups above depth ${depth}` };
      for (const name of subdirs(dir + rel)) next.push(`${rel}/${name}`);
    }
    level = next;
  }
  const want = String(pid);
  for (const rel of level) {
    if (listsPid(`${dir}${rel}${below}/cgroup.procs`, want)) return { found: rel, listed };
  }
  return {
    why: `no cgroup ${depth} levels down lists the agent's pid ${pid} in ` +
      `<cgroup>${below}/cgroup.procs (${level.length} candidates)`,
  };
}

function realPath(p: string): string {
  try {
    return Deno.realPathSync(p);
  } catch {
    return p;
  }
}

/**
 * Works out, per hierarchy of `fs`, how the agent's `/proc/<pid>/cgroup` paths map onto the
 * mounted hierarchy (see the module doc). Never throws: a hierarchy whose namespace root cannot
 * be found says why in its `note`, and only the paths that need that root go unresolved.
 */
export function detectCgroupNamespace(fs: CgroupFs, o: CgroupNamespaceOptions): CgroupNamespace {
  const mounts = parseMounts(o.mountinfo).filter((m) => m.mountPoint !== "");
  const pid = o.pid ?? Deno.pid;
  const maxWalk = o.maxWalk ?? 100_000;
  const make = (hierarchy: string, dir: string, selfPath: string | undefined): Hierarchy => {
    const found = mountOf(mounts, realPath(dir));
    const base = {
      hierarchy,
      dir,
      mountRoot: "/",
      nsRoot: "/",
      rootComps: NONE,
      ups: 0,
      down: NONE,
      identity: true,
    };
    if (found === undefined) return { ...base, note: "not below any mount in mountinfo" };
    const [m, rest] = found;
    if (m.fsType !== "cgroup" && m.fsType !== "cgroup2") {
      return { ...base, note: `on ${m.fsType}, not a cgroup mount (a fixture tree)` };
    }
    const mountRoot = (m.root === "/" ? "" : m.root) + rest || "/";
    const comps = components(mountRoot);
    let ups = 0;
    while (ups < comps.length && comps[ups] === "..") ups++;
    const down = comps.slice(ups);
    if (down.includes("..")) {
      return {
        ...base,
        mountRoot,
        nsRoot: null,
        identity: false,
        ups: -1,
        down,
        rootComps: null,
        note: `mount root "${mountRoot}" not understood`,
      };
    }
    if (ups === 0 && down.length === 0) {
      return { ...base, note: "the mount's root is the agent's namespace root" };
    }
    const h = { ...base, mountRoot, ups, down, identity: false };
    if (ups === 0 || down.length > 0) {
      return {
        ...h,
        nsRoot: null,
        rootComps: null,
        note:
          "the mount's root is not above the agent's namespace root: only paths below it resolve",
      };
    }
    if (selfPath === undefined || hasDotDot(selfPath)) {
      return {
        ...h,
        nsRoot: null,
        rootComps: null,
        note: `the agent's own cgroup here is ${
          selfPath === undefined ? "unknown" : `"${selfPath}"`
        }`,
      };
    }
    const t0 = performance.now();
    const r = walk(dir, ups, selfPath, pid, maxWalk);
    const ms = (performance.now() - t0).toFixed(1);
    if ("why" in r) {
      return { ...h, nsRoot: null, rootComps: null, note: `${r.why} (walk: ${ms} ms)` };
    }
    return {
      ...h,
      nsRoot: r.found,
      rootComps: components(r.found),
      note: `found below the mount by listing ${r.listed} cgroups in ${ms} ms`,
    };
  };
  const v2 = fs.v2Root === null ? undefined : make("v2", fs.v2Root, o.self.v2 ?? undefined);
  const v1 = new Map<string, Hierarchy>();
  const byDir = new Map<string, Hierarchy>();
  for (const [ctl, dir] of Object.entries(fs.v1Roots)) {
    let h = byDir.get(dir);
    if (h === undefined) {
      // co-mounted controllers share the directory, and the agent's path in it
      const own = Object.entries(fs.v1Roots).find(([c, d]) =>
        d === dir && o.self.v1[c] !== undefined
      );
      const name = dir.slice(dir.lastIndexOf("/") + 1);
      byDir.set(dir, h = make(name, dir, own === undefined ? undefined : o.self.v1[own[0]]));
    }
    v1.set(ctl, h);
  }
  return new CgroupNamespace(v2, v1);
}

/** One line per hierarchy, for the start-up log. */
export function describeNamespace(ns: CgroupNamespace): string {
  return ns.hierarchies.map((h) =>
    `${h.hierarchy}: ${
      h.nsRoot === null ? "namespace root unknown" : `namespace root ${printableHostPath(h.nsRoot)}`
    } (mount root ${h.mountRoot}; ${h.note})`
  ).join("; ");
}

/**
 * {@linkcode detectCgroupNamespace} with the agent's own `<proc>/self/mountinfo` and
 * `<proc>/self/cgroup` (`proc` must be a live procfs in the agent's pid namespace, as the host's
 * is with a host PID namespace). When they cannot be read the namespace is the identity and its
 * note says why.
 */
export function readCgroupNamespace(fs: CgroupFs, proc: string): CgroupNamespace {
  let mountinfo: string, self: ProcCgroups;
  try {
    mountinfo = decodeHostText(Deno.readFileSync(`${proc}/self/mountinfo`));
    self = parseProcCgroup(decodeHostText(Deno.readFileSync(`${proc}/self/cgroup`)));
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    return identityNamespace(fs, `cannot read the agent's own mountinfo and cgroup: ${why}`);
  }
  return detectCgroupNamespace(fs, { mountinfo, self });
}
