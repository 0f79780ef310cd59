/**
 * Docker: `<docker root>/containers/<id>/config.v2.json` (name, image, labels, env, log path,
 * mounts) and `hostconfig.json` beside it (the log driver). When Docker's own files are gone the
 * bundle that dockerd's containerd keeps in the `moby` namespace still gives env and mounts.
 *
 * @module
 */

import { buildMetadata, type LookupContext } from "./_fs.ts";
import {
  isObject,
  num,
  obj,
  parseEnvList,
  parseJsonObject,
  str,
  strList,
  strMap,
} from "./_json.ts";
import { DEFAULT_CONTAINERD_STATE_DIRS, findContainerdBundle } from "./containerd.ts";
import {
  type ContainerMetadata,
  type ContainerMount,
  type LogFormat,
  type MetadataOptions,
  MetadataParseError,
} from "./types.ts";

/** Docker's default data root, as the host names it. */
export const DEFAULT_DOCKER_ROOT = "/var/lib/docker";

/** State directories of the containerd that dockerd starts itself (Docker < 23). */
export const DOCKER_CONTAINERD_STATE_DIRS: readonly string[] = [
  "/run/docker/containerd/daemon",
];

/** A mount point from `config.v2.json` `MountPoints`. */
export interface DockerMountPoint extends ContainerMount {
  /** Volume name for named volumes. */
  name?: string;
  /** Volume driver ("local"). */
  driver?: string;
  rw?: boolean;
}

/** What Osprey uses of Docker's `config.v2.json`. */
export interface DockerConfigV2 {
  id?: string;
  /** Name without the leading "/". */
  name?: string;
  /** `Config.Image`: the reference the container was created from. */
  image?: string;
  /** `Image`: the image id ("sha256:..."). */
  imageId?: string;
  labels: Record<string, string>;
  env: Record<string, string>;
  logPath?: string;
  mounts: DockerMountPoint[];
  created?: string;
  running?: boolean;
  pid?: number;
  hostname?: string;
}

const CONFIG_FORMAT = "Docker config.v2.json";
const HOSTCONFIG_FORMAT = "Docker hostconfig.json";

/**
 * Parses Docker's `config.v2.json`. Throws {@linkcode MetadataParseError} when the text is not a
 * JSON object with at least one of `ID`, `Name`, `Config`.
 */
export function parseDockerConfigV2(text: string): DockerConfigV2 {
  const doc = parseJsonObject(text, CONFIG_FORMAT);
  if (!("ID" in doc) && !("Name" in doc) && !("Config" in doc)) {
    throw new MetadataParseError(CONFIG_FORMAT, "none of ID, Name, Config");
  }
  const config = obj(doc.Config);
  const mounts: DockerMountPoint[] = [];
  const points = obj(doc.MountPoints);
  if (points !== undefined) {
    for (const [key, value] of Object.entries(points)) {
      if (!isObject(value)) continue;
      const mount: DockerMountPoint = {
        destination: str(value.Destination) ?? key,
        source: str(value.Source) ?? "",
      };
      const type = str(value.Type);
      if (type !== undefined) mount.type = type;
      const name = str(value.Name);
      if (name !== undefined) mount.name = name;
      const driver = str(value.Driver);
      if (driver !== undefined) mount.driver = driver;
      if (typeof value.RW === "boolean") mount.rw = value.RW;
      mounts.push(mount);
    }
  }
  mounts.sort((a, b) => a.destination < b.destination ? -1 : a.destination > b.destination ? 1 : 0);
  const state = obj(doc.State);
  const out: DockerConfigV2 = {
    labels: strMap(config?.Labels),
    env: parseEnvList(strList(config?.Env)),
    mounts,
  };
  const rawName = str(doc.Name);
  const name = rawName?.startsWith("/") ? rawName.slice(1) : rawName;
  const fields: [keyof DockerConfigV2, string | undefined][] = [
    ["id", str(doc.ID)],
    ["name", name === "" ? undefined : name],
    ["image", str(config?.Image)],
    ["imageId", str(doc.Image)],
    ["logPath", str(doc.LogPath)],
    ["created", str(doc.Created)],
    ["hostname", str(config?.Hostname)],
  ];
  for (const [field, value] of fields) {
    if (value !== undefined) (out as unknown as Record<string, string>)[field] = value;
  }
  if (typeof state?.Running === "boolean") out.running = state.Running;
  const pid = num(state?.Pid);
  if (pid !== undefined && pid > 0) out.pid = pid;
  return out;
}

/** What Osprey uses of Docker's `hostconfig.json`. */
export interface DockerHostConfig {
  /** `LogConfig.Type`: "json-file", "local", "journald", "none", ... */
  logType?: string;
  logConfig: Record<string, string>;
  binds: string[];
}

/** Parses Docker's `hostconfig.json`. */
export function parseDockerHostConfig(text: string): DockerHostConfig {
  const doc = parseJsonObject(text, HOSTCONFIG_FORMAT);
  const log = obj(doc.LogConfig);
  const out: DockerHostConfig = { logConfig: strMap(log?.Config), binds: strList(doc.Binds) };
  const type = str(log?.Type);
  if (type !== undefined) out.logType = type;
  return out;
}

/** Maps a Docker log driver to the format Osprey can tail, or undefined. */
export function dockerLogFormat(
  logType: string | undefined,
  logPath: string | undefined,
): LogFormat | undefined {
  if (logType === "json-file") return "docker-json";
  if (logType === "journald") return "journald";
  if (logType === undefined && logPath?.endsWith("-json.log")) return "docker-json";
  return undefined;
}

/** Looks a Docker container up by id. */
export async function lookupDocker(
  ctx: LookupContext,
  opts: MetadataOptions,
): Promise<ContainerMetadata> {
  const root = opts.dockerRoot ?? DEFAULT_DOCKER_ROOT;
  const dir = ctx.host(`${root}/containers/${ctx.id}`);
  const configFile = `${dir}/config.v2.json`;
  const config = await ctx.read(configFile, parseDockerConfigV2);
  if (config === undefined) return await lookupMobyBundle(ctx, opts, configFile);
  const host = await ctx.optional(
    "hostconfig.json",
    () => ctx.read(`${dir}/hostconfig.json`, parseDockerHostConfig),
  );
  const logFormat = dockerLogFormat(host?.logType, config.logPath);
  let logPath: string | undefined;
  if (logFormat === "docker-json") {
    logPath = config.logPath;
    if (logPath === undefined) ctx.note("json-file log driver but config.v2.json has no LogPath");
  } else if (host?.logType !== undefined && logFormat === undefined) {
    ctx.note(`log driver "${host.logType}" keeps no file Osprey can tail`);
  }
  const mounts: ContainerMount[] = config.mounts.map((m) => {
    let source = m.source;
    if (source === "" && m.name !== undefined && (m.driver ?? "local") === "local") {
      source = `${root}/volumes/${m.name}/_data`;
    }
    return m.type === undefined ? { destination: m.destination, source } : {
      destination: m.destination,
      source,
      type: m.type,
    };
  });
  return buildMetadata(ctx, {
    name: config.name,
    image: config.image,
    labels: config.labels,
    env: config.env,
    logPath,
    logFormat,
    mounts,
    createdAt: config.created,
  });
}

async function lookupMobyBundle(
  ctx: LookupContext,
  opts: MetadataOptions,
  configFile: string,
): Promise<ContainerMetadata> {
  const stateDirs = [
    ...(opts.containerdStateDirs ?? DEFAULT_CONTAINERD_STATE_DIRS),
    ...DOCKER_CONTAINERD_STATE_DIRS,
  ];
  const found = await findContainerdBundle(ctx, stateDirs, ["moby"]);
  if (found === undefined || found.namespace !== "moby") {
    throw ctx.error(
      "not_found",
      `No Docker config.v2.json "${configFile}" and no moby bundle for "${ctx.id}"`,
      configFile,
    );
  }
  ctx.note(
    `no "${configFile}": name, image, labels and log path unknown; env and mounts from the moby bundle`,
  );
  return buildMetadata(ctx, {
    env: found.spec.env,
    mounts: found.spec.mounts,
    annotations: found.spec.annotations,
    namespace: found.namespace,
  });
}
