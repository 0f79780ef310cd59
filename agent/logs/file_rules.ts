/**
 * Which open files are logs, and whether a process opted out (reference §5.1; the rules of
 * coroot-node-agent's `resolveFd` and `proc/flags.go`, v1.35.6). Pure functions over the text
 * of `/proc/<pid>/fdinfo/<fd>`, the target of `/proc/<pid>/fd/<fd>` and `/proc/<pid>/environ`.
 *
 * @module
 */

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

const OPT_OUT = new TextEncoder().encode("COROOT_LOG_MONITORING=");
const DISABLED = new TextEncoder().encode("disabled");

/**
 * Whether a process's environment switches log monitoring off: a `COROOT_LOG_MONITORING`
 * variable whose value contains `disabled` (the reference's test).
 *
 * @param environ the bytes of `/proc/<pid>/environ` (NUL-separated `NAME=value` entries)
 */
export function logMonitoringDisabled(environ: Uint8Array): boolean {
  let start = 0;
  while (start < environ.length) {
    let end = environ.indexOf(0, start);
    if (end < 0) end = environ.length;
    if (end - start >= OPT_OUT.length && startsWith(environ, start, OPT_OUT)) {
      const value = environ.subarray(start + OPT_OUT.length, end);
      if (contains(value, DISABLED)) return true;
    }
    start = end + 1;
  }
  return false;
}

function startsWith(b: Uint8Array, at: number, prefix: Uint8Array): boolean {
  for (let i = 0; i < prefix.length; i++) if (b[at + i] !== prefix[i]) return false;
  return true;
}

function contains(b: Uint8Array, needle: Uint8Array): boolean {
  outer: for (let i = 0; i + needle.length <= b.length; i++) {
    for (let j = 0; j < needle.length; j++) if (b[i + j] !== needle[j]) continue outer;
    return true;
  }
  return false;
}
