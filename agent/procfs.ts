/**
 * Walking `<proc>`: which entries are processes, the pid list, and what a failed read of a
 * process's file means (it exited, or the agent may not look).
 *
 * @module
 */

/** True for a `<proc>` directory entry that is a process. */
export function isPidName(name: string): boolean {
  if (name.length === 0 || name.length > 10) return false;
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (c < 48 || c > 57) return false;
  }
  return name.charCodeAt(0) !== 48;
}

/** The pids under `<proc>`. */
export function listPids(proc: string): number[] {
  const out: number[] = [];
  for (const e of Deno.readDirSync(proc)) if (isPidName(e.name)) out.push(Number(e.name));
  return out;
}

/** Why a read under `<proc>/<pid>` failed. */
export type ProcErrorKind =
  /** The process (or the fd, or the file) is gone: ENOENT, ESRCH. */
  | "gone"
  /** The kernel refused: EACCES, EPERM (ptrace access to another user's or a non-dumpable process). */
  | "denied"
  /** Deno's permissions refused the path (`NotCapable`): the agent was not granted it. */
  | "not_granted"
  /** Anything else (EIO, EINVAL, ...). */
  | "other";

/**
 * Classifies an error from reading under `<proc>/<pid>` by its type, and by the errno code Deno
 * attaches (`code`, e.g. `"ESRCH"`) for the kinds without an error class of their own.
 */
export function procErrorKind(err: unknown): ProcErrorKind {
  if (err instanceof Deno.errors.NotFound) return "gone";
  if (err instanceof Deno.errors.PermissionDenied) return "denied";
  if (err instanceof Deno.errors.NotCapable) return "not_granted";
  const code = err instanceof Error ? (err as Error & { code?: unknown }).code : undefined;
  if (code === "ESRCH" || code === "ENOENT") return "gone";
  if (code === "EACCES" || code === "EPERM") return "denied";
  return "other";
}
