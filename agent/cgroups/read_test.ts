import { deepEqual, equal, throws } from "node:assert/strict";
import type { FileFormatError } from "../file_format_error.ts";
import { CgroupFormatError, CgroupReadError } from "./errors.ts";
import { type CgroupDirs, cgroupDirs, detectCgroupFs } from "./fs.ts";
import { parseProcCgroup } from "./proc_cgroup.ts";
import {
  type CgroupFileSource,
  directFiles,
  KeptFiles,
  readCpu,
  readIo,
  readMemory,
  readPsi,
} from "./read.ts";
import { fsRoot, procCgroupText } from "./_testing.ts";

const K8S = "/kubepods.slice/kubepods-burstable.slice/" +
  "kubepods-burstable-pod6b2a8f0e_3c1d_4e5f_9a7b_1c2d3e4f5a6b.slice/" +
  "cri-containerd-5d4c3b2a1f0e9d8c7b6a5f4e3d2c1b0a99887766554433221100ffeeddccbbaa.scope";
const DOCKER_A = "/docker/3c1b5a0c2e4f4d6b8a9e0f1d2c3b4a5968778695a4b3c2d1e0f9e8d7c6b5a493";
const DOCKER_B = "/docker/9f8e7d6c5b4a39281706f5e4d3c2b1a0ffeeddccbbaa99887766554433221100";

function dirsFor(layout: "v1" | "v2" | "hybrid", procText: string): CgroupDirs {
  return cgroupDirs(detectCgroupFs(fsRoot(layout)), parseProcCgroup(procText));
}
const hybridPodman = () => dirsFor("hybrid", procCgroupText("podman-cgroupfs"));
const v1Docker = (path: string) =>
  dirsFor("v1", `2:cpu,cpuacct:${path}\n3:memory:${path}\n4:blkio:${path}\n`);
const v2 = (path: string) => dirsFor("v2", `0::${path}\n`);

/** Runs each test with both file sources. */
function both(name: string, fn: (files: CgroupFileSource) => void): void {
  Deno.test(`${name} (direct reads)`, () => fn(directFiles));
  Deno.test(`${name} (kept descriptors, read twice)`, () => {
    const kept = new KeptFiles();
    try {
      fn(kept);
      fn(kept);
    } finally {
      kept.close();
    }
  });
}

both("hybrid (recorded Podman container): v1 CPU, memory and blkio; v2 PSI", (files) => {
  const d = hybridPodman();
  deepEqual(readCpu(d, files), {
    usageSeconds: 344414596 / 1e9,
    throttledSeconds: 280793964 / 1e9,
    limitCores: 0.5,
  });
  deepEqual(readMemory(d, files), {
    rssBytes: 57344 + 1351680,
    cacheBytes: 1994752,
    limitBytes: 67108864,
  });
  deepEqual(readIo(d, files), [
    { device: "254:0", reads: 72, writes: 64, readBytes: 2260992, writtenBytes: 262144 },
  ]);
  deepEqual(readPsi(d, files), {
    cpu: { some: 0.202719, full: 0.200321 },
    memory: { some: 0, full: 0 },
    io: { some: 0.003393, full: 0.003386 },
  });
});

both("v1: limited and unlimited containers; no PSI without v2", (files) => {
  const a = v1Docker(DOCKER_A);
  deepEqual(readCpu(a, files), {
    usageSeconds: 0.344414596,
    throttledSeconds: 0.280793964,
    limitCores: 0.5,
  });
  equal(readPsi(a, files), undefined);
  const b = v1Docker(DOCKER_B);
  deepEqual(readCpu(b, files), { usageSeconds: 124425615 / 1e9, throttledSeconds: 0 });
  deepEqual(readMemory(b, files), { rssBytes: 53248, cacheBytes: 155648 });
  deepEqual(readIo(b, files), [
    { device: "254:0", reads: 19, writes: 0, readBytes: 155648, writtenBytes: 0 },
  ]);
});

both("v2: a Kubernetes container with CPU and memory limits and io.cost fields", (files) => {
  const d = v2(K8S);
  deepEqual(readCpu(d, files), {
    usageSeconds: 8.123456,
    throttledSeconds: 1.84321,
    limitCores: 1.5,
  });
  deepEqual(readMemory(d, files), {
    rssBytes: 1261568 + 2445312,
    cacheBytes: 8192000,
    limitBytes: 536870912,
  });
  deepEqual(readIo(d, files), [
    { device: "8:0", reads: 192, writes: 353, readBytes: 1459200, writtenBytes: 314773504 },
    { device: "253:0", reads: 1, writes: 0, readBytes: 4096, writtenBytes: 0 },
  ]);
  deepEqual(readPsi(d, files), {
    cpu: { some: 2.516, full: 1.203 },
    memory: { some: 0.015, full: 0.009 },
    io: { some: 0.7305, full: 0.61225 },
  });
});

both(
  "v2: 'max' limits are undefined; an empty io.stat is no devices; cpu 'full' absent → 0",
  (files) => {
    const d = v2("/system.slice/nginx.service");
    deepEqual(readCpu(d, files), { usageSeconds: 52, throttledSeconds: 0 });
    deepEqual(readMemory(d, files), { rssBytes: 20971520 + 4194304, cacheBytes: 104857600 });
    deepEqual(readIo(d, files), []);
    deepEqual(readPsi(d, files)?.cpu, { some: 0.00012, full: 0 });
  },
);

both("v2 without the cpu and io controllers: usage only, readIo needs io.stat, no PSI", (files) => {
  const d = v2("/system.slice/cron.service");
  deepEqual(readCpu(d, files), { usageSeconds: 0.0015 });
  deepEqual(readMemory(d, files), { rssBytes: 409600, cacheBytes: 0 });
  throws(
    () => readIo(d, files),
    (e: unknown) =>
      e instanceof CgroupReadError && e.problem === "missing" &&
      e.file === `${fsRoot("v2")}/system.slice/cron.service/io.stat`,
  );
  equal(readPsi(d, files), undefined);
});

Deno.test("readers throw CgroupReadError: missing cgroup, no controller dir, garbled file", () => {
  const gone = v1Docker("/docker/gone");
  for (const read of [readCpu, readMemory, readIo]) {
    throws(
      () => read(gone),
      (e: unknown) => e instanceof CgroupReadError && e.problem === "missing",
    );
    throws(
      () => read({}),
      (e: unknown) => e instanceof CgroupReadError && e.problem === "no-controller",
    );
  }
  equal(readPsi({}), undefined);
  equal(readPsi({ v2: "/nonexistent" }), undefined);

  const dir = Deno.makeTempDirSync({ prefix: "osprey-cgroups-" });
  try {
    Deno.writeTextFileSync(`${dir}/cpuacct.usage`, "12x\n");
    Deno.writeTextFileSync(`${dir}/memory.stat`, "total_rss 1\n"); // no total_cache
    Deno.writeTextFileSync(`${dir}/cpu.pressure`, "some avg10=0.00 total=x\n");
    Deno.writeTextFileSync(`${dir}/memory.pressure`, "some avg10=0.00 total=1\n");
    Deno.writeTextFileSync(`${dir}/io.pressure`, "some avg10=0.00 total=1\n");
    Deno.mkdirSync(`${dir}/blkio.throttle.io_serviced`); // a directory: EISDIR
    Deno.writeTextFileSync(`${dir}/blkio.throttle.io_service_bytes`, "Total 0\n");
    const format = (file: string) => (e: unknown) =>
      e instanceof CgroupReadError && e.problem === "format" && e.file === `${dir}/${file}` &&
      e.cause instanceof CgroupFormatError;
    throws(() => readCpu({ cpuacct: dir }), format("cpuacct.usage"));
    throws(() => readMemory({ memory: dir }), format("memory.stat"));
    throws(() => readPsi({ v2: dir }), format("cpu.pressure"));
    throws(
      () => readIo({ blkio: dir }),
      (e: unknown) =>
        e instanceof CgroupReadError && e.problem === "unreadable" &&
        e.file === `${dir}/blkio.throttle.io_serviced`,
    );
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("KeptFiles: sees new contents, a removed file, forget and close, the descriptor cap", () => {
  const dir = Deno.makeTempDirSync({ prefix: "osprey-cgroups-" });
  const kept = new KeptFiles({ maxOpen: 2 });
  try {
    const f = `${dir}/cpuacct.usage`;
    Deno.writeTextFileSync(f, "1\n");
    equal(kept.read(f), "1\n");
    equal(kept.size, 1);
    Deno.writeTextFileSync(f, "22222\n"); // same inode, as kernfs files are
    equal(kept.read(f), "22222\n");
    equal(kept.read(`${dir}/none`), undefined);
    Deno.writeTextFileSync(`${dir}/a`, "a");
    Deno.writeTextFileSync(`${dir}/b`, "b".repeat(20000)); // larger than the initial buffer
    equal(kept.read(`${dir}/a`), "a");
    equal(kept.read(`${dir}/b`), "b".repeat(20000)); // read, but over the cap: not kept
    equal(kept.size, 2);
    kept.forget(dir);
    equal(kept.size, 0);
    equal(kept.read(f), "22222\n");
    kept.forget(`${dir}/other`);
    equal(kept.size, 1);
    throws(
      () => kept.read(dir),
      (e: unknown) => e instanceof CgroupReadError && e.problem === "unreadable",
    );
  } finally {
    kept.close();
    equal(kept.size, 0);
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("readers with a skip callback: a wanted key with no line is skipped, counted once", () => {
  // A garbled key ("an\0on") reads as a good line of another key: the value it held is lost,
  // and that must be counted like any skipped line, but not twice when its line was skipped.
  const dir = Deno.makeTempDirSync({ prefix: "osprey-cgroups-" });
  const put = (name: string, text: string) => Deno.writeTextFileSync(`${dir}/${name}`, text);
  const skipped: string[] = [];
  const skip = (e: FileFormatError) => skipped.push(`${e.file.slice(dir.length + 1)}:${e.line}`);
  try {
    put("memory.stat", "an\0on 4096\nfile 8192000\nfile_mapped 2445312\n");
    deepEqual(readMemory({ v2: dir }, directFiles, skip), { cacheBytes: 8192000 });
    deepEqual(skipped, ["memory.stat:0"]);
    put("memory.stat", "anon 1x\nfile 8192000\nfile_mapped 2445312\n");
    deepEqual(readMemory({ v2: dir }, directFiles, skip), { cacheBytes: 8192000 });
    deepEqual(skipped, ["memory.stat:0", "memory.stat:1"]);
    put("cpu.stat", "usage\0usec 813456\nthrottled_usec 1843210\n");
    deepEqual(readCpu({ v2: dir }, directFiles, skip), { throttledSeconds: 1.84321 });
    deepEqual(skipped, ["memory.stat:0", "memory.stat:1", "cpu.stat:0"]);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("readCpu() with a skip callback: a skipped throttling line is unknown, not 0", () => {
  // The contract's 0 is for a cgroup without the counter; a garbled line must not reset it.
  const dir = Deno.makeTempDirSync({ prefix: "osprey-cgroups-" });
  const put = (name: string, text: string) => Deno.writeTextFileSync(`${dir}/${name}`, text);
  const skip = () => {};
  try {
    put("cpuacct.usage", "344414596\n");
    put("cpu.stat", "nr_periods 10\nnr_throttled 3\nthrottled_time 2807x\n");
    deepEqual(readCpu({ cpuacct: dir, cpu: dir }, directFiles, skip), {
      usageSeconds: 0.344414596,
      throttledUnreadable: true,
    });
    put("cpu.stat", "nr_periods 10\nnr_throttled 3\n"); // no counter: the contract's 0
    deepEqual(readCpu({ cpuacct: dir, cpu: dir }, directFiles, skip), {
      usageSeconds: 0.344414596,
    });
    put("cpu.stat", "usage_usec 813456\nthrottled_usec 18x\n");
    deepEqual(readCpu({ v2: dir }, directFiles, skip), {
      usageSeconds: 0.813456,
      throttledUnreadable: true,
    });
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("readers with a skip callback: an odd line costs the values it holds, not the group", () => {
  const dir = Deno.makeTempDirSync({ prefix: "osprey-cgroups-" });
  const put = (name: string, text: string) => Deno.writeTextFileSync(`${dir}/${name}`, text);
  const skipped: string[] = [];
  const skip = (e: FileFormatError) => skipped.push(`${e.file.slice(dir.length + 1)}:${e.line}`);
  try {
    // v1: cpuacct.usage garbled; cpu.stat and the quota fine.
    put("cpuacct.usage", "3444x\n");
    put("cpu.stat", "nr_periods 10\nnr_throttled 3\nthrottled_time 280793964\n");
    put("cpu.cfs_quota_us", "50000\n");
    put("cpu.cfs_period_us", "100000\n");
    deepEqual(readCpu({ cpuacct: dir, cpu: dir }, directFiles, skip), {
      throttledSeconds: 0.280793964,
      limitCores: 0.5,
    });
    put("cpuacct.usage", "344414596\n");
    put("cpu.cfs_quota_us", "5e4\n");
    deepEqual(readCpu({ cpuacct: dir, cpu: dir }, directFiles, skip), {
      usageSeconds: 0.344414596,
      throttledSeconds: 0.280793964,
    });
    // v2: cpu.stat's usage line garbled; cpu.max fine.
    put("cpu.stat", "usage_usec 81x3456\nthrottled_usec 1843210\n");
    put("cpu.max", "150000 100000\n");
    deepEqual(readCpu({ v2: dir }, directFiles, skip), {
      throttledSeconds: 1.84321,
      limitCores: 1.5,
    });
    // v2 memory: the anon line garbled costs RSS; cache and limit stay.
    put("memory.stat", "anon 1x\nfile 8192000\nfile_mapped 2445312\n");
    put("memory.max", "536870912\n");
    deepEqual(readMemory({ v2: dir }, directFiles, skip), {
      cacheBytes: 8192000,
      limitBytes: 536870912,
    });
    // PSI: memory's full line garbled.
    put("cpu.pressure", "some avg10=0.00 total=1000000\nfull avg10=0.00 total=2000000\n");
    put("memory.pressure", "some avg10=0.00 total=3000000\nfull avg10=0.00 total=\n");
    put("io.pressure", "some avg10=0.00 total=5000000\nfull avg10=0.00 total=6000000\n");
    deepEqual(readPsi({ v2: dir }, directFiles, skip), {
      cpu: { some: 1, full: 2 },
      memory: { some: 3, full: undefined },
      io: { some: 5, full: 6 },
    });
    // v1 blkio: a device whose Read line is garbled in one file is left out.
    put("blkio.throttle.io_serviced", "8:0 Read 1\n8:0 Write 2\n8:16 Read 3\n8:16 Write 4\n");
    put(
      "blkio.throttle.io_service_bytes",
      "8:0 Read 10\n8:0 Write 20\n8:16 Rea 30\n8:16 Write 40\nTotal 100\n",
    );
    deepEqual(readIo({ blkio: dir }, directFiles, skip), [
      { device: "8:0", reads: 1, writes: 2, readBytes: 10, writtenBytes: 20 },
    ]);
    deepEqual(skipped, [
      "cpuacct.usage:1",
      "cpu.cfs_quota_us:1",
      "cpu.stat:1",
      "memory.stat:1",
      "memory.pressure:2",
    ]);
    // A file with no readable line still fails its group.
    put("memory.stat", "anon x\n");
    throws(
      () => readMemory({ v2: dir }, directFiles, skip),
      (e: unknown) => e instanceof CgroupReadError && e.problem === "format",
    );
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});
