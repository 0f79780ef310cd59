/**
 * `node_net_interface_ip{interface,ip}` = 1 for each address of each reported interface.
 *
 * IPv6 comes from `<proc>/1/net/if_inet6` (the host's network namespace, exact). IPv4 comes
 * from `getifaddrs(3)` when that is exact for the host, i.e. when the agent shares PID 1's
 * network namespace and holds `--allow-sys=networkInterfaces`; otherwise from
 * `<proc>/1/net/fib_trie` and `<proc>/1/net/route` (see `addresses.ts` for that method and its
 * limits). {@linkcode chooseIpv4Source} makes the choice once at start.
 *
 * @module
 */
import type { Collector } from "../collector.ts";
import type { SkipLine } from "../file_format_error.ts";
import { sharesHostNamespace } from "../identity/mod.ts";
import type { HostPaths } from "../paths.ts";
import { under } from "../paths.ts";
import type { NodeContext } from "./_context.ts";
import { LabelSets, readOptionalHostText, round } from "./_read.ts";
import type { InterfaceAddress } from "./addresses.ts";
import {
  assignIpv4,
  parseFibTrieLocal,
  parseIfInet6,
  parseRoutes,
  selectAddresses,
} from "./addresses.ts";
import type { NameFilter } from "./filters.ts";

/** Where IPv4 addresses come from. */
export type Ipv4Source = "getifaddrs" | "files";

/** The parts of `Deno.NetworkInterfaceInfo` used here. */
export interface NetworkInterfaceLike {
  readonly name: string;
  readonly family: "IPv4" | "IPv6";
  readonly address: string;
}

/**
 * IPv4 addresses from `getifaddrs(3)` entries. An address with a label (`ip addr add … label
 * eth0:1`) is listed under the label; it belongs to the interface before the colon.
 */
export function ipv4FromInterfaces(list: readonly NetworkInterfaceLike[]): InterfaceAddress[] {
  return list
    .filter((i) => i.family === "IPv4")
    .map((i) => ({ iface: i.name.split(":")[0], ip: i.address }));
}

/** Picks the IPv4 source: getifaddrs when it shows the host's namespace and is allowed. */
export async function chooseIpv4Source(paths: HostPaths): Promise<Ipv4Source> {
  if (paths.fixture) return "files";
  const granted =
    Deno.permissions.querySync({ name: "sys", kind: "networkInterfaces" }).state === "granted";
  if (!granted) return "files";
  return await sharesHostNamespace(paths, "net") === true ? "getifaddrs" : "files";
}

/** Options of {@linkcode netIpCollector}. */
export interface NetIpOptions {
  readonly ipv4Source: Ipv4Source;
  /** `Deno.networkInterfaces` unless a test passes its own. */
  readonly networkInterfaces?: () => readonly NetworkInterfaceLike[];
}

/**
 * Reads the addresses of all host interfaces, before filtering; `read` returns a file's text or
 * undefined when it does not exist. Lines the parsers cannot read go to `skip` (without it they
 * are thrown).
 */
export function readHostAddresses(
  paths: HostPaths,
  opts: NetIpOptions,
  read: (path: string) => string | undefined = readOptionalHostText,
  skip?: SkipLine,
): InterfaceAddress[] {
  const inet6Path = under(paths.proc, "1/net/if_inet6");
  const out: InterfaceAddress[] = [];
  if (opts.ipv4Source === "getifaddrs") {
    out.push(...ipv4FromInterfaces((opts.networkInterfaces ?? Deno.networkInterfaces)()));
  } else {
    const triePath = under(paths.proc, "1/net/fib_trie");
    const routePath = under(paths.proc, "1/net/route");
    const trie = read(triePath);
    const route = read(routePath);
    if (trie !== undefined && route !== undefined) {
      out.push(
        ...assignIpv4(
          parseFibTrieLocal(trie, triePath, skip),
          parseRoutes(route, routePath, { skip }),
        ),
      );
    }
  }
  const inet6 = read(inet6Path); // absent when IPv6 is disabled
  if (inet6 !== undefined) out.push(...parseIfInet6(inet6, inet6Path, skip));
  return out;
}

/** The collector of `node_net_interface_ip`. */
export function netIpCollector(
  { registry, paths, files, parseErrors }: NodeContext,
  filter: NameFilter,
  opts: NetIpOptions,
): Collector {
  const read = (path: string) => files.get(path).readOptional();
  const ip = registry.gauge({
    name: "node_net_interface_ip",
    help: "An address of the interface (1 for each address; link-local and multicast left out)",
    labelNames: ["interface", "ip"] as const,
  });
  const sets = new LabelSets();
  const skip = parseErrors.sink("node_net_ip"); // file: fib_trie, route or if_inet6
  // Addresses rarely change: when the files read this round are the ones of the last good
  // round, their series are already right and parsing them again is skipped.
  const sources = opts.ipv4Source === "files"
    ? ["1/net/fib_trie", "1/net/route", "1/net/if_inet6"]
    : ["1/net/if_inet6"];
  const watched = sources.map((rel) => under(paths.proc, rel));
  let last: (string | undefined)[] | undefined;
  const unchanged = { clear: () => last = undefined };
  return {
    name: "node_net_ip",
    collect: () =>
      round([ip, sets, unchanged], () => {
        const texts = watched.map(read);
        const same = last !== undefined && texts.every((t, i) => t === last![i]);
        if (same && opts.ipv4Source === "files") return;
        const byPath = new Map(watched.map((p, i) => [p, texts[i]]));
        const addresses = readHostAddresses(paths, opts, (p) => byPath.get(p), skip);
        const addrs = selectAddresses(addresses, filter);
        for (const [iface, addr] of sets.update(addrs.map((a) => [a.iface, a.ip]))) {
          ip.remove(iface, addr);
        }
        for (const a of addrs) ip.labels(a.iface, a.ip).set(1);
        last = texts;
      }),
  };
}
