/**
 * Which block devices and network interfaces the node families report (reference §2.1), and the
 * flags that widen the choice.
 *
 * Disks: whole devices only (`sda`, `nvme0n1`, `dm-0`, …), never partitions (`sda1`,
 * `nvme0n1p1`), loop, ram or zram devices. Interfaces: physical-style names only; veth, cni,
 * docker0, lo and the like are left out, because container traffic is reported per container.
 *
 * @module
 */
import { checkWholeNameRegExp } from "../flag_syntax.ts";
import { FlagError } from "../flags.ts";
import type { FlagSpec } from "../flags.ts";

/** Whole block devices: dm-N, sdX/hdX/vdX/xvdX, mdN, mmcblkN, nvmeNnN, rbdN. */
export const DEFAULT_DISK_DEVICES: RegExp =
  /^(?:dm-\d+|(?:sd|hd|vd|xvd)[a-z]+|md\d+|mmcblk\d+|nvme\d+n\d+|rbd\d+)$/;

/**
 * Physical-style interfaces: ethN; systemd predictable names (enpXsY with optional PCI domain,
 * function, device and port suffixes, enoN, ensN, enx<MAC>); emN and pNpN (biosdevname); bondN;
 * bridges brN and Proxmox vmbrN.
 */
export const DEFAULT_NET_INTERFACES: RegExp = new RegExp(
  "^(?:" + [
    String.raw`eth\d+`,
    String.raw`en(?:P\d+)?p\d+s\d+(?:f\d+)?(?:d\d+)?(?:np\d+)?`,
    String.raw`eno\d+(?:np\d+)?`,
    String.raw`ens\d+(?:f\d+)?(?:d\d+)?(?:np\d+)?`,
    String.raw`enx[0-9a-f]{12}`,
    String.raw`em\d+`,
    String.raw`p\d+p\d+`,
    String.raw`bond\d+`,
    String.raw`br\d+`,
    String.raw`vmbr\d+`,
  ].join("|") + ")$",
);

/** Flag: extra block devices to report. */
export const DISK_EXTRA_FLAG = "disk-devices-extra-regex";
/** Flag: extra interfaces to report. */
export const NET_EXTRA_FLAG = "net-interfaces-extra-regex";

/** The node module's filter flags. */
export const FILTER_FLAGS: readonly FlagSpec[] = [
  {
    name: DISK_EXTRA_FLAG,
    env: "DISK_DEVICES_EXTRA_REGEX",
    kind: "string",
    default: "",
    check: checkWholeNameRegExp,
    accepts: "a regular expression",
    help: "Also report block devices whose whole name matches this regular expression " +
      "(added to the built-in whole-disk pattern; e.g. 'nbd\\d+|sd[a-z]+\\d+')",
    group: "Node",
  },
  {
    name: NET_EXTRA_FLAG,
    env: "NET_INTERFACES_EXTRA_REGEX",
    kind: "string",
    default: "",
    check: checkWholeNameRegExp,
    accepts: "a regular expression",
    help: "Also report network interfaces whose whole name matches this regular expression " +
      "(added to the built-in physical-interface pattern; e.g. 'wl.*|bond\\d+\\.\\d+')",
    group: "Node",
  },
];

/** A predicate on a device or interface name. */
export type NameFilter = (name: string) => boolean;

/**
 * Builds a filter that accepts names fully matching `base` or, when `extra` is not empty, fully
 * matching `extra`. Throws {@linkcode FlagError} naming `flag` when `extra` is not a valid
 * regular expression.
 */
export function nameFilter(base: RegExp, extra: string, flag: string): NameFilter {
  if (extra.trim() === "") return (name) => base.test(name);
  let re: RegExp;
  try {
    re = new RegExp(`^(?:${extra})$`);
  } catch (err) {
    throw new FlagError(
      `Cannot use --${flag} "${extra}": ${err instanceof Error ? err.message : String(err)}`,
    );
  }
  return (name) => base.test(name) || re.test(name);
}
