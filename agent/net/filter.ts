/**
 * Which connections and listens the network module reports (reference §2.3): ports in the
 * ephemeral range are skipped (except 50051, gRPC's well-known port), link-local
 * destinations are skipped, private and loopback ones kept (loopback only for processes in
 * the host's network namespace, decided by the caller), and public ones kept only inside
 * `--track-public-network` (all public IPv4 by default, no public IPv6) or when their NAT
 * destination is private or tracked, which then tracks that public address from then on.
 *
 * @module
 */
import type { PortRange } from "../flag_syntax.ts";
import {
  type Ip16,
  isLinkLocalUnicast,
  isLoopback,
  isPrivate,
  type Prefix,
  prefixContains,
} from "./address.ts";

/** Ports never skipped, whatever the ephemeral range says. */
const WELL_KNOWN_PORTS = new Set([50051]);

/** Options of {@linkcode DestinationFilter}. */
export interface DestinationFilterOptions {
  /** `--ephemeral-port-range`; empty skips no port. */
  readonly ephemeralPorts: readonly PortRange[];
  /** `--track-public-network`. */
  readonly publicNetworks: readonly Prefix[];
  /**
   * Most public addresses remembered as tracked because their NAT destination was private
   * (the reference keeps them without a bound). @default 10000
   */
  readonly maxLearned?: number;
}

/** The filter; one per module. */
export class DestinationFilter {
  readonly #ports: readonly PortRange[];
  readonly #networks: readonly Prefix[];
  readonly #learned = new Set<string>();
  readonly #maxLearned: number;
  /** Public addresses that could not be remembered because the set was full. */
  learnedOverflow = 0;

  constructor(opts: DestinationFilterOptions) {
    this.#ports = opts.ephemeralPorts;
    this.#networks = opts.publicNetworks;
    this.#maxLearned = opts.maxLearned ?? 10_000;
  }

  /** Whether a destination or listening port is in the ephemeral range (and not exempt). */
  skipPort(port: number): boolean {
    if (WELL_KNOWN_PORTS.has(port)) return false;
    for (const r of this.#ports) if (port >= r.from && port <= r.to) return true;
    return false;
  }

  #tracked(ip: Ip16): boolean {
    for (const p of this.#networks) if (prefixContains(p, ip)) return true;
    return false;
  }

  /**
   * Whether a connection to `dst` (as the application connected), really going to `actual`
   * (after NAT; `dst` itself without NAT), is left out. `dstText` keys the learned set.
   */
  skipDestination(dst: Ip16, actual: Ip16, dstText: string): boolean {
    if (isLinkLocalUnicast(dst)) return true;
    if (isPrivate(dst) || isLoopback(dst)) return false;
    if (this.#learned.has(dstText) || this.#tracked(dst)) return false;
    if (isPrivate(actual) || isLoopback(actual) || this.#tracked(actual)) {
      if (this.#learned.size < this.#maxLearned) this.#learned.add(dstText);
      else this.learnedOverflow++;
      return false;
    }
    return true;
  }
}
