/**
 * Cgroups a test makes by hand in every hierarchy of this host, and a shell that joins them
 * and does some CPU, memory and direct I/O work, for the tests that need a systemd-style cgroup
 * (not a Podman container) or a cgroup name Deno cannot even write (a raw 0xE9 byte).
 *
 * Each cgroup is made below the test's own cgroup in each hierarchy (usually the root; the
 * machinery that runs the tests may hold it in a memory cgroup of its own, which the test's
 * processes stay inside). Names are `printf` formats, so `caf\\351` is the raw byte 0xE9;
 * everything that touches such a name goes through the shell.
 *
 * Needs root and `-A` (reads and writes under /sys/fs/cgroup).
 *
 * @module
 */
import { cgroupMounts, procCgroups } from "./podman.ts";

/** One hierarchy: its mount and the test's own cgroup in it. */
export interface TestHierarchy {
  /** `""` for v2, else the v1 controller list as /proc/self/cgroup writes it. */
  readonly key: string;
  readonly mount: string;
  /** The test's own cgroup path in it (`/` or deeper). */
  readonly own: string;
  /** `mount + own`, without a trailing slash. */
  readonly base: string;
}

/** Every mounted hierarchy the test process is in. */
export function testHierarchies(): TestHierarchy[] {
  const mounts = cgroupMounts();
  const own = procCgroups(Deno.pid);
  const out: TestHierarchy[] = [];
  const seen = new Set<string>();
  for (const line of Deno.readTextFileSync("/proc/self/cgroup").split("\n")) {
    const m = line.match(/^\d+:([^:]*):(.*)$/);
    if (!m) continue;
    const first = m[1].split(",")[0];
    const mount = mounts.get(first);
    if (mount === undefined || seen.has(mount)) continue;
    seen.add(mount);
    const path = own.get(first) ?? "/";
    out.push({ key: m[1], mount, own: path, base: `${mount}${path === "/" ? "" : path}` });
  }
  return out;
}

const decoder = new TextDecoder();

async function sh(script: string, args: string[]): Promise<void> {
  const r = await new Deno.Command("sh", { args: ["-c", script, "sh", ...args] }).output();
  if (r.code !== 0) {
    throw new Error(
      `sh -c ${JSON.stringify(script)} exited ${r.code}: ${decoder.decode(r.stderr)}`,
    );
  }
}

/** A cgroup made in every hierarchy; `remove()` takes it (and parents it made) away. */
export class TestCgroup {
  /** The name as a printf format, below each hierarchy's base (`system.slice/caf\\351.service`). */
  readonly format: string;
  readonly hierarchies: readonly TestHierarchy[];
  readonly #madeParents: string[] = [];

  private constructor(format: string, hierarchies: TestHierarchy[]) {
    this.format = format;
    this.hierarchies = hierarchies;
  }

  /**
   * Makes `<base>/<format>` in every hierarchy. The parent directories (plain UTF-8 names)
   * are made if missing and removed again by {@linkcode remove}; cpuset's cpus and mems are
   * copied from the parent, or no process could join.
   */
  static async create(format: string): Promise<TestCgroup> {
    const cg = new TestCgroup(format, testHierarchies());
    const parts = format.split("/");
    for (const h of cg.hierarchies) {
      let dir = h.base;
      for (const p of parts.slice(0, -1)) {
        dir += `/${p}`;
        try {
          Deno.mkdirSync(dir);
          cg.#madeParents.push(dir);
        } catch (e) {
          if (!(e instanceof Deno.errors.AlreadyExists)) throw e;
        }
        // a new cpuset cgroup starts with no CPUs (so may one an earlier run left): its
        // children would copy that, and no process could join them (EIO)
        for (const k of ["cpuset.cpus", "cpuset.mems"]) {
          try {
            if (Deno.readTextFileSync(`${dir}/${k}`).trim() !== "") continue;
            Deno.writeTextFileSync(`${dir}/${k}`, Deno.readTextFileSync(`${dir}/../${k}`));
          } catch (e) {
            if (!(e instanceof Deno.errors.NotFound)) throw e;
          }
        }
      }
    }
    await sh(
      `f=$1; shift; for b; do d="$b/$(printf "$f")"; mkdir -p "$d"
        if [ -f "$d/cpuset.cpus" ]; then
          cat "$d/../cpuset.cpus" > "$d/cpuset.cpus"; cat "$d/../cpuset.mems" > "$d/cpuset.mems"
        fi
      done`,
      [format, ...cg.hierarchies.map((h) => h.base)],
    );
    return cg;
  }

  /** Shell lines that move the running shell (`$$`) into the cgroup in every hierarchy. */
  joinScript(): string {
    const bases = this.hierarchies.map((h) => `'${h.base.replaceAll("'", "'\\''")}'`).join(" ");
    return `for b in ${bases}; do echo $$ > "$b/$(printf '${this.format}')/cgroup.procs"; done`;
  }

  /** The cgroup's path as the kernel writes it for a hierarchy (bytes as `\\NNN` unescaped). */
  pathIn(h: TestHierarchy): string {
    return `${h.own === "/" ? "" : h.own}/${this.format}`;
  }

  /** Removes the cgroup in every hierarchy (its processes must be gone), then made parents. */
  async remove(): Promise<void> {
    // a cgroup is busy for a moment after its last process exits
    for (let i = 0; i < 50; i++) {
      try {
        await sh(
          `f=$1; shift; for b; do d="$b/$(printf "$f")"; [ ! -d "$d" ] || rmdir "$d"; done`,
          [this.format, ...this.hierarchies.map((h) => h.base)],
        );
        break;
      } catch (e) {
        if (i === 49) throw e;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    for (const dir of this.#madeParents.reverse()) {
      try {
        Deno.removeSync(dir);
      } catch { /* another test's cgroup lives there too: it removes it */ }
    }
  }
}

/** `major:minor` of the whole disk holding `dir` (what blkio and io.stat key their lines by). */
export function diskOf(dir: string): string {
  const dev = BigInt(Deno.statSync(dir).dev);
  const major = Number((dev >> 8n) & 0xfffn | ((dev >> 32n) & ~0xfffn));
  const minor = Number((dev & 0xffn) | ((dev >> 12n) & ~0xffn));
  let id = `${major}:${minor}`;
  try {
    Deno.statSync(`/sys/dev/block/${id}/partition`);
    const real = Deno.realPathSync(`/sys/dev/block/${id}`);
    id = Deno.readTextFileSync(`${real.slice(0, real.lastIndexOf("/"))}/dev`).trim();
  } catch { /* a whole disk */ }
  return id;
}

/** A shell working in a {@linkcode TestCgroup}: it has burnt CPU, holds memory and did I/O. */
export interface CgroupWorker {
  readonly pid: number;
  /** Ends the shell and removes its scratch directory (not the cgroup). */
  stop(): Promise<void>;
}

/**
 * Starts a shell that joins `cg`, then burns a little CPU, holds ~8 MB, reads and writes 256 KiB
 * with direct I/O in a scratch directory, and waits. On v1 blkio a huge throttle rule is set on
 * the scratch disk first: the kernel's v1 throttle counters stay at 0 without one.
 */
export async function startWorker(cg: TestCgroup): Promise<CgroupWorker> {
  const scratch = Deno.makeTempDirSync({ prefix: "osprey-cgwork-", dir: "/var/tmp" });
  const disk = diskOf(scratch);
  const blkio = cg.hierarchies.find((h) => h.key.split(",").includes("blkio"));
  if (blkio !== undefined) {
    await sh(
      `d="$1/$(printf "$2")"
       echo "$3 100000000000" > "$d/blkio.throttle.read_bps_device"
       echo "$3 100000000000" > "$d/blkio.throttle.write_bps_device"`,
      [blkio.base, cg.format, disk],
    );
  }
  const script = `${cg.joinScript()}
x=$(head -c 8000000 /dev/zero | tr '\\0' a)
i=0; while [ $i -lt 50000 ]; do i=$((i+1)); done
dd if=/dev/zero of=${scratch}/f bs=4096 count=64 oflag=direct 2>/dev/null
dd if=${scratch}/f of=/dev/null bs=4096 iflag=direct 2>/dev/null
echo ready
read line
echo \${#x} >/dev/null`;
  const child = new Deno.Command("sh", {
    args: ["-c", script],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const reader = child.stdout.getReader();
  let out = "";
  while (!out.includes("ready")) {
    const { value, done } = await reader.read();
    if (done) {
      const err = decoder.decode((await child.output().catch(() => undefined))?.stderr);
      Deno.removeSync(scratch, { recursive: true });
      throw new Error(`the worker shell exited early: ${out} ${err}`);
    }
    out += decoder.decode(value);
  }
  reader.releaseLock();
  return {
    pid: child.pid,
    async stop() {
      try {
        await child.stdin.close();
      } catch { /* gone */ }
      await child.output().catch(() => undefined);
      Deno.removeSync(scratch, { recursive: true });
    },
  };
}
