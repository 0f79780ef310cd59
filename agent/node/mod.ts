/**
 * The node module: the node-level families of the contract (reference §2.1, all but GPU) from
 * the host's /proc and /sys, and the host identity behind the `machine_id`/`system_uuid` const
 * labels (§1.4).
 *
 * | collector     | families                                                          | source |
 * |---------------|-------------------------------------------------------------------|--------|
 * | `node_info`   | `node_info`, `node_cloud_info`                                    | identity, the cloud hub |
 * | `node_uptime` | `node_uptime_seconds`                                             | `<proc>/uptime` |
 * | `node_cpu`    | `node_resources_cpu_usage_seconds_total`, `…_cpu_logical_cores`   | `<proc>/stat` |
 * | `node_memory` | `node_resources_memory_{total,free,available,cached}_bytes`       | `<proc>/meminfo` |
 * | `node_disk`   | the seven `node_resources_disk_*_total`                           | `<proc>/diskstats`, `<sys>/block` |
 * | `node_net`    | `node_net_{received,transmitted}_{bytes,packets}_total`, `…_up`   | `<proc>/1/net/dev`, `<sys>/class/net` (else `<proc>/1/root/sys/class/net`) |
 * | `node_net_ip` | `node_net_interface_ip`                                           | `<proc>/1/net/{if_inet6,fib_trie,route}` or getifaddrs |
 *
 * Deno 2 treats everything under the real `/proc`, `/sys` and `/dev` as privileged: reading them
 * needs `--allow-all`, and `--allow-read=/proc` is not enough (reads fail with NotCapable even
 * though the permission query says "granted"). A procfs or sysfs mounted elsewhere (the host
 * view under /run/osprey/host, or the host's at /host/proc and /host/sys in a pod) needs only
 * `--allow-read` on that path. `startModules` detects the first case for every module and
 * names agent/host_view.sh instead of a read grant that cannot work.
 *
 * A line a parser cannot read is skipped and counted in `osprey_parse_errors_total{collector,file}`
 * (see `../parse_errors.ts`): it costs the series it would have fed, not the collector. A round
 * fails, and its families are cleared, only when a file cannot be read at all, lacks its header,
 * or has not one readable line.
 *
 * Cost: a round keeps the procfs/sysfs files open and re-reads them from offset 0 (see
 * `_read.ts`), sets values through cached series handles, and skips re-parsing the address
 * files when they did not change; bench/node/node_bench.ts measures it against node_exporter.
 *
 * @module
 */
import type { Collector } from "../collector.ts";
import { identityLabels as labelsOf, readHostIdentity } from "../identity/mod.ts";
import type { HostIdentity, IdentityLabels } from "../identity/mod.ts";
import type { Logger } from "../log.ts";
import { silentLogger } from "../log.ts";
import type { Registry } from "../metrics/mod.ts";
import { parseErrors } from "../parse_errors.ts";
import type { ModuleSpec, PermissionNeed } from "../modules.ts";
import type { HostPaths } from "../paths.ts";
import { under } from "../paths.ts";
import { HostFiles } from "./_read.ts";
import { cpuCollector } from "./cpu.ts";
import { diskCollector } from "./disk.ts";
import {
  DISK_EXTRA_FLAG,
  diskFilter,
  FILTER_FLAGS,
  interfaceFilter,
  NET_EXTRA_FLAG,
} from "./filters.ts";
import type { CloudInfo } from "../cloud/mod.ts";
import { cloudMetadata } from "../cloud/mod.ts";
import { infoCollector } from "./info.ts";
import { memoryCollector } from "./memory.ts";
import { netCollector } from "./net.ts";
import type { Ipv4Source, NetworkInterfaceLike } from "./net_ip.ts";
import { chooseIpv4Source, netIpCollector } from "./net_ip.ts";
import { uptimeCollector } from "./uptime.ts";
import { readUserHz } from "./user_hz.ts";

export { HostFileFormatError } from "./_errors.ts";
export { isLinkLocalOrMulticast, parseFibTrieLocal, parseIfInet6 } from "./addresses.ts";
export {
  DEFAULT_DISK_DEVICES,
  DEFAULT_NET_INTERFACES,
  DISK_EXTRA_FLAG,
  type DiskFilter,
  diskFilter,
  FILTER_FLAGS,
  isContractDiskKind,
  wholeDiskFilter,
} from "./filters.ts";
export type { Ipv4Source } from "./net_ip.ts";

/** Options of {@linkcode nodeCollectors}. */
export interface NodeCollectorOptions {
  /** `--disk-devices-extra-regex`; "" for the contract's filter only. */
  readonly diskDevicesExtra?: string;
  /** `--net-interfaces-extra-regex`; "" for the contract's filter only. */
  readonly netInterfacesExtra?: string;
  /** USER_HZ; read from `<proc>/self/auxv` when absent. */
  readonly userHz?: number;
  /** Source of IPv4 addresses; chosen by `chooseIpv4Source` when absent. */
  readonly ipv4Source?: Ipv4Source;
  /** Cloud metadata for `node_cloud_info`; empty labels when absent. */
  readonly cloud?: () => CloudInfo;
  /** The host identity; read from `paths` when absent. */
  readonly identity?: HostIdentity;
  /** Replaces `Deno.networkInterfaces` (tests). */
  readonly networkInterfaces?: () => readonly NetworkInterfaceLike[];
  /** Where sources that fall back and skipped lines are logged. @default silentLogger */
  readonly log?: Logger;
}

/** The node collectors and the host files they keep open. */
export interface NodeCollectors extends Disposable {
  readonly collectors: Collector[];
  /** Closes the kept host files (the module's `stop`). */
  close(): void;
}

/**
 * Registers the node families in `registry` and returns their collectors. Throws a FlagError
 * when an extra regex does not compile.
 */
export async function nodeCollectors(
  registry: Registry,
  paths: HostPaths,
  opts: NodeCollectorOptions = {},
): Promise<NodeCollectors> {
  const disks = diskFilter(opts.diskDevicesExtra ?? "");
  const ifaces = interfaceFilter(opts.netInterfacesExtra ?? "");
  const userHz = opts.userHz ?? (await readUserHz(paths)).hz;
  const ipv4Source = opts.ipv4Source ?? await chooseIpv4Source(paths);
  const id = opts.identity ?? await readHostIdentity(paths);
  const files = new HostFiles();
  const log = opts.log ?? silentLogger;
  const ctx = { registry, paths, files, log, parseErrors: parseErrors(registry, { log }) };
  const collectors = [
    infoCollector(registry, {
      hostnameSource: id.hostnameSource,
      kernelRelease: id.kernelRelease,
      cloud: opts.cloud,
      files,
    }),
    uptimeCollector(ctx),
    cpuCollector(ctx, { userHz }),
    memoryCollector(ctx),
    diskCollector(ctx, disks),
    netCollector(ctx, ifaces),
    netIpCollector(ctx, ifaces, { ipv4Source, networkInterfaces: opts.networkInterfaces }),
  ];
  return {
    collectors,
    close: () => files.close(),
    [Symbol.dispose]: () => files.close(),
  };
}

/** The const labels `{machine_id, system_uuid}` of the host behind `paths`. */
export async function identityLabels(paths: HostPaths): Promise<IdentityLabels> {
  return labelsOf(await readHostIdentity(paths));
}

/** The host files the module reads, each with the permission that allows it. */
function readNeeds(paths: HostPaths): PermissionNeed[] {
  const files = [
    paths.proc,
    paths.sys,
    under(paths.root, "etc/machine-id"),
    under(paths.root, "var/lib/dbus/machine-id"),
    under(paths.root, "etc/hostname"),
  ];
  return [...new Set(files)].map((path) => ({
    descriptor: { name: "read", path },
    flag: `--allow-read=${path}`,
  }));
}

/** The node module. */
export const nodeModule: ModuleSpec = {
  name: "node",
  description: "Host CPU, memory, disks, network, uptime and identity from /proc and /sys",
  flags: FILTER_FLAGS,
  permissions: (_flags, paths) => readNeeds(paths),
  async start(ctx) {
    const str = (name: string) => String(ctx.flags[name] ?? "");
    const userHz = await readUserHz(ctx.paths);
    const ipv4Source = await chooseIpv4Source(ctx.paths);
    const id = await readHostIdentity(ctx.paths);
    ctx.log.info("node sources", {
      user_hz: userHz.hz,
      user_hz_source: userHz.source,
      ipv4_source: ipv4Source,
      hostname: id.hostname,
      hostname_source: id.sources.hostname,
      machine_id_source: id.sources.machineId,
    });
    if (id.machineId === "") {
      ctx.log.warn("no machine id found: machine_id is empty", { root: ctx.paths.root });
    }
    const node = await nodeCollectors(ctx.registry, ctx.paths, {
      diskDevicesExtra: str(DISK_EXTRA_FLAG),
      netInterfacesExtra: str(NET_EXTRA_FLAG),
      userHz: userHz.hz,
      ipv4Source,
      identity: id,
      cloud: () => cloudMetadata.info(),
      log: ctx.log,
    });
    return { collectors: node.collectors, stop: () => node.close() };
  },
};
