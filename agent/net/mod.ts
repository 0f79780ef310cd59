/**
 * The net module: who each container talks to over TCP, and how well (reference §2.3):
 * connects (successful, with their time, and failed), active connections, listening
 * sockets, retransmits and bytes per destination, and the round-trip time to each
 * destination from inside the container's network namespace.
 *
 * | collector     | what                                                              | interval |
 * |---------------|-------------------------------------------------------------------|----------|
 * | `net`         | kernel counters read, containers attributed, series written       | `--collect-interval` |
 * | `net_listens` | listens reconciled with `/proc/<pid>/net/tcp{,6}`                 | 60 s |
 * | `net_pinger`  | ICMP echo to each actual destination (`container_net_latency_seconds`) | `--collect-interval` |
 *
 * Sources: the tcp BPF object (bpf/tcp.bpf.c) when `--allow-ffi` grants libosprey: state
 * changes and retransmits from tracepoints, bytes counted in the kernel per connection and
 * read every round. Connections and listens that exist before it attaches are found in
 * `/proc/<pid>/net/tcp{,6}` at start. Without BPF (no ffi grant, `--disable-bpf`, a fixture
 * tree) only listens are reported, from `/proc`.
 *
 * Needs the containers module (to attribute processes to containers) and read on `<proc>`.
 *
 * @module
 */
import { withNetNamespace } from "../self/proc_broker.ts";
import type { BpfObject, NatStats, NatWatcher, RingBuffer, TcpEvent } from "../../ffi/mod.ts";
import {
  BpfError,
  decodeTcpEvent,
  emptyTcpEvent,
  forEachFrame,
  forEachTcpConn,
  TCP_CONN_SIZE,
  TcpCounter,
} from "../../ffi/mod.ts";
import { bpfFamilies, libraryPath, type LoadedObject, loadObject } from "../bpf/mod.ts";
import type { Collector } from "../collector.ts";
import { containerDirectory, type ContainerView } from "../containers/mod.ts";
import { checkIpPrefix, checkPortRanges, parsePortRanges, type PortRange } from "../flag_syntax.ts";
import type { SkipLine } from "../file_format_error.ts";
import type { FlagSpec, FlagValues } from "../flags.ts";
import type { ModuleInstance, ModuleSpec } from "../modules.ts";
import { parseErrors } from "../parse_errors.ts";
import type { Logger } from "../log.ts";
import type { HostPaths } from "../paths.ts";
import { under } from "../paths.ts";
import { netNamespaceInode } from "../identity/namespaces.ts";
import { dnsNames } from "../dns_names.ts";
import {
  isLinkLocalUnicast,
  isLoopback,
  isPrivate,
  parseIp,
  parsePrefix,
  type Prefix,
} from "./address.ts";
import { parseIfInet6 } from "../node/mod.ts";
import { DestinationFilter } from "./filter.ts";
import { NetFamilies, writeContainerNet } from "./metrics.ts";
import { NetnsAddressCache } from "./netns_addresses.ts";
import { existingSockets } from "./existing_sockets.ts";
import { Pinger, type PingSource } from "./pinger.ts";
import { ConnectionTracker, type FilterReason } from "./tracker.ts";

export { ConnectionTracker } from "./tracker.ts";

/** The running net module's connection tracker (for the L7 module's destinations), if any. */
export const netTracker: { current: ConnectionTracker | undefined } = { current: undefined };

const GROUP = "Network";
const RING = "tcp_events";
const RECORD_TYPES = ["connect", "failed", "end", "close", "listen", "listen_close"] as const;

/** The module's flags (coroot-node-agent's names where it has the option). */
export const NET_FLAGS: readonly FlagSpec[] = [
  {
    name: "track-public-network",
    env: "TRACK_PUBLIC_NETWORK",
    kind: "list",
    default: ["0.0.0.0/0"],
    check: checkIpPrefix,
    accepts: "address/bits, e.g. 203.0.113.0/24 or 2001:db8::/32 (repeatable)",
    help: "Public networks whose connections are tracked (private networks always are)",
    group: GROUP,
  },
  {
    name: "ephemeral-port-range",
    env: "EPHEMERAL_PORT_RANGE",
    kind: "string",
    default: "32768-60999",
    check: checkPortRanges,
    accepts: "FROM-TO port ranges separated by spaces or commas, or empty for none",
    help: "Destination and listening ports in these ranges are not tracked (50051 always is)",
    group: GROUP,
  },
  {
    name: "disable-pinger",
    env: "DISABLE_PINGER",
    kind: "bool",
    help: "Send no ICMP echo requests to measure round-trip times to upstreams",
    group: GROUP,
  },
  {
    name: "disable-net-module",
    env: "DISABLE_NET_MODULE",
    kind: "bool",
    help: "Switch the net module off: no TCP programs, no container_net_* series (Osprey's " +
      "own flag, for comparisons such as deno task bench:net)",
    group: GROUP,
  },
  {
    name: "max-connections",
    env: "MAX_CONNECTIONS",
    kind: "int",
    default: 262_144,
    min: 1024,
    max: 4_194_304,
    help: "Most TCP connections tracked at once (the kernel map and the agent's table); more " +
      'are counted in osprey_net_overflow_total{table="connections"}',
    group: GROUP,
  },
  {
    name: "max-destinations-per-container",
    env: "MAX_DESTINATIONS_PER_CONTAINER",
    kind: "int",
    default: 4096,
    min: 1,
    max: 1_000_000,
    help: "Most destinations reported per container (each costs six series); more are " +
      'counted in osprey_net_overflow_total{table="destinations"}',
    group: GROUP,
  },
  {
    name: "max-listens-per-container",
    env: "MAX_LISTENS_PER_CONTAINER",
    kind: "int",
    default: 1024,
    min: 1,
    max: 1_000_000,
    help: "Most listening sockets reported per container; more are counted in " +
      'osprey_net_overflow_total{table="listens"}',
    group: GROUP,
  },
];

function num(flags: FlagValues, name: string, fallback: number): number {
  const v = flags[name];
  return typeof v === "number" ? v : fallback;
}

/** BPF tracking is possible: granted, not switched off, not a fixture tree. */
function bpfWanted(flags: FlagValues, paths: HostPaths): boolean {
  return flags["disable-bpf"] !== true && !paths.fixture &&
    Deno.permissions.querySync({ name: "ffi", path: libraryPath() }).state === "granted";
}

/** How often connections and listens are checked against `/proc` (the reference: 10 min). */
const RECONCILE_MS = 600_000;
/** The same without BPF, where `/proc` is the only source. */
const RECONCILE_POLLING_MS = 30_000;

/** The module definition. */
export const netModule: ModuleSpec = {
  name: "net",
  description: "TCP connections, listens, retransmits, bytes and latency per container",
  flags: NET_FLAGS,
  permissions(_flags, paths) {
    return [{ descriptor: { name: "read", path: paths.proc }, flag: `--allow-read=${paths.proc}` }];
  },
  disabledBy(flags) {
    if (flags["disable-net-module"] === true) {
      return { reason: "disabled by --disable-net-module", flag: "--disable-net-module=false" };
    }
    return undefined;
  },
  start(ctx): ModuleInstance {
    const { flags, paths, registry, log } = ctx;
    const directory = containerDirectory.current;
    if (directory === undefined) {
      throw new Error("the net module needs the containers module, which is not running");
    }
    const ownNetns = netNamespaceInode(paths, "self");
    let hostNetns = netNamespaceInode(paths, 1);
    if (hostNetns === 0) {
      // some sandboxes refuse even root the namespace links of PID 1 (EACCES)
      hostNetns = ownNetns;
      log.warn(
        "net: cannot read the host's network namespace (<proc>/1/ns/net); taking the " +
          "agent's own as the host's (loopback is tracked only there)",
        { netns: ownNetns },
      );
    }
    const ports = String(flags["ephemeral-port-range"] ?? "");
    const ephemeralPorts = ports === "" ? [] : parsePortRanges(ports);
    const filter = new DestinationFilter({
      ephemeralPorts,
      publicNetworks: [
        ...(flags["track-public-network"] as string[] ?? []).map(parsePrefix),
        ...nodePublicNetworks(paths),
      ],
    });
    const families = new NetFamilies(registry);
    const addresses = new NetnsAddressCache(paths.proc);
    const tracker = new ConnectionTracker({
      resolve: (pid, cgroupId) => directory.lookupPid(pid, cgroupId),
      filter,
      hostNetns,
      maxConnections: num(flags, "max-connections", 262_144),
      maxDestinationsPerContainer: num(flags, "max-destinations-per-container", 4096),
      maxListensPerContainer: num(flags, "max-listens-per-container", 1024),
      // names the L7 module learnt from DNS answers (agent/dns_names.ts), while it runs
      names: () => dnsNames.current,
    });

    netTracker.current = tracker;
    let loaded: LoadedObject | undefined;
    let ring: RingBuffer | undefined;
    if (bpfWanted(flags, paths)) {
      loaded = loadObject("tcp", ctx, {
        beforeLoad: (obj) => obj.resizeMap("tcp_conns", num(flags, "max-connections", 262_144)),
      });
      try {
        ring = loaded.obj.openRing(RING);
      } catch (err) {
        loaded.close();
        if (err instanceof BpfError) throw new Error(err.message, { cause: err });
        throw err;
      }
      log.info("net: tcp object loaded", loaded.obj.info());
    } else {
      log.warn(
        "net: no BPF (no --allow-ffi for libosprey, --disable-bpf or a fixture tree): " +
          "listens and established connections come from /proc only, every " +
          `${RECONCILE_POLLING_MS / 1000} s; no connects, bytes or retransmits`,
      );
    }

    const stopping = new AbortController();
    // NAT: in the kernel where fentry loads, else conntrack over netlink through the library
    const nat = loaded === undefined || loaded.obj.info().nat === "fentry"
      ? undefined
      : new NatSource(
        loaded,
        ownNetns === hostNetns ? "" : under(paths.proc, "1/ns/net"),
        paths.proc,
        log,
      );
    // under Landlock, another process's namespace file comes from the procfs broker
    const pinger = loaded === undefined || flags["disable-pinger"] === true
      ? undefined
      : new Pinger({
        ping: (path, targets) =>
          withNetNamespace(paths.proc, path, (p) => loaded!.lib.ping(p, targets)),
      });
    const unsubscribe = directory.onContainerRemoved((c) => {
      tracker.forgetContainer(c.id);
      pinger?.forget(c.id);
    });

    const errors = parseErrors(registry, { log });
    const v4Skip = errors.sink("net_reconcile", "<pid>/net/tcp");
    const v6Skip = errors.sink("net_reconcile", "<pid>/net/tcp6");
    const tableSkip: SkipLine = (e) => (e.file.endsWith("6") ? v6Skip : v4Skip)(e);

    let scanning: Promise<void> | undefined;
    let lastScanMs = 0;
    const reconcileMs = loaded === undefined ? RECONCILE_POLLING_MS : RECONCILE_MS;
    const scan = (first: boolean) => {
      // the scheduler's first round comes right after the scan at start: skip it
      if (!first && scanning === undefined && Date.now() - lastScanMs < reconcileMs / 2) {
        return Promise.resolve();
      }
      scanning ??= reconcileFromProc(paths, tracker, addresses, {
        ephemeralPorts,
        skip: tableSkip,
        first,
        // without BPF every scan is a source of connections, not only the first
        seedAgain: loaded === undefined,
        log,
        signal: stopping.signal,
        nat,
      }).finally(() => {
        scanning = undefined;
        lastScanMs = Date.now();
      });
      return scanning;
    };
    // After the programs attached (what opens meanwhile is seen by both and merged) and the
    // NAT watcher opened (what is found is looked up). Until this seeding scan has run, the
    // periodic reconciliation waits for it instead of scanning in its place (which would
    // leave the connections found unseeded), and the first round of series waits too, so
    // /readyz answers 200 only once what existed at start is served.
    let seeded = false;
    const ready = (async () => {
      try {
        await nat?.ready;
        await scan(true);
      } finally {
        seeded = true;
      }
    })();

    const loop = ring === undefined ? Promise.resolve() : consumeRing(ring, tracker, {
      addresses,
      registryFamilies: bpfFamilies(registry),
      signal: stopping.signal,
      nat,
    });
    loop.catch((err) => log.error("net: tcp event loop stopped", { error: err }));
    // what waits (a DNS name, a container) is retried between tcp batches too, so a connection
    // waiting for the L7 module's names does not wait for the next record or round
    const settleTimer = setInterval(() => {
      if (tracker.pendingCount > 0) tracker.settle();
    }, 100);

    const collectors: Collector[] = [{
      name: "net",
      collect: async () => {
        if (!seeded) await ready.catch(() => {});
        if (loaded) readKernelState(loaded.obj, tracker, families, bpfFamilies(registry));
        tracker.round();
        writeAll(directory.containers(), tracker, families, hostNetns, addresses, pinger);
        writeSelf(tracker, families, nat, pinger);
      },
    }, {
      name: "net_reconcile",
      intervalMs: reconcileMs,
      collect: () => seeded ? scan(false) : ready,
    }];
    if (pinger) {
      collectors.push({
        name: "net_pinger",
        collect: (signal) =>
          pinger.round(pingSources(directory.containers(), tracker, paths, ownNetns), signal),
      });
    }

    return {
      collectors,
      ready,
      async stop() {
        stopping.abort();
        clearInterval(settleTimer);
        if (netTracker.current === tracker) netTracker.current = undefined;
        await loop.catch(() => {});
        await ready.catch(() => {});
        unsubscribe();
        nat?.close();
        loaded?.close();
      },
    };
  },
};

/**
 * The node's own public IPv6 networks, tracked like `--track-public-network` (the reference
 * adds every public network the node has an address in; its public IPv4 ones are all tracked
 * by default already). From `<proc>/1/net/if_inet6`, the host namespace's addresses.
 */
function nodePublicNetworks(paths: HostPaths): Prefix[] {
  let text: string | undefined;
  try {
    text = Deno.readTextFileSync(under(paths.proc, "1/net/if_inet6"));
  } catch {
    return [];
  }
  const out: Prefix[] = [];
  for (const a of parseIfInet6(text, "if_inet6", () => {})) {
    const ip = parseIp(a.ip);
    if (ip === undefined || isLoopback(ip) || isPrivate(ip) || isLinkLocalUnicast(ip)) continue;
    if (a.prefixLength < 1 || a.prefixLength > 128 || ip[0] === 0xff) continue;
    out.push({ ip, bits: a.prefixLength, v4: false });
  }
  return out;
}

/** Finds what exists in `/proc`: seeds the tracker the first time, repairs it afterwards. */
async function reconcileFromProc(
  paths: HostPaths,
  tracker: ConnectionTracker,
  addresses: NetnsAddressCache,
  o: {
    ephemeralPorts: PortRange[];
    /** Odd lines of `<pid>/net/tcp{,6}`, for `osprey_parse_errors_total`. */
    skip: SkipLine;
    first: boolean;
    seedAgain: boolean;
    log: Logger;
    signal: AbortSignal;
    nat: NatSource | undefined;
  },
): Promise<void> {
  const found = await existingSockets(paths, {
    ephemeralPorts: o.ephemeralPorts,
    skip: o.skip,
    signal: o.signal,
  });
  for (const l of found.listens) addresses.notePid(l.netns, l.pid);
  if (o.first) {
    // through a DNAT rule, their actual destination is in the watcher's conntrack dump
    tracker.seed(found.connections, o.nat?.wanted === true);
    o.nat?.resolve(tracker);
    tracker.settle();
    for (const l of found.listens) tracker.seedListen(l.netns, l.address, l.port, l.pid);
    o.log.info("net: found at start", {
      listens: found.listens.length,
      connections: found.connections.length,
      namespaces: found.stats.namespaces,
      elapsed_ms: Math.round(found.stats.elapsedMs),
      complete: found.stats.complete,
    });
    return;
  }
  if (!found.stats.complete) return; // a cut-short scan would end connections it did not see
  tracker.reconcile(found);
  if (o.seedAgain) tracker.seed(found.connections);
}

/** The containers to ping from, with the namespace file of one of their processes. */
function pingSources(
  containers: Iterable<ContainerView>,
  tracker: ConnectionTracker,
  paths: HostPaths,
  ownNetns: number,
): PingSource[] {
  const out: PingSource[] = [];
  for (const view of containers) {
    if (!view.visible || view.removed) continue;
    const net = tracker.net(view.id);
    if (net === undefined) continue;
    const pid = view.anyPid();
    if (pid === undefined) continue;
    const ns = netNamespaceInode(paths, pid);
    out.push({
      id: view.id,
      net,
      netnsPath: ns === 0 ? undefined : ns === ownNetns ? "" : under(paths.proc, `${pid}/ns/net`),
    });
  }
  return out;
}

/**
 * Actual destinations from conntrack over netlink (kernels that refuse fentry): a watcher in
 * the host's network namespace, asked for each batch of new connections. If it cannot be
 * opened (no CAP_NET_ADMIN, or CAP_SYS_ADMIN to enter the host's namespace), connections keep
 * their destination as actual destination and one line says why.
 */
class NatSource {
  readonly ready: Promise<void>;
  #watcher: NatWatcher | undefined;
  #failed = false;
  #closed = false;

  constructor(loaded: LoadedObject, netnsPath: string, proc: string, log: Logger) {
    this.ready = withNetNamespace(proc, netnsPath, (p) => loaded.lib.openNatWatcher(p)).then(
      (w) => {
        if (this.#closed) w.close();
        else this.#watcher = w;
        log.info("net: NAT destinations from conntrack", { ...w.info() });
      },
      (err) => {
        this.#failed = true;
        log.warn("net: cannot watch conntrack; actual_destination is the destination", {
          error: err,
          fix: "grant CAP_NET_ADMIN (and CAP_SYS_ADMIN in a pod outside the host network)",
        });
      },
    );
  }

  /** Whether new connects should wait for a lookup. */
  get wanted(): boolean {
    return !this.#failed && !this.#closed;
  }

  /** Looks the waiting connections up once the watcher is open (else leaves them waiting). */
  resolve(tracker: ConnectionTracker): void {
    const need = [...tracker.needingActual()];
    if (need.length === 0) return;
    if (this.#watcher === undefined) {
      if (this.#failed || this.#closed) { for (const c of need) tracker.setActual(c, undefined); }
      return;
    }
    // addresses as bytes: parseIp() remembers them, the watcher would parse every text again
    const results = this.#watcher.lookup(need.map((c) => ({
      saddr: parseIp(c.saddr) ?? c.saddr,
      daddr: parseIp(c.daddr) ?? c.daddr,
      sport: c.sport,
      dport: c.dport,
      startNs: c.startNs,
    })));
    need.forEach((c, i) => {
      const r = results[i];
      tracker.setActual(c, r.found ? { ip: r.addr, port: r.port } : undefined);
    });
  }

  /** The watcher's counters, if it is open. */
  stats(): NatStats | undefined {
    return this.#watcher?.stats();
  }

  close(): void {
    this.#closed = true;
    this.#watcher?.close();
  }
}

interface ConsumeContext {
  addresses: NetnsAddressCache;
  nat: NatSource | undefined;
  registryFamilies: ReturnType<typeof bpfFamilies>;
  signal: AbortSignal;
}

/** Drains the tcp ring into the tracker until stopped. */
async function consumeRing(
  ring: RingBuffer,
  tracker: ConnectionTracker,
  ctx: ConsumeContext,
): Promise<void> {
  const { records, lost } = ctx.registryFamilies;
  const byType = Object.fromEntries(RECORD_TYPES.map((t) => [t, records.labels(RING, t)]));
  for (const t of RECORD_TYPES) lost.labels(RING, t);
  const other = records.labels(RING, "unknown");
  const e: TcpEvent = emptyTcpEvent();
  for await (const batch of ring.batches({ signal: ctx.signal, timeoutMs: 100 })) {
    forEachFrame(batch, (off) => {
      decodeTcpEvent(batch, off, e);
      (e.type === "unknown" ? other : byType[e.type]).inc();
      if (e.type === "listen" && e.pid > 0) ctx.addresses.notePid(e.netns, e.pid);
      tracker.handle(e, ctx.nat?.wanted === true);
    });
    ctx.nat?.resolve(tracker);
    tracker.settle();
  }
}

const MAP_BUFFER = new Uint8Array(4096 * (8 + TCP_CONN_SIZE));

/** Reads the per-connection counters and the kernel-side counters. */
function readKernelState(
  obj: BpfObject,
  tracker: ConnectionTracker,
  families: NetFamilies,
  bpf: ReturnType<typeof bpfFamilies>,
): void {
  obj.readMap(
    "tcp_conns",
    MAP_BUFFER,
    (buf, n) => forEachTcpConn(buf, n, (e) => tracker.update(e)),
  );
  families.mapReads.labels().inc();
  const c = obj.counters();
  families.kernel.labels("table_full").set(c[TcpCounter.CONN_FULL] ?? 0);
  families.kernel.labels("opened_before_start").set(c[TcpCounter.LAZY] ?? 0);
  families.kernel.labels("connect_untracked").set(c[TcpCounter.CONNECT_UNTRACKED] ?? 0);
  families.kernel.labels("inbound_established").set(c[TcpCounter.ACCEPTED] ?? 0);
  families.kernel.labels("nat_seen").set(c[TcpCounter.NAT_SEEN] ?? 0);
  families.kernel.labels("nat_table_full").set(c[TcpCounter.NAT_FULL] ?? 0);
  families.kernel.labels("nat_used").set(c[TcpCounter.NAT_USED] ?? 0);
  const lost = obj.lost();
  for (const t of RECORD_TYPES) bpf.lost.labels(RING, t).set(lost.byType[t] ?? 0);
}

/** Writes the series of every visible container. */
function writeAll(
  containers: Iterable<ContainerView>,
  tracker: ConnectionTracker,
  families: NetFamilies,
  hostNetns: number,
  addresses: NetnsAddressCache,
  pinger: Pinger | undefined,
): void {
  for (const view of containers) {
    if (!view.visible || view.removed) continue;
    const net = tracker.net(view.id);
    if (net === undefined) continue;
    writeContainerNet(net, view.series, {
      families,
      hostNetns,
      addresses: (ns) => addresses.get(ns),
      latency: pinger?.latency(view.id),
    });
  }
}

const FILTER_REASONS: readonly FilterReason[] = [
  "ephemeral_port",
  "link_local",
  "loopback_in_container",
  "public_network",
  "not_a_container",
  "address_family",
];

function writeSelf(
  tracker: ConnectionTracker,
  f: NetFamilies,
  nat: NatSource | undefined,
  pinger: Pinger | undefined,
): void {
  const c = tracker.counters;
  f.connections.labels().set(tracker.connectionCount);
  f.pending.labels().set(tracker.pendingCount);
  f.overflow.labels("connections").set(c.connectionsOverflow);
  f.overflow.labels("destinations").set(c.destinationsOverflow);
  f.overflow.labels("listens").set(c.listensOverflow);
  for (const r of FILTER_REASONS) f.filtered.labels(r).set(c.filtered[r]);
  f.unattributed.labels().set(c.unattributed);
  f.untrackedEnds.labels().set(c.untrackedEnds);
  f.repairedEnds.labels().set(c.repairedEnds);
  f.nameWaitTimeouts.labels().set(c.nameWaitTimeouts);
  const n = nat?.stats();
  if (n) {
    for (const [k, v] of Object.entries(n)) f.nat.labels(k).set(v);
  }
  if (pinger) {
    for (const [result, v] of pinger.results) f.pings.labels(result).set(v);
    for (const [code, v] of pinger.failures) f.pingBatchFailures.labels(code).set(v);
  }
}
