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
import type { BpfObject, RingBuffer, TcpEvent } from "../../ffi/mod.ts";
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
import { checkIpPrefix, checkPortRanges, parsePortRanges } from "../flag_syntax.ts";
import type { FlagSpec, FlagValues } from "../flags.ts";
import type { ModuleInstance, ModuleSpec } from "../modules.ts";
import type { HostPaths } from "../paths.ts";
import { under } from "../paths.ts";
import { parsePrefix } from "./address.ts";
import { DestinationFilter } from "./filter.ts";
import { NetFamilies, writeContainerNet } from "./metrics.ts";
import { NetnsAddressCache } from "./netns_addresses.ts";
import { ConnectionTracker, type FilterReason } from "./tracker.ts";

export { ConnectionTracker } from "./tracker.ts";

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

/** Inode of a namespace link (`net:[4026531840]`), 0 when unreadable. */
export function namespaceInode(link: string): number {
  const m = /^[a-z]+:\[(\d+)\]$/.exec(link);
  return m ? Number(m[1]) : 0;
}

function readNetns(paths: HostPaths, pid: number | "self"): number {
  try {
    return namespaceInode(Deno.readLinkSync(under(paths.proc, `${pid}/ns/net`)));
  } catch {
    return 0;
  }
}

/** The module definition. */
export const netModule: ModuleSpec = {
  name: "net",
  description: "TCP connections, listens, retransmits, bytes and latency per container",
  flags: NET_FLAGS,
  permissions(_flags, paths) {
    return [{ descriptor: { name: "read", path: paths.proc }, flag: `--allow-read=${paths.proc}` }];
  },
  start(ctx): ModuleInstance {
    const { flags, paths, registry, log } = ctx;
    const directory = containerDirectory.current;
    if (directory === undefined) {
      throw new Error("the net module needs the containers module, which is not running");
    }
    const hostNetns = readNetns(paths, 1);
    const ports = String(flags["ephemeral-port-range"] ?? "");
    const filter = new DestinationFilter({
      ephemeralPorts: ports === "" ? [] : parsePortRanges(ports),
      publicNetworks: (flags["track-public-network"] as string[] ?? []).map(parsePrefix),
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
    });
    const unsubscribe = directory.onContainerRemoved((c) => tracker.forgetContainer(c.id));

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
        unsubscribe();
        if (err instanceof BpfError) throw new Error(err.message, { cause: err });
        throw err;
      }
      log.info("net: tcp object loaded", loaded.obj.info());
    } else {
      log.warn(
        "net: no BPF (no --allow-ffi for libosprey, --disable-bpf or a fixture tree): " +
          "only listens are reported, from /proc",
      );
    }

    const stopping = new AbortController();
    const loop = ring === undefined ? Promise.resolve() : consumeRing(ring, tracker, {
      families,
      addresses,
      registryFamilies: bpfFamilies(registry),
      signal: stopping.signal,
    });
    loop.catch((err) => log.error("net: tcp event loop stopped", { error: err }));

    const collectors: Collector[] = [{
      name: "net",
      collect: () => {
        if (loaded) readKernelState(loaded.obj, tracker, families, bpfFamilies(registry));
        tracker.round();
        writeAll(directory.containers(), tracker, families, hostNetns, addresses);
        writeSelf(tracker, families);
      },
    }];

    return {
      collectors,
      ready: Promise.resolve(),
      async stop() {
        stopping.abort();
        await loop.catch(() => {});
        unsubscribe();
        loaded?.close();
      },
    };
  },
};

interface ConsumeContext {
  families: NetFamilies;
  addresses: NetnsAddressCache;
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
      tracker.handle(e);
    });
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
): void {
  for (const view of containers) {
    if (!view.visible || view.removed) continue;
    const net = tracker.net(view.id);
    if (net === undefined) continue;
    writeContainerNet(net, view.series, {
      families,
      hostNetns,
      addresses: (ns) => addresses.get(ns),
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

function writeSelf(tracker: ConnectionTracker, f: NetFamilies): void {
  const c = tracker.counters;
  f.connections.labels().set(tracker.connectionCount);
  f.pending.labels().set(tracker.pendingCount);
  f.overflow.labels("connections").set(c.connectionsOverflow);
  f.overflow.labels("destinations").set(c.destinationsOverflow);
  f.overflow.labels("listens").set(c.listensOverflow);
  for (const r of FILTER_REASONS) f.filtered.labels(r).set(c.filtered[r]);
  f.unattributed.labels().set(c.unattributed);
  f.untrackedEnds.labels().set(c.untrackedEnds);
}
