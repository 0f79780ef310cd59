/**
 * Which log sources each container has, reading them, and writing their counts.
 *
 * | source label    | kind       | found from                                                        | read by                               |
 * |-----------------|------------|-------------------------------------------------------------------|---------------------------------------|
 * | `stdout/stderr` | `stdout`   | the runtime's metadata: Docker json-file, CRI, Podman k8s-file     | {@linkcode TailReader} + the decoder  |
 * | `stdout/stderr` | `journald` | the metadata says the runtime logs to journald (Podman, Docker)    | {@linkcode JournalSource}, `CONTAINER_ID_FULL` |
 * | `journald`      | `journald` | a systemd-service container                                       | {@linkcode JournalSource}, `_SYSTEMD_UNIT` |
 * | the file's path | `file`     | a process of the container has it open write-only under /var/log  | {@linkcode TailReader} on the host path |
 *
 * A container any of whose processes has `COROOT_LOG_MONITORING=disabled` in its environment
 * gets no source (checked when a source would be added). A runtime log file is read from its end,
 * except for a container the runtime created after the manager started (its metadata's creation
 * time): from its first line.
 *
 * State that must outlive one start of the module (each source's parser, so counters never
 * go back, and where its reader stopped, so lines are neither lost nor read twice) lives in a
 * {@linkcode SourceStore}; a new manager with the same store resumes each source.
 *
 * @module
 */
import type { JournalEntry } from "../../ffi/mod.ts";
import type { ContainerDirectory, ContainerView } from "../containers/mod.ts";
import type { Logger } from "../log.ts";
import { type HostPaths, under } from "../paths.ts";
import { parseOptOuts, readOptOuts } from "../opt_outs.ts";
import type { OpenLogFile } from "./fd_scan.ts";
import type { JournalKey, JournalSource } from "./journal_source.ts";
import { type FileOpenResult, type LogFamilies, type Oddity, type SourceKind } from "./metrics.ts";
import { type Level, levelOfPriority, LogParser, type LogParserOptions } from "./parser/mod.ts";
import { type TailPosition, TailReader } from "./tail_reader.ts";

/** The label of a container's own output. */
export const STDOUT_SOURCE = "stdout/stderr";
/** The label of a service's journal. */
export const JOURNALD_SOURCE = "journald";

/**
 * Most /var/log files followed per container: each holds a descriptor (two while it drains
 * after rotation). More are counted in `osprey_logs_file_opens_total{result="over_limit"}`.
 */
export const MAX_FILES_PER_CONTAINER = 64;

/** Shortest time between two reading rounds that new sources start. */
const MIN_ROUND_MS = 50;

/** Log files kept while their process's container is being looked up. */
const MAX_PENDING_FILES = 4096;
/** Syncs a file whose process is in no known container is asked about again (some seconds). */
const PENDING_TRIES = 40;

/** What a source keeps across module restarts. */
interface KeptSource {
  parser: LogParser;
  position?: TailPosition;
}

/** What survives a restart of the logs module inside the agent: parsers and read positions. */
export class SourceStore {
  readonly #sources = new Map<string, KeptSource>();
  /** The journal cursor of the last entry read. */
  journalCursor = "";

  /** The kept state of a container's source. */
  get(containerId: string, label: string): KeptSource | undefined {
    return this.#sources.get(`${containerId}\0${label}`);
  }

  /** Keeps a source's state. */
  set(containerId: string, label: string, s: KeptSource): void {
    this.#sources.set(`${containerId}\0${label}`, s);
  }

  /** Forgets one source, or every source of a container when `label` is omitted. */
  forget(containerId: string, label?: string): void {
    if (label !== undefined) {
      this.#sources.delete(`${containerId}\0${label}`);
      return;
    }
    const prefix = `${containerId}\0`;
    for (const k of [...this.#sources.keys()]) if (k.startsWith(prefix)) this.#sources.delete(k);
  }

  /** Number of sources kept. */
  get size(): number {
    return this.#sources.size;
  }
}

/** Options of {@linkcode LogsManager}. */
export interface LogsManagerOptions {
  paths: HostPaths;
  families: LogFamilies;
  log: Logger;
  store: SourceStore;
  /** The parser settings from the flags (the decoder is the source's). */
  parser: Omit<LogParserOptions, "decoder" | "onMessage">;
  /** The journal, when it is read. */
  journal?: JournalSource;
  /**
   * Where a container's parsed messages go besides the counters (push mode's OTLP logs), asked
   * once per new source; undefined (the default) when nothing takes them, which spares the
   * parser building each message and its JSON attributes.
   */
  messageSink?: (view: ContainerView) => LogParserOptions["onMessage"];
  /** Pause between two rounds of reading the files when nothing was waiting. @default 250 */
  pollIntervalMs?: number;
  /**
   * The bytes of `<proc>/<pid>/environ`, undefined when unreadable. @default reads procfs
   * (agent/opt_outs.ts)
   */
  readEnviron?: (pid: number) => Uint8Array | undefined;
  /** The wall clock, ms. @default Date.now */
  clock?: () => number;
}

type Counts = Record<Oddity, number> & { lines: number };

function zeroCounts(): Counts {
  return {
    lines: 0,
    line_cut: 0,
    message_cut: 0,
    invalid_utf8: 0,
    decode_error: 0,
    rotation: 0,
    truncation: 0,
    read_error: 0,
  };
}

/** One source of one container. */
class Source {
  readonly label: string;
  readonly kind: SourceKind;
  readonly parser: LogParser;
  /** What identifies the source's origin: a new one restarts it (a new log path). */
  readonly origin: string;
  reader?: TailReader;
  unsubscribe?: () => void;
  /** Lines and oddities of the journal path (the reader counts its own). */
  readonly journal = { lines: 0, cut: 0 };
  /** What was added to the self-metrics already. */
  readonly reported: Counts = zeroCounts();
  #lastReaderError = "";

  constructor(label: string, kind: SourceKind, parser: LogParser, origin: string) {
    this.label = label;
    this.kind = kind;
    this.parser = parser;
    this.origin = origin;
  }

  /** The counts as of now (reader or journal, and the parser). */
  counts(): Counts {
    const c = zeroCounts();
    const r = this.reader?.stats;
    c.lines = (r?.lines ?? 0) + this.journal.lines;
    c.line_cut = (r?.cut ?? 0) + this.journal.cut;
    c.invalid_utf8 = (r?.invalidUtf8 ?? 0) + this.parser.errors.invalidUtf8;
    c.message_cut = this.parser.errors.cut;
    c.decode_error = this.parser.errors.decode;
    c.rotation = r?.rotations ?? 0;
    c.truncation = r?.truncations ?? 0;
    c.read_error = r?.errors ?? 0;
    return c;
  }

  /** A new reader error since the last call ("" if none). */
  newReaderError(): string {
    const e = this.reader?.lastError ?? "";
    if (e === this.#lastReaderError) return "";
    this.#lastReaderError = e;
    return e;
  }

  close(): void {
    this.reader?.close();
    this.unsubscribe?.();
  }
}

/** A container's sources. */
class ContainerLogs {
  readonly sources = new Map<string, Source>();
  /** Its sources of kind "file". */
  get files(): number {
    let n = 0;
    for (const s of this.sources.values()) if (s.kind === "file") n++;
    return n;
  }
  /** Opted out through COROOT_LOG_MONITORING=disabled (undefined: not checked yet). */
  optedOut: boolean | undefined;
}

/** Decoder of a runtime's log file format. */
function decoderOf(format: string | undefined): LogParserOptions["decoder"] | undefined {
  switch (format) {
    case "docker-json":
      return "docker";
    case "cri":
    case "podman-k8s-file": // the same framing: time, stream, P/F tag, text
      return "cri";
    default:
      return undefined;
  }
}

/** See the module documentation. */
export class LogsManager {
  readonly #o: LogsManagerOptions;
  readonly #containers = new Map<string, ContainerLogs>();
  /** Log files whose process's container was still being looked up. */
  readonly #pendingFiles = new Map<string, OpenLogFile & { tries: number }>();
  #loop: Promise<void> | undefined;
  readonly #stop = new AbortController();
  #wake: (() => void) | undefined;
  /** When this manager started (ms): containers created since are read from their log's start. */
  readonly #startedAt: number;

  constructor(o: LogsManagerOptions) {
    this.#o = o;
    this.#startedAt = (o.clock ?? Date.now)();
  }

  /** Sources by kind, for the start-up line and tests. */
  sourceCounts(): Record<SourceKind, number> {
    const out: Record<SourceKind, number> = { stdout: 0, file: 0, journald: 0 };
    for (const c of this.#containers.values()) for (const s of c.sources.values()) out[s.kind]++;
    return out;
  }

  /** Starts the reading loop (files; the journal runs its own). */
  start(): void {
    this.#loop ??= this.#run();
  }

  /**
   * Adds and restarts the sources the containers' metadata names: the stdout/stderr file or
   * journal, a service's journal, and the log files found before their container was known.
   */
  sync(directory: ContainerDirectory): void {
    for (const view of directory.containers()) {
      if (view.removed) continue;
      const md = view.metadata;
      const decoder = decoderOf(md?.logFormat);
      if (decoder !== undefined && md?.logFile !== undefined) {
        // a container made after the manager started: its log from its first line
        const created = md.createdAt === undefined ? NaN : Date.parse(md.createdAt);
        const fromStart = created >= this.#startedAt;
        this.#ensure(view, STDOUT_SOURCE, "stdout", `file:${md.logFile}`, decoder, (s) => {
          s.reader = this.#reader(view.id, s, md.logFile!, fromStart);
        });
      } else if (md?.logFormat === "journald" && this.#o.journal !== undefined) {
        this.#ensure(view, STDOUT_SOURCE, "journald", `journal:${md.id}`, "none", (s) => {
          s.unsubscribe = this.#subscribe({ containerId: md.id }, s);
        });
      }
      if (view.systemdUnit !== undefined && this.#o.journal !== undefined) {
        const unit = view.systemdUnit;
        this.#ensure(view, JOURNALD_SOURCE, "journald", `unit:${unit}`, "none", (s) => {
          s.unsubscribe = this.#subscribe({ unit }, s);
        });
      }
    }
    // asked once per sync: a file still pending goes back under the same key, which a live
    // iteration of the map would visit again, forever (the agent spun at start-up)
    const waiting = [...this.#pendingFiles.values()];
    this.#pendingFiles.clear();
    for (const f of waiting) this.addFile(directory, f, f.tries + 1, true);
  }

  /**
   * Follows a log file a process has open for writing, as a source of the process's container
   * (read at the host path: reference §5.1).
   *
   * @returns what became of it (also counted in `osprey_logs_file_opens_total`)
   */
  addFile(
    directory: ContainerDirectory,
    f: OpenLogFile,
    tries = 0,
    rescan = false,
  ): FileOpenResult {
    const found = directory.lookupPid(f.pid, f.cgroupId ?? 0);
    let result: FileOpenResult;
    // "pending": the registry is looking the container up; not in one or unknown: the process
    // may have just moved into its cgroup (a service's process forks, then joins it), which
    // the registry learns at its next rescan. Asked again at each sync, a while.
    const unplaced = found === undefined || found === "unknown";
    if (found === "pending" || (unplaced && tries < PENDING_TRIES)) {
      if (this.#pendingFiles.size >= MAX_PENDING_FILES) {
        const oldest = this.#pendingFiles.keys().next().value!;
        this.#pendingFiles.delete(oldest);
      }
      this.#pendingFiles.set(`${f.pid}:${f.fd}`, { ...f, tries });
      return "no_container";
    } else if (found === undefined || found === "unknown") {
      result = "no_container";
    } else {
      const c = this.#containers.get(found.id);
      if (c?.sources.has(f.path)) {
        result = "already_followed";
      } else if (c !== undefined && c.files >= MAX_FILES_PER_CONTAINER) {
        result = "over_limit";
      } else {
        const added = this.#ensure(found, f.path, "file", `file:${f.path}`, "none", (s) => {
          s.reader = this.#reader(found.id, s, under(this.#o.paths.root, f.path));
        });
        result = added ? "followed" : "opted_out";
        if (added) {
          this.#o.log.info("logs: following a log file", { container_id: found.id, path: f.path });
        }
      }
    }
    // a rescan finds every followed file again: only what changed is counted
    if (!(rescan && result === "already_followed")) this.#o.families.fileOpens.labels(result).inc();
    return result;
  }

  /** Counts a descriptor that did not become a source (`osprey_logs_file_opens_total`). */
  countFileOpen(result: FileOpenResult): void {
    this.#o.families.fileOpens.labels(result).inc();
  }

  /** Stops and forgets a removed container's sources. */
  forget(containerId: string): void {
    const c = this.#containers.get(containerId);
    if (c === undefined) return;
    for (const s of c.sources.values()) {
      s.close();
      this.#report(s);
    }
    this.#containers.delete(containerId);
    this.#o.store.forget(containerId);
  }

  /** Writes every visible container's counts and the self-metrics. */
  write(directory: ContainerDirectory): void {
    const f = this.#o.families;
    for (const view of directory.containers()) {
      if (!view.visible || view.removed) continue;
      const c = this.#containers.get(view.id);
      if (c === undefined) continue;
      for (const s of c.sources.values()) {
        for (const k of s.parser.counters()) {
          view.series.get(f.messages, s.label, k.level, k.patternHash, k.sample).set(k.messages);
        }
      }
    }
    for (const c of this.#containers.values()) {
      for (const s of c.sources.values()) {
        this.#report(s);
        const e = s.newReaderError();
        if (e !== "") {
          this.#o.log.warn("logs: cannot read a log file", { source: s.label, error: e });
        }
      }
    }
    const n = this.sourceCounts();
    for (const k of Object.keys(n) as SourceKind[]) f.sources.labels(k).set(n[k]);
    const j = this.#o.journal;
    if (j !== undefined) {
      f.journalEntries.labels().set(j.entries);
      f.journalReading.labels().set(j.dir === "" ? 0 : 1);
    }
  }

  /** Stops reading; keeps every parser and position in the store for a later manager. */
  async stop(): Promise<void> {
    this.#stop.abort();
    this.#wake?.();
    await this.#loop;
    for (const [id, c] of this.#containers) {
      for (const s of c.sources.values()) {
        // where it stands first: a closed reader has no position
        this.#o.store.set(id, s.label, { parser: s.parser, position: s.reader?.position });
        s.close();
      }
    }
    this.#containers.clear();
  }

  /** Adds a source unless it exists with the same origin; false when the container opted out. */
  #ensure(
    view: ContainerView,
    label: string,
    kind: SourceKind,
    origin: string,
    decoder: LogParserOptions["decoder"],
    open: (s: Source) => void,
  ): boolean {
    let c = this.#containers.get(view.id);
    if (c === undefined) {
      c = new ContainerLogs();
      this.#containers.set(view.id, c);
    }
    const old = c.sources.get(label);
    if (old !== undefined && old.origin === origin) return true;
    c.optedOut ??= this.#optedOut(view);
    if (c.optedOut) return false;
    if (old !== undefined) {
      // a new log path (the container was re-created): start over
      old.close();
      this.#report(old);
      this.#o.store.forget(view.id, label);
    }
    const kept = this.#o.store.get(view.id, label);
    const parser = kept?.parser ?? new LogParser({
      ...this.#o.parser,
      decoder,
      onMessage: this.#o.messageSink?.(view),
    });
    const s = new Source(label, kind, parser, origin);
    if (kept !== undefined) {
      // what the kept parser counted was reported by the source it belonged to
      s.reported.invalid_utf8 = parser.errors.invalidUtf8;
      s.reported.message_cut = parser.errors.cut;
      s.reported.decode_error = parser.errors.decode;
    }
    c.sources.set(label, s);
    open(s);
    this.#o.store.set(view.id, label, { parser, position: kept?.position });
    this.#wake?.();
    return true;
  }

  #reader(containerId: string, s: Source, path: string, fromStart = false): TailReader {
    const kept = this.#o.store.get(containerId, s.label);
    return new TailReader(path, {
      resume: kept?.position,
      // a kept position wins: the file was read up to there
      fromStart: fromStart && kept?.position === undefined,
      onLine: (line) => s.parser.push(line),
    });
  }

  #subscribe(key: JournalKey, s: Source): () => void {
    return this.#o.journal!.subscribe(key, (e: JournalEntry) => {
      s.journal.lines++;
      if (e.cut) s.journal.cut++;
      const level: Level | undefined = e.priority === undefined
        ? undefined
        : levelOfPriority(e.priority);
      s.parser.pushBytes(e.message, { timestampMs: e.timestampMs, level });
    });
  }

  #optedOut(view: ContainerView): boolean {
    const given = this.#o.readEnviron;
    const read = given === undefined
      ? (pid: number) => {
        const r = readOptOuts(this.#o.paths.proc, pid);
        return typeof r === "string" ? false : r.logMonitoring;
      }
      : (pid: number) => {
        const env = given(pid);
        return env !== undefined && parseOptOuts(env).logMonitoring;
      };
    let out = false;
    view.forEachProcess((pid) => {
      if (!out && read(pid)) out = true;
    });
    if (out) {
      this.#o.log.info("logs: not monitoring a container's logs (COROOT_LOG_MONITORING=disabled)", {
        container_id: view.id,
      });
    }
    return out;
  }

  /** Adds what a source counted since the last report to the self-metrics. */
  #report(s: Source): void {
    const f = this.#o.families;
    const now = s.counts();
    const dl = now.lines - s.reported.lines;
    if (dl > 0) f.lines.labels(s.kind).inc(dl);
    for (const k of Object.keys(now) as (keyof Counts)[]) {
      if (k === "lines") continue;
      const d = now[k] - s.reported[k];
      if (d > 0) f.oddities.labels(s.kind, k).inc(d);
    }
    Object.assign(s.reported, now);
  }

  async #run(): Promise<void> {
    const interval = this.#o.pollIntervalMs ?? 250;
    const signal = this.#stop.signal;
    while (!signal.aborted) {
      const started = Date.now();
      let more = false;
      for (const c of [...this.#containers.values()]) {
        for (const s of [...c.sources.values()]) {
          if (s.reader === undefined || signal.aborted) continue;
          try {
            if (await s.reader.poll()) more = true;
          } catch (err) {
            // the reader counts what it expects; anything else must not stop the loop
            this.#o.log.error("logs: reading a source failed", { source: s.label, error: err });
          }
        }
      }
      const now = Date.now();
      for (const c of this.#containers.values()) {
        for (const s of c.sources.values()) s.parser.flush(now);
      }
      if (signal.aborted) break;
      // Polled, not watched: Deno.watchFs (notify) opens every entry of a watched directory, and
      // a FIFO there (Podman's userdata/ctl beside ctr.log) blocks that open, and then the
      // agent's main thread when the watcher is closed.
      const pause = more ? 0 : interval;
      await new Promise<void>((resolve) => {
        let t = setTimeout(done, pause);
        function done() {
          clearTimeout(t);
          resolve();
        }
        // a busy file wakes the loop on every write: at most one round per MIN_ROUND_MS
        this.#wake = () => {
          const rest = started + MIN_ROUND_MS - Date.now();
          clearTimeout(t);
          if (rest <= 0) done();
          else t = setTimeout(done, rest);
        };
      });
      this.#wake = undefined;
    }
  }
}
