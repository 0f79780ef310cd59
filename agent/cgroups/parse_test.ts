import { deepEqual, equal, throws } from "node:assert/strict";
import type { FileFormatError } from "../file_format_error.ts";
import { CgroupFormatError } from "./errors.ts";
import {
  flatKeyedValues,
  parseBlkio,
  parseCpuMax,
  parseFlatKeyed,
  parseInteger,
  parseIoStat,
  parseMemoryMax,
  parsePressure,
  parseSingleValue,
  parseV1CpuLimit,
  parseV1MemoryLimit,
  requireKey,
} from "./parse.ts";
import { fsRoot } from "./_testing.ts";

const PODMAN =
  "libpod_parent/libpod-8b15ca3596c17fea6fff6404d6fb4665b750088cf4600a9f78c6bb62ed596b63";
const K8S = "kubepods.slice/kubepods-burstable.slice/" +
  "kubepods-burstable-pod6b2a8f0e_3c1d_4e5f_9a7b_1c2d3e4f5a6b.slice/" +
  "cri-containerd-5d4c3b2a1f0e9d8c7b6a5f4e3d2c1b0a99887766554433221100ffeeddccbbaa.scope";

function hybrid(rel: string): string {
  return Deno.readTextFileSync(`${fsRoot("hybrid")}/${rel}`);
}
function v2(rel: string): string {
  return Deno.readTextFileSync(`${fsRoot("v2")}/${rel}`);
}

function formatError(re: RegExp): (err: unknown) => boolean {
  return (err) => err instanceof CgroupFormatError && re.test(err.message);
}

Deno.test("parseInteger: exact up to 15 digits, Number() rounding beyond, NaN on anything else", () => {
  equal(parseInteger("x123y", 1, 4), 123);
  equal(parseInteger("-1", 0, 2), -1);
  equal(parseInteger("999999999999999", 0, 15), 999999999999999);
  equal(parseInteger("9223372036854771712", 0, 19), Number("9223372036854771712"));
  for (const s of ["", "-", "1 ", "1.5", "+1", "0x1", "--1", "1-", "12345678901234567x"]) {
    equal(Number.isNaN(parseInteger(s, 0, s.length)), true, s);
  }
});

Deno.test("parseFlatKeyed: v1 cpu.stat and memory.stat recorded on this host", () => {
  const cpu = parseFlatKeyed(hybrid(`cpu/${PODMAN}/cpu.stat`), "cpu.stat");
  equal(cpu.get("throttled_time"), 280793964);
  equal(cpu.get("nr_throttled") !== undefined, true);
  const mem = parseFlatKeyed(hybrid(`memory/${PODMAN}/memory.stat`), "memory.stat");
  equal(mem.get("total_rss"), 57344);
  equal(mem.get("total_mapped_file"), 1351680);
  equal(mem.get("total_cache"), 1994752);
  equal(mem.get("hierarchical_memsw_limit"), 134217728);
});

Deno.test("parseFlatKeyed: v2 cpu.stat and memory.stat (cgroup-v2.rst format)", () => {
  const cpu = parseFlatKeyed(v2(`${K8S}/cpu.stat`), "cpu.stat");
  deepEqual([cpu.get("usage_usec"), cpu.get("throttled_usec")], [8123456, 1843210]);
  const mem = parseFlatKeyed(v2(`${K8S}/memory.stat`), "memory.stat");
  deepEqual([mem.get("anon"), mem.get("file"), mem.get("file_mapped")], [
    1261568,
    8192000,
    2445312,
  ]);
  equal(parseFlatKeyed("", "x").size, 0);
  equal(parseFlatKeyed("a 1", "x").get("a"), 1); // no final newline
});

Deno.test("parseFlatKeyed and requireKey reject garbage", () => {
  throws(
    () => parseFlatKeyed("a 1\nb\n", "cpu.stat"),
    formatError(/"cpu.stat" line 2: expected "key value"/),
  );
  throws(() => parseFlatKeyed(" 1\n", "f"), formatError(/line 1: expected "key value"/));
  throws(() => parseFlatKeyed("a 1 2\n", "f"), formatError(/value is not an integer/));
  throws(() => parseFlatKeyed("a x\n", "f"), formatError(/value is not an integer/));
  throws(() => parseFlatKeyed("a \n", "f"), formatError(/value is not an integer/));
  throws(
    () => requireKey(new Map(), "anon", "memory.stat"),
    formatError(/"memory.stat": no "anon" line/),
  );
});

Deno.test("parseSingleValue and the v1 limits", () => {
  equal(parseSingleValue(hybrid(`cpuacct/${PODMAN}/cpuacct.usage`), "cpuacct.usage"), 344414596);
  equal(parseSingleValue("-1\n", "q"), -1);
  throws(
    () => parseSingleValue("", "cpuacct.usage"),
    formatError(/"cpuacct.usage" line 1: not an integer/),
  );
  throws(() => parseSingleValue("12\n\n", "f"), formatError(/not an integer/));
  equal(parseV1MemoryLimit(hybrid(`memory/${PODMAN}/memory.limit_in_bytes`)), 64 * 1024 * 1024);
  equal(parseV1MemoryLimit("9223372036854771712\n"), undefined);
  equal(parseV1MemoryLimit(`${2 ** 62}\n`), 2 ** 62);
  equal(parseV1CpuLimit("50000\n", "100000\n"), 0.5);
  equal(parseV1CpuLimit("-1\n", "100000\n"), undefined);
  equal(parseV1CpuLimit("50000\n", "0\n"), undefined);
  throws(() => parseV1CpuLimit("x", "100000"), formatError(/cpu.cfs_quota_us/));
});

Deno.test("parseCpuMax and parseMemoryMax", () => {
  equal(parseCpuMax("150000 100000\n"), 1.5);
  equal(parseCpuMax("max 100000\n"), undefined);
  equal(parseCpuMax("max"), undefined);
  for (const bad of ["", "150000", "150000 0", "-1 100000", "max x", "1 2 3", "max 1 2"]) {
    throws(() => parseCpuMax(bad), CgroupFormatError, bad);
  }
  equal(parseMemoryMax("536870912\n"), 536870912);
  equal(parseMemoryMax("max\n"), undefined);
  equal(parseMemoryMax("0\n"), 0);
  for (const bad of ["", "Max", "-5", "1 2"]) {
    throws(() => parseMemoryMax(bad), CgroupFormatError, bad);
  }
});

Deno.test("parseIoStat: the four counters per device; io.cost's decimal fields are skipped", () => {
  deepEqual(parseIoStat(v2(`${K8S}/io.stat`)), [
    { device: "8:0", reads: 192, writes: 353, readBytes: 1459200, writtenBytes: 314773504 },
    { device: "253:0", reads: 1, writes: 0, readBytes: 4096, writtenBytes: 0 },
  ]);
  deepEqual(parseIoStat(""), []);
  const bad = [
    "8:0\n",
    "8:0 rbytes=1 wbytes=2 rios=3\n",
    "sda rbytes=1 wbytes=2 rios=3 wios=4\n",
    "8: rbytes=1 wbytes=2 rios=3 wios=4\n",
    "-8:0 rbytes=1 wbytes=2 rios=3 wios=4\n",
    "8:0 rbytes=x wbytes=2 rios=3 wios=4\n",
    "8:0 rbytes=1 wbytes=2 rios=3 wios=-4\n",
    "8:0 rbytes wbytes=2 rios=3 wios=4\n",
    "8:0 =1 wbytes=2 rios=3 wios=4\n",
  ];
  for (const text of bad) throws(() => parseIoStat(text, "io.stat"), CgroupFormatError, text);
});

Deno.test("parseBlkio: Read and Write per device from the recorded v1 throttle files", () => {
  deepEqual(parseBlkio(hybrid(`blkio/${PODMAN}/blkio.throttle.io_serviced`)), [
    { device: "254:0", read: 72, write: 64 },
  ]);
  deepEqual(parseBlkio(hybrid(`blkio/${PODMAN}/blkio.throttle.io_service_bytes`)), [
    { device: "254:0", read: 2260992, write: 262144 },
  ]);
  deepEqual(parseBlkio("Total 0\n"), []); // a cgroup that did no I/O
  deepEqual(
    parseBlkio("8:0 Read 1\n8:16 Read 5\n8:0 Write 2\n8:16 Write 6\n8:16 Flush 9\nTotal 14\n"),
    [{ device: "8:0", read: 1, write: 2 }, { device: "8:16", read: 5, write: 6 }],
  );
  for (
    const text of [
      "8:0 Read\n",
      "Total\n",
      "Totals 5\n",
      "8:0 Read x\n",
      "sda Read 1\n",
      "8:0  1\n",
    ]
  ) {
    throws(() => parseBlkio(text, "blkio.throttle.io_serviced"), CgroupFormatError, text);
  }
});

Deno.test("parsePressure: totals in seconds; a cpu file without 'full' (kernel < 5.13) gives 0", () => {
  deepEqual(parsePressure(hybrid(`unified/${PODMAN}/cpu.pressure`)), {
    some: 0.202719,
    full: 0.200321,
  });
  deepEqual(parsePressure("some avg10=0.00 avg60=0.00 avg300=0.00 total=120\n"), {
    some: 0.00012,
    full: 0,
  });
  for (
    const text of [
      "",
      "full avg10=0.00 avg60=0.00 avg300=0.00 total=1\n",
      "some avg10=0.00 avg60=0.00 avg300=0.00\n",
      "some avg10=0.00 total=x\n",
      "some avg10=0.00 total=-1\n",
      "partial avg10=0.00 total=1\n",
    ]
  ) throws(() => parsePressure(text, "cpu.pressure"), CgroupFormatError, text);
});

Deno.test("flatKeyedValues picks keys without a map and checks every line like parseFlatKeyed", () => {
  const text = hybrid(`memory/${PODMAN}/memory.stat`);
  deepEqual(flatKeyedValues(text, "m", ["total_rss", "total_mapped_file", "total_cache", "nope"]), [
    57344,
    1351680,
    1994752,
    undefined,
  ]);
  // "rss" must not match "rss_huge" or "total_rss".
  deepEqual(flatKeyedValues("rss_huge 1\ntotal_rss 2\nrss 3\n", "m", ["rss"]), [3]);
  throws(() => flatKeyedValues("a 1\nb x\n", "m", ["a"]), formatError(/"m" line 2: value/));
  throws(() => flatKeyedValues("a1\n", "m", ["a"]), formatError(/expected "key value"/));
});

/** Runs `parse` with a skip callback; returns its result and the skipped [line, reason]s. */
function lenient<T>(parse: (skip: (e: FileFormatError) => void) => T) {
  const skipped: [number, string][] = [];
  const value = parse((e) => skipped.push([e.line, e.reason]));
  return { value, skipped };
}

Deno.test("flat-keyed files: an odd line or a repeat is skipped, the rest kept; CRLF read", () => {
  const { value, skipped } = lenient((skip) =>
    parseFlatKeyed(
      "usage_usec 8123456\r\nuser_usec 12x\nsystem_usec\nnr_periods 18446744073709551616\n" +
        "throttled_usec 1843210\nusage_usec 1\n\nnr_bursts 0",
      "cpu.stat",
      skip,
    )
  );
  deepEqual(Object.fromEntries(value), {
    usage_usec: 8123456,
    throttled_usec: 1843210,
    nr_bursts: 0,
  });
  deepEqual(skipped, [
    [2, 'value is not an integer: "user_usec 12x"'],
    [3, 'expected "key value", got "system_usec"'],
    [4, 'value is not an integer: "nr_periods 18446744073709551616"'],
    [6, 'a second "usage_usec" line'],
  ]);
  const picked = lenient((skip) =>
    flatKeyedValues("anon 5\nfile 7x\nfile 9\nanon 6\nshmem 1\nshmem 2\n", "memory.stat", [
      "anon",
      "file",
      "file_mapped",
    ], skip)
  );
  // file's first line is unreadable, so its second is the first readable one; repeats of keys
  // not asked for (shmem) are not looked at.
  deepEqual(picked.value, [5, 9, undefined]);
  deepEqual(picked.skipped, [[2, 'value is not an integer: "file 7x"'], [
    4,
    'a second "anon" line',
  ]]);
  throws(
    () => lenient((skip) => parseFlatKeyed("x\ny\n", "cpu.stat", skip)),
    formatError(/"cpu.stat": none of its 2 lines can be read/),
  );
});

Deno.test("io.stat and blkio: an odd line costs its device (or its value), the rest kept", () => {
  const io = lenient((skip) =>
    parseIoStat(
      "8:0 rbytes=1459200 wbytes=314773504 rios=192 wios=353 dbytes=0 dios=0\r\n" +
        "8:16 rbytes=1 wbytes=2 rios=x wios=4\n" +
        "253:0 rbytes=4096 wbytes=0 rios=1 wios=0\n" +
        "8:0 rbytes=9 wbytes=9 rios=9 wios=9\n",
      "io.stat",
      skip,
    )
  );
  deepEqual(io.value, [
    { device: "8:0", reads: 192, writes: 353, readBytes: 1459200, writtenBytes: 314773504 },
    { device: "253:0", reads: 1, writes: 0, readBytes: 4096, writtenBytes: 0 },
  ]);
  deepEqual(io.skipped, [[2, '"rios=x" is not a count'], [4, "a second line for device 8:0"]]);
  const blkio = lenient((skip) =>
    parseBlkio(
      "8:0 Read 1\n8:0 Write 2\n8:16 Read x\n8:16 Write 6\n8:16 Write 7\n8:32 Read 3\r\n" +
        "8:32 Write 4\nTotal 14\n",
      "blkio.throttle.io_serviced",
      skip,
    )
  );
  deepEqual(blkio.value, [
    { device: "8:0", read: 1, write: 2 },
    { device: "8:16", write: 6 },
    { device: "8:32", read: 3, write: 4 },
  ]);
  deepEqual(blkio.skipped.map(([l]) => l), [3, 5]);
});

Deno.test("pressure files: an odd line costs its kind; full stays 0 only when absent", () => {
  const some = "some avg10=0.00 avg60=0.00 avg300=0.00 total=2516000";
  const full = "full avg10=0.00 avg60=0.00 avg300=0.00 total=1203000";
  const p = (text: string) => lenient((skip) => parsePressure(text, "cpu.pressure", skip));
  deepEqual(p(`${some}\r\n${full}\r\n`).value, { some: 2.516, full: 1.203 });
  deepEqual(p(`${some}\nfull avg10=0.00 total=x\n`).value, { some: 2.516, full: undefined });
  deepEqual(p(`some total=1x\n${full}\n`).value, { some: undefined, full: 1.203 });
  // A line of unknown kind may have been the full line: full is not assumed 0.
  deepEqual(p(`${some}\nfu11 total=1\n`), {
    value: { some: 2.516, full: undefined },
    skipped: [[2, 'expected "some|full ...", got "fu11 total=1"']],
  });
  deepEqual(p(`${some}\n${some}\n`).skipped, [[2, 'a second "some" line']]);
  deepEqual(p(`${some}\n`).value, { some: 2.516, full: 0 });
  throws(() => p("x\ny\n"), formatError(/none of its 2 lines can be read/));
  throws(() => p(`${full}\n`), formatError(/no "some" line/));
});

Deno.test("the one-line files take a CRLF end and refuse numbers past 2^64 - 1", () => {
  equal(parseSingleValue("344414596\r\n", "cpuacct.usage"), 344414596);
  equal(parseCpuMax("150000 100000\r\n"), 1.5);
  equal(parseMemoryMax("max\r\n"), undefined);
  throws(() => parseSingleValue("18446744073709551616\n", "f"), CgroupFormatError);
  equal(parseInteger("18446744073709551615", 0, 20), 18446744073709551616);
  equal(Number.isNaN(parseInteger("1".repeat(21), 0, 21)), true);
});
