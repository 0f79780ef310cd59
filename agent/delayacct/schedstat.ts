/**
 * The scheduler's own per-task statistics, `<proc>/<pid>/task/<tid>/schedstat`
 * (Documentation/scheduler/sched-stats.rst): three numbers, time on the CPU (ns), time
 * runnable but waiting on a run queue (ns), and the number of time slices. The second is the
 * same counter taskstats reports as `cpu_delay_total` (`sched_info.run_delay`), kept whether or
 * not delay accounting is on, so it is the CPU delay's source while accounting is off. It is
 * per thread: a process's is the sum over its threads.
 *
 * @module
 */
import { FileFormatError } from "../file_format_error.ts";
import { under } from "../paths.ts";

/** A schedstat file that does not read as the kernel writes it. */
export class SchedstatFormatError extends FileFormatError {
  constructor(file: string, reason: string) {
    super(file, 1, reason);
    this.name = "SchedstatFormatError";
  }
}

/**
 * The run-queue wait of one thread, in ns.
 *
 * @param text the file's text, `"<on cpu ns> <wait ns> <slices>\n"`
 * @param file its name, for the error
 * @throws {SchedstatFormatError} when it is not three decimal numbers
 */
export function parseSchedstat(text: string, file = "schedstat"): number {
  const fields = text.trim().split(" ");
  if (fields.length !== 3 || !fields.every((f) => /^[0-9]{1,20}$/.test(f))) {
    throw new SchedstatFormatError(file, `"${text.trim().slice(0, 80)}" is not three numbers`);
  }
  return Number(fields[1]);
}

function gone(err: unknown): boolean {
  return err instanceof Deno.errors.NotFound || err instanceof Deno.errors.PermissionDenied ||
    // a process that exits while its directory is read
    (err instanceof Error && "code" in err && err.code === "ESRCH");
}

/**
 * The run-queue wait of each thread of a process.
 *
 * @param proc the host's procfs
 * @param pid the process
 * @param out reused map, cleared first
 * @returns `out` filled with tid → ns, or undefined when the process is gone
 * @throws {SchedstatFormatError} when a thread's file does not parse
 */
export function readThreadRunDelays(
  proc: string,
  pid: number,
  out: Map<number, number> = new Map(),
): Map<number, number> | undefined {
  out.clear();
  const dir = under(proc, `${pid}/task`);
  let entries: Deno.DirEntry[];
  try {
    entries = [...Deno.readDirSync(dir)];
  } catch (err) {
    if (gone(err)) return undefined;
    throw err;
  }
  for (const e of entries) {
    const tid = Number(e.name);
    if (!Number.isInteger(tid) || tid <= 0) continue;
    let text: string;
    try {
      text = Deno.readTextFileSync(`${dir}/${e.name}/schedstat`);
    } catch (err) {
      if (gone(err)) continue; // the thread exited meanwhile
      throw err;
    }
    out.set(tid, parseSchedstat(text, `/proc/${pid}/task/${tid}/schedstat`));
  }
  return out.size === 0 ? undefined : out;
}

/**
 * The run-queue wait of a process's main thread only (`<proc>/<pid>/schedstat`): one read.
 * For the benchmark's baseline; the module sums every thread.
 *
 * @returns ns, or undefined when the process is gone
 */
export function readMainThreadRunDelay(proc: string, pid: number): number | undefined {
  let text: string;
  try {
    text = Deno.readTextFileSync(under(proc, `${pid}/schedstat`));
  } catch (err) {
    if (gone(err)) return undefined;
    throw err;
  }
  return parseSchedstat(text, `/proc/${pid}/schedstat`);
}
