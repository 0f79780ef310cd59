/**
 * What the container registry reads from `<proc>`: the pid list, a process's start time
 * (`/proc/<pid>/stat` field 22), its command line and executable, and its mount table.
 *
 * Start times: taskstats' `ac_btime` is what the reference uses; here it is `starttime` from
 * `/proc/<pid>/stat`, in USER_HZ ticks since boot (the kernel's boot-time clock, the same clock
 * BPF process events are stamped with), turned into wall-clock milliseconds with the boot time
 * derived once from `/proc/uptime`. Resolution is 10 ms (USER_HZ 100), ample for ordering a
 * container's processes.
 *
 * @module
 */

export { isPidName, listPids } from "../procfs.ts";

/** A file of `<proc>` that does not read as the kernel writes it. */
export class ProcFormatError extends SyntaxError {
  /** Which file kind (`stat`, `mountinfo`, `uptime`). */
  readonly file: string;
  constructor(file: string, message: string) {
    super(`Cannot parse ${file}: ${message}`);
    this.name = "ProcFormatError";
    this.file = file;
  }
}

/** The fields of `/proc/<pid>/stat` the registry uses. */
export interface ProcStat {
  readonly pid: number;
  readonly comm: string;
  readonly ppid: number;
  /** Field 22: start time in clock ticks (USER_HZ) after boot. */
  readonly startTicks: number;
}

/**
 * Parses `/proc/<pid>/stat`. `comm` may hold spaces and parentheses, so the fields after it
 * are found from the last `)`.
 */
export function parseProcStat(text: string): ProcStat {
  const open = text.indexOf("(");
  const close = text.lastIndexOf(")");
  if (open < 1 || close < open) throw new ProcFormatError("stat", "no (comm) field");
  const pid = Number(text.slice(0, open).trim());
  const rest = text.slice(close + 2).trim().split(" ");
  // rest[0] is field 3 (state), so field N is rest[N - 3]
  if (!Number.isInteger(pid) || rest.length < 20) {
    throw new ProcFormatError("stat", `${rest.length + 2} fields, expected at least 22`);
  }
  const ppid = Number(rest[1]);
  const startTicks = Number(rest[19]);
  if (!Number.isInteger(ppid) || !Number.isInteger(startTicks) || startTicks < 0) {
    throw new ProcFormatError("stat", `ppid "${rest[1]}" or starttime "${rest[19]}" is no number`);
  }
  return { pid, comm: text.slice(open + 1, close), ppid, startTicks };
}

/** Seconds since boot from `/proc/uptime` (its first field). */
export function parseUptime(text: string): number {
  const s = Number(text.trim().split(/\s+/)[0]);
  if (!Number.isFinite(s) || s < 0) throw new ProcFormatError("uptime", `"${text.trim()}"`);
  return s;
}

/** One line of `/proc/<pid>/mountinfo` (proc(5)). */
export interface MountInfo {
  readonly major: number;
  readonly minor: number;
  /** The mounted directory of the file system (field 4). */
  readonly root: string;
  /** Where it is mounted, in the process's mount namespace (field 5). */
  readonly mountPoint: string;
  readonly fsType: string;
  readonly source: string;
}

/** Undoes mountinfo's octal escapes (`\040` for a space, `\011`, `\012`, `\134`). */
export function unescapeMountPath(s: string): string {
  return s.indexOf("\\") < 0
    ? s
    : s.replace(/\\([0-7]{3})/g, (_, oct) => String.fromCharCode(parseInt(oct, 8)));
}

/**
 * Parses `/proc/<pid>/mountinfo`. A line that does not have the documented shape is skipped
 * and counted in `bad` (the caller counts it as a parse failure).
 */
export function parseMountInfo(text: string): { mounts: MountInfo[]; bad: number } {
  const mounts: MountInfo[] = [];
  let bad = 0;
  for (const line of text.split("\n")) {
    if (line === "") continue;
    const f = line.split(" ");
    const sep = f.indexOf("-", 6);
    const dev = f[2]?.split(":");
    if (sep < 0 || f.length < sep + 3 || dev?.length !== 2) {
      bad++;
      continue;
    }
    const major = Number(dev[0]), minor = Number(dev[1]);
    if (!Number.isInteger(major) || !Number.isInteger(minor)) {
      bad++;
      continue;
    }
    mounts.push({
      major,
      minor,
      root: unescapeMountPath(f[3]),
      mountPoint: unescapeMountPath(f[4]),
      fsType: f[sep + 1],
      source: unescapeMountPath(f[sep + 2]),
    });
  }
  return { mounts, bad };
}

/** Reads a `<proc>` text file; undefined when the process is gone (or the file unreadable). */
export function readProcText(path: string): string | undefined {
  try {
    return Deno.readTextFileSync(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound || err instanceof Deno.errors.PermissionDenied) {
      return undefined;
    }
    // ESRCH and friends from a process that exited between open and read
    if (err instanceof Error && /ESRCH|No such process/.test(err.message)) return undefined;
    throw err;
  }
}
