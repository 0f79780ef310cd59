/**
 * Which open files are logs, and whether a process opted out (reference §5.1; the rules of
 * coroot-node-agent's `resolveFd` and `proc/flags.go`, v1.35.6). Pure functions over the text
 * of `/proc/<pid>/fdinfo/<fd>`, the target of `/proc/<pid>/fd/<fd>` and `/proc/<pid>/environ`.
 *
 * @module
 */
import { parseOptOuts } from "../opt_outs.ts";

/** O_WRONLY: the only access mode that makes an open file a log (O_RDWR does not). */
export const O_WRONLY = 0o1;

/** Directories under /var/log whose files other sources read (or that are not logs). */
const EXCLUDED_PREFIXES = ["/var/log/pods/", "/var/log/containers/", "/var/log/journal/"];

/** Why a descriptor is not followed as a log file. */
export type NotALog = "not_write_only" | "not_var_log" | "deleted" | "excluded_dir";

/**
 * Whether an open file is a log to follow: opened write-only, at a path under `/var/log/`
 * (as the process's mount namespace names it) that is not under `/var/log/pods/`,
 * `/var/log/containers/` or `/var/log/journal/`, and not deleted.
 *
 * @param target the link target of `/proc/<pid>/fd/<fd>`
 * @param flags the `flags:` value of `/proc/<pid>/fdinfo/<fd>` (parsed from octal)
 * @returns "log", or why not
 */
export function classifyOpenFile(target: string, flags: number): "log" | NotALog {
  if ((flags & O_WRONLY) === 0) return "not_write_only";
  if (!target.startsWith("/var/log/")) return "not_var_log";
  if (target.endsWith(" (deleted)")) return "deleted";
  if (EXCLUDED_PREFIXES.some((p) => target.startsWith(p))) return "excluded_dir";
  return "log";
}

/**
 * The `flags:` field of `/proc/<pid>/fdinfo/<fd>` (octal in the file).
 *
 * @returns the flags, or undefined when the text has no such field
 */
export function parseFdinfoFlags(text: string): number | undefined {
  const m = /^flags:\s*([0-7]+)\s*$/m.exec(text);
  return m === null ? undefined : parseInt(m[1], 8);
}

/**
 * Whether a process's environment switches log monitoring off: a `COROOT_LOG_MONITORING`
 * variable whose value contains `disabled` (the reference's test; agent/opt_outs.ts reads all
 * three opt-outs).
 *
 * @param environ the bytes of `/proc/<pid>/environ` (NUL-separated `NAME=value` entries)
 */
export function logMonitoringDisabled(environ: Uint8Array): boolean {
  return parseOptOuts(environ).logMonitoring;
}
