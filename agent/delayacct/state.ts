/**
 * Whether the kernel accounts delays, and turning it on.
 *
 * Since Linux 5.14 delay accounting is off unless the kernel command line says `delayacct`
 * or `kernel.task_delayacct` is set to 1 (`<proc>/sys/kernel/task_delayacct`). While it is off
 * the block I/O delay of every task stays 0 (it is added up only while accounting is on);
 * the CPU delay is the scheduler's own run-queue wait (`sched_info.run_delay`), which the
 * kernel keeps either way and `<proc>/<pid>/task/<tid>/schedstat` shows.
 *
 * @module
 */
import { under } from "../paths.ts";
import type { HostPaths } from "../paths.ts";

/** The sysctl's path under a procfs. */
export const SYSCTL = "sys/kernel/task_delayacct";

/** What the kernel command line says about delay accounting. */
export type CmdlineSetting = "delayacct" | "nodelayacct" | "unset";

/** Delay accounting as read from the host. */
export interface DelayacctState {
  /** `kernel.task_delayacct`: true 1, false 0, undefined unreadable (no such sysctl: before 5.14 it is always on). */
  readonly sysctl: boolean | undefined;
  /** The kernel command line's word, the last of `delayacct` / `nodelayacct` given. */
  readonly cmdline: CmdlineSetting;
  /** What the kernel does now: the sysctl when it exists, else on (kernels before 5.14 always account). */
  readonly enabled: boolean;
  /** Why, in words, for the start-up table and the log. */
  readonly reason: string;
}

/**
 * The kernel command line's delay accounting word: the last `delayacct` or `nodelayacct`
 * token before a `--` (what follows goes to init, not the kernel).
 *
 * @param text `<proc>/cmdline`
 */
export function parseCmdline(text: string): CmdlineSetting {
  let out: CmdlineSetting = "unset";
  for (const word of text.trim().split(/\s+/)) {
    if (word === "--") break;
    if (word === "delayacct" || word === "nodelayacct") out = word;
  }
  return out;
}

/**
 * Parses the sysctl's text (`0\n` or `1\n`).
 *
 * @returns true, false, or undefined for anything else
 */
export function parseSysctl(text: string): boolean | undefined {
  const t = text.trim();
  return t === "1" ? true : t === "0" ? false : undefined;
}

/** The file's text; undefined when it does not exist, "denied" when it may not be read. */
function readText(path: string): string | undefined | "denied" {
  try {
    return Deno.readTextFileSync(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return undefined;
    if (err instanceof Deno.errors.PermissionDenied) return "denied";
    throw err;
  }
}

/**
 * Reads the state from the host's procfs (the host view, or the mounted host /proc).
 *
 * @param paths the host paths
 * @throws {Deno.errors.NotCapable} when `<proc>` is not granted
 */
export function readDelayacctState(paths: HostPaths): DelayacctState {
  const sysText = readText(under(paths.proc, SYSCTL));
  const cmdText = readText(under(paths.proc, "cmdline"));
  const cmdline = cmdText === undefined || cmdText === "denied" ? "unset" : parseCmdline(cmdText);
  if (sysText === "denied") {
    return {
      sysctl: undefined,
      cmdline,
      enabled: false,
      reason: "kernel.task_delayacct unreadable (EACCES): taken as off",
    };
  }
  const sysctl = sysText === undefined ? undefined : parseSysctl(sysText);
  if (sysText !== undefined && sysctl === undefined) {
    return {
      sysctl,
      cmdline,
      enabled: false,
      reason: `kernel.task_delayacct reads "${sysText.trim().slice(0, 20)}": taken as off`,
    };
  }
  return describeState(sysctl, cmdline);
}

/** The state from its two facts, with its reason. */
export function describeState(
  sysctl: boolean | undefined,
  cmdline: CmdlineSetting,
): DelayacctState {
  const boot = cmdline === "unset" ? "not on the kernel command line" : `${cmdline} at boot`;
  if (sysctl === undefined) {
    return {
      sysctl,
      cmdline,
      enabled: true,
      reason: "no kernel.task_delayacct (a kernel before 5.14 accounts always)",
    };
  }
  return {
    sysctl,
    cmdline,
    enabled: sysctl,
    reason: `kernel.task_delayacct=${sysctl ? 1 : 0} (${boot})`,
  };
}

/** The sysctl could not be written. */
export class DelayacctWriteError extends Error {
  /** The file written. */
  readonly path: string;
  constructor(path: string, cause: unknown) {
    super(
      `Cannot turn delay accounting on: write "1" to ${path}: ${
        cause instanceof Error ? cause.message : String(cause)
      }`,
      { cause },
    );
    this.name = "DelayacctWriteError";
    this.path = path;
  }
}

/**
 * Writes `kernel.task_delayacct=1` through the host's procfs (`--enable-delayacct`). Only
 * tasks the kernel accounts from then on gain block I/O delays; the CPU delay covers every
 * task's whole life.
 *
 * @param paths the host paths
 * @throws {DelayacctWriteError} when the write fails (no write grant: its `cause` is a
 *   `Deno.errors.NotCapable`; a read-only mount: `Deno.errors.ReadOnly`; not root:
 *   `Deno.errors.PermissionDenied`)
 */
export function enableDelayacct(paths: HostPaths): void {
  const path = under(paths.proc, SYSCTL);
  try {
    Deno.writeTextFileSync(path, "1\n");
  } catch (err) {
    throw new DelayacctWriteError(path, err);
  }
}
