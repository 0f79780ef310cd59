/**
 * Which cloud the node runs in, from what the hypervisor and the firmware's DMI tables say in
 * sysfs (reference §7): `<sys>/hypervisor/uuid` starting with `ec2` (older Xen instances of
 * AWS), then `<sys>/class/dmi/id/board_vendor` (`Amazon EC2`, `Google`, `Microsoft
 * Corporation`, `DigitalOcean`), `sys_vendor` (`Hetzner`, `Alibaba Cloud`, `Scaleway`),
 * `chassis_vendor` starting with `IBM:Cloud Compute Server`, and `chassis_asset_tag` equal to
 * `OracleCloud.com`, checked in that order. Nothing is asked of the network to decide this.
 *
 * @module
 */
import { under } from "../paths.ts";

/** The providers the module knows, with the names the reference gives the `provider` label. */
export const PROVIDERS = [
  "AWS",
  "GCP",
  "Azure",
  "Hetzner",
  "DigitalOcean",
  "Alibaba",
  "Scaleway",
  "IBM",
  "Oracle",
] as const;

/** One of {@linkcode PROVIDERS}. */
export type Provider = typeof PROVIDERS[number];

/** The sysfs values detection looks at; undefined when the file does not exist. */
export interface DmiFacts {
  /** `<sys>/hypervisor/uuid` */
  readonly hypervisorUuid?: string;
  /** `<sys>/class/dmi/id/board_vendor` */
  readonly boardVendor?: string;
  /** `<sys>/class/dmi/id/sys_vendor` */
  readonly sysVendor?: string;
  /** `<sys>/class/dmi/id/chassis_vendor` */
  readonly chassisVendor?: string;
  /** `<sys>/class/dmi/id/chassis_asset_tag` */
  readonly chassisAssetTag?: string;
}

const BOARD_VENDORS: Readonly<Record<string, Provider>> = {
  "Amazon EC2": "AWS",
  "Google": "GCP",
  "Microsoft Corporation": "Azure",
  "DigitalOcean": "DigitalOcean",
};

const SYS_VENDORS: Readonly<Record<string, Provider>> = {
  "Hetzner": "Hetzner",
  "Alibaba Cloud": "Alibaba",
  "Scaleway": "Scaleway",
};

/** The provider the sysfs values name, or undefined for none (pure; the reference's rules). */
export function providerFromDmi(f: DmiFacts): Provider | undefined {
  if (f.hypervisorUuid?.toLowerCase().startsWith("ec2")) return "AWS";
  const board = f.boardVendor?.trim();
  if (board !== undefined && Object.hasOwn(BOARD_VENDORS, board)) return BOARD_VENDORS[board];
  const sys = f.sysVendor?.trim();
  if (sys !== undefined && Object.hasOwn(SYS_VENDORS, sys)) return SYS_VENDORS[sys];
  if (f.chassisVendor?.startsWith("IBM:Cloud Compute Server")) return "IBM";
  if (f.chassisAssetTag?.trim() === "OracleCloud.com") return "Oracle";
  return undefined;
}

/** Where detection reads under a sysfs root, for the permission check and messages. */
export function dmiPaths(sys: string): { dmi: string; hypervisor: string } {
  return { dmi: under(sys, "class/dmi/id"), hypervisor: under(sys, "hypervisor/uuid") };
}

async function readOptional(path: string): Promise<string | undefined> {
  try {
    return await Deno.readTextFile(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return undefined;
    throw new Error(`Cannot read "${path}" to detect the cloud provider`, { cause: err });
  }
}

/**
 * Reads the sysfs values detection needs under `sys` (the host's sysfs as `HostPaths.sys`
 * names it). A missing file is undefined (a host without DMI, such as most VMs outside a
 * cloud, has no `class/dmi/id` at all).
 *
 * @throws {Error} when a file exists but cannot be read (the cause says why).
 */
export async function readDmiFacts(sys: string): Promise<DmiFacts> {
  const { dmi, hypervisor } = dmiPaths(sys);
  const [hypervisorUuid, boardVendor, sysVendor, chassisVendor, chassisAssetTag] = await Promise
    .all([
      readOptional(hypervisor),
      readOptional(`${dmi}/board_vendor`),
      readOptional(`${dmi}/sys_vendor`),
      readOptional(`${dmi}/chassis_vendor`),
      readOptional(`${dmi}/chassis_asset_tag`),
    ]);
  return { hypervisorUuid, boardVendor, sysVendor, chassisVendor, chassisAssetTag };
}
