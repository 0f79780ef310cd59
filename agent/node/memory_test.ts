import { deepEqual, equal, throws } from "node:assert/strict";
import type { FileFormatError } from "../file_format_error.ts";
import { HostFileFormatError } from "./_errors.ts";
import { FIXTURES, variant } from "./_testing.ts";
import { memorySnapshot, parseMeminfo } from "./memory.ts";

/** Parses with a skip callback; returns the map and the skipped lines as [line, reason]. */
function lenient(text: string) {
  const skipped: FileFormatError[] = [];
  const info = parseMeminfo(text, "/proc/meminfo", (e) => skipped.push(e));
  return { info, skipped: skipped.map((e) => [e.line, e.reason]) };
}

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

Deno.test("parseMeminfo reads arm64's glued ShadowCallStack and WSL's 2^54 kB values exactly", () => {
  const { info, skipped } = lenient(variant("meminfo_arm64_wsl.txt"));
  deepEqual(skipped, []);
  equal(info.get("ShadowCallStack"), 10373888 * 1024);
  // 18014398503714728 is even and below 2^54, so a double holds it exactly, and × 1024 too.
  equal(BigInt(info.get("DirectMap4k")!), 18014398503714728n * 1024n);
  deepEqual(memorySnapshot(info), {
    totalBytes: 24683656 * 1024,
    freeBytes: 24145536 * 1024,
    availableBytes: 24342048 * 1024,
    cachedBytes: 377164 * 1024,
  });
});

Deno.test("parseMeminfo: past 2^53 the nearest double, past 2^64 - 1 the line is skipped", () => {
  const { info, skipped } = lenient(
    "MemTotal: 9007199254740993 kB\nHugePages_Total: 18446744073709551615\n" +
      "Cached: 18446744073709551616 kB\nMemAvailable: 000000000000000000000000012 kB\n",
  );
  equal(info.get("MemTotal"), 9007199254740992 * 1024); // 2^53 + 1 rounds to even: 2^53
  equal(info.get("HugePages_Total"), 18446744073709551616); // 2^64 - 1 → 2^64, the nearest double
  equal(info.get("MemAvailable"), 12 * 1024);
  equal(info.has("Cached"), false);
  deepEqual(skipped, [[3, 'expected "Key: value [kB]", got "Cached: 18446744073709551616 kB"']]);
});

Deno.test("parseMeminfo skips odd lines, keeps the rest, and the first of a repeated key wins", () => {
  const { info, skipped } = lenient(
    [
      "MemTotal:       24683656 kB",
      "MemFree:        24145536 kB\r", // CRLF
      "Mem:Avail: 12 kB",
      "Bogus: 12 MB",
      "Cached:   3771",
      "Caf\uFFFD: 1 kB", // a non-UTF-8 byte, decoded
      "MemTotal: 1 kB",
      "",
      "Buffers: 2856 kB",
    ].join("\n"),
  );
  deepEqual(Object.fromEntries(info), {
    MemTotal: 24683656 * 1024,
    MemFree: 24145536 * 1024,
    Buffers: 2856 * 1024,
  });
  deepEqual(skipped, [
    [3, 'expected "Key: value [kB]", got "Mem:Avail: 12 kB"'],
    [4, 'expected "Key: value [kB]", got "Bogus: 12 MB"'],
    [5, '"Cached" has no kB unit: "Cached:   3771"'],
    [6, 'expected "Key: value [kB]", got "Caf\uFFFD: 1 kB"'],
    [7, 'a second "MemTotal" line'],
  ]);
  // memorySnapshot reports what is there.
  deepEqual(memorySnapshot(info), {
    totalBytes: 24683656 * 1024,
    freeBytes: 24145536 * 1024,
    availableBytes: undefined,
    cachedBytes: undefined,
  });
});

Deno.test("parseMeminfo is strict without a callback, and fails a file it cannot read at all", () => {
  throws(
    () => parseMeminfo("MemTotal:        3882620 kB\nMemFree:\n", "/proc/meminfo"),
    /^HostFileFormatError: Cannot parse "\/proc\/meminfo" line 2: expected "Key: value \[kB\]"/,
  );
  throws(() => parseMeminfo("MemTotal: 12 MB\n"), /line 1/);
  // A file cut inside a number: the cut line loses its unit and is skipped.
  const { info, skipped } = lenient(variant("meminfo_truncated.txt"));
  deepEqual(memorySnapshot(info), {
    totalBytes: 3882620 * 1024,
    freeBytes: 164956 * 1024,
    availableBytes: undefined,
    cachedBytes: undefined,
  });
  deepEqual(skipped, [[3, '"MemAvailable" has no kB unit: "MemAvailable:    28"']]);
  throws(() => lenient(""), (e) => e instanceof HostFileFormatError && e.reason === "no lines");
  throws(() => lenient("x\ny\n"), /none of its 2 lines can be read/);
  throws(() => memorySnapshot(lenient("Buffers: 1 kB\n").info), /no MemTotal, MemFree/);
});
