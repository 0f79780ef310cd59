/**
 * `container_net_latency_seconds{destination_ip}` (reference §8.1): ICMP echo round-trip time
 * from inside each container's network namespace to the actual destinations it talks to (and
 * the destinations of its failed connects), IPv4 and IPv6 (the reference pings IPv4 only),
 * through libosprey's `osp_ping` (kernel timestamps, a deadline per batch). Runs off the
 * scrape path, a few containers at a time; the last answer per address is kept until the
 * next round asks again.
 *
 * @module
 */
import { BpfError, type PingResult } from "../../ffi/mod.ts";
import { isLoopback, parseIp } from "./address.ts";
import type { ContainerNet } from "./tracker.ts";

/** Pings a batch from a network namespace (`lib.ping`). */
export type PingFn = (netnsPath: string, targets: readonly string[]) => Promise<PingResult[]>;

/** A container to ping from. */
export interface PingSource {
  readonly id: string;
  readonly net: ContainerNet;
  /** The namespace file to ping from ("" for the agent's own), or undefined when none. */
  readonly netnsPath: string | undefined;
}

/** Outcome counts of one round, by result ("ok", an errno name). */
export type PingCounts = Map<string, number>;

/** Host part of an `ip:port` / `[ip]:port` label value. */
export function hostOf(hostPort: string): string {
  if (hostPort.startsWith("[")) return hostPort.slice(1, hostPort.indexOf("]"));
  const colon = hostPort.lastIndexOf(":");
  return colon < 0 ? hostPort : hostPort.slice(0, colon);
}

/**
 * The addresses a container's latency is measured to: each destination's actual address and
 * each failed destination's address, without loopback, at most `max` (the first ones).
 */
export function pingTargets(net: ContainerNet, max: number): string[] {
  const out = new Set<string>();
  const add = (hostPort: string) => {
    const ip = hostOf(hostPort);
    const parsed = parseIp(ip);
    if (parsed !== undefined && !isLoopback(parsed) && out.size < max) out.add(ip);
  };
  for (const d of net.destinations.values()) add(d.actualDestination);
  for (const dst of net.failed.keys()) add(dst);
  return [...out];
}

/** Options of {@linkcode Pinger}. */
export interface PingerOptions {
  readonly ping: PingFn;
  /** Containers pinged at the same time. @default 4 */
  readonly concurrency?: number;
  /** Most addresses per container. @default 100 */
  readonly maxTargets?: number;
}

/** Keeps the latest RTT per container and address. */
export class Pinger {
  readonly #o: PingerOptions;
  readonly #rtt = new Map<string, Map<string, number>>();
  /** Whole-batch failures (no namespace, setns refused), by errno name. */
  readonly failures = new Map<string, number>();
  /** Per-target results, by "ok" or errno name. */
  readonly results: PingCounts = new Map();

  constructor(opts: PingerOptions) {
    this.#o = opts;
  }

  /** The latest RTTs (seconds) of a container, by address. */
  latency(id: string): ReadonlyMap<string, number> | undefined {
    return this.#rtt.get(id);
  }

  /** Forgets a removed container. */
  forget(id: string): void {
    this.#rtt.delete(id);
  }

  /** Pings from every source; resolves when all batches ended (each within its deadline). */
  async round(sources: readonly PingSource[], signal?: AbortSignal): Promise<void> {
    const queue = [...sources];
    const worker = async () => {
      for (let s = queue.shift(); s !== undefined && !signal?.aborted; s = queue.shift()) {
        await this.#one(s);
      }
    };
    const n = Math.max(1, this.#o.concurrency ?? 4);
    await Promise.all(Array.from({ length: n }, worker));
  }

  async #one(s: PingSource): Promise<void> {
    const targets = pingTargets(s.net, this.#o.maxTargets ?? 100);
    if (targets.length === 0 || s.netnsPath === undefined) {
      this.#rtt.delete(s.id);
      return;
    }
    let results: PingResult[];
    try {
      results = await this.#o.ping(s.netnsPath, targets);
    } catch (err) {
      if (!(err instanceof BpfError)) throw err;
      const code = err.code;
      this.failures.set(code, (this.failures.get(code) ?? 0) + 1);
      this.#rtt.delete(s.id);
      return;
    }
    const rtt = new Map<string, number>();
    for (const r of results) {
      const key = "error" in r ? r.error : "ok";
      this.results.set(key, (this.results.get(key) ?? 0) + 1);
      if (!("error" in r)) rtt.set(r.address, r.rttSeconds);
    }
    this.#rtt.set(s.id, rtt);
  }
}
