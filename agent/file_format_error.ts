/**
 * The shape every host-file parser reports bad text with: which file, which line, what was
 * wrong. Each module subclasses it with its own name, so callers tell a node file from a cgroup
 * file by type, and both by `instanceof FileFormatError`.
 *
 * Line-level problems go to a {@linkcode SkipLine} callback when the caller gives one: the
 * parser skips that line, keeps every other, and the caller counts it (see `parse_errors.ts`).
 * Without a callback a parser is strict and throws the first problem. Problems of the file as a
 * whole (a missing header, not one readable line) are always thrown.
 *
 * @module
 */

/** Text that does not have the expected format (truncated, garbled, unknown). */
export class FileFormatError extends SyntaxError {
  /** The file, as passed to the parser (`/proc/stat`, `memory.stat`, or a real path). */
  readonly file: string;
  /** 1-based line number, or 0 when the problem concerns the text as a whole. */
  readonly line: number;
  /** What was wrong, without the file and line (the message has all three). */
  readonly reason: string;

  constructor(file: string, line: number, reason: string) {
    super(
      line > 0
        ? `Cannot parse "${file}" line ${line}: ${reason}`
        : `Cannot parse "${file}": ${reason}`,
    );
    this.name = "FileFormatError";
    this.file = file;
    this.line = line;
    this.reason = reason;
  }
}

/**
 * Told about each line a parser skipped because it could not read it. The parser has already
 * left the line out of its result; the callback only counts or logs it.
 */
export type SkipLine = (problem: FileFormatError) => void;

/** Hands `problem` to `skip`, or throws it when there is no `skip` (a strict parse). */
export function skipOrThrow(problem: FileFormatError, skip: SkipLine | undefined): void {
  if (skip === undefined) throw problem;
  skip(problem);
}
