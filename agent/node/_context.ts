/**
 * What every node collector is built from.
 *
 * @module
 */
import type { Logger } from "../log.ts";
import type { Registry } from "../metrics/mod.ts";
import type { HostPaths } from "../paths.ts";
import type { ParseErrors } from "../parse_errors.ts";
import type { HostFiles } from "./_read.ts";

/**
 * The registry to register in, the host paths, the kept host files, where skipped lines are
 * counted, and the log.
 */
export interface NodeContext {
  readonly registry: Registry;
  readonly paths: HostPaths;
  readonly files: HostFiles;
  readonly parseErrors: ParseErrors;
  readonly log: Logger;
}
