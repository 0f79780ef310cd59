/**
 * The error the node parsers report text they cannot read with, naming the file and the line
 * so the skipped-line log or the collector's failure log says exactly what was wrong.
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
