/**
 * Which runtime put a cgroup where it is: a pure function from a cgroup path to the kind of
 * thing that lives there (a container, a pod sandbox, a systemd service, ...), its runtime and
 * the runtime's own ID for it. No file is read; unknown layouts are reported, never thrown.
 *
 * Layouts (one fixture each under tests/fixtures/cgroups/proc/):
 * - Docker: `/docker/<id>` (cgroupfs driver), `…/docker-<id>.scope` (systemd driver).
 * - Kubernetes (any path with a `kubepods` component): containerd `cri-containerd-<id>.scope`
 *   or `cri-containerd:<id>`, CRI-O `crio-<id>[.scope]` (`crio-conmon-<id>` is the monitor,
 *   standalone), dockershim `docker-<id>.scope`, and a bare `<id>` (cgroupfs driver: containerd or
 *   dockershim, the path cannot tell). No ID below `kubepods` is the pod's own cgroup: a sandbox.
 * - Podman: `libpod-<id>[.scope]` anywhere (`/machine.slice/…`, `/libpod_parent/…`, rootless
 *   under `user@<uid>.service`), `libpod-payload-<id>` (`--cgroups=split`);
 *   `libpod-conmon-<id>` and `/libpod_parent/conmon` are the monitor, standalone.
 * - LXC and Incus: `/lxc/<name>`, `/lxc.payload.<name>`, `/lxc.payload/<name>`;
 *   `/lxc.monitor.<name>` is the monitor, standalone.
 * - Talos: `/init`, `/system/<x>`, `/podruntime/<x>`.
 * - systemd: `/<slice>/<unit>` for the system, runtime, reserved, kube, azure and podruntime
 *   slices; a unit below a sub-slice (a template instance) collapses to the sub-slice; a path
 *   ending in a scope (at any depth) is standalone, as are `user.slice`, `init.scope` and any
 *   single-component path. Unit names keep systemd's escapes except `\x2d` (→ `-`).
 *
 * `<id>` is always 64 lowercase hex digits.
 *
 * @module
 */

/** A container runtime, or the systemd or Talos service manager. */
export type ContainerRuntime =
  | "docker"
  | "containerd"
  | "crio"
  | "podman"
  | "lxc"
  | "systemd"
  | "talos";

/** What a cgroup path says about the processes in it. */
export interface CgroupClass {
  /**
   * - `container`: a runtime's container (`containerId` is the runtime's ID or LXC name);
   * - `sandbox`: a Kubernetes pod's own cgroup, above its containers;
   * - `systemd_service`: a systemd unit (`containerId` is the slice/unit path);
   * - `talos`: a Talos system service (`containerId` is `/talos/<name>`);
   * - `standalone`: processes that belong to no container (sessions, scopes, monitors);
   * - `unknown`: a layout this function does not know (`reason` says what it saw).
   */
  kind: "container" | "sandbox" | "systemd_service" | "talos" | "standalone" | "unknown";
  runtime?: ContainerRuntime;
  /** 64-hex ID (docker, containerd, crio, podman), LXC name, systemd unit path or Talos ID. */
  containerId?: string;
  /**
   * When the layout cannot tell the runtime (a bare ID under `kubepods`): every runtime that
   * writes it, `runtime` being the likeliest. Metadata lookups should try each.
   */
  runtimeCandidates?: ContainerRuntime[];
  /** Set when the path is under `kubepods`. `qos`: guaranteed, burstable or besteffort. */
  kubernetes?: { podUid?: string; qos?: string };
  /** The Podman pod's 64-hex ID when a Podman container is in a pod. */
  podmanPodId?: string;
  /** For standalone and unknown: why, in a few words. */
  reason?: string;
}

/** Slices whose units coroot-node-agent reports as systemd services. */
const SERVICE_SLICES = new Set([
  "system.slice",
  "runtime.slice",
  "reserved.slice",
  "kube.slice",
  "azure.slice",
  "podruntime.slice",
]);

/** True when `s.slice(from, from + 64)` is 64 lowercase hex digits. */
function isHex64At(s: string, from: number): boolean {
  if (s.length < from + 64) return false;
  for (let i = from; i < from + 64; i++) {
    const c = s.charCodeAt(i);
    if (!((c >= 48 && c <= 57) || (c >= 97 && c <= 102))) return false;
  }
  return true;
}

function isHex64(s: string): boolean {
  return s.length === 64 && isHex64At(s, 0);
}

/**
 * The 64-hex ID of `prefix<id><suffix>` in `part`, one of the suffixes being allowed, or
 * undefined.
 */
function idIn(part: string, prefix: string, suffixes: readonly string[]): string | undefined {
  if (!part.startsWith(prefix) || !isHex64At(part, prefix.length)) return undefined;
  const rest = part.length - prefix.length - 64;
  for (const s of suffixes) {
    if (rest === s.length && part.endsWith(s)) return part.slice(prefix.length, prefix.length + 64);
  }
  return undefined;
}

const SCOPE = [".scope"];
const SCOPE_OR_NONE = ["", ".scope"];
const NONE = [""];

function standalone(reason: string): CgroupClass {
  return { kind: "standalone", reason };
}

function unknown(reason: string): CgroupClass {
  return { kind: "unknown", reason };
}

function container(runtime: ContainerRuntime, containerId: string): CgroupClass {
  return { kind: "container", runtime, containerId };
}

/** A runtime-specific path component: the container it names, or a monitor (standalone). */
function runtimeComponent(part: string): CgroupClass | undefined {
  let id: string | undefined;
  if (part.startsWith("docker-")) {
    if ((id = idIn(part, "docker-", SCOPE))) return container("docker", id);
  } else if (part.startsWith("crio-")) {
    if (idIn(part, "crio-conmon-", SCOPE_OR_NONE)) return standalone("CRI-O conmon monitor");
    if ((id = idIn(part, "crio-", SCOPE_OR_NONE))) return container("crio", id);
  } else if (part.startsWith("cri-containerd")) {
    if ((id = idIn(part, "cri-containerd-", SCOPE) ?? idIn(part, "cri-containerd:", NONE))) {
      return container("containerd", id);
    }
  } else if (part.startsWith("libpod-")) {
    if (idIn(part, "libpod-conmon-", SCOPE_OR_NONE)) return standalone("Podman conmon monitor");
    if ((id = idIn(part, "libpod-payload-", NONE))) return container("podman", id);
    if ((id = idIn(part, "libpod-", SCOPE_OR_NONE))) return container("podman", id);
  }
  return undefined;
}

/**
 * `pod<uid>` (cgroupfs) or `[<prefix>-]kubepods[-<qos>]-pod<uid_with_underscores>.slice`
 * (systemd; kind's nodes prefix `kubelet-`).
 */
function podUidOf(part: string): string | undefined {
  if (part.startsWith("pod") && part.length > 3 && !part.endsWith(".slice")) return part.slice(3);
  if (part.endsWith(".slice") && part.includes("kubepods")) {
    const at = part.lastIndexOf("-pod");
    if (at >= 0 && at + 4 < part.length - 6) return part.slice(at + 4, -6).replaceAll("_", "-");
  }
  return undefined;
}

/** `burstable` (cgroupfs) or `[<prefix>-]kubepods-burstable.slice` (systemd); same for besteffort. */
function qosOf(part: string): string | undefined {
  if (part === "burstable" || part.endsWith("kubepods-burstable.slice")) return "burstable";
  if (part === "besteffort" || part.endsWith("kubepods-besteffort.slice")) return "besteffort";
  return undefined;
}

/** A path with a `kubepods` component at index `k`. */
function kubernetes(parts: string[], k: number): CgroupClass {
  const kube: { podUid?: string; qos?: string } = {};
  for (let i = k + 1; i < parts.length; i++) {
    const part = parts[i];
    const found = runtimeComponent(part);
    if (found) {
      if (found.kind === "container") found.kubernetes = kube;
      return found;
    }
    if (isHex64(part)) {
      // The cgroupfs driver names a container's cgroup by its bare ID, for containerd and
      // for dockershim alike.
      return {
        kind: "container",
        runtime: "containerd",
        containerId: part,
        runtimeCandidates: ["containerd", "docker"],
        kubernetes: kube,
      };
    }
    const uid = kube.podUid === undefined ? podUidOf(part) : undefined;
    if (uid !== undefined) {
      kube.podUid = uid;
      kube.qos ??= "guaranteed"; // a pod directly under kubepods
      continue;
    }
    const qos = kube.podUid === undefined ? qosOf(part) : undefined;
    if (qos) kube.qos = qos;
  }
  return { kind: "sandbox", kubernetes: kube };
}

/** systemd escapes "-" in unit names as `\x2d`. */
function unescapeUnit(s: string): string {
  return s.includes("\\x2d") ? s.replaceAll("\\x2d", "-") : s;
}

/** Classifies a cgroup path as {@linkcode primaryCgroupPath} returns it. Never throws. */
export function classifyCgroup(path: string): CgroupClass {
  if (typeof path !== "string" || path.charCodeAt(0) !== 47) {
    return unknown("not an absolute cgroup path");
  }
  const parts = path.split("/").filter((p) => p !== "");
  if (parts.length === 0) return standalone("root cgroup");
  if (parts.includes("..") || parts.includes(".")) {
    return unknown("path relative to another cgroup namespace");
  }

  const k = parts.findIndex((p) => p.includes("kubepods"));
  if (k >= 0) return kubernetes(parts, k);

  const first = parts[0];
  // Runtimes with their own cgroup names, at any depth (rootless runtimes sit below
  // user@<uid>.service; a systemd-in-container's units below the container's scope).
  for (let i = 0; i < parts.length; i++) {
    const found = runtimeComponent(parts[i]);
    if (!found) continue;
    if (found.runtime === "podman") {
      const parent = i > 0 ? parts[i - 1] : "";
      if (isHex64(parent)) found.podmanPodId = parent;
      else if (parent.startsWith("machine-libpod_pod_") && parent.endsWith(".slice")) {
        const id = parent.slice("machine-libpod_pod_".length, -".slice".length);
        if (isHex64(id)) found.podmanPodId = id;
      }
    }
    return found;
  }
  if (first === "docker" && parts.length > 1 && isHex64(parts[1])) {
    return container("docker", parts[1]);
  }
  if (first === "libpod_parent" && parts[parts.length - 1] === "conmon") {
    return standalone("Podman conmon monitor");
  }

  // LXC / Incus
  if (first === "lxc" || first === "lxc.payload") {
    return parts.length > 1 ? container("lxc", parts[1]) : standalone("LXC parent cgroup");
  }
  if (first.startsWith("lxc.payload.") && first.length > 12) {
    return container("lxc", first.slice(12));
  }
  if (first === "lxc.monitor" || first.startsWith("lxc.monitor.")) {
    return standalone("LXC monitor");
  }

  // Talos
  if (first === "init" && parts.length === 1) {
    return { kind: "talos", runtime: "talos", containerId: "/talos/init" };
  }
  if ((first === "system" || first === "podruntime") && parts.length > 1) {
    return { kind: "talos", runtime: "talos", containerId: `/talos/${parts[1]}` };
  }

  // systemd
  if (first === "init.scope") return standalone("init scope");
  if (first === "user.slice") return standalone("user session");
  if (first === "systemd") return standalone("systemd cgroup");
  if (parts.length === 1) return standalone("single-component cgroup");
  if (SERVICE_SLICES.has(first)) {
    // as the reference decides it: a path that ends in a scope is a transient scope's, at any
    // depth; anything else is the service (or the template's slice) right below the slice
    if (parts[parts.length - 1].endsWith(".scope")) return standalone("transient scope");
    const unit = parts[1];
    return {
      kind: "systemd_service",
      runtime: "systemd",
      containerId: unescapeUnit(`/${first}/${unit}`),
    };
  }

  if (parts.some(isHex64)) return unknown("a container ID in an unrecognised layout");
  if (first.endsWith(".slice")) return unknown(`units of ${first} are not reported`);
  return unknown("unrecognised cgroup layout");
}
