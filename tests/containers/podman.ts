/**
 * Podman helpers for the real-container tests and the container benchmark: every command gets
 * this machine's settings (`containers.conf` next to this file: runc, cgroupfs, ulimits), test
 * containers get unique `osprey-t-` names and are removed with `podman rm -f`, and a
 * container's own cgroup counters can be read directly for comparison with the agent.
 *
 * Reads under /proc and /sys need Deno's --allow-all (`deno test -A`).
 *
 * @module
 */

const HERE = new URL(".", import.meta.url).pathname.replace(/\/$/, "");

/** The containers.conf every podman command here uses. */
export const CONTAINERS_CONF: string = `${HERE}/containers.conf`;

/** Prefix of every container the tests and benchmark create. */
export const NAME_PREFIX = "osprey-t-";

/** The result of one podman command. */
export interface PodmanResult {
  code: number;
  stdout: string;
  stderr: string;
}

const decoder = new TextDecoder();

// conmon, which podman leaves behind to watch each container, writes an empty "oom" file into
// its working directory when the container is OOM-killed: run podman from a scratch directory,
// not the checkout.
let scratch: string | undefined;
function scratchDir(): string {
  return scratch ??= Deno.makeTempDirSync({ prefix: "osprey-podman-cwd-" });
}

/** Runs `podman <args>` with the test containers.conf; never throws on a non-zero exit. */
export async function podmanRaw(args: string[]): Promise<PodmanResult> {
  const out = await new Deno.Command("podman", {
    args,
    cwd: scratchDir(),
    env: { CONTAINERS_CONF },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  return { code: out.code, stdout: decoder.decode(out.stdout), stderr: decoder.decode(out.stderr) };
}

/** Runs `podman <args>`; throws with stderr on a non-zero exit; returns trimmed stdout. */
export async function podman(args: string[]): Promise<string> {
  const r = await podmanRaw(args);
  if (r.code !== 0) {
    throw new Error(`podman ${args.join(" ")} exited ${r.code}: ${r.stderr.trim()}`);
  }
  return r.stdout.trim();
}

/** Why podman tests cannot run here ("" when they can). */
export function podmanIgnoreReason(): string {
  if (Deno.build.os !== "linux") return "not Linux";
  if (Deno.uid() !== 0) return "not root (rootful podman with cgroupfs needs root)";
  try {
    const r = new Deno.Command("podman", { args: ["--version"], stdout: "null", stderr: "null" })
      .outputSync();
    if (r.code !== 0) return "podman --version failed";
  } catch {
    return "podman not installed (apt-get install podman runc busybox-static)";
  }
  try {
    const r = new Deno.Command("runc", { args: ["--version"], stdout: "null", stderr: "null" })
      .outputSync();
    if (r.code !== 0) return "runc --version failed";
  } catch {
    return "runc not installed (apt-get install runc)";
  }
  return "";
}

let counter = 0;
/** A container name unique to this process and call: `osprey-t-<label>-<pid>-<n>`. */
export function uniqueName(label: string): string {
  counter++;
  return `${NAME_PREFIX}${label}-${Deno.pid}-${counter}`;
}

/** Options for {@linkcode runContainer}. */
export interface RunOptions {
  name: string;
  image: string;
  /** Command and arguments run in the container. */
  cmd: string[];
  /** `--memory`, e.g. "20m". */
  memory?: string;
  /** `--memory-swap`, e.g. "20m" (equal to memory: no swap). */
  memorySwap?: string;
  /** Extra `podman run` arguments before the image. */
  extra?: string[];
}

/**
 * `podman run -d` with no network (faster, and nothing here needs one) and the conf's runtime,
 * cgroup manager and ulimits. Returns the 64-hex container id.
 */
export async function runContainer(o: RunOptions): Promise<string> {
  const args = ["run", "-d", "--name", o.name, "--network", "none"];
  if (o.memory) args.push("--memory", o.memory);
  if (o.memorySwap) args.push("--memory-swap", o.memorySwap);
  args.push(...(o.extra ?? []), o.image, ...o.cmd);
  return await podman(args);
}

/** Removes containers at once, whatever their state (`podman rm -f -t 0`); never throws. */
export async function removeContainers(names: string[]): Promise<void> {
  if (names.length === 0) return;
  const r = await podmanRaw(["rm", "-f", "-t", "0", "--ignore", ...names]);
  if (r.code !== 0) console.error(`podman rm -f failed (${r.code}): ${r.stderr.trim()}`);
}

/** Removes every container whose name starts with {@linkcode NAME_PREFIX} (leftovers). */
export async function removeAllTestContainers(): Promise<number> {
  const out = await podman(["ps", "-a", "--format", "{{.Names}}"]);
  const names = out.split("\n").filter((n) => n.startsWith(NAME_PREFIX));
  await removeContainers(names);
  return names.length;
}

/**
 * Containers created through a scope are removed by {@linkcode ContainerScope.cleanup}, which
 * tests call in `finally`.
 */
export class ContainerScope {
  readonly names: string[] = [];

  /** A new unique name that cleanup will remove. */
  name(label: string): string {
    const n = uniqueName(label);
    this.names.push(n);
    return n;
  }

  /** Runs a container with a fresh unique name; returns the name. */
  async run(label: string, o: Omit<RunOptions, "name">): Promise<string> {
    const name = this.name(label);
    await runContainer({ ...o, name });
    return name;
  }

  async cleanup(): Promise<void> {
    await removeContainers(this.names);
  }
}

/** The state fields of `podman inspect` the tests use. */
export interface ContainerState {
  id: string;
  status: string;
  running: boolean;
  pid: number;
  exitCode: number;
  oomKilled: boolean;
  restartCount: number;
}

/** `podman inspect` of one container. */
export async function inspect(name: string): Promise<ContainerState> {
  const [j] = JSON.parse(await podman(["inspect", "--type", "container", name]));
  return {
    id: j.Id,
    status: j.State.Status,
    running: j.State.Running,
    pid: j.State.Pid,
    exitCode: j.State.ExitCode,
    oomKilled: j.State.OOMKilled,
    restartCount: j.RestartCount ?? 0,
  };
}

/** The host pid of the container's main process; throws unless it is running. */
export async function containerPid(name: string): Promise<number> {
  const s = await inspect(name);
  if (!s.running || s.pid <= 0) throw new Error(`container ${name} is not running (${s.status})`);
  return s.pid;
}

/** Mount points of cgroup hierarchies: controller (or "name=systemd", "" for v2) → path. */
export function cgroupMounts(): Map<string, string> {
  const mounts = new Map<string, string>();
  for (const line of Deno.readTextFileSync("/proc/self/mountinfo").split("\n")) {
    const sep = line.indexOf(" - ");
    if (sep < 0) continue;
    const [fstype, , superOpts] = line.slice(sep + 3).split(" ");
    const mountPoint = line.split(" ")[4];
    if (fstype === "cgroup2") {
      if (!mounts.has("")) mounts.set("", mountPoint);
    } else if (fstype === "cgroup") {
      for (const opt of superOpts.split(",")) {
        if (["rw", "ro"].includes(opt) || opt.startsWith("release_agent")) continue;
        if (!mounts.has(opt)) mounts.set(opt, mountPoint);
      }
    }
  }
  return mounts;
}

/** controller → path from `/proc/<pid>/cgroup` ("" for the v2 line). */
export function procCgroups(pid: number): Map<string, string> {
  const paths = new Map<string, string>();
  for (const line of Deno.readTextFileSync(`/proc/${pid}/cgroup`).split("\n")) {
    const m = line.match(/^\d+:([^:]*):(.*)$/);
    if (!m) continue;
    if (m[1] === "") paths.set("", m[2]);
    else for (const c of m[1].split(",")) paths.set(c, m[2]);
  }
  return paths;
}

/** The directory of a process's cgroup for a v1 controller, or for v2 with controller "". */
export function cgroupDir(pid: number, controller: string): string {
  const mount = cgroupMounts().get(controller);
  const path = procCgroups(pid).get(controller);
  if (mount === undefined || path === undefined) {
    throw new Error(`no ${controller || "v2"} cgroup for pid ${pid}`);
  }
  return `${mount}${path}`.replace(/\/$/, "");
}

/**
 * A process's cgroup CPU counter in seconds, the way the contract defines the metric: v1
 * `cpuacct.usage` ÷ 1e9 when the cpuacct controller is mounted (this hybrid host), else v2
 * `cpu.stat usage_usec` ÷ 1e6. Also returns the file it read.
 */
export function makeCpuReader(pid: number): { file: string; read(): number } {
  if (cgroupMounts().has("cpuacct") && procCgroups(pid).has("cpuacct")) {
    const file = `${cgroupDir(pid, "cpuacct")}/cpuacct.usage`;
    return { file, read: () => Number(Deno.readTextFileSync(file).trim()) / 1e9 };
  }
  const file = `${cgroupDir(pid, "")}/cpu.stat`;
  return {
    file,
    read() {
      const m = Deno.readTextFileSync(file).match(/^usage_usec (\d+)$/m);
      if (!m) throw new Error(`no usage_usec in ${file}`);
      return Number(m[1]) / 1e6;
    },
  };
}

/** Creates `path` inside a running container's root filesystem from the host. */
export async function touchInContainer(name: string, path: string): Promise<void> {
  const pid = await containerPid(name);
  await Deno.writeTextFile(`/proc/${pid}/root${path}`, "");
}

/** Runs `fn` over `items` with at most `limit` running at once; results in input order. */
export async function mapLimit<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i], i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}
