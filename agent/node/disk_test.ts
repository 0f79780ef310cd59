import { deepEqual, equal, throws } from "node:assert/strict";
import { FIXTURES, variant } from "./_testing.ts";
import { parseDiskstats, selectDisks } from "./disk.ts";
import { DEFAULT_DISK_DEVICES } from "./filters.ts";

const contract = (name: string) => DEFAULT_DISK_DEVICES.test(name);

Deno.test("parseDiskstats reads the recorded 6.18 file (20 columns)", () => {
  const all = parseDiskstats(Deno.readTextFileSync(`${FIXTURES}/host/proc/diskstats`));
  equal(all.length, 10);
  const vda = all.find((d) => d.device === "vda");
  deepEqual(vda, {
    major: 254,
    minor: 0,
    device: "vda",
    readsCompleted: 39617,
    sectorsRead: 2902338,
    readMs: 23427,
    writesCompleted: 11077,
    sectorsWritten: 1800488,
    writeMs: 5829,
    ioMs: 5088,
  });
  deepEqual(selectDisks(all, contract).map((d) => d.device), ["vda"]);
});

Deno.test("parseDiskstats reads the 14-column layout of kernels before 4.18", () => {
  const all = parseDiskstats(variant("diskstats_4.17.txt"));
  const nvme = all.find((d) => d.device === "nvme0n1")!;
  equal(nvme.readsCompleted, 5000);
  equal(nvme.sectorsRead, 400000);
  equal(nvme.readMs, 900);
  equal(nvme.writesCompleted, 7000);
  equal(nvme.sectorsWritten, 800000);
  equal(nvme.writeMs, 1200);
  equal(nvme.ioMs, 1500);
});

Deno.test("selectDisks keeps whole disks once each: the first of a duplicate wins", () => {
  const picked = selectDisks(parseDiskstats(variant("diskstats_4.17.txt")), contract);
  deepEqual(picked.map((d) => d.device), [
    "sda",
    "sdb",
    "nvme0n1",
    "dm-0",
    "md0",
    "mmcblk0",
    "rbd0",
    "xvda",
    "hda",
    "vdb",
  ]);
  equal(picked[0].readsCompleted, 120);
});

Deno.test("parseDiskstats skips the 7-column partition lines of kernels before 2.6.25", () => {
  const all = parseDiskstats(variant("diskstats_2.6.18.txt"));
  deepEqual(all.map((d) => d.device), ["sda", "hda"]);
  equal(all[0].sectorsWritten, 5922052);
  equal(all[0].ioMs, 3376340);
});

Deno.test("parseDiskstats names file and line of garbage", () => {
  throws(
    () => parseDiskstats(variant("diskstats_garbled.txt"), "/host/proc/diskstats"),
    /^HostFileFormatError: Cannot parse "\/host\/proc\/diskstats" line 2: sectors read is "18x4322"/,
  );
  throws(
    () => parseDiskstats(" 254 0 vda 1 2 3 4 5\n"),
    /line 1: 8 columns, expected 14, 18 or 20/,
  );
  throws(() => parseDiskstats(" 254 0 vda 1 2 3 4 5 6 7 8 9 10 11 -1\n"), /column 15 is "-1"/);
});
