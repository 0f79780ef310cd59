/**
 * What DNS answers taught about addresses, shared by the modules that need it (README,
 * "Layout"): the L7 module learns names from the answers it matches and writes `ip_to_fqdn`; the
 * net module reads the names when it labels a new connection. Neither imports the other: the L7
 * module publishes its table in {@linkcode dnsNames} while it runs, and the net module reads the
 * property when it needs it (no table: nothing was learnt, every destination stays `ip:port`).
 *
 * The contract's rule (reference §2.3, §2.6; coroot-node-agent `common/net.go`): a name whose
 * one answer holds several addresses, all public, labels the destination; so a connection whose
 * destination address came from such an answer, and whose actual (post-NAT) address is public,
 * is reported as `destination="<name>:<port>"` with an empty `actual_destination`, for the TCP
 * families and the L7 families alike, and `ip_to_fqdn` leaves those addresses out. A name
 * answered with one public address, or with any private or loopback one, keeps `ip:port`, and
 * its addresses are shown in `ip_to_fqdn`. Public means neither loopback nor private (10/8,
 * 172.16/12, 192.168/16, 100.64/10, fc00::/7), as in the reference.
 *
 * Timing: the decision is made once per connection, when the net module attributes it, and kept
 * for the connection's life (the reference decides at connect too). The answer's record and the
 * connect's record travel on two rings drained apart, so a connection to a public address with
 * no name known yet waits until the L7 module has drained its ring once after the connect was
 * read ({@linkcode DnsNames.epoch}): an answer read before the connect was made is then known.
 * An answer that comes later changes nothing for connections already labelled; it applies to the
 * next connections.
 *
 * @module
 */
import { isLoopback, isPrivate, joinHostPort, parseIp } from "./net/address.ts";

/** The name a DNS answer gave an address. */
export interface DnsName {
  /** The question's name, normalised as the `domain` label (`.search_path_suffix` cuts). */
  readonly fqdn: string;
  /**
   * True when the answer held several addresses, all public: the destination is labelled by
   * this name (the reference's `SpecifyIP` false), and `ip_to_fqdn` leaves the address out.
   */
  readonly byName: boolean;
}

/** Whether `ip` (text) is a public address: neither loopback nor private. False for non-addresses. */
export function isPublicAddress(ip: string): boolean {
  const b = parseIp(ip);
  return b !== undefined && !isLoopback(b) && !isPrivate(b);
}

/**
 * The name one answer gives each of its addresses: by name when the answer holds more than one
 * address and every one is public.
 *
 * @param fqdn the normalised question name
 * @param addresses the answer's A and AAAA addresses, as text
 */
export function nameOfAnswer(fqdn: string, addresses: readonly string[]): DnsName {
  const byName = addresses.length > 1 && addresses.every(isPublicAddress);
  return { fqdn, byName };
}

/** The `destination` and `actual_destination` label values of a connection. */
export interface DestinationLabels {
  readonly destination: string;
  readonly actualDestination: string;
}

/**
 * The contract's labels for a connection to `daddr`:`dport` whose packets really go to
 * `actual`:`aport` (after NAT; the destination itself without NAT): `<fqdn>:<dport>` and `""`
 * when `name` (what DNS said of `daddr`) labels by name and `actual` is public, else `ip:port`
 * for both (`[ip]:port` for IPv6).
 */
export function destinationLabels(
  dst: { readonly ip: string; readonly port: number },
  actual: { readonly ip: string; readonly port: number },
  name?: DnsName,
): DestinationLabels {
  if (name !== undefined && name.byName && isPublicAddress(actual.ip)) {
    return { destination: `${name.fqdn}:${dst.port}`, actualDestination: "" };
  }
  return {
    destination: joinHostPort(dst.ip, dst.port),
    actualDestination: joinHostPort(actual.ip, actual.port),
  };
}

/** Options of {@linkcode DnsNames}. */
export interface DnsNamesOptions {
  /** Most addresses remembered; the least recently answered or used goes first. @default 65536 */
  readonly maxAddresses?: number;
  /** An address neither answered nor used for this long is forgotten, ms. @default 600000 */
  readonly forgetAfterMs?: number;
  readonly now?: () => number;
}

interface Entry {
  name: DnsName;
  touchedMs: number;
}

/**
 * Address → name, from the answers seen (the last answer naming an address wins), bounded and
 * aged: an address is forgotten when no answer named it and no connection was labelled with it
 * for `forgetAfterMs` (the reference drops, at its 10-minute GC, the addresses no container
 * connected to lately).
 */
export class DnsNames {
  readonly #max: number;
  readonly #forgetAfter: number;
  readonly #now: () => number;
  /** In order of the last answer or use (the oldest first). */
  readonly #byIp = new Map<string, Entry>();
  #epoch = 0;
  /** Addresses forgotten because the table was full. */
  evicted = 0;

  constructor(o: DnsNamesOptions = {}) {
    this.#max = o.maxAddresses ?? 65_536;
    this.#forgetAfter = o.forgetAfterMs ?? 600_000;
    this.#now = o.now ?? Date.now;
  }

  /** Addresses known now. */
  get size(): number {
    return this.#byIp.size;
  }

  /**
   * How many times the learner found its source drained (see {@linkcode caughtUp}): a reader
   * that notes it, and sees it grow, knows every answer read before it noted it is learnt.
   */
  get epoch(): number {
    return this.#epoch;
  }

  /**
   * Says that every answer the kernel handed out until now has been learnt (the L7 module
   * calls it after a drain of its ring that left the ring empty, and the records are handled).
   */
  caughtUp(): void {
    this.#epoch++;
  }

  /**
   * Learns one answer: each address gets the name {@linkcode nameOfAnswer} gives it.
   *
   * @param fqdn the normalised question name; an empty name teaches nothing
   * @param addresses the answer's A and AAAA addresses, as text
   */
  learn(fqdn: string, addresses: readonly string[]): void {
    if (fqdn === "" || addresses.length === 0) return;
    const name = nameOfAnswer(fqdn, addresses);
    const now = this.#now();
    for (const ip of addresses) {
      this.#byIp.delete(ip);
      if (this.#byIp.size >= this.#max) {
        this.#byIp.delete(this.#byIp.keys().next().value!);
        this.evicted++;
      }
      this.#byIp.set(ip, { name, touchedMs: now });
    }
  }

  /** What DNS said of `ip`, if anything; a hit counts as a use (keeps it from aging out). */
  lookup(ip: string): DnsName | undefined {
    const e = this.#byIp.get(ip);
    if (e === undefined) return undefined;
    e.touchedMs = this.#now();
    this.#byIp.delete(ip);
    this.#byIp.set(ip, e);
    return e.name;
  }

  /** Forgets what was neither answered nor used for `forgetAfterMs`. */
  expire(): void {
    const limit = this.#now() - this.#forgetAfter;
    for (const [ip, e] of this.#byIp) {
      if (e.touchedMs > limit) break;
      this.#byIp.delete(ip);
    }
  }

  /** The `ip_to_fqdn` pairs: every address whose name does not label destinations. */
  *ipToFqdn(): IterableIterator<[ip: string, fqdn: string]> {
    for (const [ip, e] of this.#byIp) if (!e.name.byName) yield [ip, e.name.fqdn];
  }
}

/**
 * The running L7 module's {@linkcode DnsNames}, if any: set while it runs, read by the net module
 * at each connection it labels (read the property at each use; the modules start in any order).
 */
export const dnsNames: { current?: DnsNames } = {};
