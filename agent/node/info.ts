/**
 * `node_info{hostname,kernel_version}` and `node_cloud_info{…}` (both always 1).
 *
 * The hostname is read again every round from the source chosen at start (see
 * `agent/identity`), so a renamed host shows its new name; the kernel release cannot change
 * while the host runs and is read once. `node_cloud_info` carries what the cloud module's hub
 * holds each round (`agent/cloud`): its ten labels empty, as the reference agent's when it
 * knows nothing, until the metadata service answered or overrides are set.
 *
 * @module
 */
import type { Collector } from "../collector.ts";
import type { HostnameSource } from "../identity/mod.ts";
import { readHostname } from "../identity/mod.ts";
import type { Registry } from "../metrics/mod.ts";
import type { CloudInfo } from "../cloud/mod.ts";
import { CLOUD_INFO_LABELS, emptyCloudInfo } from "../cloud/mod.ts";
import type { HostFiles } from "./_read.ts";
import { LabelSets, readOptionalHostText, round } from "./_read.ts";

/** Options of {@linkcode infoCollector}. */
export interface InfoCollectorOptions {
  /** Where the hostname is read each round (`HostIdentity.hostnameSource`). */
  readonly hostnameSource: HostnameSource;
  /** `uname -r` of the host. */
  readonly kernelRelease: string;
  /** The current cloud metadata (the cloud hub's); all empty when absent. */
  readonly cloud?: () => CloudInfo;
  /** Kept host files; the live hostname sysctl is read through them. */
  readonly files?: HostFiles;
}

/** The collector of `node_info` and `node_cloud_info`. */
export function infoCollector(registry: Registry, opts: InfoCollectorOptions): Collector {
  const info = registry.gauge({
    name: "node_info",
    help: "The host's name and kernel release (always 1)",
    labelNames: ["hostname", "kernel_version"] as const,
  });
  const cloud = registry.gauge({
    name: "node_cloud_info",
    help: "Cloud metadata of the host (always 1; empty labels when unknown)",
    labelNames: CLOUD_INFO_LABELS,
  });
  const cloudInfo = opts.cloud ?? emptyCloudInfo;
  // A sysctl is regenerated on every read from offset 0, so its descriptor can be kept; the
  // host's /etc/hostname is replaced by rename when it changes, so it is opened every time.
  const files = opts.files;
  const read = files && opts.hostnameSource.kind !== "etc-hostname"
    ? (path: string) => files.get(path).readOptional()
    : readOptionalHostText;
  const infoSets = new LabelSets();
  const cloudSets = new LabelSets();
  return {
    name: "node_info",
    collect: () =>
      round([info, cloud, infoSets, cloudSets], () => {
        const hostname = readHostname(opts.hostnameSource, read);
        const c = cloudInfo();
        for (const [h, k] of infoSets.update([[hostname, opts.kernelRelease]])) info.remove(h, k);
        info.labels(hostname, opts.kernelRelease).set(1);
        const values = [
          c.provider,
          c.account_id,
          c.instance_id,
          c.instance_type,
          c.instance_life_cycle,
          c.region,
          c.availability_zone,
          c.availability_zone_id,
          c.local_ipv4,
          c.public_ipv4,
        ] as const;
        if (cloudSets.update([values]).length > 0) cloud.clear();
        cloud.labels(...values).set(1);
      }),
  };
}
