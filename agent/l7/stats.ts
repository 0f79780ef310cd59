/**
 * The L7 module's tables and families: per container, requests by protocol, direction,
 * destination and status with a latency histogram each (reference §2.4 outbound, §2.5
 * inbound), DNS requests by type, normalised domain and status, and `ip_to_fqdn` (§2.6).
 * Tables are kept here and written into each visible container's series every round, so a
 * container younger than `--min-container-age` shows nothing, as the contract says.
 *
 * @module
 */
import type { SeriesOwner } from "../containers/mod.ts";
import type { Counter, Gauge, Histogram, Registry } from "../metrics/mod.ts";
import { DEFAULT_BUCKETS } from "../metrics/mod.ts";
import type { Protocol } from "./matcher.ts";

const C = ["container_id", "app_id"] as const;
const DEST = [...C, "destination", "actual_destination"] as const;

/** Counter and histogram names per protocol: [outbound counter, inbound counter]. */
const NAMES: Record<Protocol, [string, string]> = {
  http: ["container_http_requests", "container_http_inbound_requests"],
  postgres: ["container_postgres_queries", "container_postgres_inbound_queries"],
  redis: ["container_redis_queries", "container_redis_inbound_queries"],
  memcached: ["container_memcached_queries", "container_memcached_inbound_queries"],
  mysql: ["container_mysql_queries", "container_mysql_inbound_queries"],
  dns: ["container_dns_requests", "container_dns_inbound_requests"],
};

/** The families of one protocol. */
interface ProtocolFamilies {
  out: Counter<readonly string[]>;
  outHist: Histogram<readonly string[]>;
  in: Counter<readonly string[]>;
  inHist: Histogram<readonly string[]>;
}

/** Every L7 family, registered once per module start. */
export class L7Families {
  readonly byProtocol: Record<Protocol, ProtocolFamilies>;
  readonly ipToFqdn: Gauge<readonly string[]>;
  readonly requests: Counter<readonly string[]>;
  readonly events: Counter<readonly string[]>;
  readonly kernel: Counter<readonly string[]>;

  constructor(r: Registry) {
    const by: Partial<Record<Protocol, ProtocolFamilies>> = {};
    for (const [p, [out, inbound]] of Object.entries(NAMES) as [Protocol, [string, string]][]) {
      const what = p === "http" || p === "dns" ? "requests" : "queries";
      const outLabels = p === "dns"
        ? [...C, "request_type", "domain", "status"]
        : [...DEST, "status"];
      by[p] = {
        out: r.counter({
          name: `${out}_total`,
          help: `Number of outbound ${p} ${what}`,
          labelNames: outLabels,
        }),
        outHist: r.histogram({
          name: `${out}_duration_seconds_total`,
          help: `Histogram of the response time for each outbound ${p} ${what.slice(0, -1)}`,
          labelNames: p === "dns" ? C : DEST,
          buckets: DEFAULT_BUCKETS,
        }),
        in: r.counter({
          name: `${inbound}_total`,
          help: `Number of inbound ${p} ${what}`,
          labelNames: [...C, "status"],
        }),
        inHist: r.histogram({
          name: `${inbound}_duration_seconds_total`,
          help: `Histogram of the response time for each inbound ${p} ${what.slice(0, -1)}`,
          labelNames: C,
          buckets: DEFAULT_BUCKETS,
        }),
      };
    }
    this.byProtocol = by as Record<Protocol, ProtocolFamilies>;
    this.ipToFqdn = r.gauge({
      name: "ip_to_fqdn",
      help: "IP address to the domain name it was resolved from (DNS answers seen)",
      labelNames: ["ip", "fqdn"],
    });
    this.requests = r.counter({
      name: "osprey_l7_requests_total",
      help: "Requests the L7 module matched, and those it could not report, by outcome",
      labelNames: ["outcome"],
    });
    this.events = r.counter({
      name: "osprey_l7_matcher_events_total",
      help: "What the L7 matcher counted (evicted connections, pending overflow, unmatched " +
        "answers, joined parts), by event",
      labelNames: ["event"],
    });
    this.kernel = r.counter({
      name: "osprey_l7_kernel_events_total",
      help: "What the l7 BPF programs counted in the kernel, by event",
      labelNames: ["event"],
    });
  }
}

/** A latency histogram kept per table entry. */
class Hist {
  readonly counts = new Float64Array(DEFAULT_BUCKETS.length + 1);
  sum = 0;

  observe(seconds: number): void {
    let i = 0;
    while (i < DEFAULT_BUCKETS.length && !(seconds <= DEFAULT_BUCKETS[i])) i++;
    this.counts[i]++;
    this.sum += seconds;
  }
}

/** One table entry: requests by status label, and their latency. */
export interface L7Entry {
  readonly statuses: Map<string, number>;
  readonly hist: Hist;
}

/** Counts one request of `status` that took `seconds` into an entry of {@linkcode L7Tables.entry}. */
export function countInto(e: L7Entry, status: string, seconds: number): void {
  e.statuses.set(status, (e.statuses.get(status) ?? 0) + 1);
  e.hist.observe(seconds);
}

/** One container's L7 tables. */
export class ContainerL7 {
  /** Outbound, by `protocol \0 destination \0 actual_destination`. */
  readonly outbound = new Map<string, L7Entry & { protocol: Protocol; labels: [string, string] }>();
  /** Inbound, by protocol. */
  readonly inbound = new Map<Protocol, L7Entry>();
  /** Outbound DNS by `request_type \0 domain \0 status`. */
  readonly dns = new Map<string, number>();
  readonly dnsHist = new Hist();
  /** Domains labelled so far (the `--max-fqdns-per-container` cap). */
  readonly domains = new Set<string>();
}

/** Caps of {@linkcode L7Tables}. */
export interface TableOptions {
  /** `--max-fqdns-per-container`. */
  readonly maxFqdns: number;
  /** Outbound destinations per container. @default 4096 */
  readonly maxDestinations?: number;
}

/** Every container's tables (`ip_to_fqdn` comes from agent/dns_names.ts `DnsNames`). */
export class L7Tables {
  readonly #o: TableOptions;
  readonly #byContainer = new Map<string, ContainerL7>();
  destinationsOverflow = 0;

  constructor(o: TableOptions) {
    this.#o = o;
  }

  /** The tables of a container, if it has any. */
  get(id: string): ContainerL7 | undefined {
    return this.#byContainer.get(id);
  }

  /** Forgets a removed container. */
  forget(id: string): void {
    this.#byContainer.delete(id);
  }

  #of(id: string): ContainerL7 {
    let t = this.#byContainer.get(id);
    if (t === undefined) this.#byContainer.set(id, t = new ContainerL7());
    return t;
  }

  /** Counts one request or query of a protocol other than DNS. */
  add(
    id: string,
    r: { protocol: Protocol; inbound: boolean; status: string; seconds: number },
    dest?: { destination: string; actualDestination: string },
  ): void {
    const e = this.entry(id, r.protocol, r.inbound, dest);
    if (e !== undefined) countInto(e, r.status, r.seconds);
  }

  /**
   * The table entry requests of `protocol` to `dest` (outbound) or to the container (inbound)
   * count into, made on first use; undefined (counted in `destinationsOverflow`) when the
   * container already has `maxDestinations` outbound ones. An entry stays valid until
   * {@linkcode forget} of its container, so a caller may keep it per connection and count with
   * {@linkcode countInto}.
   */
  entry(
    id: string,
    protocol: Protocol,
    inbound: boolean,
    dest?: { destination: string; actualDestination: string },
  ): L7Entry | undefined {
    const t = this.#of(id);
    if (inbound) {
      let e = t.inbound.get(protocol);
      if (e === undefined) t.inbound.set(protocol, e = { statuses: new Map(), hist: new Hist() });
      return e;
    }
    const d = dest ?? { destination: "", actualDestination: "" };
    const key = protocol + "\0" + d.destination + "\0" + d.actualDestination;
    let o = t.outbound.get(key);
    if (o === undefined) {
      if (t.outbound.size >= (this.#o.maxDestinations ?? 4096)) {
        this.destinationsOverflow++;
        return undefined;
      }
      o = {
        protocol,
        labels: [d.destination, d.actualDestination],
        statuses: new Map(),
        hist: new Hist(),
      };
      t.outbound.set(key, o);
    }
    return o;
  }

  /**
   * Counts one DNS request (outbound: by type, normalised domain and status, the domain
   * capped at `maxFqdns` per container, beyond which it is `~other`; inbound: by status).
   */
  addDns(
    id: string,
    r: { inbound: boolean; status: string; seconds: number; requestType: string; domain: string },
  ): void {
    const t = this.#of(id);
    if (r.inbound) {
      this.add(id, { protocol: "dns", inbound: true, status: r.status, seconds: r.seconds });
      return;
    }
    let domain = r.domain;
    if (!t.domains.has(domain)) {
      if (t.domains.size >= this.#o.maxFqdns) domain = "~other";
      else t.domains.add(domain);
    }
    const key = r.requestType + "\0" + domain + "\0" + r.status;
    t.dns.set(key, (t.dns.get(key) ?? 0) + 1);
    t.dnsHist.observe(r.seconds);
  }
}

/** Writes one container's tables into its series. */
export function writeContainerL7(t: ContainerL7, s: SeriesOwner, f: L7Families): void {
  for (const o of t.outbound.values()) {
    const fam = f.byProtocol[o.protocol];
    for (const [status, n] of o.statuses) s.get(fam.out, ...o.labels, status).set(n);
    s.get(fam.outHist, ...o.labels).setCounts(o.hist.counts, o.hist.sum);
  }
  for (const [p, e] of t.inbound) {
    const fam = f.byProtocol[p];
    for (const [status, n] of e.statuses) s.get(fam.in, status).set(n);
    s.get(fam.inHist).setCounts(e.hist.counts, e.hist.sum);
  }
  if (t.dns.size > 0) {
    const fam = f.byProtocol.dns;
    for (const [key, n] of t.dns) s.get(fam.out, ...key.split("\0")).set(n);
    s.get(fam.outHist).setCounts(t.dnsHist.counts, t.dnsHist.sum);
  }
}
