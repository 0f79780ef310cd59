/**
 * The host's interface addresses from files, for `node_net_interface_ip{interface,ip}`.
 *
 * The reference agent asks netlink (`RTM_GETADDR`) in the host's network namespace. Without FFI
 * there is no netlink in Deno, so:
 *
 * - IPv6: `<proc>/1/net/if_inet6` lists every IPv6 address with its interface: exact.
 * - IPv4: no procfs file pairs an IPv4 address with its interface. `<proc>/1/net/fib_trie`
 *   lists the local addresses (the `/32 host LOCAL` entries of the local routing table) without
 *   the device; `<proc>/1/net/route` lists the main table's routes with their device. Each
 *   local address is given the device of the most specific route that contains it (a connected
 *   route preferred on a tie), which is the device of its prefix route for every address with a
 *   prefix. Limits: an address without a prefix route of its own (a `/32` address, or one added
 *   with `noprefixroute`) falls to the most specific route covering it, usually the default
 *   route, which is wrong on a multi-homed host; routes in policy tables other than main are
 *   invisible. So when the agent shares the host's network namespace and may call
 *   `getifaddrs(3)` (`Deno.networkInterfaces()`, `--allow-sys=networkInterfaces`), the collector
 *   uses that instead, which is exact; see `net_ip.ts`.
 *
 * Link-local (169.254.0.0/16, fe80::/10) and multicast (224.0.0.0/4, ff00::/8) addresses are
 * left out, as in the contract.
 *
 * @module
 */
import type { SkipLine } from "../file_format_error.ts";
import { skipOrThrow } from "../file_format_error.ts";
import { textLines } from "../host_text.ts";
import { formatIpv6, ipv4ToNumber } from "../ip_text.ts";
import { HostFileFormatError, quoteLine } from "./_errors.ts";

export { formatIpv6, ipv4ToNumber, numberToIpv4 } from "../ip_text.ts";

/** An address of an interface. */
export interface InterfaceAddress {
  readonly iface: string;
  /** Textual form: dotted quad, or RFC 5952 compressed IPv6. */
  readonly ip: string;
}

/**
 * Parses /proc/net/fib_trie into the local IPv4 addresses of every table it lists
 * (each once, in order of appearance).
 *
 * A line that is not a table header, an inner node, a leaf or a route entry is skipped, and
 * so are the route entries after it up to the next leaf (they cannot be told apart from the
 * skipped leaf's); a route entry outside any leaf is skipped. Each skipped line goes to `skip`
 * (the entries that follow a skipped line are not counted again); without it the first one is
 * thrown.
 */
export function parseFibTrieLocal(
  text: string,
  file = "/proc/net/fib_trie",
  skip?: SkipLine,
): string[] {
  const out = new Set<string>();
  let leaf: string | undefined;
  let orphaned = false; // after a skipped line, until the next leaf
  const lines = textLines(text);
  const bad = (i: number, reason: string) => {
    leaf = undefined;
    orphaned = true;
    skipOrThrow(new HostFileFormatError(file, i + 1, reason), skip);
  };
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    const t = line.trim();
    if (t === "") continue;
    // Dispatch on the first character: this file is read every round.
    let m: RegExpExecArray | null;
    if (line.charCodeAt(0) !== 32 && t.endsWith(":")) {
      leaf = undefined; // a table header: "Main:", "Local:", "Id 100:"
      orphaned = false;
    } else if (t.startsWith("+-- ") && /^\+-- \d+\.\d+\.\d+\.\d+\/\d+ \d+ \d+ \d+$/.test(t)) {
      leaf = undefined; // an inner node of the trie
      orphaned = false;
    } else if (t.startsWith("|-- ")) {
      const ip = t.slice(4);
      if (ipv4ToNumber(ip) === undefined) {
        bad(i, `leaf is not an IPv4 address: ${quoteLine(line)}`);
        continue;
      }
      leaf = ip;
      orphaned = false;
    } else if (
      t.startsWith("/") && (m = /^\/(\d+) ([a-z]+|\d+) ([A-Z_]+|\d+)(?: tos=\d+)?$/.exec(t))
    ) {
      if (leaf === undefined) {
        if (!orphaned) bad(i, `route entry outside a leaf: ${quoteLine(line)}`);
        continue;
      }
      if (m[1] === "32" && m[3] === "LOCAL") out.add(leaf);
    } else {
      bad(i, `unexpected line ${quoteLine(line)}`);
    }
  }
  return [...out];
}

/** One route of /proc/net/route (the main table), addresses as unsigned 32-bit numbers. */
export interface Ipv4Route {
  readonly iface: string;
  readonly destination: number;
  readonly gateway: number;
  readonly flags: number;
  readonly metric: number;
  readonly mask: number;
}

const RTF_UP = 0x1;
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/**
 * Parses /proc/net/route. Addresses are printed as the in-memory `__be32` with `%08X`, so their
 * bytes appear reversed on little-endian hosts; `littleEndian` says how to read them. A route
 * line that cannot be read goes to `skip` (without it, it is thrown); a missing header line
 * is always thrown.
 */
export function parseRoutes(
  text: string,
  file = "/proc/net/route",
  opts: { littleEndian?: boolean; skip?: SkipLine } = {},
): Ipv4Route[] {
  const littleEndian = opts.littleEndian ?? LITTLE_ENDIAN;
  const lines = textLines(text);
  if (!/^Iface\s+Destination\s+Gateway\s+Flags/.test(lines[0] ?? "")) {
    throw new HostFileFormatError(
      file,
      1,
      `missing the header line, got ${quoteLine(lines[0] ?? "")}`,
    );
  }
  const addr = (hex: string) => {
    if (!/^[0-9A-Fa-f]{8}$/.test(hex)) return undefined;
    const v = parseInt(hex, 16) >>> 0;
    if (!littleEndian) return v;
    return (((v & 0xff) << 24) | (((v >>> 8) & 0xff) << 16) | (((v >>> 16) & 0xff) << 8) |
      (v >>> 24)) >>> 0;
  };
  const out: Ipv4Route[] = [];
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i];
    if (line.trim() === "") continue;
    const f = line.trim().split(/\s+/);
    let reason: string | undefined;
    let destination, gateway, mask;
    if (f.length < 8) reason = `${f.length} columns, expected 11: ${quoteLine(line)}`;
    else if (!/^[0-9A-Fa-f]{1,4}$/.test(f[3]) || !/^\d+$/.test(f[6])) {
      reason = `bad flags or metric: ${quoteLine(line)}`;
    } else {
      destination = addr(f[1]);
      gateway = addr(f[2]);
      mask = addr(f[7]);
      if (destination === undefined || gateway === undefined || mask === undefined) {
        reason = `an address is not 8 hex digits: ${quoteLine(line)}`;
      }
    }
    if (reason !== undefined) {
      skipOrThrow(new HostFileFormatError(file, i + 1, reason), opts.skip);
      continue;
    }
    out.push({
      iface: f[0],
      destination: destination!,
      gateway: gateway!,
      flags: parseInt(f[3], 16),
      metric: Number(f[6]),
      mask: mask!,
    });
  }
  return out;
}

function maskBits(mask: number): number {
  let n = 0;
  for (let m = mask >>> 0; m !== 0; m = (m << 1) >>> 0) n++;
  return n;
}

/** Negative when route `a` is preferred to `b`: longer prefix, then connected, then lower metric. */
function routeOrder(a: Ipv4Route, b: Ipv4Route): number {
  return (maskBits(b.mask) - maskBits(a.mask)) ||
    (Number(a.gateway !== 0) - Number(b.gateway !== 0)) ||
    (a.metric - b.metric);
}

/**
 * Gives each local IPv4 address the interface of the most specific route containing it (ties:
 * a connected route, i.e. one without gateway, then the lower metric, then the first listed).
 * 127.0.0.0/8 always belongs to `lo` (its routes live in the local table, which
 * /proc/net/route does not show). Addresses no route contains are left out.
 */
export function assignIpv4(
  locals: readonly string[],
  routes: readonly Ipv4Route[],
): InterfaceAddress[] {
  const usable = routes.filter((r) => (r.flags & RTF_UP) !== 0 && r.iface !== "*");
  const out: InterfaceAddress[] = [];
  for (const ip of locals) {
    const a = ipv4ToNumber(ip);
    if (a === undefined) continue;
    if (a >>> 24 === 127) {
      out.push({ iface: "lo", ip });
      continue;
    }
    let best: Ipv4Route | undefined;
    for (const r of usable) {
      if (((a & r.mask) >>> 0) === r.destination && (!best || routeOrder(r, best) < 0)) best = r;
    }
    if (best) out.push({ iface: best.iface, ip });
  }
  return out;
}

/** One line of /proc/net/if_inet6. */
export interface Ipv6Address extends InterfaceAddress {
  readonly ifindex: number;
  readonly prefixLength: number;
  /** Kernel scope bits: 0 global, 0x10 host, 0x20 link, 0x40 site. */
  readonly scope: number;
  /** IFA_F_* flags. */
  readonly flags: number;
}

/**
 * Parses /proc/net/if_inet6: `<32 hex> <ifindex> <prefix len> <scope> <flags> <name>`, hex.
 * A line that cannot be read goes to `skip`; without it, it is thrown.
 */
export function parseIfInet6(
  text: string,
  file = "/proc/net/if_inet6",
  skip?: SkipLine,
): Ipv6Address[] {
  const out: Ipv6Address[] = [];
  const lines = textLines(text);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    if (line.trim() === "") continue;
    const m = /^([0-9a-f]{32}) ([0-9a-f]+) ([0-9a-f]+) ([0-9a-f]+) ([0-9a-f]+)\s+(\S+)$/.exec(
      line.trim(),
    );
    if (!m) {
      skipOrThrow(
        new HostFileFormatError(
          file,
          i + 1,
          `expected "<address> <ifindex> <prefix> <scope> <flags> <name>", got ${quoteLine(line)}`,
        ),
        skip,
      );
      continue;
    }
    out.push({
      ip: formatIpv6(m[1]),
      ifindex: parseInt(m[2], 16),
      prefixLength: parseInt(m[3], 16),
      scope: parseInt(m[4], 16),
      flags: parseInt(m[5], 16),
      iface: m[6],
    });
  }
  return out;
}

/** True for link-local or multicast addresses (either family), which the contract leaves out. */
export function isLinkLocalOrMulticast(ip: string): boolean {
  const v4 = ipv4ToNumber(ip);
  if (v4 !== undefined) {
    return (v4 >>> 16) === 0xa9fe || (v4 >>> 28) === 0xe; // 169.254/16, 224/4
  }
  const first = parseInt(ip.split(":")[0] || "0", 16);
  return (first & 0xffc0) === 0xfe80 || (first & 0xff00) === 0xff00; // fe80::/10, ff00::/8
}

/**
 * The addresses to report: not link-local or multicast, interface accepted by `filter`, each
 * interface and address pair once.
 */
export function selectAddresses(
  addrs: Iterable<InterfaceAddress>,
  filter: (iface: string) => boolean,
): InterfaceAddress[] {
  const seen = new Set<string>();
  const out: InterfaceAddress[] = [];
  for (const a of addrs) {
    if (!filter(a.iface) || isLinkLocalOrMulticast(a.ip)) continue;
    const key = `${a.iface}\u0000${a.ip}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push({ iface: a.iface, ip: a.ip });
  }
  return out;
}
