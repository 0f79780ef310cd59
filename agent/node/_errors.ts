/**
 * The error the node parsers throw on text they cannot read, naming the file and the line so
 * the collector's failure log says exactly what was wrong.
 *
 * @module
 */

/** A host file whose text does not have the expected format (truncated, garbled, unknown). */
export class HostFileFormatError extends SyntaxError {
  /** The file, as passed to the parser (`/proc/stat`, or the real path when collecting). */
  readonly file: string;
  /** 1-based line number, or 0 when the problem concerns the file as a whole. */
  readonly line: number;

  constructor(file: string, line: number, reason: string) {
    super(
      line > 0
        ? `Cannot parse "${file}" line ${line}: ${reason}`
        : `Cannot parse "${file}": ${reason}`,
    );
    this.name = "HostFileFormatError";
    this.file = file;
    this.line = line;
  }
}

/** Quotes a line for an error message, cut to a readable length. */
export function quoteLine(line: string): string {
  return JSON.stringify(line.length > 80 ? line.slice(0, 77) + "..." : line);
}

/** True when `text` is one or more ASCII digits (a char loop: several times faster than a regex). */
export function isDigits(text: string): boolean {
  const n = text.length;
  if (n === 0) return false;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c < 48 || c > 57) return false;
  }
  return true;
}

/** Parses a non-negative decimal integer column, or throws naming file, line and column. */
export function parseCount(
  text: string,
  file: string,
  line: number,
  column: string,
): number {
  if (!isDigits(text)) {
    throw new HostFileFormatError(file, line, `${column} is ${JSON.stringify(text)}, not a count`);
  }
  return Number(text);
}
