import { deepEqual, equal, throws } from "node:assert/strict";
import type { FileFormatError } from "../file_format_error.ts";
import { FIXTURES } from "./_testing.ts";
import {
  isPidName,
  parseMountInfo,
  parseProcStat,
  parseUptime,
  ProcFormatError,
  unescapeMountPath,
} from "./proc.ts";

Deno.test("parseProcStat takes ppid and starttime after the last parenthesis", () => {
  const s = parseProcStat(
    "21345 (sh) S 21335 21345 21345 0 -1 4194560 1686 3801 0 0 1 3 7 0 20 0 1 0 199656 " +
      "2322432 380 18446744073709551615 4198400 5785993 0 0 0 0 0 4 65538 1 0 0 17 0 0 0\n",
  );
  deepEqual(s, { pid: 21345, comm: "sh", ppid: 21335, startTicks: 199656 });
  const odd = parseProcStat(
    "7 (a) b (c)) R 1 7 7 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 42 0 0\n",
  );
  equal(odd.comm, "a) b (c)");
  equal(odd.startTicks, 42);
  throws(() => parseProcStat("7 (x) S 1\n"), ProcFormatError);
  throws(() => parseProcStat("garbage"), ProcFormatError);
  throws(() => parseProcStat("7 (x) S 1 7 7 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 NaN 0\n"), /starttime/);
});

Deno.test("parseUptime", () => {
  equal(parseUptime("1234.56 789.00\n"), 1234.56);
  equal(parseUptime("17 3"), 17);
  for (const bad of ["x", "0x10 1", "1e3 1", "-1.5 2", "", "Infinity 1"]) {
    throws(() => parseUptime(bad), ProcFormatError, bad);
  }
});

Deno.test("parseMountInfo reads the recorded Podman container and skips odd lines", () => {
  const text = Deno.readTextFileSync(`${FIXTURES}/containers/mountinfo_podman_overlay.txt`);
  const n = text.split("\n").length;
  const skipped: FileFormatError[] = [];
  const mounts = parseMountInfo(
    text + "short line\n1 2 x:y / /a rw - ext4 /dev/x rw\n" + text.split("\n")[0] + "\r\n",
    "/proc/7/mountinfo",
    (e) => skipped.push(e),
  );
  deepEqual(skipped.map((e) => [e.file, e.line, e.reason]), [
    [
      "/proc/7/mountinfo",
      n,
      'expected "ID PARENT MAJ:MIN ROOT POINT OPTIONS ... - TYPE SOURCE ...", got "short line"',
    ],
    ["/proc/7/mountinfo", n + 1, 'an ID or device number is not a count in "1 2 x:y"'],
    ["/proc/7/mountinfo", n + 2, `a second line for mount ID ${text.split(" ")[0]}`],
  ]);
  equal(mounts.length, n - 1);
  throws(() => parseMountInfo("short line\n"), ProcFormatError);
  equal(mounts[0].mountPoint, "/");
  equal(mounts[0].fsType, "overlay");
  equal(mounts[0].major, 0);
  const hostname = mounts.find((m) => m.mountPoint === "/etc/hostname")!;
  equal(hostname.major, 254);
  equal(hostname.fsType, "ext4");
  equal(hostname.source, "/dev/vda");
});

Deno.test("mount paths: octal escapes", () => {
  equal(unescapeMountPath("/mnt/my\\040disk\\011x"), "/mnt/my disk\tx");
  equal(unescapeMountPath("/plain"), "/plain");
  const mounts = parseMountInfo("36 35 8:1 / /mnt/a\\040b rw - ext4 /dev/sda1 rw\n");
  equal(mounts[0].mountPoint, "/mnt/a b");
});

Deno.test("isPidName", () => {
  equal(isPidName("1"), true);
  equal(isPidName("123456"), true);
  equal(isPidName("self"), false);
  equal(isPidName("0"), false);
  equal(isPidName(""), false);
  equal(isPidName("12a"), false);
});
