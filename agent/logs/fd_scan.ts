/**
 * Finding the log files processes have open for writing, from procfs: every descriptor of
 * every process at start (and on each rescan), and one descriptor at a time when the logs BPF
 * object reports an open. The rules are file_rules.ts's. Under the Landlock sandbox the links
 * and fdinfo come from the procfs broker (README, "Security model").
 *
 * @module
 */
import type { BrokerLogFd } from "../../ffi/mod.ts";
import { procErrorKind } from "../procfs.ts";
import { procBrokerFor } from "../self/proc_broker.ts";
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
 * Whether one descriptor of a process is a log file: its link target and its fdinfo flags. Under
 * the Landlock sandbox, where the kernel refuses the agent other processes' `fd/*` links, the
 * procfs broker reads them ({@linkcode procBrokerFor}; agent/self/proc_broker.ts); it answers only
 * for writable files under `/var/log/`, so a descriptor it declines counts as "not_var_log".
 *
 * @param proc the host's procfs (`HostPaths.proc`)
 * @returns "gone" when the process or the descriptor no longer exists, "unreadable" when the
 *   kernel, Deno or the broker refused (errors are not thrown)
 */
export async function resolveLogFd(
  proc: string,
  pid: number,
  fd: number,
): Promise<FdResolution> {
  const broker = procBrokerFor(proc);
  if (broker === undefined) return resolveLogFdDirect(proc, pid, fd);
  let f: BrokerLogFd | null;
  try {
    f = await broker.logFd(pid, fd);
  } catch (err) {
    return { kind: procErrorKind(err) === "gone" ? "gone" : "unreadable" };
  }
  return f === null ? { kind: "not_var_log" } : classify(pid, f.fd, f.path, f.flags);
}

function classify(pid: number, fd: number, target: string, flags: number): FdResolution {
  const k = classifyOpenFile(target, flags);
  return k === "log" ? { kind: "log", file: { pid, fd, path: target } } : { kind: k };
}

function resolveLogFdDirect(proc: string, pid: number, fd: number): FdResolution {
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
  return classify(pid, fd, target, flags);
}

/** What {@linkcode processLogFiles} found in one process. */
export interface ProcessLogFiles {
  /** Its log files. */
  readonly files: OpenLogFile[];
  /**
   * Whether its descriptors could not be read: the kernel, Deno or the broker refused the `fd`
   * directory or a link or fdinfo in it (one refusal counts for the whole process).
   */
  readonly unreadable: boolean;
}

/**
 * The log files one process has open for writing (its `fd` directory, then the fdinfo of the
 * descriptors that point under /var/log), through the procfs broker when the agent has one
 * (see {@linkcode resolveLogFd}). A process that exits meanwhile gives what was read.
 */
export async function processLogFiles(proc: string, pid: number): Promise<ProcessLogFiles> {
  const files: OpenLogFile[] = [];
  const broker = procBrokerFor(proc);
  if (broker !== undefined) {
    try {
      for (const f of (await broker.logFds(pid)).files) {
        const r = classify(pid, f.fd, f.path, f.flags);
        if (r.kind === "log") files.push(r.file);
      }
    } catch (err) {
      return { files, unreadable: procErrorKind(err) !== "gone" };
    }
    return { files, unreadable: false };
  }
  let entries: Deno.DirEntry[];
  try {
    entries = [...Deno.readDirSync(`${proc}/${pid}/fd`)];
  } catch (err) {
    return { files, unreadable: procErrorKind(err) !== "gone" };
  }
  let unreadable = false;
  for (const e of entries) {
    const fd = Number(e.name);
    if (!Number.isInteger(fd)) continue;
    const r = resolveLogFdDirect(proc, pid, fd);
    if (r.kind === "log") files.push(r.file);
    else if (r.kind === "unreadable") unreadable = true;
  }
  return { files, unreadable };
}
