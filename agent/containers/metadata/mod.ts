/**
 * Container metadata from the files runtimes leave on disk: names, images, labels (with the
 * Kubernetes pod identity), env, mounts and log paths for Docker, containerd, CRI-O, Podman and
 * LXC/Incus, with no runtime socket. Every host path is resolved under `paths.root`.
 *
 * A lookup either resolves with what the files say (and `notes` on what they did not) or
 * rejects with a {@linkcode MetadataError} naming the reason and the file.
 *
 * @example
 * ```ts ignore
 * import { hostPaths } from "../../paths.ts";
 * import { lookupMetadata } from "./mod.ts";
 * const md = await lookupMetadata("podman", id, { paths: hostPaths() });
 * md.name; md.image; md.labels; md.logPath;
 * ```
 *
 * @module
 */

import { buildMetadata, isSafeSegment, LookupContext } from "./_fs.ts";
import { lookupContainerd } from "./containerd.ts";
import { lookupCrio } from "./crio.ts";
import { lookupDocker } from "./docker.ts";
import { lookupLxc } from "./lxc.ts";
import { lookupPodman } from "./podman.ts";
import {
  CONTAINER_RUNTIMES,
  type ContainerMetadata,
  type ContainerRuntime,
  MetadataError,
  type MetadataOptions,
} from "./types.ts";

export * from "./types.ts";
export {
  CONTAINERD_TASK_DIRS,
  type ContainerdCriInfo,
  CRI_ANNOTATIONS,
  DEFAULT_CONTAINERD_STATE_DIRS,
  KUBERNETES_LABELS,
  type KubernetesIdentity,
  kubernetesLabels,
  parseContainerdCriAnnotations,
} from "./containerd.ts";
export {
  CRIO_ANNOTATIONS,
  type CrioInfo,
  DEFAULT_CRIO_ROOTS,
  parseCriOAnnotations,
} from "./crio.ts";
export {
  DEFAULT_DOCKER_ROOT,
  type DockerConfigV2,
  type DockerHostConfig,
  dockerLogFormat,
  type DockerMountPoint,
  parseDockerConfigV2,
  parseDockerHostConfig,
} from "./docker.ts";
export {
  DEFAULT_KUBELET_POD_LOG_DIR,
  pickCriLogFile,
  podLogDirName,
  type PodLogIdentity,
} from "./kubelet.ts";
export {
  INCUS_CONTAINER_DIRS,
  type IncusBackup,
  LXC_PATH,
  type LxcConfig,
  parseIncusBackupYaml,
  parseLxcConfig,
  readYamlMappings,
} from "./lxc.ts";
export { type OciConfig, parseOciConfig } from "./oci.ts";
export {
  type ConmonArgs,
  EVENTS_TAIL_BYTES,
  indexPodmanEvents,
  parseConmonCmdline,
  parsePodmanEvents,
  parseStorageContainersJson,
  parseStorageImagesJson,
  PODMAN_GRAPH_ROOT,
  PODMAN_RUN_ROOT,
  PODMAN_TMPDIR,
  type PodmanEventInfo,
  type StorageContainer,
  type StorageContainerMetadata,
  type StorageImage,
} from "./podman.ts";

/**
 * A bundle in containerd's `moby` namespace belongs to dockerd, whose own config.v2.json has
 * the name, image, labels and log path the bundle lacks.
 */
async function withDockerConfig(
  md: ContainerMetadata,
  opts: MetadataOptions,
): Promise<ContainerMetadata> {
  const ctx = new LookupContext("docker", md.id, opts.paths);
  let docker: ContainerMetadata;
  try {
    docker = await lookupDocker(ctx, opts);
  } catch (e) {
    if (!(e instanceof MetadataError)) throw e;
    return { ...md, notes: [...(md.notes ?? []), `docker config: ${e.message}`] };
  }
  if (docker.namespace === "moby") return md; // Docker's files are gone too: nothing to add
  const notes = [...(md.notes ?? []), ...(docker.notes ?? [])];
  const merged: ContainerMetadata = {
    ...md,
    ...docker,
    runtime: md.runtime,
    namespace: md.namespace,
    sources: [...md.sources, ...docker.sources],
  };
  if (md.annotations !== undefined) merged.annotations = md.annotations;
  if (notes.length > 0) merged.notes = notes;
  else delete merged.notes;
  return merged;
}

const RUNTIME_ID_REGEXP = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,254}$/;

/** True when `id` has the shape `runtime` uses (and so is safe to put in a path). */
export function isValidContainerId(runtime: ContainerRuntime, id: string): boolean {
  switch (runtime) {
    case "lxc":
      return isSafeSegment(id);
    case "systemd":
    case "talos":
      return id.length > 0;
    default:
      return RUNTIME_ID_REGEXP.test(id);
  }
}

/**
 * Reads a container's metadata from its runtime's files under `opts.paths.root`.
 *
 * Rejects only with {@linkcode MetadataError}: `not_found` when no runtime file names the
 * container, `unreadable` when a file exists but cannot be read, `malformed` when its content
 * cannot be parsed, `unsupported` for an unknown runtime or an id of the wrong shape. systemd
 * and Talos containers resolve with just their id: the cgroup path is all there is.
 */
export async function lookupMetadata(
  runtime: ContainerRuntime,
  id: string,
  opts: MetadataOptions,
): Promise<ContainerMetadata> {
  const known = (CONTAINER_RUNTIMES as readonly string[]).includes(runtime);
  if (!known) {
    throw new MetadataError(runtime, id, "unsupported", `Unknown container runtime "${runtime}"`);
  }
  if (typeof id !== "string" || !isValidContainerId(runtime, id)) {
    throw new MetadataError(
      runtime,
      String(id),
      "unsupported",
      `Cannot look up ${runtime} container ${
        JSON.stringify(String(id).slice(0, 80))
      }: not a ${runtime} id`,
    );
  }
  const ctx = new LookupContext(runtime, id, opts.paths);
  try {
    switch (runtime) {
      case "docker":
        return await lookupDocker(ctx, opts);
      case "containerd": {
        const md = await lookupContainerd(ctx, opts);
        return md.namespace === "moby" ? await withDockerConfig(md, opts) : md;
      }
      case "crio":
        return await lookupCrio(ctx, opts);
      case "podman":
        return await lookupPodman(ctx, opts);
      case "lxc":
        return await lookupLxc(ctx);
      case "systemd":
      case "talos":
        return buildMetadata(ctx, {});
    }
  } catch (e) {
    if (e instanceof MetadataError) throw e;
    const message = e instanceof Error ? e.message : String(e);
    throw new MetadataError(
      runtime,
      id,
      "unreadable",
      `Cannot look up ${runtime} container "${id}": ${message}`,
      { cause: e },
    );
  }
}
