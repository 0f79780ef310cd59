/**
 * The error the node parsers throw on text they cannot read, naming the file and the line so
 * the collector's failure log says exactly what was wrong.
 *
 * @module
 */
import { FileFormatError } from "../file_format_error.ts";

/** A host file whose text does not have the expected format (truncated, garbled, unknown). */
export class HostFileFormatError extends FileFormatError {
  constructor(file: string, line: number, reason: string) {
    super(file, line, reason);
    this.name = "HostFileFormatError";
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
