/**
 * The journald source (reference §5.1): one sd_journal reader over the host's journal, whose
 * entries are routed to the parser of the container they belong to: by `_SYSTEMD_UNIT` for
 * systemd services, by `CONTAINER_ID_FULL` for containers whose runtime logs to journald
 * (Podman's and Docker's `journald` log driver).
 *
 * The directory is the first of `<root>/run/log/journal` and `<root>/var/log/journal` that
 * holds journal files; while neither does (journald not running yet, or storage off), it looks
 * again every {@linkcode RETRY_MS}. sd_journal follows new entries; after its files change
 * (rotation, a journald restart) and when a read or wait fails, the journal is opened again
 * after the last entry read (its cursor), so nothing is lost or counted twice.
 *
 * @module
 */
import { BpfError, type JournalEntry, type OspreyLibrary } from "../../ffi/mod.ts";
import type { Logger } from "../log.ts";

/** How often a missing journal is looked for again, and a failed one reopened. */
export const RETRY_MS = 5000;
/** How long one wait for new entries lasts. */
const WAIT_MS = 200;
/** How long after the journal's files changed it is opened again (see the loop). */
const REOPEN_AFTER_CHANGE_MS = 1000;

/** A subscriber's key: the unit for services, the runtime id for journald-logging containers. */
export type JournalKey = { readonly unit: string } | { readonly containerId: string };

function keyText(k: JournalKey): string {
  return "unit" in k ? `u:${k.unit}` : `c:${k.containerId}`;
}

/** Whether a directory holds journal files (in it or in its machine-id subdirectories). */
export function hasJournalFiles(dir: string): boolean {
  try {
    for (const e of Deno.readDirSync(dir)) {
      if (e.isFile && e.name.endsWith(".journal")) return true;
      if (e.isDirectory) {
        for (const f of Deno.readDirSync(`${dir}/${e.name}`)) {
          if (f.isFile && f.name.endsWith(".journal")) return true;
        }
      }
    }
  } catch {
    // missing or not readable: no journal there
  }
  return false;
}

/** Reads the journal and hands each entry to the subscriber of its unit or container. */
export class JournalSource {
  readonly #lib: OspreyLibrary;
  readonly #dirs: readonly string[];
  readonly #log: Logger;
  readonly #subs = new Map<string, (e: JournalEntry) => void>();
  #cursor: string;
  #dir = "";
  /** Entries read, routed or not. */
  entries = 0;
  /** Times the journal was opened again after a failure. */
  reopens = 0;
  #loop: Promise<void> | undefined;

  /**
   * @param dirs the journal directories to try, in order, as the agent reaches them
   * @param cursor where a previous reader stopped ("" for the end)
   */
  constructor(lib: OspreyLibrary, dirs: readonly string[], log: Logger, cursor = "") {
    this.#lib = lib;
    this.#dirs = dirs;
    this.#log = log;
    this.#cursor = cursor;
  }

  /** The directory being read ("" while none is). */
  get dir(): string {
    return this.#dir;
  }

  /** The cursor of the last entry read, to resume after it. */
  get cursor(): string {
    return this.#cursor;
  }

  /** Routes entries with `key` to `fn` (one subscriber per key); returns the unsubscribe. */
  subscribe(key: JournalKey, fn: (e: JournalEntry) => void): () => void {
    const k = keyText(key);
    this.#subs.set(k, fn);
    return () => {
      if (this.#subs.get(k) === fn) this.#subs.delete(k);
    };
  }

  /** Starts reading until `signal` aborts; the promise settles once the journal is closed. */
  start(signal: AbortSignal): Promise<void> {
    this.#loop ??= this.#run(signal);
    return this.#loop;
  }

  async #run(signal: AbortSignal): Promise<void> {
    const sleep = (ms: number) =>
      new Promise<void>((resolve) => {
        const t = setTimeout(resolve, ms);
        signal.addEventListener("abort", () => {
          clearTimeout(t);
          resolve();
        }, { once: true });
      });
    while (!signal.aborted) {
      const dir = this.#dirs.find(hasJournalFiles);
      if (dir === undefined) {
        this.#dir = "";
        await sleep(RETRY_MS);
        continue;
      }
      let j;
      try {
        j = await this.#lib.openJournal(dir, this.#cursor);
      } catch (err) {
        if (!(err instanceof BpfError)) throw err;
        this.#log.warn("logs: cannot open the journal; trying again", { dir, error: err.message });
        await sleep(RETRY_MS);
        continue;
      }
      // a reopen after a change is routine; the first open, or another directory, is news
      const line = this.#dir === dir && this.#cursor !== "" ? "debug" : "info";
      this.#dir = dir;
      this.#log[line]("logs: reading the journal", { dir, resumed: this.#cursor !== "" });
      try {
        let invalidatedAt = 0;
        // the first wait on a new handle always reports a change (it sets up inotify)
        let settled = false;
        while (!signal.aborted) {
          const entries = await j.read();
          if (entries.length > 0) {
            this.#dispatch(entries);
            this.#cursor = j.cursor() || this.#cursor;
            continue;
          }
          // Files were added or removed (rotation, a journald restart): once idle a moment
          // later, open the journal again after the last entry read, so the files there now
          // are the ones read whatever libsystemd made of the change (a safeguard; it costs
          // one open per rotation).
          if (invalidatedAt !== 0 && Date.now() - invalidatedAt >= REOPEN_AFTER_CHANGE_MS) {
            this.reopens++;
            break;
          }
          const change = await j.wait(WAIT_MS);
          if (change === "invalidate" && settled) invalidatedAt ||= Date.now();
          settled = true;
        }
      } catch (err) {
        if (!(err instanceof BpfError)) throw err;
        this.reopens++;
        this.#log.warn("logs: reading the journal failed; opening it again", {
          dir,
          error: err.message,
        });
        await sleep(1000);
      } finally {
        j.close();
      }
    }
  }

  #dispatch(entries: readonly JournalEntry[]): void {
    for (const e of entries) {
      this.entries++;
      if (e.unit !== "") this.#subs.get(`u:${e.unit}`)?.(e);
      if (e.containerId !== "") this.#subs.get(`c:${e.containerId}`)?.(e);
    }
  }
}
