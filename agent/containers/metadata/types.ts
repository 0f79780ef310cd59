/**
 * The shapes every runtime reader returns and the one error a lookup may reject with.
 *
 * @module
 */

import type { ContainerRuntime } from "../../cgroups/mod.ts";
import type { HostPaths } from "../../paths.ts";

// One definition of the runtimes: the cgroup classifier names them, this module reads their state.
export type { ContainerRuntime };

/** Every runtime name, for validation and iteration. */
export const CONTAINER_RUNTIMES: readonly ContainerRuntime[] = [
  "docker",
  "containerd",
  "crio",
  "podman",
  "lxc",
  "systemd",
  "talos",
];

/** How a container's stdout/stderr log file is framed. */
export type LogFormat = "docker-json" | "cri" | "podman-k8s-file" | "journald";

/** A mount as the runtime recorded it; `source` is a host path (or a pseudo source like "proc"). */
export interface ContainerMount {
  destination: string;
  source: string;
  type?: string;
}

/** What the runtime's files say about one container. */
export interface ContainerMetadata {
  runtime: ContainerRuntime;
  /** Runtime id (64 hex for docker/containerd/CRI-O/Podman) or the LXC/Incus container name. */
  id: string;
  /** The runtime's container name (Docker/Podman name without the leading "/"). */
  name?: string;
  /** Image reference as the user named it, e.g. "docker.io/library/nginx:1.25". */
  image?: string;
  /**
   * Runtime labels. For Kubernetes runtimes this carries the pod identity under
   * `io.kubernetes.pod.name`, `io.kubernetes.pod.namespace`, `io.kubernetes.pod.uid` and
   * `io.kubernetes.container.name`, whatever the runtime's own spelling.
   */
  labels: Record<string, string>;
  /** Process environment from the OCI spec (or the Docker config), for NOMAD_* ids. */
  env?: Record<string, string>;
  /**
   * The log file's path as the host names it (what the runtime recorded, e.g.
   * "/var/log/pods/default_web-0_<uid>/web/0.log"). Open it through {@linkcode logFile}.
   */
  logPath?: string;
  /** {@linkcode logPath} resolved under the agent's view of the host root; open this one. */
  logFile?: string;
  logFormat?: LogFormat;
  mounts?: ContainerMount[];
  /** Files read (as the agent opened them), for the "why" when something is missing. */
  sources: string[];
  /** OCI annotations as found in the bundle spec (runtime labels stay in `labels`). */
  annotations?: Record<string, string>;
  /** Kubernetes runtimes: whether this is an application container or the pod sandbox. */
  containerType?: "container" | "sandbox";
  /** containerd namespace the bundle was found in ("k8s.io", "moby", ...). */
  namespace?: string;
  /** Creation time as the runtime recorded it (RFC 3339), when a file gives it. */
  createdAt?: string;
  /** Human-readable notes on what could not be found and where it was looked for. */
  notes?: string[];
}

/** Why a lookup failed. */
export type MetadataErrorReason = "not_found" | "unreadable" | "malformed" | "unsupported";

/** Options for {@linkcode MetadataError}. */
export interface MetadataErrorOptions {
  /** The file that was missing, unreadable or malformed. */
  file?: string;
  cause?: unknown;
}

/** The only error {@linkcode lookupMetadata} rejects with. */
export class MetadataError extends Error {
  readonly runtime: ContainerRuntime;
  readonly id: string;
  readonly reason: MetadataErrorReason;
  readonly file?: string;

  constructor(
    runtime: ContainerRuntime,
    id: string,
    reason: MetadataErrorReason,
    message: string,
    opts: MetadataErrorOptions = {},
  ) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = "MetadataError";
    this.runtime = runtime;
    this.id = id;
    this.reason = reason;
    if (opts.file !== undefined) this.file = opts.file;
  }
}

/** Thrown by the pure parsers on text that is not the format they read. */
export class MetadataParseError extends SyntaxError {
  /** The format being parsed, e.g. "OCI config.json". */
  readonly format: string;

  constructor(format: string, reason: string, opts: { cause?: unknown } = {}) {
    super(`Cannot parse ${format}: ${reason}`, opts.cause === undefined ? undefined : opts);
    this.name = "MetadataParseError";
    this.format = format;
  }
}

/**
 * Where to look. Every directory option is a path as the host names it ("/var/lib/docker");
 * it is resolved under `paths.root`.
 */
export interface MetadataOptions {
  paths: HostPaths;
  /**
   * Extra c/storage graph roots for Podman (rootless ones such as
   * "/home/u/.local/share/containers/storage"); the rootful root is always searched first.
   */
  podmanRoots?: string[];
  /** @default "/var/lib/docker" */
  dockerRoot?: string;
  /**
   * containerd state directories, searched in order.
   * @default ["/run/containerd", "/run/k3s/containerd", "/run/k0s/containerd", "/var/snap/microk8s/common/run/containerd"]
   */
  containerdStateDirs?: string[];
  /**
   * CRI-O's c/storage roots, searched in order.
   * @default ["/var/lib/containers/storage", "/run/containers/storage"]
   */
  crioRoots?: string[];
  /** The kubelet's pod log directory. @default "/var/log/pods" */
  kubeletPodLogDir?: string;
}
