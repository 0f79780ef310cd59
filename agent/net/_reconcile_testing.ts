/**
 * Test helpers for the start-up reconciliation: a network namespace with a known set of TCP
 * sockets (testdata/sockets.py run inside it), and a reader of `ss` output, the kernel's other
 * view of the same sockets (netlink sock_diag), to check the /proc parser against.
 *
 * @module
 */
import { TCP_STATE } from "./proc_net_tcp.ts";

/** `agent/net/testdata` as an absolute path. */
export const TESTDATA: string = new URL("./testdata/", import.meta.url).pathname.replace(/\/$/, "");

/** The port whose SYNs the namespace drops, so that a connect to it stays in SYN_SENT. */
export const DROPPED_PORT = 81;

/** One socket as testdata/sockets.py reports it. */
export interface PySocket {
  readonly role: string;
  /** The fd, or null when no fd holds the socket (time-wait, accept queue). */
  readonly fd: number | null;
  readonly family: 4 | 6;
  /** [address, port] as Python's getsockname() gives it. */
  readonly local: [string, number];
  readonly remote: [string, number] | null;
  readonly state: number;
}

/** What testdata/sockets.py prints. */
export interface PyReport {
  readonly pid: number;
  /** The child that holds every fd too (`--fork`), else null. */
  readonly child: number | null;
  readonly netns: string;
  readonly sockets: PySocket[];
}

/** A running testdata/sockets.py in a namespace of its own. */
export interface SocketsNamespace {
  readonly name: string;
  /** The namespace's inode, from `stat /run/netns/<name>`. */
  readonly inode: number;
  readonly report: PyReport;
  /** Stops the program and deletes the namespace. */
  close(): Promise<void>;
}

async function run(cmd: string, args: string[]): Promise<string> {
  const out = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).output();
  const text = new TextDecoder().decode(out.stdout);
  if (!out.success) {
    throw new Error(
      `${cmd} ${args.join(" ")} failed: ${new TextDecoder().decode(out.stderr).trim()}`,
    );
  }
  return text;
}

/** Why the namespace tests cannot run here, or "" when they can. */
export function netnsIgnoreReason(): string {
  if (Deno.uid() !== 0) return "needs root (ip netns)";
  for (const tool of ["ip", "iptables", "python3", "ss"]) {
    const found = (Deno.env.get("PATH") ?? "").split(":").some((d) => {
      try {
        return Deno.statSync(`${d}/${tool}`).isFile;
      } catch {
        return false;
      }
    });
    if (!found) return `${tool} not installed`;
  }
  return "";
}

let counter = 0;

/**
 * Creates a network namespace (loopback up, SYNs to {@linkcode DROPPED_PORT} dropped), starts
 * testdata/sockets.py in it and waits for its report. `fork`: a child holds every fd too.
 */
export async function startSocketsNamespace(
  opts: { fork?: boolean } = {},
): Promise<SocketsNamespace> {
  const name = `osprey-recon-${Deno.pid}-${counter++}`;
  await run("ip", ["netns", "add", name]);
  let child: Deno.ChildProcess | undefined;
  const close = async () => {
    if (child !== undefined) {
      await child.stdin.close().catch(() => {});
      await child.status;
      child = undefined;
    }
    await run("ip", ["netns", "del", name]);
  };
  try {
    await run("ip", ["-n", name, "link", "set", "lo", "up"]);
    await run("ip", [
      "netns",
      "exec",
      name,
      "iptables",
      "-A",
      "OUTPUT",
      "-p",
      "tcp",
      "--dport",
      String(DROPPED_PORT),
      "-j",
      "DROP",
    ]);
    const inode = Deno.statSync(`/run/netns/${name}`).ino;
    if (inode === null) throw new Error(`no inode for /run/netns/${name}`);
    child = new Deno.Command("ip", {
      args: [
        "netns",
        "exec",
        name,
        "python3",
        `${TESTDATA}/sockets.py`,
        "--syn-sent",
        String(DROPPED_PORT),
        ...(opts.fork ? ["--fork"] : []),
      ],
      stdin: "piped",
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    const report = await firstLine(child.stdout);
    return { name, inode, report: JSON.parse(report) as PyReport, close };
  } catch (err) {
    await close().catch(() => {});
    throw err;
  }
}

async function firstLine(stream: ReadableStream<Uint8Array>): Promise<string> {
  const reader = stream.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`sockets.py ended before its report: ${JSON.stringify(text)}`);
    text += value;
    const nl = text.indexOf("\n");
    if (nl >= 0) {
      reader.releaseLock();
      stream.cancel().catch(() => {});
      return text.slice(0, nl);
    }
  }
}

/** A socket as `ss -tanOe` prints it, normalized to the /proc parser's text. */
export interface SsSocket {
  readonly state: number;
  readonly localAddress: string;
  readonly localPort: number;
  readonly remoteAddress: string;
  readonly remotePort: number;
  readonly inode: number;
  /** The holders `ss -p` names (`users:(("name",pid=1,fd=3),...)`), empty without `-p`. */
  readonly users: { pid: number; fd: number }[];
}

const SS_STATES: Record<string, number> = {
  "ESTAB": TCP_STATE.ESTABLISHED,
  "SYN-SENT": TCP_STATE.SYN_SENT,
  "SYN-RECV": TCP_STATE.SYN_RECV,
  "FIN-WAIT-1": TCP_STATE.FIN_WAIT1,
  "FIN-WAIT-2": TCP_STATE.FIN_WAIT2,
  "TIME-WAIT": TCP_STATE.TIME_WAIT,
  "UNCONN": TCP_STATE.CLOSE,
  "CLOSE-WAIT": TCP_STATE.CLOSE_WAIT,
  "LAST-ACK": TCP_STATE.LAST_ACK,
  "LISTEN": TCP_STATE.LISTEN,
  "CLOSING": TCP_STATE.CLOSING,
};

/** `[::ffff:1.2.3.4]:80` / `*:*` / `0.0.0.0:*` → address and port as the parser writes them. */
function ssEndpoint(text: string, v6: boolean): [string, number] {
  const colon = text.lastIndexOf(":");
  let host = text.slice(0, colon);
  const port = text.slice(colon + 1);
  if (host.startsWith("[")) host = host.slice(1, -1);
  if (host === "*") host = v6 ? "::" : "0.0.0.0";
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(host);
  if (mapped) host = mapped[1];
  return [host.toLowerCase(), port === "*" ? 0 : Number(port)];
}

/** Parses `ss -tanOe` (or `-tanOep`) output: one socket a line, header first. */
export function parseSs(text: string): SsSocket[] {
  const out: SsSocket[] = [];
  for (const line of text.split("\n").slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 5) continue;
    const state = SS_STATES[f[0]];
    if (state === undefined) throw new Error(`unknown ss state in ${JSON.stringify(line)}`);
    const v6 = f[3].startsWith("[") || f[3].startsWith("*") || f[4].startsWith("[") ||
      f[4] === "*:*";
    const [localAddress, localPort] = ssEndpoint(f[3], v6);
    const [remoteAddress, remotePort] = ssEndpoint(f[4], v6);
    const ino = /\bino:(\d+)\b/.exec(line);
    out.push({
      state,
      localAddress,
      localPort,
      remoteAddress,
      remotePort,
      inode: ino ? Number(ino[1]) : 0,
      users: [...line.matchAll(/\bpid=(\d+),fd=(\d+)\)/g)].map((m) => ({
        pid: Number(m[1]),
        fd: Number(m[2]),
      })),
    });
  }
  return out;
}

/** Stable text of a socket for set comparisons. */
export function socketKey(s: Omit<SsSocket, "users">): string {
  return `${s.state} ${s.localAddress}:${s.localPort} ${s.remoteAddress}:${s.remotePort} ${s.inode}`;
}

/** Python's address text → the parser's (IPv4-mapped IPv6 as dotted IPv4). */
export function pyAddress(a: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(a);
  return mapped ? mapped[1] : a;
}

/** Runs a command inside namespace `name` and returns its stdout. */
export function inNetns(name: string, cmd: string, args: string[]): Promise<string> {
  return run("ip", ["netns", "exec", name, cmd, ...args]);
}
