/**
 * Against the real kernel (root, v1 or hybrid cgroups): a cgroup made here, a shell in it that
 * burns CPU, holds memory and does direct I/O, then the readers compared with the raw files,
 * exactly after unit conversion. Also times a read round. Ignored without root or cgroup v1.
 */
import { deepEqual, equal } from "node:assert/strict";
import { hostPaths } from "../paths.ts";
import { classifyCgroup } from "./classify.ts";
import { cgroupDirs, type CgroupFs, detectCgroupFs } from "./fs.ts";
import { parseProcCgroup, primaryCgroupPath } from "./proc_cgroup.ts";
import { directFiles, KeptFiles, readCpu, readIo, readMemory, readPsi } from "./read.ts";

function usableFs(): CgroupFs | undefined {
  if (Deno.uid() !== 0) return undefined;
  try {
    const fs = detectCgroupFs(hostPaths().cgroup);
    const v1 = fs.v1Roots;
    return v1.cpu && v1.cpuacct && v1.memory && v1.blkio ? fs : undefined;
  } catch {
    return undefined;
  }
}

const FS = usableFs();

function raw(path: string): string {
  return Deno.readTextFileSync(path);
}

function num(path: string): number {
  return Number(raw(path).trim());
}

function key(path: string, k: string): number {
  for (const line of raw(path).split("\n")) {
    const [name, value] = line.split(" ");
    if (name === k) return Number(value);
  }
  throw new Error(`no ${k} in ${path}`);
}

function blkio(path: string, dev: string, op: string): number {
  for (const line of raw(path).split("\n")) {
    const [d, o, v] = line.split(" ");
    if (d === dev && o === op) return Number(v);
  }
  return 0;
}

/** `major:minor` of the whole disk holding `dir`, from its st_dev. */
function diskOf(dir: string, sys: string): string {
  const dev = Deno.statSync(dir).dev;
  const major = Number((BigInt(dev) >> 8n) & 0xfffn | ((BigInt(dev) >> 32n) & ~0xfffn));
  const minor = Number((BigInt(dev) & 0xffn) | ((BigInt(dev) >> 12n) & ~0xffn));
  let id = `${major}:${minor}`;
  try {
    Deno.statSync(`${sys}/dev/block/${id}/partition`);
    // A partition: its parent directory is the disk.
    const real = Deno.realPathSync(`${sys}/dev/block/${id}`);
    id = raw(`${real.slice(0, real.lastIndexOf("/"))}/dev`).trim();
  } catch { /* a whole disk */ }
  return id;
}

Deno.test({
  name: "real cgroup (v1 controllers): readers equal the raw files; cost of a read round",
  ignore: FS === undefined,
  sanitizeResources: false,
  fn: async () => {
    const fs = FS!;
    const paths = hostPaths();
    const name = `osprey-cgtest-${Deno.pid}`;
    const hierarchies = [
      ...new Set(["cpu", "cpuacct", "memory", "blkio"].map((c) => fs.v1Roots[c])),
    ];
    if (fs.v2Root) hierarchies.push(fs.v2Root);
    const dirs = hierarchies.map((h) => `${h}/${name}`);
    const scratch = Deno.makeTempDirSync({ prefix: "osprey-cgtest-", dir: "/var/tmp" });
    let child: Deno.ChildProcess | undefined;
    try {
      for (const d of dirs) Deno.mkdirSync(d);
      const cpuDir = `${fs.v1Roots.cpu}/${name}`, memDir = `${fs.v1Roots.memory}/${name}`;
      const blkDir = `${fs.v1Roots.blkio}/${name}`;
      Deno.writeTextFileSync(`${cpuDir}/cpu.cfs_period_us`, "100000");
      Deno.writeTextFileSync(`${cpuDir}/cpu.cfs_quota_us`, "50000");
      Deno.writeTextFileSync(`${memDir}/memory.limit_in_bytes`, String(256 << 20));
      const disk = diskOf(scratch, paths.sys);
      let throttled = true;
      try {
        // v1 blkio counts only on devices with a throttle rule; a huge one never slows I/O.
        Deno.writeTextFileSync(`${blkDir}/blkio.throttle.read_bps_device`, `${disk} 100000000000`);
        Deno.writeTextFileSync(`${blkDir}/blkio.throttle.write_bps_device`, `${disk} 100000000000`);
      } catch {
        throttled = false;
      }

      // The shell joins the cgroups itself, then burns CPU, holds ~20 MB, does direct I/O and
      // waits on stdin (in the shell itself, so nothing runs while we compare).
      const script = `for f; do echo $$ > "$f"; done
x=$(head -c 20000000 /dev/zero | tr '\\0' a)
i=0; while [ $i -lt 150000 ]; do i=$((i+1)); done
dd if=/dev/zero of=${scratch}/f bs=4096 count=64 oflag=direct 2>/dev/null
dd if=${scratch}/f of=/dev/null bs=4096 iflag=direct 2>/dev/null
echo ready
read line
echo \${#x} >/dev/null`;
      child = new Deno.Command("sh", {
        args: ["-c", script, "sh", ...dirs.map((d) => `${d}/cgroup.procs`)],
        stdin: "piped",
        stdout: "piped",
        stderr: "inherit",
      }).spawn();
      const reader = child.stdout.getReader();
      let out = "";
      while (!out.includes("ready")) {
        const { value, done } = await reader.read();
        if (done) throw new Error(`child exited early: ${out}`);
        out += new TextDecoder().decode(value);
      }
      reader.releaseLock();

      // From the child's own /proc/<pid>/cgroup to its directories, as the agent does.
      const c = parseProcCgroup(raw(`${paths.proc}/${child.pid}/cgroup`));
      equal(primaryCgroupPath(c), `/${name}`);
      equal(classifyCgroup(`/${name}`).kind, "standalone");
      const d = cgroupDirs(fs, c);
      equal(d.cpu, cpuDir);
      equal(d.memory, memDir);

      const cpuacctDir = `${fs.v1Roots.cpuacct}/${name}`;
      const expectedCpu = () => ({
        usageSeconds: num(`${cpuacctDir}/cpuacct.usage`) / 1e9,
        throttledSeconds: key(`${cpuDir}/cpu.stat`, "throttled_time") / 1e9,
        limitCores: 0.5,
      });
      const expectedMemory = () => ({
        rssBytes: key(`${memDir}/memory.stat`, "total_rss") +
          key(`${memDir}/memory.stat`, "total_mapped_file"),
        cacheBytes: key(`${memDir}/memory.stat`, "total_cache"),
        limitBytes: 256 << 20,
      });
      const kept = new KeptFiles();
      try {
        for (const files of [directFiles, kept, kept]) {
          const cpu = readCpu(d, files);
          deepEqual(cpu, expectedCpu());
          const mem = readMemory(d, files);
          deepEqual(mem, expectedMemory());
          if (cpu.usageSeconds <= 0) throw new Error("no CPU used");
          if (mem.rssBytes < 20_000_000) throw new Error(`rss ${mem.rssBytes} < 20 MB`);
          const io = readIo(d, files);
          const svc = `${blkDir}/blkio.throttle.io_serviced`;
          const bytes = `${blkDir}/blkio.throttle.io_service_bytes`;
          const mine = io.find((s) => s.device === disk);
          if (throttled) {
            deepEqual(mine, {
              device: disk,
              reads: blkio(svc, disk, "Read"),
              writes: blkio(svc, disk, "Write"),
              readBytes: blkio(bytes, disk, "Read"),
              writtenBytes: blkio(bytes, disk, "Write"),
            });
            if ((mine?.writtenBytes ?? 0) < 64 * 4096) throw new Error("direct writes not counted");
          }
          if (fs.v2Root) {
            const psi = readPsi(d, files);
            if (psi) equal(psi.cpu.some! >= 0, true);
          }
        }

        // Cost of one round (CPU + memory + I/O) on this cgroup.
        const round = (files: typeof directFiles) => {
          readCpu(d, files);
          readMemory(d, files);
          readIo(d, files);
        };
        const time = (files: typeof directFiles, n: number) => {
          for (let i = 0; i < 200; i++) round(files); // warm up
          const t0 = performance.now();
          for (let i = 0; i < n; i++) round(files);
          return (performance.now() - t0) * 1000 / n;
        };
        const direct = time(directFiles, 3000);
        const keptUs = time(kept, 3000);
        const psiT0 = performance.now();
        for (let i = 0; i < 3000; i++) readPsi(d, kept);
        const psiUs = (performance.now() - psiT0) * 1000 / 3000;
        console.log(
          `read round (cpu+memory+io, v1, ${kept.size} kept files): ` +
            `direct ${direct.toFixed(1)} µs, kept ${keptUs.toFixed(1)} µs; readPsi kept ${
              psiUs.toFixed(1)
            } µs`,
        );
      } finally {
        kept.close();
      }
    } finally {
      if (child) {
        try {
          child.stdin.close();
        } catch { /* already closed */ }
        await child.status;
      }
      // Remove the cgroups once empty (the shell and its dd children have exited).
      for (const d of dirs.reverse()) {
        for (let i = 0; i < 50; i++) {
          try {
            Deno.removeSync(d);
            break;
          } catch (err) {
            if (err instanceof Deno.errors.NotFound) break;
            await new Promise((r) => setTimeout(r, 20));
          }
        }
      }
      Deno.removeSync(scratch, { recursive: true });
    }
    for (const d of dirs) {
      let gone = false;
      try {
        Deno.statSync(d);
      } catch {
        gone = true;
      }
      equal(gone, true, `${d} left behind`);
    }
  },
});
