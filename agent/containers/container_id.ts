/**
 * The `container_id` and `app_id` of a container (reference §4.4), from what its cgroup says
 * (kind, runtime, runtime id) and what the runtime's files say (name, labels, environment).
 *
 * | source                                         | container_id                                   |
 * |------------------------------------------------|------------------------------------------------|
 * | `io.kubernetes.pod.{namespace,name}` labels    | `/k8s/<ns>/<pod>/<container>` (a sandbox: `sandbox`; pause containers are ignored) |
 * | a CronJob's pod scheduled within ±7 days       | `/k8s-cronjob/<ns>/<cronjob>/<container>`      |
 * | `com.docker.swarm.task.name` label             | `/swarm/<stack or _>/<service>/<slot>`         |
 * | `NOMAD_*` environment                          | `/nomad/<ns>/<job>/<group>/<alloc>/<task>`     |
 * | Docker, containerd or CRI-O with a name        | `/docker/<name>` (no name: ignored)            |
 * | Podman with a name                             | `/podman/<name>`                               |
 * | LXC / Incus                                    | `/lxc/<name>` (the name is in the cgroup path) |
 * | systemd service                                | its slice/unit path, `/system.slice/nginx.service` |
 * | Talos                                          | `/talos/<name>`                                |
 *
 * When the runtime's files cannot be read, a container still gets metrics under the best ID
 * its cgroup gives: `/<runtime>/<first 12 hex of the runtime id>` (e.g. `/podman/1276b3895632`,
 * `/docker/0123456789ab`, `/crio/…`), the short ID `docker ps` and `podman ps` show. That ID is
 * stable for the container's life, so its counters are kept. A pod sandbox without metadata has
 * no usable name and is ignored.
 *
 * `app_id` is the Kubernetes workload a pod belongs to, read off a `/k8s/...` container ID as the
 * contract does (errata §13.1, §13.2): the pod name ends in `-<1 to 10 hex>-<5 generated>`
 * (Deployment), `-<5 generated>` (DaemonSet) or `-<digits>` (StatefulSet), tried in that order,
 * where "generated" is Kubernetes' suffix alphabet; namespace and workload must be lower-case
 * letters, digits and `-`. Anything else, CronJob IDs (`/k8s-cronjob/...`) included, gets "".
 * The patterns are searched for, not anchored, exactly as the reference's are: the workload is
 * the longest prefix of the pod name that leaves a matching suffix.
 *
 * systemd unit paths keep systemd's escapes except `\x2d`, which becomes `-` (§13.12).
 *
 * @module
 */

/** The container kinds a cgroup path can be classified as. */
export type CgroupKind =
  | "container"
  | "sandbox"
  | "systemd_service"
  | "talos"
  | "standalone"
  | "unknown";

/** What the ID needs from the cgroup classification (a subset of the cgroups module's class). */
export interface IdentityClass {
  readonly kind: CgroupKind;
  /** docker, containerd, crio, podman, lxc, systemd, talos. */
  readonly runtime?: string;
  /** The runtime's container id (64 hex), an LXC name, a unit path or a Talos service name. */
  readonly containerId?: string;
}

/** What the ID needs from the runtime's metadata (a subset of `ContainerMetadata`). */
export interface IdentityMetadata {
  readonly name?: string;
  readonly labels?: Readonly<Record<string, string>>;
  /** `KEY=value` strings or a map. */
  readonly env?: readonly string[] | Readonly<Record<string, string>>;
}

/** systemd unit properties, when known (Type=, TriggeredBy=). */
export interface SystemdUnitProps {
  readonly type?: string;
  readonly triggeredBy?: string;
}

/** Options of {@linkcode containerIdentity}. */
export interface IdentityOptions {
  /** `--skip-systemd-system-services`. @default true */
  readonly skipSystemdSystemServices?: boolean;
  /** For the CronJob ±7-day rule; `Date.now()` by default. */
  readonly nowMs?: number;
  /** Properties of {@linkcode IdentityOptions.systemdUnit}, when known. */
  readonly systemd?: SystemdUnitProps;
  /**
   * The unit a systemd service's processes run in, as {@linkcode systemdUnitOf} takes it from
   * the cgroup path (a template instance's own unit, not its slice); by default the last
   * component of the class's unit path.
   */
  readonly systemdUnit?: string;
}

/** Why a cgroup does not become a container. */
export type IgnoreReason =
  | "standalone"
  | "unknown_layout"
  | "pause_container"
  | "unnamed"
  | "no_metadata"
  | "no_id"
  | "systemd_system_service";

/** How the ID was made. */
export type IdentitySource = "metadata" | "cgroup" | "fallback";

/** A container's identity, or why there is none. */
export type Identity =
  | { readonly id: string; readonly appId: string; readonly source: IdentitySource }
  | { readonly ignored: IgnoreReason };

const SEVEN_DAYS_MS = 7 * 24 * 3600 * 1000;

/** Kubernetes' alphabet for generated name suffixes: no vowels, no 0, 1 or 3. */
const K8S_RAND = "[bcdfghjklmnpqrstvwxz2456789]";
/** A namespace or workload name as the contract accepts it. */
const DNS_NAME = "[a-z0-9-]+";
/** The rest of a container ID after the pod name: "/" and a container name (Go's `.` is `[^\n]`). */
const REST = "/[^\n]+";

/**
 * The `app_id` patterns, tried in order on the whole container ID, unanchored; each captures
 * `/k8s/<ns>/<workload>`.
 */
const WORKLOAD_PATTERNS: readonly RegExp[] = [
  // Deployment: the ReplicaSet's pod-template hash (hex), then the pod's generated suffix
  new RegExp(`(/k8s/${DNS_NAME}/${DNS_NAME})-[0-9a-f]{1,10}-${K8S_RAND}{5}${REST}`),
  // DaemonSet (and Job) pods: one generated suffix
  new RegExp(`(/k8s/${DNS_NAME}/${DNS_NAME})-${K8S_RAND}{5}${REST}`),
  // StatefulSet: the ordinal
  new RegExp(`(/k8s/${DNS_NAME}/${DNS_NAME})-\\d+${REST}`),
];

/**
 * A Job a CronJob made is named `<cronjob>-<scheduled time in minutes since the epoch>`, its pod
 * `<job>-<5 generated>`. Searched for, not anchored, as the reference does.
 */
const CRONJOB_POD = new RegExp(`(${DNS_NAME})-([0-9]{8})-${K8S_RAND}{5}`);

/**
 * The CronJob a pod name belongs to, when its encoded schedule time is strictly within 7 days
 * of now (an older or future "time" is more likely a coincidence of digits than a schedule).
 *
 * @param pod the pod name (`io.kubernetes.pod.name`)
 * @param nowMs the wall clock in ms
 * @returns the CronJob's name, or undefined
 */
export function cronJobOf(pod: string, nowMs: number = Date.now()): string | undefined {
  const m = CRONJOB_POD.exec(pod);
  if (!m) return undefined;
  const scheduledMs = Number(m[2]) * 60_000;
  return scheduledMs > nowMs - SEVEN_DAYS_MS && scheduledMs < nowMs + SEVEN_DAYS_MS
    ? m[1]
    : undefined;
}

/**
 * `app_id` of a container ID: `/k8s/<ns>/<workload>` for a `/k8s/` ID whose pod name shows its
 * owner (see the module doc), "" otherwise (CronJob IDs, non-Kubernetes IDs, bare pods, names
 * with upper case or dots).
 *
 * @example
 * ```ts
 * appIdOf("/k8s/default/web-7d4b9c8f6-x2kqp/nginx"); // "/k8s/default/web"
 * appIdOf("/k8s-cronjob/ops/backup/job"); // ""
 * ```
 */
export function appIdOf(containerId: string): string {
  if (!containerId.startsWith("/k8s/")) return "";
  for (const re of WORKLOAD_PATTERNS) {
    const m = re.exec(containerId);
    if (m) return m[1];
  }
  return "";
}

/** Unit name prefixes of well-known system services (`--skip-systemd-system-services`). */
const SYSTEM_UNIT_PREFIXES = [
  "systemd-",
  "dbus",
  "getty",
  "system-serial",
  "system-getty",
  "serial-getty",
  "snapd",
  "packagekit",
  "unattended-upgrades",
  "multipathd",
  "qemu-guest-agent",
  "irqbalance",
  "networkd-dispatcher",
  "rpcbind",
];

/**
 * Whether a unit is a "system service" the default configuration skips: its name starts with
 * one of the well-known prefixes, its `Type=` is oneshot or dbus, or a timer triggers it.
 *
 * @param unitPath a unit name, or a path whose last component is one
 */
export function isSystemdSystemService(unitPath: string, props: SystemdUnitProps = {}): boolean {
  const unit = unitPath.slice(unitPath.lastIndexOf("/") + 1);
  if (SYSTEM_UNIT_PREFIXES.some((p) => unit.startsWith(p))) return true;
  if (props.type === "oneshot" || props.type === "dbus") return true;
  return props.triggeredBy !== undefined && props.triggeredBy.endsWith(".timer");
}

/**
 * Decodes `\x2d` (systemd's escape of "-") in a unit path, and no other escape: the contract's
 * IDs keep `\x40`, `\x5c` and the rest as written (§13.12). Idempotent.
 */
export function unescapeUnitPath(path: string): string {
  return path.includes("\\x2d") ? path.replaceAll("\\x2d", "-") : path;
}

/**
 * The systemd unit whose properties decide whether a service is a "system service": the first
 * component of the cgroup path ending in `.service`, else its last component, as written (a
 * template instance under its slice, `/system.slice/system-getty.slice/getty@tty1.service`,
 * gives `getty@tty1.service`).
 */
export function systemdUnitOf(cgroupPath: string): string {
  const parts = cgroupPath.split("/");
  return parts.find((p) => p.endsWith(".service")) ?? parts[parts.length - 1];
}

function envMap(env: IdentityMetadata["env"]): Readonly<Record<string, string>> {
  if (env === undefined) return {};
  if (!Array.isArray(env)) return env as Readonly<Record<string, string>>;
  const out: Record<string, string> = {};
  for (const kv of env as readonly string[]) {
    const eq = kv.indexOf("=");
    if (eq > 0) out[kv.slice(0, eq)] = kv.slice(eq + 1);
  }
  return out;
}

/** The short form of a runtime id, as `docker ps` shows it. */
export function shortId(id: string): string {
  return id.slice(0, 12);
}

function withApp(id: string, source: IdentitySource): Identity {
  return { id, appId: appIdOf(id), source };
}

function kubernetesId(
  cls: IdentityClass,
  labels: Readonly<Record<string, string>>,
  nowMs: number,
): Identity | undefined {
  // the pod name decides, as in the reference (a missing namespace stays empty)
  const pod = labels["io.kubernetes.pod.name"];
  if (!pod) return undefined;
  const ns = labels["io.kubernetes.pod.namespace"] ?? "";
  let container = labels["io.kubernetes.container.name"] ?? "";
  if (cls.kind === "sandbox") container = "sandbox";
  else if (container === "" || container === "POD") return { ignored: "pause_container" };
  const cron = cronJobOf(pod, nowMs);
  const id = cron !== undefined
    ? `/k8s-cronjob/${ns}/${cron}/${container}`
    : `/k8s/${ns}/${pod}/${container}`;
  return withApp(id, "metadata");
}

/**
 * `/swarm/<stack or _>/<service>/<slot>` for a Swarm task: the task name
 * `<service>.<slot or node id>.<task id>` gives the slot (its second dot-separated field; a name
 * with fewer than two dots is no task), the service label the service, without its
 * `<stack>_` prefix.
 */
function swarmId(labels: Readonly<Record<string, string>>): string | undefined {
  const parts = (labels["com.docker.swarm.task.name"] ?? "").split(".");
  if (parts.length < 3) return undefined;
  const stack = labels["com.docker.stack.namespace"] ?? "";
  let service = labels["com.docker.swarm.service.name"] ?? "";
  if (stack !== "" && service.startsWith(stack + "_")) service = service.slice(stack.length + 1);
  return `/swarm/${stack || "_"}/${service}/${parts[1]}`;
}

function nomadId(env: Readonly<Record<string, string>>): string | undefined {
  const alloc = env["NOMAD_ALLOC_ID"];
  const group = env["NOMAD_GROUP_NAME"];
  const job = env["NOMAD_JOB_NAME"];
  const ns = env["NOMAD_NAMESPACE"];
  const task = env["NOMAD_TASK_NAME"];
  if (!alloc || !group || !job || !ns || !task) return undefined;
  return `/nomad/${ns}/${job}/${group}/${alloc}/${task}`;
}

/**
 * The ID of the container behind a classified cgroup.
 *
 * @param cls the cgroup's classification
 * @param md the runtime's metadata; `undefined` when it could not be read (the best ID the
 *   cgroup gives is used then)
 */
export function containerIdentity(
  cls: IdentityClass,
  md: IdentityMetadata | undefined,
  opts: IdentityOptions = {},
): Identity {
  switch (cls.kind) {
    case "standalone":
      return { ignored: "standalone" };
    case "unknown":
      return { ignored: "unknown_layout" };
    case "talos": {
      const name = (cls.containerId ?? "").replace(/^\/talos\//, "").replace(/^\//, "");
      return name === "" ? { ignored: "no_id" } : withApp(`/talos/${name}`, "cgroup");
    }
    case "systemd_service": {
      const path = unescapeUnitPath(cls.containerId ?? "");
      if (!path.startsWith("/") || path === "/") return { ignored: "no_id" };
      const unit = opts.systemdUnit ?? path;
      if (
        (opts.skipSystemdSystemServices ?? true) && isSystemdSystemService(unit, opts.systemd)
      ) {
        return { ignored: "systemd_system_service" };
      }
      return withApp(path, "cgroup");
    }
    case "sandbox":
    case "container":
      break;
  }
  const runtime = cls.runtime ?? "";
  const rid = cls.containerId ?? "";
  if (runtime === "lxc") {
    const name = rid.replace(/^\/lxc\//, "");
    return name === "" ? { ignored: "no_id" } : withApp(`/lxc/${name}`, "cgroup");
  }
  if (md === undefined) {
    if (cls.kind === "sandbox") return { ignored: "no_metadata" };
    if (runtime === "" || rid === "") return { ignored: "no_id" };
    return withApp(`/${runtime}/${shortId(rid)}`, "fallback");
  }
  const labels = md.labels ?? {};
  const k8s = kubernetesId(cls, labels, opts.nowMs ?? Date.now());
  if (k8s !== undefined) return k8s;
  if (cls.kind === "sandbox") return { ignored: "no_metadata" };
  const swarm = swarmId(labels);
  if (swarm !== undefined) return withApp(swarm, "metadata");
  const nomad = nomadId(envMap(md.env));
  if (nomad !== undefined) return withApp(nomad, "metadata");
  // Docker's names start with one "/", which the reference drops
  const raw = md.name ?? "";
  const name = raw.startsWith("/") ? raw.slice(1) : raw;
  if (name === "") return { ignored: "unnamed" };
  return withApp(runtime === "podman" ? `/podman/${name}` : `/docker/${name}`, "metadata");
}
