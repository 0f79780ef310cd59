/**
 * The OCI runtime spec (`config.json` in a bundle): the parts that identify a container.
 *
 * @module
 */

import { isObject, obj, parseEnvList, parseJsonObject, str, strList, strMap } from "./_json.ts";
import { type ContainerMount, MetadataParseError } from "./types.ts";

/** What Osprey uses of an OCI runtime spec. */
export interface OciConfig {
  ociVersion?: string;
  /** `process.args`. */
  args: string[];
  /** `process.env` as a map (later duplicates win). */
  env: Record<string, string>;
  hostname?: string;
  /** `root.path`. */
  rootPath?: string;
  mounts: ContainerMount[];
  annotations: Record<string, string>;
  /** `linux.cgroupsPath`. */
  cgroupsPath?: string;
}

const FORMAT = "OCI config.json";

/**
 * Parses an OCI runtime spec. Throws {@linkcode MetadataParseError} when the text is not a JSON
 * object or has none of the spec's top-level fields.
 *
 * @example
 * ```ts
 * const spec = parseOciConfig('{"ociVersion":"1.0.2","process":{"env":["A=1"]}}');
 * spec.env.A; // "1"
 * ```
 */
export function parseOciConfig(text: string): OciConfig {
  const doc = parseJsonObject(text, FORMAT);
  if (
    !("ociVersion" in doc) && !("process" in doc) && !("root" in doc) && !("mounts" in doc) &&
    !("annotations" in doc) && !("linux" in doc)
  ) {
    throw new MetadataParseError(FORMAT, "none of ociVersion, process, root, mounts, linux");
  }
  const process = obj(doc.process);
  const mounts: ContainerMount[] = [];
  if (Array.isArray(doc.mounts)) {
    for (const m of doc.mounts) {
      if (!isObject(m)) continue;
      const destination = str(m.destination);
      if (destination === undefined) continue;
      const mount: ContainerMount = { destination, source: str(m.source) ?? "" };
      const type = str(m.type);
      if (type !== undefined) mount.type = type;
      mounts.push(mount);
    }
  }
  const out: OciConfig = {
    args: strList(process?.args),
    env: parseEnvList(strList(process?.env)),
    mounts,
    annotations: strMap(doc.annotations),
  };
  const version = str(doc.ociVersion);
  if (version !== undefined) out.ociVersion = version;
  const hostname = str(doc.hostname);
  if (hostname !== undefined) out.hostname = hostname;
  const rootPath = str(obj(doc.root)?.path);
  if (rootPath !== undefined) out.rootPath = rootPath;
  const cgroupsPath = str(obj(doc.linux)?.cgroupsPath);
  if (cgroupsPath !== undefined) out.cgroupsPath = cgroupsPath;
  return out;
}
