import { equal, throws } from "node:assert/strict";
import { FlagError } from "../flags.ts";
import { DEFAULT_DISK_DEVICES, DEFAULT_NET_INTERFACES, nameFilter } from "./filters.ts";

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

Deno.test("the interface filter keeps physical-style names only", () => {
  const yes = [
    "eth0",
    "eth10",
    "enp0s3",
    "enp0s31f6",
    "enP1p2s0",
    "enp3s0f1np1",
    "eno1",
    "eno1np0",
    "ens5",
    "ens3f0",
    "em1",
    "p1p1",
    "bond0",
    "enx001122334455",
    "br0",
    "vmbr0",
  ];
  const no = [
    "lo",
    "docker0",
    "veth1a2b3c",
    "cni0",
    "flannel.1",
    "cali12345",
    "tun0",
    "wlp2s0",
    "wlan0",
    "eth0.100",
    "br-1a2b3c",
    "virbr0",
    "ifb0",
    "enxZZ",
    "eth",
  ];
  equal(accepts(DEFAULT_NET_INTERFACES, yes).join(","), yes.join(","));
  equal(accepts(DEFAULT_NET_INTERFACES, no).join(","), "");
});

Deno.test("nameFilter widens the default with a fully anchored extra regex", () => {
  const f = nameFilter(DEFAULT_NET_INTERFACES, String.raw`wl.*|eth\d+\.\d+`, "x");
  equal(f("eth0"), true);
  equal(f("wlp2s0"), true);
  equal(f("eth0.100"), true);
  equal(f("veth0"), false); // "eth0" inside a name does not match: the regex is anchored
  const plain = nameFilter(DEFAULT_DISK_DEVICES, "  ", "x");
  equal(plain("sda"), true);
  equal(plain("sda1"), false);
  const parts = nameFilter(DEFAULT_DISK_DEVICES, String.raw`sd[a-z]+\d+`, "x");
  equal(parts("sda1"), true);
  equal(parts("loop0"), false);
});

Deno.test("nameFilter rejects a bad regex with a FlagError naming the flag", () => {
  throws(
    () => nameFilter(DEFAULT_DISK_DEVICES, "sd[", "disk-devices-extra-regex"),
    (e) => e instanceof FlagError && /--disk-devices-extra-regex "sd\["/.test(e.message),
  );
});
