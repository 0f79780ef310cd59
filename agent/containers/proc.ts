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

import type { SkipLine } from "../file_format_error.ts";
import { FileFormatError, skipOrThrow } from "../file_format_error.ts";
import { parseU64, textLines } from "../host_text.ts";
export { isPidName, listPids } from "../procfs.ts";
import { procErrorKind } from "../procfs.ts";

/** A file of `<proc>` that does not read as the kernel writes it. */
export class ProcFormatError extends FileFormatError {
  /** `file` names the file or its kind (`stat`, `mountinfo`, `uptime`). */
  constructor(file: string, line: number, reason: string) {
    super(file, line, reason);
    this.name = "ProcFormatError";
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
export function parseProcStat(text: string, file = "stat"): ProcStat {
  const open = text.indexOf("(");
  const close = text.lastIndexOf(")");
  if (open < 1 || close < open) throw new ProcFormatError(file, 1, "no (comm) field");
  const pidText = text.slice(0, open).trim();
  const pid = parseU64(pidText, 0, pidText.length);
  const rest = text.slice(close + 2).trim().split(" ");
  // rest[0] is field 3 (state), so field N is rest[N - 3]
  if (Number.isNaN(pid) || rest.length < 20) {
    throw new ProcFormatError(file, 1, `${rest.length + 2} fields, expected at least 22`);
  }
  const ppid = parseU64(rest[1], 0, rest[1].length);
  const startTicks = parseU64(rest[19], 0, rest[19].length);
  if (Number.isNaN(ppid) || Number.isNaN(startTicks)) {
    throw new ProcFormatError(file, 1, `ppid "${rest[1]}" or starttime "${rest[19]}" is no number`);
  }
  return { pid, comm: text.slice(open + 1, close), ppid, startTicks };
}

/** Seconds since boot from `/proc/uptime` (its first field). */
export function parseUptime(text: string): number {
  // the kernel prints "%lu.%02lu" (fs/proc/uptime.c): nothing else is a time
  const first = text.trim().split(/\s+/)[0];
  if (!/^\d+(?:\.\d+)?$/.test(first)) {
    throw new ProcFormatError("uptime", 1, `"${text.trim()}"`);
  }
  return Number(first);
}

/** One line of `/proc/<pid>/mountinfo` (proc(5)). */
export interface MountInfo {
  /** Mount ID (field 1), unique in the mount namespace. */
  readonly id: number;
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

function isCount(s: string | undefined): boolean {
  return s !== undefined && !Number.isNaN(parseU64(s, 0, s.length));
}

/**
 * Parses `/proc/<pid>/mountinfo` (proc(5): mount ID, parent ID, `major:minor`, root, mount
 * point, options, optional fields, `-`, file system type, source, super options).
 *
 * A line without that shape (a field missing, an ID or device number that is not a count, no
 * `-` separator), or a second line with a mount ID already read, goes to `skip` and is left out;
 * without `skip` it is thrown as a {@linkcode ProcFormatError}. A file without one readable
 * line gives no mounts.
 */
export function parseMountInfo(
  text: string,
  file = "/proc/<pid>/mountinfo",
  skip?: SkipLine,
): MountInfo[] {
  const mounts: MountInfo[] = [];
  const ids = new Set<number>();
  const lines = textLines(text);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    if (line === "") continue;
    const f = line.split(" ");
    const sep = f.indexOf("-", 6);
    const dev = f[2]?.split(":");
    let reason: string | undefined;
    if (sep < 0 || f.length < sep + 3 || dev?.length !== 2 || f[3] === "" || f[4] === "") {
      reason = `expected "ID PARENT MAJ:MIN ROOT POINT OPTIONS ... - TYPE SOURCE ...", got ${
        JSON.stringify(line.length > 80 ? line.slice(0, 77) + "..." : line)
      }`;
    } else if (!isCount(f[0]) || !isCount(f[1]) || !isCount(dev[0]) || !isCount(dev[1])) {
      reason = `an ID or device number is not a count in "${f.slice(0, 3).join(" ")}"`;
    } else if (ids.has(Number(f[0]))) reason = `a second line for mount ID ${f[0]}`;
    if (reason !== undefined) {
      skipOrThrow(new ProcFormatError(file, i + 1, reason), skip);
      continue;
    }
    ids.add(Number(f[0]));
    mounts.push({
      id: Number(f[0]),
      major: Number(dev![0]),
      minor: Number(dev![1]),
      root: unescapeMountPath(f[3]),
      mountPoint: unescapeMountPath(f[4]),
      fsType: f[sep + 1],
      source: unescapeMountPath(f[sep + 2]),
    });
  }
  return mounts;
}

/** True for the errors of reading a `<proc>/<pid>` file of a process that is gone. */
function goneProcess(err: unknown): boolean {
  // a process that exited between open and read gives ESRCH; an unreadable one is as good as gone
  const kind = procErrorKind(err);
  return kind === "gone" || kind === "denied";
}

/** Reads a `<proc>` text file; undefined when the process is gone (or the file unreadable). */
export function readProcText(path: string): string | undefined {
  try {
    return Deno.readTextFileSync(path);
  } catch (err) {
    if (goneProcess(err)) return undefined;
    throw err;
  }
}

/**
 * Reads a `<proc>` file as bytes, for text that holds paths (`/proc/<pid>/cgroup`): decode it
 * with `decodeHostText` (agent/paths.ts) so a name that is not UTF-8 keeps its bytes. Undefined
 * when the process is gone.
 */
export function readProcBytes(path: string): Uint8Array | undefined {
  try {
    return Deno.readFileSync(path);
  } catch (err) {
    if (goneProcess(err)) return undefined;
    throw err;
  }
}
