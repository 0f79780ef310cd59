import { deepEqual, equal, throws } from "node:assert/strict";
import { FlagError } from "../flags.ts";
import {
  DEFAULT_DISK_DEVICES,
  diskFilter,
  extraFilter,
  interfaceFilter,
  isContractDiskKind,
  isContractInterface,
} from "./filters.ts";

const accepts = (re: RegExp, names: string[]) => names.filter((n) => re.test(n));

Deno.test("the disk filter keeps whole devices only", () => {
  const yes = [
    "sda",
    "sdab",
    "hda",
    "vda",
    "xvda",
    "xvdba",
    "dm-0",
    "dm-12",
    "md0",
    "md127",
    "mmcblk0",
    "nvme0n1",
    "nvme12n3",
    "rbd0",
  ];
  const no = [
    "sda1",
    "vda2",
    "xvda1",
    "nvme0n1p1",
    "nvme0c0n1",
    "mmcblk0p1",
    "mmcblk0boot0",
    "mmcblk0rpmb",
    "md0p1",
    "loop0",
    "ram0",
    "zram0",
    "sr0",
    "fd0",
    "nbd0",
    "dm-",
    "sda ",
  ];
  equal(accepts(DEFAULT_DISK_DEVICES, yes).length, yes.length);
  equal(accepts(DEFAULT_DISK_DEVICES, no).join(","), "");
});

Deno.test("isContractInterface: the reference's prefixes on the lower-cased name", () => {
  const yes = [
    "eth0",
    "eth10",
    "eth0@if699",
    "eth0.100",
    "bond0.10",
    "enp0s3",
    "enp0s31f6",
    "enP1p2s0",
    "enP4p65s0",
    "enp3s0f1np1",
    "eno1",
    "eno1np0",
    "ens5",
    "ens3f0",
    "em1",
    "p1p1",
    "bond0",
    "enx001122334455",
    "enx78e7d1ea46da",
    "enX0",
    "ETH0",
    "br0",
    "br0.5",
    "vmbr0",
  ];
  const no = [
    "lo",
    "docker0",
    "dummy0",
    "kube-ipvs0",
    "veth1a2b3c",
    "veth1b0c947@if2",
    "lxc00aa@if698",
    "cni0",
    "flannel.1",
    "cali12345",
    "tun0",
    "wlp2s0",
    "wlan0",
    "br-1a2b3c",
    "virbr0",
    "ifb0",
    "enxZZ",
    "eth",
    "eth0:1",
    "team0:1",
    "xeth0",
  ];
  equal(yes.filter(isContractInterface).join(","), yes.join(","));
  equal(no.filter(isContractInterface).join(","), "");
});

Deno.test("interfaceFilter widens the contract's with a fully anchored extra regex, never to aliases", () => {
  const f = interfaceFilter(String.raw`wl.*|tun\d+|eth\d+:\d+`);
  deepEqual(
    ["eth0", "wlp2s0", "tun0", "veth0", "tun0x", "eth0:1"].map((n) => [n, f(n)]),
    [["eth0", true], ["wlp2s0", true], ["tun0", true], ["veth0", false], ["tun0x", false], [
      "eth0:1",
      false,
    ]],
  );
  equal(interfaceFilter("  ")("eth0.100"), true);
});

Deno.test("diskFilter: whole disks from <sys>/block of the contract's kinds, else the name", () => {
  const whole = new Set(["xvda1", "xvda2", "sda", "sdaa", "nvme0n1", "nvme0c0n1", "loop0"]);
  const xen = new Set([...whole, "zram0", "mmcblk0", "mmcblk0boot0", "dm-0", "md127", "rbd0"]);
  const f = diskFilter();
  const names = [
    "xvda1",
    "xvda2",
    "sda",
    "sda1",
    "sdaa",
    "sdaa1",
    "nvme0n1",
    "nvme0n1p1",
    "nvme0c0n1",
    "loop0",
    "zram0",
    "mmcblk0",
    "mmcblk0boot0",
    "mmcblk0p1",
    "dm-0",
    "md127",
    "rbd0",
  ];
  deepEqual(names.filter((n) => f(n, xen)), [
    "xvda1",
    "xvda2",
    "sda",
    "sdaa",
    "nvme0n1",
    "mmcblk0",
    "dm-0",
    "md127",
    "rbd0",
  ]);
  // Without <sys>/block: the contract's whole-disk names, so Xen's xvda1 is taken for a partition.
  deepEqual(names.filter((n) => f(n, undefined)), [
    "sda",
    "sdaa",
    "nvme0n1",
    "mmcblk0",
    "dm-0",
    "md127",
    "rbd0",
  ]);
  // The extra regex adds names whether or not they are whole disks.
  const g = diskFilter(String.raw`loop\d+|sd[a-z]+\d+`);
  deepEqual(["loop0", "sda1", "zram0"].map((n) => g(n, whole)), [true, true, false]);
  deepEqual(["loop0", "sda1"].map((n) => g(n, undefined)), [true, true]);
});

Deno.test("isContractDiskKind: the name or the name without trailing digits", () => {
  deepEqual(
    ["xvda1", "sdb12", "nvme1n2", "md0", "loop7", "nbd0", "sr0", "mmcblk1boot1", "nvme0c0n1"].map(
      isContractDiskKind,
    ),
    [true, true, true, true, false, false, false, false, false],
  );
});

Deno.test("extraFilter rejects a bad regex with a FlagError naming the flag", () => {
  throws(
    () => extraFilter("sd[", "disk-devices-extra-regex"),
    (e) => e instanceof FlagError && /--disk-devices-extra-regex "sd\["/.test(e.message),
  );
  throws(() => diskFilter("("), FlagError);
  throws(() => interfaceFilter("("), /--net-interfaces-extra-regex/);
  equal(extraFilter("", "x"), undefined);
  // A pattern that compiles only inside the anchoring wrapper (`^(?:)|()$` matches every name).
  throws(() => extraFilter(")|(", "disk-devices-extra-regex"), FlagError);
  throws(() => diskFilter("loop0)|(x"), FlagError);
});
