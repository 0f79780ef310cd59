/**
 * What every node collector is built from.
 *
 * @module
 */
import type { Registry } from "../metrics/mod.ts";
import type { HostPaths } from "../paths.ts";
import type { HostFiles } from "./_read.ts";

/** The registry to register in, the host paths, and the kept host files. */
export interface NodeContext {
  readonly registry: Registry;
  readonly paths: HostPaths;
  readonly files: HostFiles;
}
