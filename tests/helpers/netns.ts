/**
 * Network namespaces for privileged tests and benchmarks: two namespaces
 * joined by a veth pair, with IPv4 and IPv6 addresses (`nodad`, so they are
 * usable at once). Names are `osprey-<label>-<pid>-<n>-{a,b}`; the namespaces
 * (and with them the veth pair) are deleted by `remove()`, which callers run
 * in `finally`. Nothing here routes outside the two namespaces.
 *
 * Needs root and iproute2 (`ip`).
 *
 * @module
 */

const decoder = new TextDecoder();

/** Runs a command; throws with its stderr on a non-zero exit; returns trimmed stdout. */
export async function run(cmd: string, args: string[]): Promise<string> {
  const out = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).output();
  if (out.code !== 0) {
    throw new Error(
      `${cmd} ${args.join(" ")} exited ${out.code}: ${decoder.decode(out.stderr).trim()}`,
    );
  }
  return decoder.decode(out.stdout).trim();
}

/** `ip <args>`. */
export function ip(...args: string[]): Promise<string> {
  return run("ip", args);
}

/** Why namespace tests cannot run here ("" when they can). */
export function netnsIgnoreReason(): string {
  try {
    const r = new Deno.Command("ip", { args: ["-V"], stdout: "null", stderr: "null" })
      .outputSync();
    if (r.code !== 0) return "ip -V failed";
  } catch {
    return "iproute2 not installed (apt-get install iproute2)";
  }
  return "";
}

/** One side of a {@linkcode NetnsPair}. */
export interface NetnsSide {
  /** `ip netns` name. */
  name: string;
  /** The namespace file, `/run/netns/<name>`. */
  path: string;
  /** IPv4 address on the veth end. */
  v4: string;
  /** IPv6 address on the veth end. */
  v6: string;
  /** Runs `ip -n <name> <args>`. */
  ip(...args: string[]): Promise<string>;
  /** Sets a sysctl inside the namespace. */
  sysctl(key: string, value: string): Promise<void>;
}

/** Two namespaces, `a` and `b`, on one veth link. */
export interface NetnsPair {
  a: NetnsSide;
  b: NetnsSide;
  /** Deletes both namespaces; never throws (reports what it could not delete). */
  remove(): Promise<void>;
}

let counter = 0;

function side(name: string, v4: string, v6: string): NetnsSide {
  return {
    name,
    path: `/run/netns/${name}`,
    v4,
    v6,
    ip: (...args) => ip("-n", name, ...args),
    sysctl: async (key, value) => {
      await run("ip", ["netns", "exec", name, "sysctl", "-qw", `${key}=${value}`]);
    },
  };
}

/**
 * Create `osprey-<label>-<pid>-<n>-{a,b}` with a veth pair named veth0 on
 * both sides, lo up on both, `10.201.0.{1,2}/24` and `fd00:201::{1,2}/64`.
 * The subnets exist only inside the two namespaces.
 *
 * @param label the name's second word
 */
export async function createNetnsPair(label = "ping"): Promise<NetnsPair> {
  const base = `osprey-${label}-${Deno.pid}-${++counter}`;
  const a = side(`${base}-a`, "10.201.0.1", "fd00:201::1");
  const b = side(`${base}-b`, "10.201.0.2", "fd00:201::2");
  const pair: NetnsPair = {
    a,
    b,
    async remove() {
      for (const s of [a, b]) {
        try {
          await ip("netns", "delete", s.name);
        } catch (err) {
          if (exists(s.path)) console.error(`Cannot delete namespace ${s.name}: ${err}`);
        }
      }
    },
  };
  try {
    await ip("netns", "add", a.name);
    await ip("netns", "add", b.name);
    // created directly inside the namespaces: no name can clash on the host
    await ip(
      "link",
      "add",
      "veth0",
      "netns",
      a.name,
      "type",
      "veth",
      "peer",
      "name",
      "veth0",
      "netns",
      b.name,
    );
    for (const s of [a, b]) {
      await s.ip("link", "set", "lo", "up");
      await s.ip("addr", "add", `${s.v4}/24`, "dev", "veth0");
      await s.ip("-6", "addr", "add", `${s.v6}/64`, "dev", "veth0", "nodad");
      await s.ip("link", "set", "veth0", "up");
    }
    // Until the kernel's link watcher has seen the carrier (it may wait up to
    // a second), the device drops what is sent: wait for operstate UP.
    for (const s of [a, b]) await waitUp(s);
  } catch (err) {
    await pair.remove();
    throw err;
  }
  return pair;
}

async function waitUp(s: NetnsSide): Promise<void> {
  for (let i = 0; i < 500; i++) {
    if (/ state UP /.test(await s.ip("-o", "link", "show", "veth0"))) return;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error(`veth0 in ${s.name} did not come up within 5 s`);
}

function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}
