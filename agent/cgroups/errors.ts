/**
 * The two errors the cgroups module throws: a file whose text is not in the expected format, and
 * a cgroup file a reader needs but cannot read. Nothing else escapes the parsers and readers.
 *
 * @module
 */
import { FileFormatError } from "../file_format_error.ts";
import { printableHostPath } from "../paths.ts";

/** Text that does not have the expected format (truncated, garbled, unknown). */
export class CgroupFormatError extends FileFormatError {
  constructor(file: string, line: number, reason: string) {
    super(file, line, reason);
    this.name = "CgroupFormatError";
  }
}

/** Why a {@linkcode CgroupReadError} was thrown. */
export type CgroupReadProblem =
  /** The file does not exist (the cgroup went away, or the controller is not enabled there). */
  | "missing"
  /** The file exists but reading it failed (permission, ENODEV of a removed cgroup, ...). */
  | "unreadable"
  /** The file was read but its text is not in the expected format; `cause` is a CgroupFormatError. */
  | "format"
  /** No directory of the cgroup holds the controller the reader needs. */
  | "no-controller"
  /**
   * The path is not UTF-8 (a cgroup named with a raw byte) and cannot be opened here: Deno's
   * file APIs take UTF-8 paths only, and libosprey, which opens such paths, is not available.
   */
  | "raw-path";

/** A cgroup file (or directory) that a reader needs and cannot use. */
export class CgroupReadError extends Error {
  /** The file, or the directory for `no-controller`; bytes that are not UTF-8 as `\xNN`. */
  readonly file: string;
  readonly problem: CgroupReadProblem;

  constructor(file: string, problem: CgroupReadProblem, reason: string, cause?: unknown) {
    const shown = printableHostPath(file);
    super(`Cannot read cgroup file "${shown}": ${reason}`, cause === undefined ? {} : { cause });
    this.name = "CgroupReadError";
    this.file = shown;
    this.problem = problem;
  }
}

/** Quotes a line for an error message, cut to a readable length. */
export function quote(line: string): string {
  return JSON.stringify(line.length > 80 ? line.slice(0, 77) + "..." : line);
}
