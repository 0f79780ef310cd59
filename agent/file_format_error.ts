/**
 * The shape every host-file parser reports bad text with: which file, which line, what was
 * wrong. Each module subclasses it with its own name, so callers tell a node file from a cgroup
 * file by type, and both by `instanceof FileFormatError`.
 *
 * @module
 */

/** Text that does not have the expected format (truncated, garbled, unknown). */
export class FileFormatError extends SyntaxError {
  /** The file, as passed to the parser (`/proc/stat`, `memory.stat`, or a real path). */
  readonly file: string;
  /** 1-based line number, or 0 when the problem concerns the text as a whole. */
  readonly line: number;

  constructor(file: string, line: number, reason: string) {
    super(
      line > 0
        ? `Cannot parse "${file}" line ${line}: ${reason}`
        : `Cannot parse "${file}": ${reason}`,
    );
    this.name = "FileFormatError";
    this.file = file;
    this.line = line;
  }
}
