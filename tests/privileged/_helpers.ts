/**
 * Helpers for tests that load BPF programs: they need root (CAP_BPF and
 * friends) and the built libosprey. CI runs as root, so they run there.
 *
 * @module
 */

import {
  decodeProcEvent,
  defaultLibraryPath,
  forEachFrame,
  type ProcEvent,
  type RingBuffer,
} from "../../ffi/mod.ts";

/** Why privileged tests cannot run here ("" when they can). */
export function privilegedIgnoreReason(): string {
  if (Deno.build.os !== "linux") return "not Linux";
  if (Deno.uid() !== 0) return "not root (BPF needs CAP_BPF, CAP_PERFMON, CAP_SYS_ADMIN)";
  const lib = defaultLibraryPath();
  try {
    if (!lib || !Deno.statSync(lib).isFile) throw new Error();
  } catch {
    return "libosprey not built (run: deno task build)";
  }
  return "";
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Decodes every record of a ring in the background until stopped. */
export class EventCollector {
  readonly events: ProcEvent[] = [];
  #abort = new AbortController();
  #loop: Promise<void>;

  constructor(ring: RingBuffer) {
    this.#loop = (async () => {
      for await (const batch of ring.batches({ signal: this.#abort.signal, timeoutMs: 50 })) {
        forEachFrame(batch, (off) => this.events.push(decodeProcEvent(batch, off)));
      }
    })();
  }

  /** Wait until an event matches, or throw after timeoutMs. */
  async waitFor(match: (e: ProcEvent) => boolean, timeoutMs = 5000): Promise<ProcEvent> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.events.find(match);
      if (found) return found;
      if (Date.now() > deadline) throw new Error(`No matching event within ${timeoutMs} ms`);
      await sleep(20);
    }
  }

  async stop(): Promise<void> {
    this.#abort.abort();
    await this.#loop;
  }
}

/** BPF program ids referenced by this process's fds (programs and links). */
export function ownedProgramIds(): Set<number> {
  const ids = new Set<number>();
  for (const entry of Deno.readDirSync("/proc/self/fdinfo")) {
    let text: string;
    try {
      text = Deno.readTextFileSync(`/proc/self/fdinfo/${entry.name}`);
    } catch {
      continue; // fd closed meanwhile
    }
    const m = text.match(/^prog_id:\s*(\d+)$/m);
    if (m) ids.add(Number(m[1]));
  }
  return ids;
}

/** One program as `bpftool prog show -j` lists it. */
export interface BpftoolProg {
  id: number;
  name?: string;
  type: string;
  pids?: Array<{ pid: number; comm: string }>;
}

export async function bpftoolProgs(): Promise<BpftoolProg[]> {
  const out = await new Deno.Command("bpftool", { args: ["prog", "show", "-j"] }).output();
  if (!out.success) throw new Error(`bpftool failed: ${new TextDecoder().decode(out.stderr)}`);
  return JSON.parse(new TextDecoder().decode(out.stdout));
}

/**
 * `osp_*` programs this process owns: by fd (from /proc/self/fdinfo, which
 * works with any bpftool) or, where bpftool lists owners, by pid.
 */
export async function ownedOspPrograms(): Promise<BpftoolProg[]> {
  const ids = ownedProgramIds();
  return (await bpftoolProgs()).filter((p) =>
    p.name?.startsWith("osp_") &&
    (ids.has(p.id) || (p.pids ?? []).some((o) => o.pid === Deno.pid))
  );
}

/** A memory-limited cgroup this test created, v1 or v2 as the host has. */
export interface MemoryCgroup {
  /** "v1" (memory controller hierarchy) or "v2" (unified). */
  version: "v1" | "v2";
  path: string;
  /** Write a pid here to move it in. */
  procs: string;
  remove(): Promise<void>;
}

function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}

/**
 * Create a cgroup with a memory limit and no swap. Picks the v1 memory
 * controller when mounted (hybrid hosts such as this CI), else cgroup v2.
 */
export function createMemoryCgroup(limitBytes: number, root = "/sys/fs/cgroup"): MemoryCgroup {
  const name = `osprey-test-${crypto.randomUUID().slice(0, 8)}`;
  const v1 = `${root}/memory`;
  let version: "v1" | "v2";
  let path: string;
  if (exists(`${v1}/memory.limit_in_bytes`)) {
    version = "v1";
    path = `${v1}/${name}`;
    Deno.mkdirSync(path);
    Deno.writeTextFileSync(`${path}/memory.limit_in_bytes`, String(limitBytes));
    if (exists(`${path}/memory.memsw.limit_in_bytes`)) {
      Deno.writeTextFileSync(`${path}/memory.memsw.limit_in_bytes`, String(limitBytes));
    }
    if (exists(`${path}/memory.swappiness`)) {
      Deno.writeTextFileSync(`${path}/memory.swappiness`, "0");
    }
  } else if (exists(`${root}/cgroup.controllers`)) {
    version = "v2";
    if (!Deno.readTextFileSync(`${root}/cgroup.controllers`).split(/\s+/).includes("memory")) {
      throw new Error(`Cannot create a memory cgroup: "${root}" has no memory controller`);
    }
    Deno.writeTextFileSync(`${root}/cgroup.subtree_control`, "+memory");
    path = `${root}/${name}`;
    Deno.mkdirSync(path);
    Deno.writeTextFileSync(`${path}/memory.max`, String(limitBytes));
    if (exists(`${path}/memory.swap.max`)) Deno.writeTextFileSync(`${path}/memory.swap.max`, "0");
  } else {
    throw new Error(
      `Cannot create a memory cgroup: no v1 memory controller or v2 root at "${root}"`,
    );
  }
  return {
    version,
    path,
    procs: `${path}/cgroup.procs`,
    async remove() {
      // the killed task may linger as a zombie for a moment
      for (let i = 0;; i++) {
        try {
          Deno.removeSync(path);
          return;
        } catch (err) {
          if (err instanceof Deno.errors.NotFound) return;
          if (i >= 50) throw err;
          await sleep(100);
        }
      }
    },
  };
}
