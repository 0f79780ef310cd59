/**
 * Which block devices and network interfaces the node families report (reference §2.1 and
 * §13 items 3 and 4), and the flags that widen the choice.
 *
 * Disks: whole disks of the contract's kinds (`dm-N`, `sd*`, `hd*`, `vd*`, `xvd*`, `mdN`,
 * `mmcblkN`, `nvmeNnN`, `rbdN`). Whether a device is a whole disk is taken from `<sys>/block`,
 * which lists exactly the kernel's whole disks (partitions live below their disk), not from
 * the name: Xen guests name whole disks `xvda1`, `xvda2` with no `xvda`. A device listed there
 * is reported when its name, or its name without trailing digits, fully matches the kinds'
 * pattern, so `xvda1` and `sdaa` are, and `loop0`, `zram0`, `nbd0`, `sr0`, `mmcblk0boot0` and
 * NVMe's per-path `nvme0c0n1` are not. Without a readable `<sys>/block` the name alone
 * decides (the pattern, fully matched). `--disk-devices-extra-regex` adds names either way.
 *
 * Interfaces: the reference's prefix match on the lower-cased name: `eth<N>`, `en[p<N>]p<N>s<N>`,
 * `eno<N>`, `ens<N>`, `em<N>`, `bond<N>`, `p<N>p<N>`, `enx<hex>`, `br<N>`, `vmbr<N>`, each
 * followed by anything, so VLANs and sub-interfaces (`eth0.100`, `bond0.10`) are reported and
 * veth, cni, docker0, lo and the like are not (container traffic is reported per container).
 * A name with a colon (`team0:1`, `eth0:1`) is an address label of an older kernel's
 * `/proc/net/dev`, not a link (the kernel has refused `:` in interface names since 2.6), and is
 * never reported; the reference lists links over netlink, which has no such entries.
 *
 * @module
 */
import { checkWholeNameRegExp } from "../flag_syntax.ts";
import { FlagError } from "../flags.ts";
import type { FlagSpec } from "../flags.ts";

/** The contract's whole-disk names, fully matched: dm-N, sdX/hdX/vdX/xvdX, mdN, mmcblkN, nvmeNnN, rbdN. */
export const DEFAULT_DISK_DEVICES: RegExp =
  /^(?:dm-\d+|(?:sd|hd|vd|xvd)[a-z]+|md\d+|mmcblk\d+|nvme\d+n\d+|rbd\d+)$/;

/**
 * The reference's interface prefixes (systemd predictable names with an optional PCI domain,
 * biosdevname's emN and pNpN, bonds, bridges, Proxmox bridges), matched at the start of the
 * lower-cased name.
 */
export const DEFAULT_NET_INTERFACES: RegExp =
  /^(?:en(?:p\d+)?p\d+s\d+(?:f\d+)?|eth\d+|eno\d+|ens\d+|em\d+|bond\d+|p\d+p\d+|enx[0-9a-f]+|br\d+|vmbr\d+)/;

/** True when the contract reports the interface `name` (see the module doc). */
export function isContractInterface(name: string): boolean {
  return !name.includes(":") && DEFAULT_NET_INTERFACES.test(name.toLowerCase());
}

const TRAILING_DIGITS = /\d+$/;

/**
 * True when `name`, a whole disk listed in `<sys>/block`, is of one of the contract's kinds:
 * the name or the name without its trailing digits fully matches {@linkcode DEFAULT_DISK_DEVICES}.
 */
export function isContractDiskKind(name: string): boolean {
  return DEFAULT_DISK_DEVICES.test(name) ||
    DEFAULT_DISK_DEVICES.test(name.replace(TRAILING_DIGITS, ""));
}

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
      "(added to the whole disks of <sysfs>/block of the contract's kinds; e.g. 'nbd\\d+|loop\\d+')",
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
      "(added to the contract's interface prefixes; e.g. 'wl.*|tun\\d+')",
    group: "Node",
  },
];

/** A predicate on a device or interface name. */
export type NameFilter = (name: string) => boolean;

/**
 * Compiles an extra regex flag's value into a predicate fully matching a name, or undefined
 * when the value is empty. Throws {@linkcode FlagError} naming `flag` when it does not compile.
 */
export function extraFilter(extra: string, flag: string): NameFilter | undefined {
  if (extra.trim() === "") return undefined;
  let re: RegExp;
  try {
    new RegExp(extra); // alone first: `)|(` compiles only inside the wrapper, and matches all
    re = new RegExp(`^(?:${extra})$`);
  } catch (err) {
    throw new FlagError(
      `Cannot use --${flag} "${extra}": ${err instanceof Error ? err.message : String(err)}`,
    );
  }
  return (name) => re.test(name);
}

/** The interfaces to report: the contract's (see the module doc) or, not aliases, `extra`'s. */
export function interfaceFilter(extra = ""): NameFilter {
  const more = extraFilter(extra, NET_EXTRA_FLAG);
  if (more === undefined) return isContractInterface;
  return (name) => isContractInterface(name) || (!name.includes(":") && more(name));
}

/**
 * Decides whether a block device is reported, given the names listed in `<sys>/block` (or
 * undefined when that directory cannot be read, and the name alone decides).
 */
export type DiskFilter = (name: string, wholeDisks: ReadonlySet<string> | undefined) => boolean;

/** The disks to report: whole disks of the contract's kinds (see the module doc) or `extra`'s. */
export function diskFilter(extra = ""): DiskFilter {
  const more = extraFilter(extra, DISK_EXTRA_FLAG);
  return (name, whole) =>
    (whole === undefined
      ? DEFAULT_DISK_DEVICES.test(name)
      : whole.has(name) && isContractDiskKind(name)) || (more !== undefined && more(name));
}

/**
 * For a device known to be a whole disk (resolved through sysfs): whether the node families
 * report it, i.e. it is of the contract's kinds or `extra` matches it. The containers module
 * labels a mount's `device` with such a disk only (reference §13 item 4).
 */
export function wholeDiskFilter(extra = ""): NameFilter {
  const more = extraFilter(extra, DISK_EXTRA_FLAG);
  if (more === undefined) return isContractDiskKind;
  return (name) => isContractDiskKind(name) || more(name);
}
