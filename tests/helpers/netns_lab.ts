/**
 * Network namespaces for NAT tests (root): a client, a router that DNATs a
 * "VIP" to a backend, and the backend, joined by veth pairs. All traffic
 * stays inside these namespaces; {@linkcode NatLab.remove} deletes them,
 * which takes their veths, routes and NAT rules along.
 *
 * ```
 * client 10.201.N.2 / fd00:201:N::2 ── router ── 10.202.N.2 / fd00:202:N::2 backend
 * VIP 10.209.N.9:80 and [fd00:209:N::9]:80 → backend :8080 (DNAT in the router's PREROUTING)
 * ```
 *
 * @module
 */

const PEER = new URL("./tcp_peer.ts", import.meta.url).pathname;
const DENO = Deno.execPath();
const text = new TextDecoder();

/** Run a command; throw with its stderr when it fails. */
export async function run(cmd: string, ...args: string[]): Promise<string> {
  const out = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).output();
  if (!out.success) {
    throw new Error(`${cmd} ${args.join(" ")} failed: ${text.decode(out.stderr).trim()}`);
  }
  return text.decode(out.stdout);
}

/** Why NAT namespace tests cannot run here ("" when they can). */
export async function natLabIgnoreReason(): Promise<string> {
  for (const tool of ["ip", "iptables", "ip6tables"]) {
    try {
      await run(tool, "-V");
    } catch {
      return `${tool} is missing (apt-get install iproute2 iptables)`;
    }
  }
  return "";
}

/** One connection a {@linkcode HeldConnections} opened: its local end. */
export interface LocalEnd {
  local: string;
  port: number;
}

/** Connections held open by a client process inside a namespace. */
export class HeldConnections {
  readonly ends: LocalEnd[];
  #child: Deno.ChildProcess;

  constructor(child: Deno.ChildProcess, ends: LocalEnd[]) {
    this.#child = child;
    this.ends = ends;
  }

  /** Close them (the client exits when its stdin closes). */
  async close(): Promise<void> {
    try {
      await this.#child.stdin.close();
    } catch { /* already closed */ }
    await this.#child.status;
    await this.#child.stdout.cancel().catch(() => {});
  }
}

async function readLines(
  stream: ReadableStream<Uint8Array>,
  want: number,
): Promise<Record<string, unknown>[]> {
  const lines: Record<string, unknown>[] = [];
  let buf = "";
  const reader = stream.getReader();
  try {
    while (lines.length < want) {
      const { value, done } = await reader.read();
      if (done) break;
      buf += text.decode(value, { stream: true });
      let nl;
      while ((nl = buf.indexOf("\n")) >= 0 && lines.length < want) {
        lines.push(JSON.parse(buf.slice(0, nl)));
        buf = buf.slice(nl + 1);
      }
    }
  } finally {
    reader.releaseLock();
  }
  if (lines.length < want) throw new Error(`Peer exited after ${lines.length} of ${want} lines`);
  return lines;
}

/** Three namespaces, a DNAT rule per family, a backend listening on 8080. */
export class NatLab {
  /** Namespace names. */
  readonly client: string;
  readonly router: string;
  readonly backend: string;
  /** The "VIP" addresses (DNATed to the backend's port 8080) and the backend's. */
  readonly vip4: string;
  readonly vip6: string;
  readonly backend4: string;
  readonly backend6: string;
  readonly vipPort = 80;
  readonly backendPort = 8080;
  #server?: Deno.ChildProcess;
  #children = new Set<HeldConnections>();

  private constructor(tag: string, n: number) {
    this.client = `osp-nat-${tag}-c`;
    this.router = `osp-nat-${tag}-r`;
    this.backend = `osp-nat-${tag}-b`;
    this.vip4 = `10.209.${n}.9`;
    this.vip6 = `fd00:209:${n}::9`;
    this.backend4 = `10.202.${n}.2`;
    this.backend6 = `fd00:202:${n}::2`;
  }

  /** The router's namespace file: where the NAT happens. */
  get routerPath(): string {
    return `/run/netns/${this.router}`;
  }

  /**
   * Build the namespaces, rules and backend server. On failure whatever
   * was made is removed before the error is thrown.
   */
  static async create(): Promise<NatLab> {
    const n = 1 + Math.floor(Math.random() * 250);
    const tag = crypto.randomUUID().slice(0, 6);
    const lab = new NatLab(tag, n);
    try {
      await lab.#build(n, tag);
    } catch (err) {
      await lab.remove();
      throw err;
    }
    return lab;
  }

  async #build(n: number, tag: string): Promise<void> {
    const { client: c, router: r, backend: b } = this;
    for (const ns of [c, r, b]) await run("ip", "netns", "add", ns);
    // interface names: at most 15 bytes
    const cv = `oc${tag}`, rc = `orc${tag}`, bv = `ob${tag}`, rb = `orb${tag}`;
    await run("ip", "link", "add", cv, "netns", c, "type", "veth", "peer", "name", rc, "netns", r);
    await run("ip", "link", "add", bv, "netns", b, "type", "veth", "peer", "name", rb, "netns", r);
    const ipn = (ns: string, ...args: string[]) => run("ip", "-n", ns, ...args);
    for (const [ns, dev] of [[c, cv], [r, rc], [r, rb], [b, bv]]) {
      await ipn(ns, "link", "set", dev, "up");
    }
    for (const ns of [c, r, b]) await ipn(ns, "link", "set", "lo", "up");
    await ipn(c, "addr", "add", `10.201.${n}.2/24`, "dev", cv);
    await ipn(r, "addr", "add", `10.201.${n}.1/24`, "dev", rc);
    await ipn(b, "addr", "add", `${this.backend4}/24`, "dev", bv);
    await ipn(r, "addr", "add", `10.202.${n}.1/24`, "dev", rb);
    await ipn(c, "addr", "add", `fd00:201:${n}::2/64`, "dev", cv, "nodad");
    await ipn(r, "addr", "add", `fd00:201:${n}::1/64`, "dev", rc, "nodad");
    await ipn(b, "addr", "add", `${this.backend6}/64`, "dev", bv, "nodad");
    await ipn(r, "addr", "add", `fd00:202:${n}::1/64`, "dev", rb, "nodad");
    await ipn(c, "route", "add", "default", "via", `10.201.${n}.1`);
    await ipn(b, "route", "add", "default", "via", `10.202.${n}.1`);
    await ipn(c, "-6", "route", "add", "default", "via", `fd00:201:${n}::1`);
    await ipn(b, "-6", "route", "add", "default", "via", `fd00:202:${n}::1`);
    await this.exec(r, "sysctl", "-qw", "net.ipv4.ip_forward=1", "net.ipv6.conf.all.forwarding=1");
    // churn leaves TIME_WAIT sockets on the client: give it room
    await this.exec(
      c,
      "sysctl",
      "-qw",
      "net.ipv4.ip_local_port_range=1024 65000",
      "net.ipv4.tcp_tw_reuse=1",
    );
    const dnat = ["-t", "nat", "-A", "PREROUTING", "-p", "tcp", "--dport", "80", "-j", "DNAT"];
    await this.exec(
      r,
      "iptables",
      ...dnat,
      "-d",
      this.vip4,
      "--to-destination",
      `${this.backend4}:8080`,
    );
    await this.exec(
      r,
      "ip6tables",
      ...dnat,
      "-d",
      this.vip6,
      "--to-destination",
      `[${this.backend6}]:8080`,
    );
    this.#server = this.spawn(b, ["server", String(this.backendPort)], "null");
    await readLines(this.#server.stdout, 1);
  }

  /** Run a command inside a namespace. */
  exec(ns: string, cmd: string, ...args: string[]): Promise<string> {
    return run("ip", "netns", "exec", ns, cmd, ...args);
  }

  /** Start the TCP peer script inside a namespace. */
  spawn(ns: string, args: string[], stdin: "piped" | "null" = "piped"): Deno.ChildProcess {
    return new Deno.Command("ip", {
      args: ["netns", "exec", ns, DENO, "run", "-A", PEER, ...args],
      stdin,
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
  }

  /**
   * Open `count` connections from the client namespace and hold them.
   *
   * @param host a VIP or the backend's own address
   * @param port 80 for a VIP, 8080 for the backend
   */
  async hold(host: string, port: number, count: number): Promise<HeldConnections> {
    const child = this.spawn(this.client, ["hold", host, String(port), String(count)]);
    const ends = (await readLines(child.stdout, count)) as unknown as LocalEnd[];
    const held = new HeldConnections(child, ends);
    this.#children.add(held);
    return held;
  }

  /**
   * Connect and close at a rate from the client namespace.
   *
   * @returns the generator's own counts
   */
  async churn(
    host: string,
    port: number,
    perSecond: number,
    seconds: number,
  ): Promise<{ connected: number; failed: number; ms: number }> {
    const child = this.spawn(
      this.client,
      ["churn", host, String(port), String(perSecond), String(seconds)],
      "null",
    );
    const [line] = await readLines(child.stdout, 1);
    await child.status;
    await child.stdout.cancel().catch(() => {});
    return line as { connected: number; failed: number; ms: number };
  }

  /** Stop every process and delete the namespaces (and with them rules and veths). */
  async remove(): Promise<void> {
    for (const held of this.#children) await held.close().catch(() => {});
    if (this.#server) {
      try {
        this.#server.kill("SIGKILL");
      } catch { /* gone */ }
      await this.#server.status.catch(() => {});
      await this.#server.stdout.cancel().catch(() => {});
    }
    for (const ns of [this.client, this.router, this.backend]) {
      await run("ip", "netns", "del", ns).catch(() => {});
    }
  }
}
