/**
 * Finding the log files processes have open for writing, from procfs: every descriptor of
 * every process at start (and on each rescan), and one descriptor at a time when the logs BPF
 * object reports an open. The rules are file_rules.ts's.
 *
 * @module
 */
import { listPids, procErrorKind } from "../procfs.ts";
import { classifyOpenFile, type NotALog, parseFdinfoFlags } from "./file_rules.ts";

/** A log file a process has open for writing. */
export interface OpenLogFile {
  readonly pid: number;
  readonly fd: number;
  /** The path as the process's mount namespace names it, e.g. "/var/log/nginx/error.log". */
  readonly path: string;
  /** The opener's cgroup v2 id when a BPF record said it (0 or absent: unknown). */
  readonly cgroupId?: number;
}

/** What {@linkcode resolveLogFd} found. */
export type FdResolution =
  | { readonly kind: "log"; readonly file: OpenLogFile }
  | { readonly kind: NotALog | "gone" | "unreadable" };

/**
 * Whether one descriptor of a process is a log file: its link target and its fdinfo flags.
 *
 * @param proc the host's procfs (`HostPaths.proc`)
 * @returns "gone" when the process or the descriptor no longer exists, "unreadable" when the
 *   kernel or Deno refused (errors are not thrown)
 */
export function resolveLogFd(proc: string, pid: number, fd: number): FdResolution {
  let target: string;
  try {
    target = Deno.readLinkSync(`${proc}/${pid}/fd/${fd}`);
  } catch (err) {
    return { kind: procErrorKind(err) === "gone" ? "gone" : "unreadable" };
  }
  if (!target.startsWith("/var/log/")) return { kind: "not_var_log" };
  let flags: number | undefined;
  try {
    flags = parseFdinfoFlags(Deno.readTextFileSync(`${proc}/${pid}/fdinfo/${fd}`));
  } catch (err) {
    return { kind: procErrorKind(err) === "gone" ? "gone" : "unreadable" };
  }
  if (flags === undefined) return { kind: "unreadable" };
  const k = classifyOpenFile(target, flags);
  return k === "log" ? { kind: "log", file: { pid, fd, path: target } } : { kind: k };
}

/**
 * The log files one process has open for writing (its `fd` directory, then the fdinfo of the
 * descriptors that point under /var/log). A process that exits meanwhile gives what was read.
 */
export function processLogFiles(proc: string, pid: number): OpenLogFile[] {
  const out: OpenLogFile[] = [];
  let entries: Deno.DirEntry[];
  try {
    entries = [...Deno.readDirSync(`${proc}/${pid}/fd`)];
  } catch {
    return out; // gone, or not ours to look at
  }
  for (const e of entries) {
    const fd = Number(e.name);
    if (!Number.isInteger(fd)) continue;
    const r = resolveLogFd(proc, pid, fd);
    if (r.kind === "log") out.push(r.file);
  }
  return out;
}

/** Every log file open for writing by any process, by pid (the start-up and rescan pass). */
export function scanLogFiles(proc: string): OpenLogFile[] {
  const out: OpenLogFile[] = [];
  for (const pid of listPids(proc)) out.push(...processLogFiles(proc, pid));
  return out;
}
