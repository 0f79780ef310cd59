/**
 * `/proc/<pid>/cgroup`: which cgroup a process belongs to in each hierarchy, and the one path
 * that identifies its container.
 *
 * Each line is `hierarchy-ID:controller-list:cgroup-path` (proc(7), cgroups(7)). The v2
 * hierarchy is the line with ID 0 and an empty controller list; every other line is a v1
 * hierarchy whose controller list may name several controllers (`cpu,cpuacct`) or a named
 * hierarchy without controllers (`name=systemd`).
 *
 * @module
 */
import { CgroupFormatError, quote } from "./errors.ts";

/** The cgroups of one process. */
export interface ProcCgroups {
  /** The process's cgroup in the v2 (unified) hierarchy, or null when the kernel shows none. */
  v2: string | null;
  /**
   * v1 controller name → cgroup path. A co-mounted list (`cpu,cpuacct`) gives one entry per
   * controller; a named hierarchy keeps its `name=` prefix (`name=systemd`).
   */
  v1: Record<string, string>;
}

const DELETED = " (deleted)";

function isDigits(s: string, from: number, to: number): boolean {
  if (to <= from) return false;
  for (let i = from; i < to; i++) {
    const c = s.charCodeAt(i);
    if (c < 48 || c > 57) return false;
  }
  return true;
}

/** Controller and hierarchy names are `[A-Za-z0-9_.-]`, with an optional `name=` prefix. */
function isControllerName(s: string): boolean {
  const from = s.startsWith("name=") ? 5 : 0;
  if (s.length === from) return false;
  for (let i = from; i < s.length; i++) {
    const c = s.charCodeAt(i);
    const ok = (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || (c >= 48 && c <= 57) || c === 95 ||
      c === 46 || c === 45;
    if (!ok) return false;
  }
  return true;
}

/**
 * Parses the text of `/proc/<pid>/cgroup`.
 *
 * A v2 cgroup that was removed while the process still lives in it is shown with a
 * ` (deleted)` suffix, which is dropped here. Throws {@linkcode CgroupFormatError} naming the
 * line for anything the kernel does not write: a missing field, a non-numeric hierarchy ID, a
 * path that is not absolute, a controller listed twice.
 */
export function parseProcCgroup(text: string, file = "/proc/<pid>/cgroup"): ProcCgroups {
  const out: ProcCgroups = { v2: null, v1: {} };
  let start = 0;
  let lineNo = 0;
  while (start < text.length) {
    let end = text.indexOf("\n", start);
    if (end < 0) end = text.length;
    lineNo++;
    const line = text.slice(start, end);
    start = end + 1;
    if (line === "") continue;
    const c1 = line.indexOf(":");
    const c2 = c1 < 0 ? -1 : line.indexOf(":", c1 + 1);
    if (c2 < 0) {
      throw new CgroupFormatError(
        file,
        lineNo,
        `expected "id:controllers:path", got ${quote(line)}`,
      );
    }
    if (!isDigits(line, 0, c1)) {
      throw new CgroupFormatError(file, lineNo, `hierarchy ID is not a number in ${quote(line)}`);
    }
    let path = line.slice(c2 + 1);
    if (path.endsWith(DELETED)) path = path.slice(0, -DELETED.length);
    if (path.charCodeAt(0) !== 47) {
      throw new CgroupFormatError(file, lineNo, `cgroup path is not absolute in ${quote(line)}`);
    }
    const id = Number(line.slice(0, c1));
    if (c2 === c1 + 1) {
      if (id !== 0) {
        throw new CgroupFormatError(
          file,
          lineNo,
          `v1 hierarchy without controllers: ${quote(line)}`,
        );
      }
      if (out.v2 !== null) throw new CgroupFormatError(file, lineNo, "a second v2 line");
      out.v2 = path;
      continue;
    }
    if (id === 0) {
      throw new CgroupFormatError(file, lineNo, `hierarchy 0 with controllers: ${quote(line)}`);
    }
    for (const name of line.slice(c1 + 1, c2).split(",")) {
      if (!isControllerName(name)) {
        throw new CgroupFormatError(file, lineNo, `bad controller name ${quote(name)}`);
      }
      if (Object.hasOwn(out.v1, name)) {
        throw new CgroupFormatError(file, lineNo, `controller ${quote(name)} listed twice`);
      }
      // defineProperty: a name such as "__proto__" must stay an ordinary own key.
      Object.defineProperty(out.v1, name, {
        value: path,
        enumerable: true,
        writable: true,
        configurable: true,
      });
    }
  }
  return out;
}

function ignored(path: string | undefined | null): path is null | undefined {
  return path === undefined || path === null || path === "/" || path === "/init.scope";
}

/**
 * Cuts an LXC/Incus container's nested cgroup to the container's own: the container's init
 * and services live below `/lxc.payload.<name>` (or `/lxc.payload/<name>`, `/lxc/<name>`).
 */
function cutLxc(path: string): string {
  let keep: number; // components to keep
  if (path.startsWith("/lxc.payload.")) keep = 1;
  else if (path.startsWith("/lxc.payload/") || path.startsWith("/lxc/")) keep = 2;
  else return path;
  let end = 0;
  for (let i = 0; i < keep; i++) {
    const next = path.indexOf("/", end + 1);
    if (next < 0) return path;
    end = next;
  }
  return path.slice(0, end);
}

/**
 * The path that identifies a process's container, or null when the process is in a root or
 * init cgroup everywhere.
 *
 * Order: the cpu or memory path when it is under `/kubepods`, else the v2 path, else cpu,
 * else memory, else `name=systemd`. A candidate that is `/` or `/init.scope` is skipped, so a
 * hybrid host whose runtime left the v2 path at `/` still yields the v1 path. An LXC payload's
 * nested path is cut to the container's cgroup.
 */
export function primaryCgroupPath(c: ProcCgroups): string | null {
  const cpu = c.v1.cpu, memory = c.v1.memory;
  const candidates = [
    cpu?.startsWith("/kubepods") ? cpu : undefined,
    memory?.startsWith("/kubepods") ? memory : undefined,
    c.v2,
    cpu,
    memory,
    c.v1["name=systemd"],
  ];
  for (const p of candidates) if (!ignored(p)) return cutLxc(p);
  return null;
}
