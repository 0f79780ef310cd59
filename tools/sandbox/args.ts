/**
 * Turns a Deno permission set (deno.json `permissions.<name>`) into the arguments of the
 * Landlock launcher `ffi/.output/osprey-sandbox` (README, "Security model"), so the kernel
 * enforces the same file and TCP grants Deno checks.
 *
 * - every `read` path becomes a read-only rule (`--ro`: read files, list directories);
 * - the Deno binary, the checkout (the agent's code, node_modules, libosprey) and DENO_DIR
 *   (the npm and module caches) become read+execute rules (`--rx`), as do the shared
 *   libraries Deno and libosprey load. DENO_DIR stays read-only: Deno runs from a warm cache
 *   and without writing its code cache (a writable cache would let the agent change code a
 *   later run executes). Only the set's `write` paths and /dev/null are writable;
 * - TCP: the agent may bind only its listen port; it may connect only to the ports of the
 *   cloud metadata services (80 and 443), of its `--*-endpoint` flags and of
 *   `--cloud-metadata-base-url`.
 *
 * - Deno's own net grant narrowed the same way ({@link narrowedNet}): loopback only on the listen
 *   address, not on every port.
 * - push mode ({@link pushGrants}): with a metrics endpoint the listen address is
 *   127.0.0.1:10300 (as the agent forces it), `--wal-dir` is writable (Deno and Landlock),
 *   `--ca-file` readable, and `--insecure-skip-verify` becomes Deno's
 *   `--unsafely-ignore-certificate-errors=<the endpoints' hosts>`.
 *
 * The CLI prints Deno's flags (`--allow-net=...`, and in push mode `--allow-write`,
 * `--allow-read`, `--unsafely-ignore-certificate-errors`) and the launcher's arguments, one a
 * line, for tools/sandbox/start.sh (Deno's start with `--allow-` or `--unsafely-`).
 *
 * @module
 */

/** Files and directories every Deno process reads whatever its permission set. */
export const RUNTIME_READ: readonly string[] = [
  "/etc/ld.so.cache", // the dynamic loader's library index
  "/etc/resolv.conf", // name resolution of a metadata host (IBM)
  "/etc/hosts",
  "/etc/nsswitch.conf",
  "/etc/localtime",
  "/etc/ssl/certs", // CA certificates for an https metadata service (and their link targets)
  "/usr/share/ca-certificates",
  "/dev/urandom",
  "/sys/kernel/btf/vmlinux", // libbpf's CO-RE relocations read the kernel's BTF
  "/sys/devices/system/cpu/possible", // libbpf sizes per-CPU maps from it
  "/sys/devices/system/cpu/online",
  // libbpf reads events/<category>/<name>/id to attach the logs and l7 objects' syscall
  // tracepoints; tracefs is at one or the other (the launcher skips the one that is missing)
  "/sys/kernel/tracing",
  "/sys/kernel/debug/tracing",
  // The launcher opens /proc/self, which is /proc/<its pid>, and the pid stays the agent's
  // across execve: Deno's memory usage (statm), cgroup and maps reads of itself.
  "/proc/self",
  "/proc/meminfo",
  "/proc/sys/kernel/osrelease",
  "/proc/sys/kernel/unprivileged_bpf_disabled", // libosprey's kernel support probe
  "/proc/sys/net/netfilter/nf_conntrack_events", // the NAT module's conntrack probe
];

/** Directories whose shared libraries Deno and libosprey map executable. */
export const RUNTIME_EXEC: readonly string[] = ["/lib", "/lib64", "/usr/lib", "/usr/lib64"];

/** Files every Deno process writes (opening /dev/null for the children's stdio). */
export const RUNTIME_WRITE: readonly string[] = ["/dev/null"];

/** What {@link launcherArgs} needs beyond the permission set. */
export interface SandboxInputs {
  /** `permissions.<name>.read` (absolute paths, or relative to `repo`). */
  readonly read: readonly string[];
  /** `permissions.<name>.write`. */
  readonly write: readonly string[];
  /** Absolute path of the Deno binary (`Deno.execPath()`). */
  readonly denoBin: string;
  /** DENO_DIR (the caches); undefined when not known. */
  readonly denoDir?: string;
  /** The checkout: the agent's code, node_modules and ffi/.output (none: no such rule). */
  readonly repo: string | undefined;
  /** The TCP port the agent listens on. */
  readonly listenPort: number;
  /** TCP ports the agent connects to. */
  readonly connectPorts: readonly number[];
}

function absolute(repo: string | undefined, p: string): string {
  if (p.startsWith("/")) return p;
  if (repo === undefined) throw new SandboxArgsError(`relative path ${p} without a code directory`);
  return `${repo.replace(/\/$/, "")}/${p.replace(/^\.\//, "")}`;
}

/** The launcher's arguments (before its `--`), in a fixed order; duplicates removed. */
export function launcherArgs(i: SandboxInputs): string[] {
  const out: string[] = [];
  const seen = new Set<string>();
  const add = (a: string) => {
    if (!seen.has(a)) {
      seen.add(a);
      out.push(a);
    }
  };
  for (const p of i.read) add(`--ro=${absolute(i.repo, p)}`);
  for (const p of RUNTIME_READ) add(`--ro=${p}`);
  add(`--rx=${i.denoBin}`);
  if (i.repo !== undefined) add(`--rx=${i.repo}`);
  for (const p of RUNTIME_EXEC) add(`--rx=${p}`);
  if (i.denoDir !== undefined) add(`--rx=${i.denoDir}`);
  for (const p of i.write) add(`--rw=${absolute(i.repo, p)}`);
  for (const p of RUNTIME_WRITE) add(`--rw=${p}`);
  add(`--bind=${i.listenPort}`);
  for (const p of i.connectPorts) add(`--connect=${p}`);
  return out;
}

/** Thrown when the agent's listen address or an endpoint flag cannot be read as a port. */
export class SandboxArgsError extends Error {
  override name = "SandboxArgsError";
}

const ENDPOINT_FLAGS = [
  "collector-endpoint",
  "metrics-endpoint",
  "logs-endpoint",
  "traces-endpoint",
  "profiles-endpoint",
  "cloud-metadata-base-url",
];

/** The address the reference (and the agent) moves `--listen` to when it pushes metrics. */
export const PUSH_LISTEN = "127.0.0.1:10300";

/** The agent's listen address: {@link PUSH_LISTEN} when metrics are pushed, else `--listen`. */
export function agentListen(
  args: readonly string[],
  env: (k: string) => string | undefined,
): string {
  if (pushedMetrics(args, env)) return PUSH_LISTEN;
  return flagValue(args, env, "listen") ?? "0.0.0.0:80";
}

function pushedMetrics(args: readonly string[], env: (k: string) => string | undefined): boolean {
  return (flagValue(args, env, "metrics-endpoint") ?? "") !== "" ||
    (flagValue(args, env, "collector-endpoint") ?? "") !== "";
}

const GO_TRUE = new Set(["1", "t", "T", "true", "TRUE", "True"]);

function boolFlag(args: readonly string[], env: (k: string) => string | undefined, name: string) {
  for (let k = args.length - 1; k >= 0; k--) {
    const a = args[k];
    if (a === `--${name}`) return true;
    if (a === `--no-${name}`) return false;
    if (a.startsWith(`--${name}=`)) return GO_TRUE.has(a.slice(name.length + 3));
  }
  return GO_TRUE.has(env(name.toUpperCase().replaceAll("-", "_")) ?? "");
}

/** What push mode adds to a start: Deno flags, and paths for the launcher. */
export interface PushGrants {
  /** Deno flags beyond `-P=agent` and the net grant. */
  readonly denoFlags: string[];
  /** Paths the launcher makes writable / readable. */
  readonly write: string[];
  readonly read: string[];
}

/**
 * Push mode's grants from the agent's arguments: with a metrics endpoint (or a collector
 * endpoint), write and read on `--wal-dir` (default /tmp/coroot-node-agent); read on
 * `--ca-file`; with `--insecure-skip-verify`, `--unsafely-ignore-certificate-errors` on the
 * endpoints' host names. `setRead` is the set's read list, repeated in `--allow-read` because an
 * extra `--allow-read` replaces the set's list (Deno 2.9.6).
 */
export function pushGrants(
  setRead: readonly string[],
  args: readonly string[],
  env: (k: string) => string | undefined,
): PushGrants {
  const write: string[] = [];
  const read: string[] = [];
  const denoFlags: string[] = [];
  if (pushedMetrics(args, env)) {
    const wal = flagValue(args, env, "wal-dir") || "/tmp/coroot-node-agent";
    write.push(wal);
    read.push(wal);
  }
  const ca = flagValue(args, env, "ca-file") ?? "";
  if (ca !== "") read.push(ca);
  if (write.length > 0) denoFlags.push(`--allow-write=${write.join(",")}`);
  if (read.length > 0) denoFlags.push(`--allow-read=${[...setRead, ...read].join(",")}`);
  if (boolFlag(args, env, "insecure-skip-verify")) {
    const hosts = new Set<string>();
    for (const name of ENDPOINT_FLAGS) {
      const v = flagValue(args, env, name);
      if (v === undefined || v === "" || name === "cloud-metadata-base-url") continue;
      hosts.add(new URL(v).hostname);
    }
    if (hosts.size > 0) {
      denoFlags.push(`--unsafely-ignore-certificate-errors=${[...hosts].join(",")}`);
    }
  }
  return { denoFlags, write, read };
}

function flagValue(args: readonly string[], env: (k: string) => string | undefined, name: string) {
  for (let k = args.length - 1; k >= 0; k--) {
    const a = args[k];
    if (a.startsWith(`--${name}=`)) return a.slice(name.length + 3);
    if (a === `--${name}` && k + 1 < args.length) return args[k + 1];
  }
  return env(name.toUpperCase().replaceAll("-", "_"));
}

/** Hosts of a net grant that mean "this machine" (any port of them reaches every local server). */
const LOCAL_HOSTS = new Set(["0.0.0.0", "127.0.0.1", "[::]", "[::1]", "localhost"]);

/**
 * Deno's `--allow-net` list for the sandboxed start: the set's `net` list without its loopback
 * and wildcard hosts (granted there on every port), plus exactly the listen address
 * (`host:port`) and the `host:port` of each endpoint flag and `--cloud-metadata-base-url`.
 * Throws {@link SandboxArgsError} as {@link portsFromAgentArgs} does.
 */
export function narrowedNet(
  setNet: readonly string[],
  args: readonly string[],
  env: (k: string) => string | undefined,
): string[] {
  const listen = agentListen(args, env);
  portsFromAgentArgs(args, env); // validates the listen address and the endpoints
  const out = setNet.filter((h) => !LOCAL_HOSTS.has(h));
  const add = (h: string) => {
    if (!out.includes(h)) out.push(h);
  };
  add(listen);
  for (const name of ENDPOINT_FLAGS) {
    const v = flagValue(args, env, name);
    if (v === undefined || v === "") continue;
    const url = new URL(v);
    add(`${url.hostname}:${url.port !== "" ? url.port : url.protocol === "http:" ? 80 : 443}`);
  }
  return out;
}

/**
 * The listen port and the endpoint ports from the agent's arguments and environment (a flag
 * wins over its variable; the default listen address is 0.0.0.0:80). Throws
 * {@link SandboxArgsError} on a listen address without a port or an endpoint that is not a URL.
 */
export function portsFromAgentArgs(
  args: readonly string[],
  env: (k: string) => string | undefined,
): { listenPort: number; connectPorts: number[] } {
  const listen = agentListen(args, env);
  const m = /:(\d{1,5})$/.exec(listen);
  if (m === null || Number(m[1]) > 65535) {
    throw new SandboxArgsError(`--listen=${listen}: no TCP port to grant in the sandbox`);
  }
  const connect = new Set<number>([80, 443]);
  for (const name of ENDPOINT_FLAGS) {
    const v = flagValue(args, env, name);
    if (v === undefined || v === "") continue;
    let url: URL;
    try {
      url = new URL(v);
    } catch (e) {
      throw new SandboxArgsError(`--${name}=${v}: not a URL`, { cause: e });
    }
    connect.add(url.port !== "" ? Number(url.port) : url.protocol === "http:" ? 80 : 443);
  }
  return { listenPort: Number(m[1]), connectPorts: [...connect].sort((a, b) => a - b) };
}

/** What {@linkcode wrapCommand} needs besides the command line. */
export interface WrapInputs {
  /** The launcher binary (`osprey-sandbox`). */
  readonly launcher: string;
  /** The working directory the command runs in (relative paths, `-P` sets from deno.json). */
  readonly cwd: string;
  /** Permission sets by name (deno.json `permissions`), for a `-P=<name>` command. */
  readonly sets?: Readonly<Record<string, Readonly<Record<string, unknown>>>>;
  /** DENO_DIR, read+execute. */
  readonly denoDir?: string;
  readonly env: (k: string) => string | undefined;
}

function dirOf(p: string): string {
  const i = p.lastIndexOf("/");
  return i <= 0 ? "/" : p.slice(0, i);
}

function list(v: unknown): string[] {
  return Array.isArray(v) ? v.map(String) : [];
}

/**
 * The whole command that runs a `deno run` command line under the launcher: the launcher, its
 * rules, `--`, and the Deno command with its net grant narrowed ({@linkcode narrowedNet}; the
 * `--allow-net=` flag replaced, or one added after `-P=<set>`). The rules come from the
 * command's own `--allow-read=`, `--allow-write=` and `--allow-net=` flags, or from the named
 * set of `-P=<name>`; read+execute goes to the Deno binary, the code (the script's directory,
 * or the working directory for a relative script; nothing for a URL such as `data:`), the
 * `--allow-ffi=` library's directory and DENO_DIR; the ports come from the agent's arguments (everything after the script).
 *
 * Flags must be written `--flag=value`. Throws {@linkcode SandboxArgsError} for a command that
 * is not `<deno> run [flags] <script> [args]`, and as {@linkcode portsFromAgentArgs} does.
 */
export function wrapCommand(cmd: readonly string[], i: WrapInputs): string[] {
  if (cmd.length < 3 || cmd[1] !== "run") {
    throw new SandboxArgsError(`expected <deno> run [flags] <script> [args], got ${cmd.join(" ")}`);
  }
  const script = cmd.findIndex((a, k) => k >= 2 && !a.startsWith("-"));
  if (script < 0) throw new SandboxArgsError(`no script in ${cmd.join(" ")}`);
  const flags = cmd.slice(2, script);
  const agentArgs = cmd.slice(script + 1);
  const value = (name: string) => {
    const f = flags.findLast((a) => a.startsWith(`--${name}=`));
    return f === undefined ? undefined : f.slice(name.length + 3).split(",").filter((x) => x);
  };
  const setName = flags.findLast((a) => /^(-P|--permission-set)=/.test(a))?.replace(/^[^=]*=/, "");
  let set: Readonly<Record<string, unknown>> = {};
  if (setName !== undefined) {
    const found = i.sets?.[setName];
    if (found === undefined) throw new SandboxArgsError(`no permission set "${setName}"`);
    set = found;
  }
  const read = value("allow-read") ?? list(set.read);
  const write = value("allow-write") ?? list(set.write);
  const net = value("allow-net") ?? list(set.net);
  const ffi = value("allow-ffi") ?? list(set.ffi);
  // a URL script (data:, https:, ...) has no code directory; a relative one is the working
  // directory's, which must not be "/" (that rule would grant every file)
  const url = /^[a-z][a-z0-9+.-]*:/i.test(cmd[script]);
  if (!url && !cmd[script].startsWith("/") && i.cwd === "/") {
    throw new SandboxArgsError(`relative script ${cmd[script]} in "/": name it absolutely`);
  }
  const code = url ? undefined : cmd[script].startsWith("/") ? dirOf(cmd[script]) : i.cwd;
  const ports = portsFromAgentArgs(agentArgs, i.env);
  const push = pushGrants(read, agentArgs, i.env);
  const rules = launcherArgs({
    read: [...read, ...push.read],
    write: [...write, ...push.write],
    denoBin: cmd[0],
    denoDir: i.denoDir,
    repo: code,
    ...ports,
  });
  for (const f of ffi) {
    const dir = dirOf(absolute(i.cwd, f));
    if (!rules.includes(`--rx=${dir}`)) rules.push(`--rx=${dir}`);
  }
  const newFlags = [...flags];
  // a flag of the command replaced in place, or added after the others (a later --allow-read
  // replaces the set's list in Deno 2.9.6, so push mode's repeats the whole list)
  const put = (name: string, flag: string) => {
    const at = newFlags.findLastIndex((a) => a.startsWith(`--${name}=`));
    if (at >= 0) newFlags[at] = flag;
    else newFlags.push(flag);
  };
  put("allow-net", `--allow-net=${narrowedNet(net, agentArgs, i.env).join(",")}`);
  if (push.write.length > 0) {
    put("allow-write", `--allow-write=${[...write, ...push.write].join(",")}`);
  }
  if (push.read.length > 0) put("allow-read", `--allow-read=${[...read, ...push.read].join(",")}`);
  for (const f of push.denoFlags) {
    if (f.startsWith("--unsafely-ignore-certificate-errors=")) {
      put("unsafely-ignore-certificate-errors", f);
    }
  }
  return [i.launcher, ...rules, "--", cmd[0], "run", ...newFlags, ...cmd.slice(script)];
}

if (import.meta.main) {
  const env = (k: string) => Deno.env.get(k);
  const home = Deno.env.get("HOME");
  const denoDir = Deno.env.get("DENO_DIR") ??
    (home === undefined ? undefined : `${home}/.cache/deno`);
  const launcherFlag = Deno.args.find((a) => a.startsWith("--launcher="));
  if (Deno.args[0] === "--command" || launcherFlag !== undefined) {
    // args.ts --launcher=<path> [--config=<deno.json>] -- <deno> run [flags] <script> [args]:
    // prints the sandboxed command, one argument a line (tools/sandbox/wrap.sh)
    const dash = Deno.args.indexOf("--");
    const config = Deno.args.find((a) => a.startsWith("--config="))?.slice(9);
    const sets = config === undefined
      ? undefined
      : JSON.parse(await Deno.readTextFile(config)).permissions;
    let out: string[];
    try {
      out = wrapCommand(Deno.args.slice(dash + 1), {
        launcher: launcherFlag?.slice(11) ?? "osprey-sandbox",
        cwd: Deno.cwd(),
        sets,
        denoDir,
        env,
      });
    } catch (err) {
      if (!(err instanceof SandboxArgsError)) throw err;
      // a bad --listen or endpoint value: one line and exit 2, as the agent says of bad flags
      console.error(`osprey: ${err.message}`);
      Deno.exit(2);
    }
    console.log(out.join("\n"));
  } else {
    throw new SandboxArgsError(
      "usage: args.ts --launcher=<path> [--config=<deno.json>] -- <deno> run [flags] <script> [args]",
    );
  }
}
