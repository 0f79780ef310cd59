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
 * `app_id` is the Kubernetes workload a pod belongs to, derived from the pod name (Deployment
 * `<name>-<hash>-<5>`, DaemonSet `<name>-<5>`, StatefulSet `<name>-<ordinal>`, CronJob), as
 * `/k8s/<ns>/<workload>`; empty for everything else, as in the contract.
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
  readonly systemd?: SystemdUnitProps;
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

/** Kubernetes' random-suffix alphabet (no vowels, no 0, 1, 3). */
const K8S_RAND = "[bcdfghjklmnpqrstvwxz2456789]";
const DEPLOYMENT_POD = new RegExp(`^(.+)-${K8S_RAND}{5,10}-${K8S_RAND}{5}$`);
const DAEMONSET_POD = new RegExp(`^(.+)-${K8S_RAND}{5}$`);
const STATEFULSET_POD = /^(.+)-\d+$/;
/** A Job a CronJob made: `<cronjob>-<scheduled time in minutes>`, its pod `<job>-<5>`. */
const CRONJOB_POD = /^(.+)-(\d{8,10})-[a-z0-9]{5}$/;

/**
 * The CronJob a pod name belongs to, when its encoded schedule time is within ±7 days of now
 * (an older or future "time" is more likely a coincidence of digits than a schedule).
 */
export function cronJobOf(pod: string, nowMs: number = Date.now()): string | undefined {
  const m = CRONJOB_POD.exec(pod);
  if (!m) return undefined;
  const scheduledMs = Number(m[2]) * 60_000;
  return Math.abs(scheduledMs - nowMs) <= SEVEN_DAYS_MS ? m[1] : undefined;
}

/** The workload of a pod name, or "" when it matches no owner pattern. */
export function workloadOf(pod: string, nowMs: number = Date.now()): string {
  const cron = cronJobOf(pod, nowMs);
  if (cron !== undefined) return cron;
  for (const re of [DEPLOYMENT_POD, DAEMONSET_POD, STATEFULSET_POD]) {
    const m = re.exec(pod);
    if (m) return m[1];
  }
  return "";
}

/**
 * `app_id` of a container ID: `/k8s/<ns>/<workload>` for Kubernetes pods whose name shows
 * their owner, "" otherwise.
 */
export function appIdOf(containerId: string, nowMs: number = Date.now()): string {
  const parts = containerId.split("/");
  // "", "k8s" | "k8s-cronjob", ns, pod | cronjob, container
  if (parts.length !== 5 || parts[0] !== "") return "";
  if (parts[1] === "k8s-cronjob") return `/k8s/${parts[2]}/${parts[3]}`;
  if (parts[1] !== "k8s") return "";
  const workload = workloadOf(parts[3], nowMs);
  return workload === "" ? "" : `/k8s/${parts[2]}/${workload}`;
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

/** Whether a unit is a "system service" the default configuration skips. */
export function isSystemdSystemService(unitPath: string, props: SystemdUnitProps = {}): boolean {
  const unit = unitPath.slice(unitPath.lastIndexOf("/") + 1);
  if (SYSTEM_UNIT_PREFIXES.some((p) => unit.startsWith(p))) return true;
  if (props.type === "oneshot" || props.type === "dbus") return true;
  return props.triggeredBy !== undefined && props.triggeredBy.endsWith(".timer");
}

/** Decodes systemd's `\x2d`-style escapes in a unit path. */
export function unescapeUnitPath(path: string): string {
  return path.replace(/\\x([0-9a-fA-F]{2})/g, (_, hex) => String.fromCharCode(parseInt(hex, 16)));
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

function withApp(id: string, source: IdentitySource, nowMs: number): Identity {
  return { id, appId: appIdOf(id, nowMs), source };
}

function kubernetesId(
  cls: IdentityClass,
  labels: Readonly<Record<string, string>>,
  nowMs: number,
): Identity | undefined {
  const ns = labels["io.kubernetes.pod.namespace"];
  const pod = labels["io.kubernetes.pod.name"];
  if (!ns || !pod) return undefined;
  let container = labels["io.kubernetes.container.name"] ?? "";
  if (cls.kind === "sandbox") container = "sandbox";
  else if (container === "" || container === "POD") return { ignored: "pause_container" };
  const cron = cronJobOf(pod, nowMs);
  const id = cron !== undefined
    ? `/k8s-cronjob/${ns}/${cron}/${container}`
    : `/k8s/${ns}/${pod}/${container}`;
  return withApp(id, "metadata", nowMs);
}

function swarmId(labels: Readonly<Record<string, string>>): string | undefined {
  const task = labels["com.docker.swarm.task.name"];
  if (!task) return undefined;
  const stack = labels["com.docker.stack.namespace"] ?? "";
  let service = labels["com.docker.swarm.service.name"] ?? "";
  // task name: <service>.<slot or node id>.<task id>
  let rest = task;
  if (service !== "" && task.startsWith(service + ".")) rest = task.slice(service.length + 1);
  else {
    const parts = task.split(".");
    if (parts.length < 3) return undefined;
    service = parts.slice(0, -2).join(".");
    rest = parts.slice(-2).join(".");
  }
  const slot = rest.split(".")[0];
  if (service === "" || slot === "") return undefined;
  if (stack !== "" && service.startsWith(stack + "_")) service = service.slice(stack.length + 1);
  return `/swarm/${stack || "_"}/${service}/${slot}`;
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
  const nowMs = opts.nowMs ?? Date.now();
  switch (cls.kind) {
    case "standalone":
      return { ignored: "standalone" };
    case "unknown":
      return { ignored: "unknown_layout" };
    case "talos": {
      const name = (cls.containerId ?? "").replace(/^\/talos\//, "").replace(/^\//, "");
      return name === "" ? { ignored: "no_id" } : withApp(`/talos/${name}`, "cgroup", nowMs);
    }
    case "systemd_service": {
      const path = unescapeUnitPath(cls.containerId ?? "");
      if (!path.startsWith("/") || path === "/") return { ignored: "no_id" };
      if (
        (opts.skipSystemdSystemServices ?? true) && isSystemdSystemService(path, opts.systemd)
      ) {
        return { ignored: "systemd_system_service" };
      }
      return withApp(path, "cgroup", nowMs);
    }
    case "sandbox":
    case "container":
      break;
  }
  const runtime = cls.runtime ?? "";
  const rid = cls.containerId ?? "";
  if (runtime === "lxc") {
    const name = rid.replace(/^\/lxc\//, "");
    return name === "" ? { ignored: "no_id" } : withApp(`/lxc/${name}`, "cgroup", nowMs);
  }
  if (md === undefined) {
    if (cls.kind === "sandbox") return { ignored: "no_metadata" };
    if (runtime === "" || rid === "") return { ignored: "no_id" };
    return withApp(`/${runtime}/${shortId(rid)}`, "fallback", nowMs);
  }
  const labels = md.labels ?? {};
  const k8s = kubernetesId(cls, labels, nowMs);
  if (k8s !== undefined) return k8s;
  if (cls.kind === "sandbox") return { ignored: "no_metadata" };
  const swarm = swarmId(labels);
  if (swarm !== undefined) return withApp(swarm, "metadata", nowMs);
  const nomad = nomadId(envMap(md.env));
  if (nomad !== undefined) return withApp(nomad, "metadata", nowMs);
  const name = (md.name ?? "").replace(/^\/+/, "");
  if (name === "") return { ignored: "unnamed" };
  return withApp(runtime === "podman" ? `/podman/${name}` : `/docker/${name}`, "metadata", nowMs);
}
