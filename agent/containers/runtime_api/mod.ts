/**
 * Optional enrichment of container metadata from the Docker and Podman APIs over their unix
 * sockets (ARCHITECTURE.md decision 5: files first, a socket never required).
 *
 * Off unless `--docker-socket` / `--podman-socket` names a socket **and** Deno was granted it:
 * a runtime socket is root on the host, so it is an explicit opt-in twice over. The path is
 * taken as given (absolute), as the agent sees it: in a pod, the host's `/run/podman/podman.sock`
 * mounted at `/host/run/podman/podman.sock` is given as the latter.
 *
 * When on, a container lookup still reads the runtime's files first; the API is asked
 * (`GET /containers/<id>/json` for Docker, `GET /v4.0.0/libpod/containers/<id>/json` for Podman)
 * only when the files left out the name, the image, every label (Podman 4.3 keeps labels only
 * in its BoltDB and its events, which the journald or none events backends take off disk) or
 * the log file, and its answer fills only those gaps. Lookups run inside the registry's (4 at a
 * time, under `--container-metadata-timeout`), each request has a 2 s timeout, answers are
 * cached per container id, and a failing socket is counted in
 * `osprey_container_runtime_api_errors_total{runtime,reason}` and asked again after a backoff
 * (1 s doubling to 60 s), never logged per container.
 *
 * @module
 */

import type { FlagSpec, FlagValues } from "../../flags.ts";
import { checkAbsolutePath } from "../../flag_syntax.ts";
import { FlagError } from "../../flags.ts";
import type { Logger } from "../../log.ts";
import type { Counter, Gauge, Registry } from "../../metrics/mod.ts";
import type { PermissionNeed } from "../../modules.ts";
import type { ContainerMetadata, ContainerRuntime } from "../metadata/types.ts";
import { MetadataError } from "../metadata/types.ts";
import { API_HOST, type ApiErrorReason, type ApiRuntime, RuntimeApiClient } from "./client.ts";
import { mergeApi, needsApi } from "./merge.ts";

export {
  API_ERROR_REASONS,
  API_HOST,
  type ApiErrorReason,
  type ApiRuntime,
  classifyFetchError,
  type InspectResult,
  RuntimeApiClient,
  type RuntimeApiClientOptions,
} from "./client.ts";
export { type ApiContainer, type InspectFlavor, parseInspect } from "./inspect.ts";
export { type FilledField, mergeApi, type Merged, type MergeOptions, needsApi } from "./merge.ts";

const GROUP = "Containers";

/** One request's timeout (capped by `--container-metadata-timeout`). */
export const API_TIMEOUT_MS = 2000;

/** The flags: one socket per runtime, empty (off) by default. */
export const RUNTIME_API_FLAGS: readonly FlagSpec[] = [
  {
    name: "docker-socket",
    env: "DOCKER_SOCKET",
    kind: "string",
    default: "",
    check: checkAbsolutePath,
    accepts: "an absolute path, or empty for none",
    help: "Absolute path of Docker's API socket (e.g. /run/docker.sock), to fill in what its " +
      "files lack; off when empty. The socket is root on the host: needs " +
      `--allow-net=unix:<path>,${API_HOST} --allow-read=<path> --allow-write=<path>`,
    group: GROUP,
  },
  {
    name: "podman-socket",
    env: "PODMAN_SOCKET",
    kind: "string",
    default: "",
    check: checkAbsolutePath,
    accepts: "an absolute path, or empty for none",
    help: "Absolute path of Podman's API socket (e.g. /run/podman/podman.sock), to fill in what " +
      "its files lack (labels with the journald events backend); off when empty. The socket is " +
      `root on the host: needs --allow-net=unix:<path>,${API_HOST} --allow-read=<path> ` +
      "--allow-write=<path>",
    group: GROUP,
  },
];

const FLAG_OF: Record<ApiRuntime, string> = { docker: "docker-socket", podman: "podman-socket" };

/** The configured sockets (runtime → absolute path); throws FlagError on a relative path. */
export function configuredSockets(flags: FlagValues): Map<ApiRuntime, string> {
  const out = new Map<ApiRuntime, string>();
  for (const runtime of ["docker", "podman"] as const) {
    const v = flags[FLAG_OF[runtime]];
    const path = typeof v === "string" ? v.trim() : "";
    if (path === "") continue;
    if (!path.startsWith("/")) {
      throw new FlagError(`--${FLAG_OF[runtime]} must be an absolute path, not "${path}"`);
    }
    out.set(runtime, path);
  }
  return out;
}

/**
 * What Deno must grant to use a socket: net on `unix:<path>` and on the URL's placeholder host,
 * read and write on the path. Each need names the flag to add.
 */
export function socketNeeds(path: string): PermissionNeed[] {
  const net = `--allow-net=unix:${path},${API_HOST}`;
  return [
    { descriptor: { name: "net", host: `unix:${path}` }, flag: net },
    { descriptor: { name: "net", host: `${API_HOST}:80` }, flag: net },
    { descriptor: { name: "read", path }, flag: `--allow-read=${path}` },
    { descriptor: { name: "write", path }, flag: `--allow-write=${path}` },
  ];
}

/** The permission needs of every configured socket. */
export function runtimeApiNeeds(flags: FlagValues): PermissionNeed[] {
  return [...configuredSockets(flags).values()].flatMap(socketNeeds);
}

/** The runtime whose API knows a container of `runtime`, if any. */
export function apiRuntimeOf(runtime: ContainerRuntime): ApiRuntime | undefined {
  if (runtime === "docker" || runtime === "podman") return runtime;
  return undefined;
}

/** The self-metrics of the API clients. */
export class RuntimeApiFamilies {
  readonly errors: Counter<readonly string[]>;
  readonly up: Gauge<readonly string[]>;

  constructor(r: Registry) {
    this.errors = r.counter({
      name: "osprey_container_runtime_api_errors_total",
      help: "Runtime API requests (--docker-socket, --podman-socket) that failed, by runtime " +
        "and reason: socket_missing, refused, permission, connect, protocol, timeout (the " +
        "socket backs off), not_found, http_status, malformed (the container's answer)",
      labelNames: ["runtime", "reason"],
    });
    this.up = r.gauge({
      name: "osprey_container_runtime_api_up",
      help: "0 while the runtime API socket fails and is retried with backoff, 1 otherwise",
      labelNames: ["runtime"],
    });
  }
}

/** Options of {@linkcode RuntimeApi}. */
export interface RuntimeApiOptions {
  /** runtime → absolute socket path (only the granted ones). */
  readonly sockets: ReadonlyMap<ApiRuntime, string>;
  /** The agent's view of the host root (for log files). */
  readonly root: string;
  readonly log: Logger;
  readonly families?: RuntimeApiFamilies;
  /** @default API_TIMEOUT_MS */
  readonly timeoutMs?: number;
  /** Client options for tests (backoff, cache, clock). */
  readonly client?: {
    readonly backoffMinMs?: number;
    readonly backoffMaxMs?: number;
    readonly absentTtlMs?: number;
    readonly now?: () => number;
  };
}

/** The API clients of the configured sockets, and the files-first lookup over them. */
export class RuntimeApi {
  readonly #clients = new Map<ApiRuntime, RuntimeApiClient>();
  readonly #root: string;

  constructor(o: RuntimeApiOptions) {
    this.#root = o.root;
    for (const [runtime, socket] of o.sockets) {
      const errors = (reason: ApiErrorReason) => o.families?.errors.labels(runtime, reason).inc();
      o.families?.up.labels(runtime).set(1);
      this.#clients.set(
        runtime,
        new RuntimeApiClient({
          runtime,
          socket,
          timeoutMs: o.timeoutMs ?? API_TIMEOUT_MS,
          ...o.client,
          onError: errors,
          onDown(reason, error, retryInMs) {
            o.families?.up.labels(runtime).set(0);
            o.log.warn(
              `containers: the ${runtime} API does not answer; using its files only until it does`,
              {
                socket,
                reason,
                error,
                retry_in_ms: retryInMs,
                counted_in: "osprey_container_runtime_api_errors_total",
              },
            );
          },
          onUp() {
            o.families?.up.labels(runtime).set(1);
            o.log.info(`containers: the ${runtime} API answers again`, { socket });
          },
        }),
      );
    }
  }

  /** The runtimes with a client. */
  get runtimes(): ApiRuntime[] {
    return [...this.#clients.keys()];
  }

  /**
   * Reads the files (`files()`), then asks the runtime's API for what they left out. Resolves
   * with the files' metadata when the API is not needed, absent or down; with the API's alone
   * when the files found nothing (or could not be read) and the API knows the container;
   * otherwise rejects with the files' error.
   */
  async lookup(
    runtime: ContainerRuntime,
    id: string,
    files: () => Promise<ContainerMetadata>,
  ): Promise<ContainerMetadata> {
    const api = apiRuntimeOf(runtime);
    const client = api === undefined ? undefined : this.#clients.get(api);
    if (client === undefined) return await files();
    let md: ContainerMetadata | undefined;
    let filesError: MetadataError | undefined;
    try {
      md = await files();
    } catch (e) {
      if (!(e instanceof MetadataError) || e.reason === "unsupported") throw e;
      filesError = e;
    }
    if (!needsApi(md)) return md!;
    const r = await client.inspect(id);
    const source = `${client.runtime} API ${client.socket}`;
    if (r.kind === "found") {
      return mergeApi(md, r.container, {
        runtime,
        id,
        root: this.#root,
        source,
        filesError: filesError?.message,
      }).md;
    }
    if (md === undefined) throw filesError!;
    const why = r.kind === "absent" ? r.reason : `unavailable (${r.reason})`;
    return { ...md, notes: [...(md.notes ?? []), `${source}: ${why}`] };
  }

  /** Forgets a removed container's cached answer. */
  forget(runtime: ContainerRuntime, id: string): void {
    const api = apiRuntimeOf(runtime);
    if (api !== undefined) this.#clients.get(api)?.forget(id);
  }

  /** Closes every HTTP client. */
  close(): void {
    for (const c of this.#clients.values()) c.close();
  }
}
