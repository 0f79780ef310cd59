/**
 * A containerd daemon of the test's own (Debian's `containerd` 1.6 with `runc`): its own root,
 * state directory and socket under a temporary directory, the CRI plugin off (no CNI here), so
 * it never meets a containerd the machine may run. `ctr` talks to it.
 *
 * @module
 */

/** `ctr` or containerd failed; the message carries their output. */
export class ContainerdError extends Error {
  override name = "ContainerdError";
}

/** What `ctr` printed. */
export interface CtrResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** A running containerd; {@linkcode stop} ends it and removes its directories. */
export class Containerd {
  /** Directory holding root/, state/ and the socket. */
  readonly dir: string;
  /** Its state directory: bundles live in `<state>/io.containerd.runtime.v2.task/<ns>/<id>/`. */
  readonly state: string;
  readonly socket: string;
  #child: Deno.ChildProcess;
  #log: string;

  private constructor(dir: string, child: Deno.ChildProcess) {
    this.dir = dir;
    this.state = `${dir}/state`;
    this.socket = `${dir}/containerd.sock`;
    this.#child = child;
    this.#log = `${dir}/containerd.log`;
  }

  /**
   * Start a containerd and wait until `ctr version` answers (at most 20 s).
   *
   * @throws ContainerdError when it does not answer; the message has its log
   */
  static async start(): Promise<Containerd> {
    // The root holds overlay snapshots: on disk, not on a tmpfs.
    const dir = await Deno.makeTempDir({ dir: "/var/tmp", prefix: "osprey-containerd-" });
    await Deno.writeTextFile(
      `${dir}/config.toml`,
      [
        "version = 2",
        `root = "${dir}/root"`,
        `state = "${dir}/state"`,
        `disabled_plugins = ["io.containerd.grpc.v1.cri"]`,
        "[grpc]",
        `  address = "${dir}/containerd.sock"`,
        "[ttrpc]",
        `  address = "${dir}/containerd.sock.ttrpc"`,
        "[debug]",
        `  address = "${dir}/debug.sock"`,
        '[plugins."io.containerd.internal.v1.opt"]',
        `  path = "${dir}/opt"`,
        "",
      ].join("\n"),
    );
    const log = await Deno.open(`${dir}/containerd.log`, { write: true, create: true });
    const child = new Deno.Command("containerd", {
      args: ["--config", `${dir}/config.toml`],
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).spawn();
    child.stderr.pipeTo(log.writable).catch(() => {});
    const c = new Containerd(dir, child);
    for (let i = 0; i < 80; i++) {
      if ((await c.ctrRaw(["version"])).code === 0) return c;
      await new Promise((r) => setTimeout(r, 250));
    }
    const text = await c.log();
    await c.stop();
    throw new ContainerdError(`containerd did not answer on ${c.socket}:\n${text}`);
  }

  /** The daemon's log so far (last 4000 characters). */
  async log(): Promise<string> {
    try {
      return (await Deno.readTextFile(this.#log)).slice(-4000);
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) return "";
      throw e;
    }
  }

  /** `ctr --address <socket> <args>`, whatever its exit code. */
  async ctrRaw(args: string[]): Promise<CtrResult> {
    const r = await new Deno.Command("ctr", {
      args: ["--address", this.socket, ...args],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
    const dec = new TextDecoder();
    return { code: r.code, stdout: dec.decode(r.stdout), stderr: dec.decode(r.stderr) };
  }

  /**
   * `ctr` that must succeed.
   *
   * @throws ContainerdError with ctr's stderr otherwise
   */
  async ctr(args: string[]): Promise<string> {
    const r = await this.ctrRaw(args);
    if (r.code !== 0) {
      throw new ContainerdError(`ctr ${args.join(" ")} exited ${r.code}: ${r.stderr.trim()}`);
    }
    return r.stdout;
  }

  /** The argv of `ctr` for a long-running child the caller spawns itself. */
  ctrArgv(args: string[]): string[] {
    return ["ctr", "--address", this.socket, ...args];
  }

  /**
   * Kill every task, remove every container of the given namespaces, stop the daemon (SIGTERM,
   * then SIGKILL after 10 s) and remove its directories. Never throws.
   */
  async stop(namespaces: readonly string[] = []): Promise<void> {
    for (const ns of namespaces) {
      const tasks = (await this.ctrRaw(["-n", ns, "tasks", "ls", "-q"])).stdout.split("\n");
      for (const id of tasks.filter(Boolean)) {
        await this.ctrRaw(["-n", ns, "tasks", "kill", "-s", "SIGKILL", id]);
        for (let i = 0; i < 20; i++) {
          const st = await this.ctrRaw(["-n", ns, "tasks", "delete", id]);
          if (st.code === 0) break;
          await new Promise((r) => setTimeout(r, 250));
        }
      }
      const containers = (await this.ctrRaw(["-n", ns, "containers", "ls", "-q"])).stdout;
      for (const id of containers.split("\n").filter(Boolean)) {
        await this.ctrRaw(["-n", ns, "containers", "delete", id]);
      }
    }
    try {
      this.#child.kill("SIGTERM");
    } catch { /* gone */ }
    const timer = setTimeout(() => {
      try {
        this.#child.kill("SIGKILL");
      } catch { /* gone */ }
    }, 10_000);
    await this.#child.status;
    clearTimeout(timer);
    // Snapshots may still be mounted if a task was left behind: unmount before removing.
    await new Deno.Command("sh", {
      args: [
        "-c",
        `grep -o ' ${this.dir}/[^ ]*' /proc/self/mountinfo | sort -r | xargs -r -n1 umount -l`,
      ],
      stdout: "null",
      stderr: "null",
    }).output();
    await Deno.remove(this.dir, { recursive: true }).catch(() => {});
  }
}
