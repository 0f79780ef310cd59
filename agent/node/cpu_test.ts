import { deepEqual, equal, throws } from "node:assert/strict";
import type { FileFormatError } from "../file_format_error.ts";
import { HostFileFormatError } from "./_errors.ts";
import { FIXTURES, variant } from "./_testing.ts";
import { parseProcStat } from "./cpu.ts";

Deno.test("parseProcStat reads the recorded 6.18 /proc/stat (10 columns)", () => {
  const s = parseProcStat(Deno.readTextFileSync(`${FIXTURES}/host/proc/stat`));
  deepEqual(s.ticks, {
    user: 7851,
    nice: 0,
    system: 2743,
    idle: 107601,
    iowait: 340,
    irq: 0,
    softirq: 46,
    steal: 9,
  });
  equal(s.logicalCores, 2);
});

Deno.test("parseProcStat leaves out the modes a 2.6.10 kernel does not report (7 columns)", () => {
  const s = parseProcStat(variant("stat_2.6.10.txt"));
  deepEqual(s.ticks, {
    user: 123456,
    nice: 789,
    system: 45678,
    idle: 9876543,
    iowait: 2345,
    irq: 67,
    softirq: 890,
  });
  equal(s.logicalCores, 2);
});

Deno.test("parseProcStat reads the 4-column 2.4 format and ignores its other lines", () => {
  const s = parseProcStat(variant("stat_2.4.txt"));
  deepEqual(s.ticks, { user: 1000, nice: 20, system: 300, idle: 40000 });
  equal(s.logicalCores, 1);
});

Deno.test("parseProcStat reads only the labels of cpuN lines, so their columns may be odd", () => {
  // stat_truncated.txt ends inside the cpu1 line; stat_garbled.txt has "5#2" in cpu0.
  const t = parseProcStat(variant("stat_truncated.txt"));
  deepEqual([t.ticks?.user, t.ticks?.steal, t.logicalCores], [2008, 8, 2]);
  equal(parseProcStat(variant("stat_garbled.txt")).logicalCores, 2);
});

/** Parses with a skip callback and returns the result and what was skipped. */
function lenient(text: string) {
  const skipped: FileFormatError[] = [];
  const stat = parseProcStat(text, "/proc/stat", (e) => skipped.push(e));
  return { stat, skipped: skipped.map((e) => [e.line, e.reason]) };
}

Deno.test("parseProcStat skips an odd aggregate line and keeps the cores", () => {
  const { stat, skipped } = lenient("cpu  10 20 3x0 40 50\ncpu0 1 2 3 4\ncpu1 1 2 3 4\nctxt 9\n");
  deepEqual(stat, { ticks: undefined, logicalCores: 2 });
  deepEqual(skipped, [[1, '"cpu" column 3 is "3x0", not a count']]);
  deepEqual(lenient("cpu  1 2 3\ncpu0 1 2 3 4\n").skipped, [
    [1, 'the "cpu" line has 3 columns, expected at least 4: "cpu  1 2 3"'],
  ]);
  // Without a newline the aggregate line may be cut short: not trusted.
  deepEqual(lenient("cpu0 1 2 3 4\ncpu  1 2 3 4").stat, { ticks: undefined, logicalCores: 1 });
});

Deno.test("parseProcStat takes extra columns, a second line of a label is skipped", () => {
  const { stat, skipped } = lenient(
    "cpu  1 2 3 4 5 6 7 8 9 10 11 12\ncpu  9 9 9 9\ncpu0 1\ncpu0 1\ncpu7 1\r\nintr 1\n",
  );
  deepEqual(stat, {
    ticks: { user: 1, nice: 2, system: 3, idle: 4, iowait: 5, irq: 6, softirq: 7, steal: 8 },
    logicalCores: 2,
  });
  deepEqual(skipped, [[2, 'a second aggregate "cpu" line'], [4, 'a second "cpu0" line']]);
});

Deno.test("parseProcStat withholds the cores when a line that may be a cpuN line is odd", () => {
  const { stat, skipped } = lenient("cpu  1 2 3 4\ncpu0 1 2 3 4\ncpu:1 1 2 3 4\n");
  deepEqual(stat, { ticks: { user: 1, nice: 2, system: 3, idle: 4 }, logicalCores: undefined });
  deepEqual(skipped, [[3, 'unknown cpu line "cpu:1 1 2 3 4"']]);
});

Deno.test("parseProcStat throws without a skip callback, and when no cpu line is readable", () => {
  throws(
    () => parseProcStat("cpu  1 2 x 4\ncpu0 1\n", "/host/proc/stat"),
    (e) =>
      e instanceof HostFileFormatError && e instanceof SyntaxError && e.line === 1 &&
      e.message === 'Cannot parse "/host/proc/stat" line 1: "cpu" column 3 is "x", not a count',
  );
  throws(() => lenient("cpu 1 2\ncpux\nintr 1\n"), /no readable "cpu" or "cpuN" line/);
  throws(() => lenient(""), HostFileFormatError);
  deepEqual(lenient("cpu0 1 2 3 4\n").stat, { ticks: undefined, logicalCores: 1 });
  deepEqual(lenient("cpu  1 2 3 4\n").stat.logicalCores, undefined);
});
