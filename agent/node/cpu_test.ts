import { deepEqual, equal, throws } from "node:assert/strict";
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

Deno.test("parseProcStat names file and line of a truncated or garbled file", () => {
  throws(() => parseProcStat(variant("stat_truncated.txt"), "/host/proc/stat"), (e) => {
    return e instanceof HostFileFormatError && e instanceof SyntaxError && e.line === 3 &&
      e.message.startsWith('Cannot parse "/host/proc/stat" line 3: truncated line');
  });
  throws(() => parseProcStat(variant("stat_garbled.txt")), /line 2: "cpu0" column 3 is "5#2"/);
  throws(() => parseProcStat("cpu0 1 2 3 4\n"), /no aggregate "cpu" line/);
  throws(() => parseProcStat("cpu  1 2 3 4\n"), /no "cpuN" lines/);
  throws(() => parseProcStat("cpu  1 2 3\ncpu0 1 2 3 4\n"), /3 columns, expected at least 4/);
  throws(() => parseProcStat(""), HostFileFormatError);
});
