/**
 * Runs test code with `kernel.task_delayacct` set, and always puts the previous value back
 * (also when the code throws): other tests and helpers on the machine share the kernel.
 *
 * @module
 */

/** The sysctl's file. */
export const TASK_DELAYACCT = "/proc/sys/kernel/task_delayacct";

/** The current value, or undefined when the kernel has no such sysctl (before 5.14). */
export function readTaskDelayacct(): string | undefined {
  try {
    return Deno.readTextFileSync(TASK_DELAYACCT).trim();
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return undefined;
    throw err;
  }
}

/** Why the sysctl cannot be changed here ("" when it can). */
export function sysctlIgnoreReason(): string {
  if (Deno.build.os !== "linux") return "not Linux";
  if (Deno.uid() !== 0) return "not root (writing kernel.task_delayacct)";
  if (readTaskDelayacct() === undefined) return "no kernel.task_delayacct (kernel before 5.14)";
  return "";
}

/**
 * Sets the sysctl to `value` for the duration of `fn`, then restores what it was.
 *
 * @throws whatever `fn` throws, after restoring
 */
export async function withTaskDelayacct<T>(value: "0" | "1", fn: () => Promise<T>): Promise<T> {
  const before = readTaskDelayacct();
  if (before === undefined) throw new Error(`${TASK_DELAYACCT} does not exist`);
  Deno.writeTextFileSync(TASK_DELAYACCT, value);
  try {
    return await fn();
  } finally {
    Deno.writeTextFileSync(TASK_DELAYACCT, before);
  }
}
