/**
 * The container inspect document of the Docker Engine API (`GET /containers/<id>/json`, also
 * served by Podman's compatibility API) and of Podman's libpod API
 * (`GET /v4.0.0/libpod/containers/<id>/json`), reduced to what metadata needs: name, image,
 * labels, environment and log file.
 *
 * The two shapes differ where it matters: Docker names the log file in `LogPath` and the driver
 * in `HostConfig.LogConfig.Type` (`json-file` is its JSON-lines format); libpod names both in
 * `HostConfig.LogConfig` (`k8s-file` is Podman's CRI-like format). Podman's compatibility API
 * reports `json-file` for a `k8s-file` log, so Podman is asked through libpod.
 *
 * @module
 */

import {
  isObject,
  obj,
  parseEnvList,
  parseJsonObject,
  str,
  strList,
  strMap,
} from "../metadata/_json.ts";
import { type LogFormat, MetadataParseError } from "../metadata/types.ts";

/** Which API answered: Docker's (and Podman's compatibility layer) or libpod. */
export type InspectFlavor = "docker" | "libpod";

/** What an inspect document says about a container. */
export interface ApiContainer {
  /** The full id the API reports. */
  id: string;
  /** The name without Docker's leading "/". */
  name?: string;
  /** The image as the user named it ("docker.io/library/nginx:1.25"), not its sha256 id. */
  image?: string;
  labels: Record<string, string>;
  env?: Record<string, string>;
  /** The log driver the API reports ("json-file", "k8s-file", "journald", "local", ...). */
  logDriver?: string;
  /** The log file as the host names it, only for drivers whose file Osprey can read. */
  logPath?: string;
  logFormat?: LogFormat;
  /** Creation time (RFC 3339). */
  createdAt?: string;
}

const FORMAT = { docker: "Docker inspect JSON", libpod: "libpod inspect JSON" } as const;

function logOf(
  flavor: InspectFlavor,
  driver: string | undefined,
  path: string | undefined,
): Pick<ApiContainer, "logPath" | "logFormat"> {
  if (driver === "journald") return { logFormat: "journald" };
  if (path === undefined || !path.startsWith("/")) return {};
  if (flavor === "docker" && driver === "json-file") {
    return { logPath: path, logFormat: "docker-json" };
  }
  // libpod's "json-file" is an alias of k8s-file (the same file format).
  if (flavor === "libpod" && (driver === "k8s-file" || driver === "json-file")) {
    return { logPath: path, logFormat: "podman-k8s-file" };
  }
  return {};
}

/**
 * Parses an inspect document. Fields of the wrong type are left out; throws
 * {@linkcode MetadataParseError} when the text is not JSON, the top level is not an object, or
 * it has no `Id`.
 *
 * @example
 * ```ts
 * const c = parseInspect('{"Id":"ab","Name":"/web","Config":{"Image":"nginx","Labels":{"a":"b"}}}', "docker");
 * c.name; // "web"
 * c.labels; // { a: "b" }
 * ```
 */
export function parseInspect(text: string, flavor: InspectFlavor): ApiContainer {
  const doc = parseJsonObject(text, FORMAT[flavor]);
  const id = str(doc.Id);
  if (id === undefined) throw new MetadataParseError(FORMAT[flavor], "no Id");
  const config = obj(doc.Config) ?? {};
  const hostConfig = obj(doc.HostConfig) ?? {};
  const logConfig = obj(hostConfig.LogConfig) ?? {};
  const out: ApiContainer = { id, labels: isObject(config.Labels) ? strMap(config.Labels) : {} };
  const name = str(doc.Name)?.replace(/^\/+/, "");
  if (name) out.name = name;
  // libpod: ImageName is the name, Image the id. Docker: Config.Image is the name, Image the id.
  const image = flavor === "libpod" ? str(doc.ImageName) ?? str(config.Image) : str(config.Image);
  if (image !== undefined) out.image = image;
  if (Array.isArray(config.Env)) out.env = parseEnvList(strList(config.Env));
  const driver = str(logConfig.Type);
  if (driver !== undefined) out.logDriver = driver;
  const path = flavor === "libpod" ? str(logConfig.Path) ?? str(doc.LogPath) : str(doc.LogPath);
  Object.assign(out, logOf(flavor, driver, path));
  const created = str(doc.Created);
  if (created !== undefined) out.createdAt = created;
  return out;
}
