import { deepEqual, equal, throws } from "node:assert/strict";
import { FIXTURES, variant } from "./_testing.ts";
import type { FileFormatError } from "../file_format_error.ts";
import { parseDiskstats, readWholeDisks, selectDisks } from "./disk.ts";
import { DEFAULT_DISK_DEVICES } from "./filters.ts";

const contract = (name: string) => DEFAULT_DISK_DEVICES.test(name);

/** Parses with a skip callback; returns the stats and the skipped lines as [line, reason]. */
function lenient(text: string) {
  const skipped: FileFormatError[] = [];
  const stats = parseDiskstats(text, "/proc/diskstats", (e) => skipped.push(e));
  return { stats, skipped: skipped.map((e) => [e.line, e.reason]) };
}

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
  const all = lenient(variant("diskstats_4.17.txt")).stats;
  const nvme = all.find((d) => d.device === "nvme0n1")!;
  equal(nvme.readsCompleted, 5000);
  equal(nvme.sectorsRead, 400000);
  equal(nvme.readMs, 900);
  equal(nvme.writesCompleted, 7000);
  equal(nvme.sectorsWritten, 800000);
  equal(nvme.writeMs, 1200);
  equal(nvme.ioMs, 1500);
});

Deno.test("selectDisks keeps whole disks; a repeated device name is skipped, the first wins", () => {
  const { stats, skipped } = lenient(variant("diskstats_4.17.txt"));
  deepEqual(skipped, [[19, 'a second "sda" line']]);
  const picked = selectDisks(stats, contract);
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

Deno.test("parseDiskstats leaves out the 7-column partition lines of kernels before 2.6.25", () => {
  const { stats, skipped } = lenient(variant("diskstats_2.6.18.txt"));
  deepEqual(stats.map((d) => d.device), ["sda", "hda"]);
  deepEqual(skipped, []);
  equal(stats[0].sectorsWritten, 5922052);
  equal(stats[0].ioMs, 3376340);
});

Deno.test("parseDiskstats skips lines with odd column counts or garbage and keeps the rest", () => {
  const vda = " 254 0 vda 39617 7232 2902338 23427 11077 8934 1800488 5829 0 5088 29844 5198 76 " +
    "4324056 478 1495 109";
  const { stats, skipped } = lenient(
    [
      vda,
      " 254 16 vdb 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16", // 19 columns: a space lost
      " 254 32 vdc 1 2 3 4 5 6 7 8 9 10 11 12", // 15 columns
      " 254 48 vdd 1 2 3 4 5 6 7 8 9 10 11\r", // 14 columns, CRLF
      " 254 64 vde 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19", // 22: a later kernel
      "   7 0 loop0 1 2 3 4 5 6 7 8 9 1x 11",
      " 254 80 vdf 1 2 3 4 5 6 7 8 9 10 99999999999999999999999",
      "",
      "garbage",
      " 254 96 vdg 1 2 3 4 5 6 7 8 9 10 11", // no newline at the end
    ].join("\n"),
  );
  deepEqual(stats.map((d) => [d.device, d.readsCompleted, d.ioMs]), [
    ["vda", 39617, 5088],
    ["vdd", 1, 10],
    ["vde", 1, 10],
    ["vdg", 1, 10],
  ]);
  deepEqual(stats[0], {
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
  deepEqual(skipped.map(([line]) => line), [2, 3, 6, 7, 9]);
  equal(
    skipped[0][1],
    '19 columns, expected 14, 18 or 20: " 254 16 vdb 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16"',
  );
  equal(skipped[2][1], 'column 13 of "loop0" is "1x", not a count');
});

Deno.test("parseDiskstats names file and line of garbage without a callback", () => {
  throws(
    () => parseDiskstats(variant("diskstats_garbled.txt"), "/host/proc/diskstats"),
    /^HostFileFormatError: Cannot parse "\/host\/proc\/diskstats" line 2: column 6 of "vdb" is "18x4322"/,
  );
  throws(
    () => parseDiskstats(" 254 0 vda 1 2 3 4 5\n"),
    /line 1: 8 columns, expected 14, 18 or 20/,
  );
  throws(
    () => parseDiskstats(" 254 0 vda 1 2 3 4 5 6 7 8 9 10 11 -1 1 1 1\n"),
    /column 15 of "vda" is "-1"/,
  );
  // Not one readable line fails the file; an empty file is a host without block devices.
  throws(() => lenient("x\ny\n"), /none of its 2 lines can be read/);
  deepEqual(lenient("").stats, []);
});

Deno.test("readWholeDisks lists <sys>/block, undefined without it", async () => {
  const dir = await Deno.makeTempDir();
  try {
    equal(readWholeDisks(dir), undefined);
    await Deno.mkdir(`${dir}/block`);
    await Deno.symlink("../devices/vbd-51712/block/xvda1", `${dir}/block/xvda1`);
    await Deno.symlink("../devices/vbd-51728/block/xvda2", `${dir}/block/xvda2`);
    deepEqual([...readWholeDisks(dir)!].sort(), ["xvda1", "xvda2"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
