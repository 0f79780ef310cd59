/**
 * The logs module's families: the contract's `container_log_messages_total` (reference §2.7,
 * with the containers module's `container_id` and `app_id`) and Osprey's own `osprey_logs_*`
 * families that say what is read and what was odd about it.
 *
 * @module
 */
import type { Counter, Gauge, Registry } from "../metrics/mod.ts";

/** Where a container's log lines come from. */
export type SourceKind = "stdout" | "file" | "journald";

/** What a source met that is not a plain line. */
export type Oddity =
  | "line_cut"
  | "message_cut"
  | "invalid_utf8"
  | "decode_error"
  | "rotation"
  | "truncation"
  | "read_error";

/** Every oddity, for pre-set zero series. */
export const ODDITIES: readonly Oddity[] = [
  "line_cut",
  "message_cut",
  "invalid_utf8",
  "decode_error",
  "rotation",
  "truncation",
  "read_error",
];

/** Every source kind. */
export const SOURCE_KINDS: readonly SourceKind[] = ["stdout", "file", "journald"];

/** Why a file-open event or a descriptor found by a scan did not become a source. */
export type FileOpenResult =
  | "followed"
  | "already_followed"
  | "not_write_only"
  | "not_var_log"
  | "excluded_dir"
  | "deleted"
  | "gone"
  | "unreadable"
  | "no_container"
  | "opted_out"
  | "over_limit";

/** The families, registered once per module start. */
export class LogFamilies {
  readonly messages: Counter<readonly string[]>;
  readonly sources: Gauge<readonly string[]>;
  readonly lines: Counter<readonly string[]>;
  readonly oddities: Counter<readonly string[]>;
  readonly fileOpens: Counter<readonly string[]>;
  readonly journalEntries: Counter<readonly string[]>;
  readonly journalReading: Gauge<readonly string[]>;

  constructor(r: Registry) {
    this.messages = r.counter({
      name: "container_log_messages_total",
      help: "Number of messages grouped by the automatically extracted repeated pattern",
      labelNames: ["container_id", "app_id", "source", "level", "pattern_hash", "sample"],
    });
    this.sources = r.gauge({
      name: "osprey_logs_sources",
      help: "Log sources followed, by kind (stdout: the runtime's log file of a container; " +
        "file: a file under /var/log a process writes; journald: a unit or container in the journal)",
      labelNames: ["kind"],
    });
    this.lines = r.counter({
      name: "osprey_logs_lines_total",
      help: "Log lines read, by source kind (before multiline messages are joined)",
      labelNames: ["kind"],
    });
    this.oddities = r.counter({
      name: "osprey_logs_oddities_total",
      help: "What the log sources met besides plain lines, by source kind: line_cut (a line " +
        "over 64 KiB, kept cut), message_cut (a message over 64 KiB), invalid_utf8 (a line " +
        "dropped), decode_error (a line not in the runtime's format), rotation (a new file at " +
        "the path), truncation (the file shrank or was rewritten in place), read_error",
      labelNames: ["kind", "oddity"],
    });
    this.fileOpens = r.counter({
      name: "osprey_logs_file_opens_total",
      help: "Descriptors open for writing looked at as log files (from the start-up scan, " +
        "rescans and the file-open BPF events), by what became of them",
      labelNames: ["result"],
    });
    this.journalEntries = r.counter({
      name: "osprey_logs_journal_entries_total",
      help: "Journal entries read (routed to a container or not)",
      labelNames: [],
    });
    this.journalReading = r.gauge({
      name: "osprey_logs_journal_reading",
      help: "1 while a journal directory is read, 0 while none is found",
      labelNames: [],
    });
    for (const k of SOURCE_KINDS) {
      this.sources.labels(k).set(0);
      this.lines.labels(k);
      for (const o of ODDITIES) this.oddities.labels(k, o);
    }
  }
}
