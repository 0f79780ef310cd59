/**
 * Reading host files for the node collectors: one place that turns a failed read into an error
 * naming the file, and that clears a collector's families when its round fails, so a scrape
 * never serves values left over from an earlier round as if they were current.
 *
 * @module
 */

/** Reads a host text file; a failure names the file and keeps the original as `cause`. */
export async function readHostText(path: string): Promise<string> {
  try {
    return await Deno.readTextFile(path);
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    throw new Error(`Cannot read "${path}": ${why}`, { cause: err });
  }
}

/** Like {@linkcode readHostText} but resolves `undefined` when the file does not exist. */
export async function readOptionalHostText(path: string): Promise<string | undefined> {
  try {
    return await Deno.readTextFile(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return undefined;
    const why = err instanceof Error ? err.message : String(err);
    throw new Error(`Cannot read "${path}": ${why}`, { cause: err });
  }
}

/** Anything with `clear()`: a metric family. */
export interface Clearable {
  clear(): void;
}

/**
 * Runs one collector round; when it throws, clears `families` (their series vanish until the
 * next good round, as node_exporter's do when a collector fails) and rethrows, so the scheduler
 * records the failure.
 */
export async function round(
  families: readonly Clearable[],
  body: () => Promise<void>,
): Promise<void> {
  try {
    await body();
  } catch (err) {
    for (const f of families) f.clear();
    throw err;
  }
}

/**
 * The label sets a collector exposed in its last round, so that the series of a device or
 * interface that went away can be removed without re-creating the others every round.
 */
export class LabelSets {
  #last = new Map<string, readonly string[]>();

  /** Records this round's label sets; returns the last round's sets that are gone now. */
  update(current: Iterable<readonly string[]>): (readonly string[])[] {
    const next = new Map<string, readonly string[]>();
    for (const values of current) next.set(values.join("\u0000"), values);
    const gone: (readonly string[])[] = [];
    for (const [key, values] of this.#last) if (!next.has(key)) gone.push(values);
    this.#last = next;
    return gone;
  }

  /** Forgets everything (the families were cleared). */
  clear(): void {
    this.#last.clear();
  }
}
