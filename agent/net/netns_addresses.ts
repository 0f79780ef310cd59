/**
 * The addresses of a network namespace, for listens on `0.0.0.0` / `::` (reference §2.3:
 * reported once per address of the listener's namespace). Read through a process in that
 * namespace: `<proc>/<pid>/net/fib_trie` (local IPv4 addresses) and `<proc>/<pid>/net/if_inet6`
 * (IPv6), with the node module's parsers; link-local and multicast addresses are left out, as
 * for `node_net_interface_ip`. Cached per namespace for a minute.
 *
 * @module
 */
import { readProcText } from "../containers/proc.ts";
import { isLinkLocalOrMulticast, parseFibTrieLocal, parseIfInet6 } from "../node/mod.ts";
import { under } from "../paths.ts";

/** The IPv4 and IPv6 addresses of one namespace. */
export interface NetnsAddresses {
  readonly v4: readonly string[];
  readonly v6: readonly string[];
}

/** Parses the two files into the namespace's addresses (a garbled file gives none of its family). */
export function namespaceAddresses(
  fibTrie: string | undefined,
  ifInet6: string | undefined,
): NetnsAddresses {
  let v4: string[] = [];
  let v6: string[] = [];
  try {
    if (fibTrie !== undefined) {
      v4 = parseFibTrieLocal(fibTrie).filter((ip) => !isLinkLocalOrMulticast(ip));
    }
  } catch {
    v4 = [];
  }
  try {
    if (ifInet6 !== undefined) {
      v6 = [...new Set(parseIfInet6(ifInet6).map((a) => a.ip))].filter((ip) =>
        !isLinkLocalOrMulticast(ip)
      );
    }
  } catch {
    v6 = [];
  }
  return { v4, v6 };
}

/** Addresses by namespace inode, read through a pid of that namespace and cached. */
export class NetnsAddressCache {
  readonly #proc: string;
  readonly #ttlMs: number;
  readonly #now: () => number;
  readonly #cache = new Map<number, { at: number; addrs: NetnsAddresses }>();
  /** A pid seen in each namespace (the last one). */
  readonly #pids = new Map<number, number>();

  constructor(proc: string, opts: { ttlMs?: number; now?: () => number } = {}) {
    this.#proc = proc;
    this.#ttlMs = opts.ttlMs ?? 60_000;
    this.#now = opts.now ?? Date.now;
  }

  /** Remembers that `pid` lives in namespace `netns`. */
  notePid(netns: number, pid: number): void {
    if (pid > 0) this.#pids.set(netns, pid);
  }

  /** The namespace's addresses; empty when no process of it can be read. */
  get(netns: number): NetnsAddresses {
    const hit = this.#cache.get(netns);
    const now = this.#now();
    if (hit && now - hit.at < this.#ttlMs) return hit.addrs;
    const pid = this.#pids.get(netns);
    if (pid === undefined) return { v4: [], v6: [] };
    const fib = readProcText(under(this.#proc, `${pid}/net/fib_trie`));
    const if6 = readProcText(under(this.#proc, `${pid}/net/if_inet6`));
    if (fib === undefined && if6 === undefined) {
      this.#pids.delete(netns); // the process is gone; another listen will name a new one
      return hit?.addrs ?? { v4: [], v6: [] };
    }
    const addrs = namespaceAddresses(fib, if6);
    this.#cache.set(netns, { at: now, addrs });
    return addrs;
  }

  /** Forgets namespaces not in `live`. */
  retain(live: ReadonlySet<number>): void {
    for (const ns of this.#cache.keys()) if (!live.has(ns)) this.#cache.delete(ns);
    for (const ns of this.#pids.keys()) if (!live.has(ns)) this.#pids.delete(ns);
  }
}
