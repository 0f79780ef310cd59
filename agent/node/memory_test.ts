import { deepEqual, equal, throws } from "node:assert/strict";
import { FIXTURES, variant } from "./_testing.ts";
import { memorySnapshot, parseMeminfo } from "./memory.ts";

Deno.test("parseMeminfo turns kB into bytes with 1024, not 1000", () => {
  const m = memorySnapshot(parseMeminfo(Deno.readTextFileSync(`${FIXTURES}/host/proc/meminfo`)));
  deepEqual(m, {
    totalBytes: 24683656 * 1024,
    freeBytes: 24145536 * 1024,
    availableBytes: 24342048 * 1024,
    cachedBytes: 377164 * 1024,
  });
});

Deno.test("parseMeminfo keeps unit-less values as they are", () => {
  const info = parseMeminfo(variant("meminfo_3.10.txt"));
  equal(info.get("HugePages_Total"), 0);
  equal(info.get("Hugepagesize"), 2048 * 1024);
});

Deno.test("memorySnapshot has no available value on kernels without MemAvailable (< 3.14)", () => {
  const m = memorySnapshot(parseMeminfo(variant("meminfo_3.10.txt")));
  equal(m.availableBytes, undefined);
  equal(m.totalBytes, 3882620 * 1024);
  equal(m.cachedBytes, 2531176 * 1024);
});

Deno.test("parseMeminfo and memorySnapshot reject truncated files", () => {
  throws(
    () => parseMeminfo("MemTotal:        3882620 kB\nMemFree:\n", "/proc/meminfo"),
    /^HostFileFormatError: Cannot parse "\/proc\/meminfo" line 2: expected "Key: value \[kB\]"/,
  );
  throws(() => parseMeminfo("MemTotal: 12 MB\n"), /line 1/);
  // A file cut inside a number still parses as a line, but a required key is then missing.
  throws(() => memorySnapshot(parseMeminfo(variant("meminfo_truncated.txt"))), /no "Cached" line/);
});
