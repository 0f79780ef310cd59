/**
 * What the cloud metadata says about the node: the ten labels of `node_cloud_info` (reference
 * §2.1), the user's overrides of five of them (`--provider`, `--region`,
 * `--availability-zone`, `--instance-type`, `--instance-life-cycle`, reference §7), and the
 * `az`/`region` pair that container series carry once both are known (§1.4).
 *
 * @module
 */

/** The labels of `node_cloud_info`, in the contract's order. */
export const CLOUD_INFO_LABELS = [
  "provider",
  "account_id",
  "instance_id",
  "instance_type",
  "instance_life_cycle",
  "region",
  "availability_zone",
  "availability_zone_id",
  "local_ipv4",
  "public_ipv4",
] as const;

/** Cloud metadata, one value per label of `node_cloud_info` ("" when unknown). */
export type CloudInfo = Record<typeof CLOUD_INFO_LABELS[number], string>;

/** Cloud metadata with every value unknown. */
export function emptyCloudInfo(): CloudInfo {
  return Object.fromEntries(CLOUD_INFO_LABELS.map((l) => [l, ""])) as CloudInfo;
}

/** A CloudInfo with the given values, the others "". */
export function cloudInfo(values: Partial<CloudInfo>): CloudInfo {
  return { ...emptyCloudInfo(), ...values };
}

/** The user's overrides; "" or absent leaves the discovered value. */
export interface CloudOverrides {
  readonly provider?: string;
  readonly region?: string;
  readonly availabilityZone?: string;
  readonly instanceType?: string;
  readonly instanceLifeCycle?: string;
}

/**
 * `info` with every non-empty override in place of the discovered value, as the reference's
 * overrides work: they win whether or not anything was discovered.
 */
export function applyOverrides(info: CloudInfo, o: CloudOverrides): CloudInfo {
  const out = { ...info };
  if (o.provider) out.provider = o.provider;
  if (o.region) out.region = o.region;
  if (o.availabilityZone) out.availability_zone = o.availabilityZone;
  if (o.instanceType) out.instance_type = o.instanceType;
  if (o.instanceLifeCycle) out.instance_life_cycle = o.instanceLifeCycle;
  return out;
}

/** The `az` and `region` labels of container series. */
export interface ZoneLabels {
  readonly az: string;
  readonly region: string;
}

/**
 * `{az, region}` when both the region and the availability zone are known (discovered or
 * overridden), else undefined: the reference adds the two labels only when it has both (§1.4).
 */
export function zoneLabels(info: CloudInfo): ZoneLabels | undefined {
  if (info.region === "" || info.availability_zone === "") return undefined;
  return { az: info.availability_zone, region: info.region };
}

/** True when two CloudInfo values are equal label by label. */
export function sameCloudInfo(a: CloudInfo, b: CloudInfo): boolean {
  return CLOUD_INFO_LABELS.every((l) => a[l] === b[l]);
}
