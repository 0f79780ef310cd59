/**
 * Files first: what a runtime's API says fills only what its files left out (name, image,
 * labels, environment, log file, creation time). A label the files have keeps the files'
 * value; the API adds the labels they lack.
 *
 * @module
 */

import { under } from "../../paths.ts";
import type { ContainerMetadata, ContainerRuntime } from "../metadata/types.ts";
import type { ApiContainer } from "./inspect.ts";

/** The fields the API may fill. */
export type FilledField = "name" | "image" | "labels" | "env" | "log" | "created";

/**
 * True when the files left out something the API has: no name, no image, no labels at all, or
 * no log file while the log is not journald's. A container with no labels at all is asked
 * once (the answer is cached).
 */
export function needsApi(md: ContainerMetadata | undefined): boolean {
  if (md === undefined) return true;
  if (md.name === undefined || md.image === undefined) return true;
  if (Object.keys(md.labels).length === 0) return true;
  return md.logPath === undefined && md.logFormat !== "journald";
}

/** Options of {@linkcode mergeApi}. */
export interface MergeOptions {
  readonly runtime: ContainerRuntime;
  readonly id: string;
  /** The agent's view of the host root, for `logFile`. */
  readonly root: string;
  /** Recorded in `sources`, e.g. "podman API /run/podman/podman.sock". */
  readonly source: string;
  /** Why the files gave nothing, when they did not (kept as a note). */
  readonly filesError?: string;
}

/** The merged metadata and the fields the API filled. */
export interface Merged {
  readonly md: ContainerMetadata;
  readonly filled: readonly FilledField[];
}

/**
 * Merges the API's answer into the files' metadata (or builds metadata from the answer alone
 * when the files gave none), files first.
 */
export function mergeApi(
  files: ContainerMetadata | undefined,
  api: ApiContainer,
  o: MergeOptions,
): Merged {
  const md: ContainerMetadata = files === undefined
    ? { runtime: o.runtime, id: o.id, labels: {}, sources: [] }
    : { ...files, labels: { ...files.labels }, sources: [...files.sources] };
  const notes = [...(files?.notes ?? [])];
  if (o.filesError !== undefined) notes.push(`files: ${o.filesError}`);
  const filled: FilledField[] = [];
  if (md.name === undefined && api.name !== undefined) {
    md.name = api.name;
    filled.push("name");
  }
  if (md.image === undefined && api.image !== undefined) {
    md.image = api.image;
    filled.push("image");
  }
  let addedLabel = false;
  for (const [k, v] of Object.entries(api.labels)) {
    if (Object.hasOwn(md.labels, k)) continue;
    Object.defineProperty(md.labels, k, {
      value: v,
      enumerable: true,
      writable: true,
      configurable: true,
    });
    addedLabel = true;
  }
  if (addedLabel) filled.push("labels");
  if (md.env === undefined && api.env !== undefined) {
    md.env = api.env;
    filled.push("env");
  }
  if (md.logPath === undefined && md.logFormat === undefined && api.logFormat !== undefined) {
    md.logFormat = api.logFormat;
    if (api.logPath !== undefined) {
      md.logPath = api.logPath;
      md.logFile = under(o.root, api.logPath);
    }
    filled.push("log");
  }
  if (md.createdAt === undefined && api.createdAt !== undefined) {
    md.createdAt = api.createdAt;
    filled.push("created");
  }
  md.sources.push(o.source);
  notes.push(
    filled.length > 0
      ? `filled from the ${o.source}: ${filled.join(", ")}`
      : `the ${o.source} added nothing`,
  );
  md.notes = notes;
  return { md, filled };
}
