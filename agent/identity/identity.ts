/**
 * The host's identity: `machine_id` and `system_uuid` (the labels on every series, reference
 * §1.4), and the hostname and kernel release of `node_info`.
 *
 * - machine_id: `<host root>/etc/machine-id`, else `<host root>/var/lib/dbus/machine-id`, else
 *   the DMI product UUID; dashes removed.
 * - system_uuid: `<sys>/class/dmi/id/product_uuid` as the kernel prints it (empty when absent,
 *   as on VMs without DMI, or unreadable: the file is root-only).
 * - kernel release: `<proc>/sys/kernel/osrelease`. The release is the same in every UTS
 *   namespace (only the node and domain names can be changed in one), so the agent's view is
 *   the host's.
 * - hostname: `<proc>/sys/kernel/hostname` shows the UTS namespace of the READER, and so does
 *   every path to it (`<proc>/1/root/proc/sys/...` too: the sysctl is resolved against the
 *   reading task, not the path). Without `setns(2)` (no FFI here) the host's live hostname is
 *   readable only when the agent shares the host's UTS namespace, which we check by comparing
 *   `<proc>/self/ns/uts` with `<proc>/1/ns/uts` (the agent on the host; a pod with
 *   `hostNetwork: true`, which Kubernetes pairs with the host's UTS namespace; `--uts=host`).
 *   Otherwise we read the host's static hostname from `<host root>/etc/hostname`, which misses a
 *   transient name set at run time without writing the file (some DHCP and cloud-init setups).
 *   When neither is possible we fall back to the agent's own hostname and say so in `sources`.
 *
 * "Host root" is `<root>` when it is not `/` (the host mounted at /host, or a fixture tree);
 * otherwise, when the agent's mount namespace differs from PID 1's (a container with hostPID),
 * `<proc>/1/root`, the host's root as PID 1 sees it, then `/`; otherwise `/`.
 *
 * All of this assumes `<proc>/1` is the host's init: the host's procfs seen from the host's PID
 * namespace (hostPID, or the agent on the host), as the reference agent requires too.
 *
 * @module
 */
import type { HostPaths } from "../paths.ts";
import { under } from "../paths.ts";
import { sharesHostNamespace } from "./namespaces.ts";

/** The host's identity and where each part came from. */
export interface HostIdentity {
  /** machine-id without dashes, or "" when nothing was found. */
  readonly machineId: string;
  /** DMI product UUID as the kernel prints it, or "". */
  readonly systemUuid: string;
  readonly hostname: string;
  /** `uname -r`. */
  readonly kernelRelease: string;
  /** The file each value came from, for the start-up log. */
  readonly sources: {
    readonly machineId: string;
    readonly hostname: string;
  };
  /** Where the hostname is read, so a collector can read it again cheaply. */
  readonly hostnameSource: HostnameSource;
}

/**
 * Where the host's hostname can be read: the live sysctl in the host's UTS namespace, the
 * host's /etc/hostname, the agent's own sysctl as a last resort, or nowhere.
 */
export interface HostnameSource {
  readonly kind: "host-uts" | "etc-hostname" | "agent-uts" | "none";
  readonly path: string;
}

/** The const labels of every series (reference §1.4). */
export interface IdentityLabels {
  machine_id: string;
  system_uuid: string;
  [label: string]: string;
}

/**
 * Parses a machine-id file (machine-id(5): 32 lower-case hex digits and a newline; D-Bus's copy
 * may contain dashes). Returns undefined for an empty file or systemd's "uninitialized" marker.
 */
export function parseMachineId(text: string): string | undefined {
  const id = text.trim().replaceAll("-", "");
  return /^[0-9a-fA-F]{32}$/.test(id) ? id : undefined;
}

/** Parses `<sys>/class/dmi/id/product_uuid`; undefined when empty. */
export function parseProductUuid(text: string): string | undefined {
  const id = text.trim();
  return id === "" ? undefined : id;
}

/**
 * Parses /etc/hostname (hostname(5)): the first line that is neither empty nor a comment.
 * Returns undefined when there is none, or when it contains white space.
 */
export function parseHostnameFile(text: string): string | undefined {
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) continue;
    return /\s/.test(line) ? undefined : line;
  }
  return undefined;
}

/** Parses a one-line sysctl file such as /proc/sys/kernel/hostname; undefined when empty. */
export function parseSysctlLine(text: string): string | undefined {
  const v = text.split("\n")[0].trim();
  return v === "" ? undefined : v;
}

function readText(path: string): string | undefined {
  try {
    return Deno.readTextFileSync(path);
  } catch {
    return undefined;
  }
}

/** The directories that may hold the host's /etc, most trusted first (see the module doc). */
export async function hostRootCandidates(paths: HostPaths): Promise<string[]> {
  if (paths.root !== "/") return [paths.root];
  if (await sharesHostNamespace(paths, "mnt") === false) return [under(paths.proc, "1/root"), "/"];
  return ["/"];
}

/** Reads the host's identity; never throws (missing parts are "" and named in `sources`). */
export async function readHostIdentity(paths: HostPaths): Promise<HostIdentity> {
  const roots = await hostRootCandidates(paths);
  const productUuidPath = under(paths.sys, "class/dmi/id/product_uuid");
  const productUuid = parseProductUuid((readText(productUuidPath)) ?? "");

  let machineId = "";
  let machineIdSource = "none";
  search: for (const root of roots) {
    for (const rel of ["etc/machine-id", "var/lib/dbus/machine-id"]) {
      const path = under(root, rel);
      const id = parseMachineId((readText(path)) ?? "");
      if (id) {
        machineId = id;
        machineIdSource = path;
        break search;
      }
    }
  }
  if (!machineId && productUuid) {
    machineId = productUuid.replaceAll("-", "");
    machineIdSource = productUuidPath;
  }

  const hostnameSource = await resolveHostnameSource(paths, roots);
  const kernelRelease =
    parseSysctlLine(readText(under(paths.proc, "sys/kernel/osrelease")) ?? "") ??
      "";
  return {
    machineId,
    systemUuid: productUuid ?? "",
    hostname: readHostname(hostnameSource),
    kernelRelease,
    sources: { machineId: machineIdSource, hostname: describeSource(hostnameSource) },
    hostnameSource,
  };
}

function describeSource(src: HostnameSource): string {
  switch (src.kind) {
    case "host-uts":
      return `${src.path} (host UTS namespace)`;
    case "agent-uts":
      return `${src.path} (the agent's UTS namespace, maybe not the host's)`;
    default:
      return src.path;
  }
}

/** Decides where the host's hostname is read (see the module doc for the order). */
export async function resolveHostnameSource(
  paths: HostPaths,
  roots?: readonly string[],
): Promise<HostnameSource> {
  const sysctl = under(paths.proc, "sys/kernel/hostname");
  if (await sharesHostNamespace(paths, "uts") === true && parseSysctlLine(readText(sysctl) ?? "")) {
    return { kind: "host-uts", path: sysctl };
  }
  for (const root of roots ?? await hostRootCandidates(paths)) {
    const path = under(root, "etc/hostname");
    if (parseHostnameFile(readText(path) ?? "")) return { kind: "etc-hostname", path };
  }
  if (parseSysctlLine(readText(sysctl) ?? "")) return { kind: "agent-uts", path: sysctl };
  return { kind: "none", path: "none" };
}

/**
 * Reads the hostname from its source now; "" when it cannot be read. `read` replaces the plain
 * file read (the node collector passes one that keeps the sysctl file open).
 */
export function readHostname(
  src: HostnameSource,
  read: (path: string) => string | undefined = readText,
): string {
  if (src.kind === "none") return "";
  const text = read(src.path) ?? "";
  return (src.kind === "etc-hostname" ? parseHostnameFile(text) : parseSysctlLine(text)) ?? "";
}

/** The const labels for the registry. */
export function identityLabels(id: HostIdentity): IdentityLabels {
  return { machine_id: id.machineId, system_uuid: id.systemUuid };
}
