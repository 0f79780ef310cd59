/**
 * The network module's families: the contract's `container_net_*` (reference §2.3, each with
 * `container_id` and `app_id`) and Osprey's own `osprey_net_*` self-metrics, and the writer
 * that turns a container's {@linkcode ContainerNet} into series through its SeriesOwner, so
 * the registry removes them with the container.
 *
 * @module
 */
import type { Counter, Gauge, Registry } from "../metrics/mod.ts";
import type { SeriesOwner } from "../containers/mod.ts";
import { isLoopback, joinHostPort, parseIp } from "./address.ts";
import type { NetnsAddresses } from "./netns_addresses.ts";
import type { ContainerNet } from "./tracker.ts";

const C = ["container_id", "app_id"] as const;
const DEST = [...C, "destination", "actual_destination"] as const;

/** The families, registered once per module start. */
export class NetFamilies {
  readonly listenInfo: Gauge<readonly string[]>;
  readonly connects: Counter<readonly string[]>;
  readonly connectTime: Counter<readonly string[]>;
  readonly failed: Counter<readonly string[]>;
  readonly active: Gauge<readonly string[]>;
  readonly retransmits: Counter<readonly string[]>;
  readonly bytesSent: Counter<readonly string[]>;
  readonly bytesReceived: Counter<readonly string[]>;
  readonly latency: Gauge<readonly string[]>;

  // Osprey's own
  readonly connections: Gauge<readonly string[]>;
  readonly pending: Gauge<readonly string[]>;
  readonly overflow: Counter<readonly string[]>;
  readonly filtered: Counter<readonly string[]>;
  readonly unattributed: Counter<readonly string[]>;
  readonly untrackedEnds: Counter<readonly string[]>;
  readonly repairedEnds: Counter<readonly string[]>;
  readonly nameWaitTimeouts: Counter<readonly string[]>;
  readonly nat: Counter<readonly string[]>;
  readonly pings: Counter<readonly string[]>;
  readonly pingBatchFailures: Counter<readonly string[]>;
  readonly kernel: Counter<readonly string[]>;
  readonly mapReads: Counter<readonly string[]>;

  /** Families keyed by destination (one series per destination and actual destination). */
  readonly destinationFamilies: readonly (Counter<readonly string[]> | Gauge<readonly string[]>)[];

  constructor(r: Registry) {
    this.listenInfo = r.gauge({
      name: "container_net_tcp_listen_info",
      help: "Listening TCP socket of the container: 1 open, 0 closed",
      labelNames: [...C, "listen_addr", "proxy"],
    });
    this.connects = r.counter({
      name: "container_net_tcp_successful_connects_total",
      help: "Total number of successful TCP connects",
      labelNames: DEST,
    });
    this.connectTime = r.counter({
      name: "container_net_tcp_connection_time_seconds_total",
      help: "Time spent on TCP connections",
      labelNames: DEST,
    });
    this.failed = r.counter({
      name: "container_net_tcp_failed_connects_total",
      help: "Total number of failed TCP connects",
      labelNames: [...C, "destination"],
    });
    this.active = r.gauge({
      name: "container_net_tcp_active_connections",
      help: "Number of active outbound connections used by the container",
      labelNames: DEST,
    });
    this.retransmits = r.counter({
      name: "container_net_tcp_retransmits_total",
      help: "Total number of retransmitted TCP segments",
      labelNames: DEST,
    });
    this.bytesSent = r.counter({
      name: "container_net_tcp_bytes_sent_total",
      help: "Total number of bytes sent to the peer",
      labelNames: DEST,
    });
    this.bytesReceived = r.counter({
      name: "container_net_tcp_bytes_received_total",
      help: "Total number of bytes received from the peer",
      labelNames: DEST,
    });
    this.latency = r.gauge({
      name: "container_net_latency_seconds",
      help: "Round-trip time between the container and a remote IP",
      labelNames: [...C, "destination_ip"],
    });
    this.connections = r.gauge({
      name: "osprey_net_connections",
      help: "TCP connections the network module follows now",
      labelNames: [],
    });
    this.pending = r.gauge({
      name: "osprey_net_pending_connections",
      help: "Connections waiting for their container to be identified or their NAT lookup",
      labelNames: [],
    });
    this.overflow = r.counter({
      name: "osprey_net_overflow_total",
      help: "Connections, destinations and listens not tracked because their table was full",
      labelNames: ["table"],
    });
    this.filtered = r.counter({
      name: "osprey_net_filtered_total",
      help: "Connections and listens left out by the contract's filters, by reason",
      labelNames: ["reason"],
    });
    this.unattributed = r.counter({
      name: "osprey_net_unattributed_total",
      help: "Connections and listens whose process could not be attributed to a container in time",
      labelNames: [],
    });
    this.untrackedEnds = r.counter({
      name: "osprey_net_untracked_ends_total",
      help: "Ends of connections the module never saw open (opened before it started, or filtered)",
      labelNames: [],
    });
    this.repairedEnds = r.counter({
      name: "osprey_net_repaired_ends_total",
      help: "Connections a /proc scan found ended although no record said so (records lost)",
      labelNames: [],
    });
    this.nameWaitTimeouts = r.counter({
      name: "osprey_net_name_wait_timeouts_total",
      help: "Connections to a public address labelled ip:port after waiting 2 s for the L7 " +
        "module's DNS names to catch up",
      labelNames: [],
    });
    this.nat = r.counter({
      name: "osprey_net_nat_events_total",
      help: "What the conntrack NAT watcher counted (events, cached, evicted, overruns, hits, " +
        "misses, gets, unverified, ...), by counter",
      labelNames: ["counter"],
    });
    this.pings = r.counter({
      name: "osprey_net_pings_total",
      help: "ICMP echo probes of the pinger, by result (ok, or the errno name)",
      labelNames: ["result"],
    });
    this.pingBatchFailures = r.counter({
      name: "osprey_net_ping_batch_failures_total",
      help: "Pinger batches that failed as a whole (no namespace file, setns refused), by errno",
      labelNames: ["error"],
    });
    this.kernel = r.counter({
      name: "osprey_net_kernel_events_total",
      help: "What the tcp BPF programs counted in the kernel, by event",
      labelNames: ["event"],
    });
    this.mapReads = r.counter({
      name: "osprey_net_counter_reads_total",
      help: "Periodic reads of the kernel's per-connection counters (tcp_conns map)",
      labelNames: [],
    });
    this.destinationFamilies = [
      this.connects,
      this.connectTime,
      this.active,
      this.retransmits,
      this.bytesSent,
      this.bytesReceived,
    ];
  }
}

/**
 * The `listen_addr` values of a listen: its own address, or every address of its network
 * namespace when it listens on all (`0.0.0.0` takes the IPv4 ones, `::` both families);
 * loopback addresses only in the host's namespace.
 */
export function listenAddresses(
  ip: string,
  port: number,
  addrs: NetnsAddresses,
  inHostNetns: boolean,
): string[] {
  let ips: readonly string[];
  if (ip === "0.0.0.0") ips = addrs.v4;
  else if (ip === "::") ips = [...addrs.v4, ...addrs.v6];
  else ips = [ip];
  const out: string[] = [];
  for (const a of ips) {
    const parsed = parseIp(a);
    if (parsed === undefined || (!inHostNetns && isLoopback(parsed))) continue;
    out.push(joinHostPort(a, port));
  }
  return out;
}

/** What {@linkcode writeContainerNet} needs besides the tables. */
export interface WriteContext {
  readonly families: NetFamilies;
  readonly hostNetns: number;
  readonly addresses: (netns: number) => NetnsAddresses;
  /** Latest RTT (s) per destination IP for this container, if the pinger ran. */
  readonly latency?: ReadonlyMap<string, number>;
}

/**
 * Sets every series of one container from its tables and removes the ones its tables no
 * longer hold (a destination collected by the GC, a listen gone).
 */
export function writeContainerNet(net: ContainerNet, s: SeriesOwner, ctx: WriteContext): void {
  const f = ctx.families;
  const keep = new Set<string>();
  for (const d of net.destinations.values()) {
    const l = [d.destination, d.actualDestination] as const;
    keep.add(l.join("\0"));
    s.get(f.connects, ...l).set(d.connects);
    s.get(f.connectTime, ...l).set(d.connectSeconds);
    s.get(f.active, ...l).set(d.active);
    s.get(f.bytesSent, ...l).set(d.bytesSent);
    s.get(f.bytesReceived, ...l).set(d.bytesReceived);
    if (d.retransmits > 0) s.get(f.retransmits, ...l).set(d.retransmits);
  }
  s.retain(f.destinationFamilies, keep);

  const failedKeep = new Set<string>();
  for (const [dst, n] of net.failed) {
    failedKeep.add(dst);
    s.get(f.failed, dst).set(n);
  }
  s.retain([f.failed], failedKeep);

  const listens = new Map<string, number>();
  for (const l of net.listens.values()) {
    const addrs = listenAddresses(l.ip, l.port, ctx.addresses(l.netns), l.netns === ctx.hostNetns);
    for (const a of addrs) listens.set(a, Math.max(listens.get(a) ?? 0, l.open ? 1 : 0));
  }
  const listenKeep = new Set<string>();
  for (const [addr, open] of listens) {
    listenKeep.add(addr + "\0");
    s.get(f.listenInfo, addr, "").set(open);
  }
  s.retain([f.listenInfo], listenKeep);

  const latencyKeep = new Set<string>();
  for (const [ip, rtt] of ctx.latency ?? []) {
    latencyKeep.add(ip);
    s.get(f.latency, ip).set(rtt);
  }
  s.retain([f.latency], latencyKeep);
}
