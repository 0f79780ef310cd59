/**
 * The L7 module: requests, errors and latency per protocol, outbound per destination and
 * inbound per container (reference §2.4, §2.5, §2.6), from payload prefixes of socket reads
 * and writes captured by the l7 BPF object (bpf/l7.bpf.c) and matched here per connection
 * (agent/l7/matcher.ts). Protocols: HTTP/1.x, HTTP/2 and gRPC, Postgres, Redis, Memcached, MySQL,
 * DNS.
 *
 * | collector | what                                                  | interval             |
 * |-----------|-------------------------------------------------------|----------------------|
 * | `l7`      | tables written into the visible containers' series    | `--collect-interval` |
 *
 * Outbound requests take `destination` and `actual_destination` from the net module's
 * connection (by kernel socket, or by 4-tuple for a connection found at start); while the net
 * module has not seen the connection yet (its ring is drained apart), the request waits up to
 * {@linkcode DEFER_MS}. Without the net module, the record's own address is both labels.
 *
 * DNS names: the A/AAAA answers of outbound DNS requests are learnt into a
 * {@linkcode DnsNames} table published in agent/dns_names.ts `dnsNames` while the module runs;
 * `ip_to_fqdn` is written from it, and the net module labels connections by it (`fqdn:port` by
 * the contract's rule), so the L7 families, which take the net module's labels, follow. After
 * each drain that leaves its ring empty the module says so (`DnsNames.caughtUp`): a connection
 * waiting for a name then knows every answer read before it.
 *
 * Traces (push mode with a traces endpoint, agent/sinks.ts): each counted outbound request of
 * HTTP/1, HTTP/2 and gRPC, Postgres, MySQL, Redis and Memcached is also handed to
 * `pushSinks.traces` ({@linkcode spanRequest}), with the actual destination and the container's
 * workload as `service.name`. The matcher builds the summaries only while that sink exists
 * (checked once per ring batch). Requests `--exclude-http-requests-by-path` leaves out make no
 * span, nor do the requests of a container any of whose live processes has
 * `COROOT_EBPF_TRACES=disabled` in its environment (the reference's rule: spans only, the metrics
 * stay; each environment read once, {@linkcode SpanOptOut}).
 *
 * Needs the containers module, `--allow-ffi` for libosprey; `--disable-l7-tracing` keeps the
 * l7 object from loading and changes nothing else.
 *
 * @module
 */
import type { L7Event, RingBuffer } from "../../ffi/mod.ts";
import {
  decodeL7Event,
  emptyL7Event,
  fillL7Addresses,
  forEachFrame,
  FrameBatch,
  L7_RECORD_TYPE,
  L7Counter,
  l7RecordType,
  l7RemoteAddress,
  l7SameRemote,
} from "../../ffi/mod.ts";
import { bpfFamilies, libraryPath, type LoadedObject, loadObject } from "../bpf/mod.ts";
import type { Collector } from "../collector.ts";
import { containerDirectory, type ContainerView } from "../containers/mod.ts";
import { checkGlob } from "../flag_syntax.ts";
import type { FlagSpec, FlagValues } from "../flags.ts";
import type { ModuleInstance, ModuleSpec } from "../modules.ts";
import type { HostPaths } from "../paths.ts";
import { netTracker } from "../net/mod.ts";
import { destinationLabels, DnsNames, dnsNames } from "../dns_names.ts";
import { normalizeDomain, PathFilter } from "./protocols/mod.ts";
import { type Completed, L7Matcher, type Protocol } from "./matcher.ts";
import { countInto, type L7Entry, L7Families, L7Tables, writeContainerL7 } from "./stats.ts";
import { pushSinks } from "../sinks.ts";
import { SpanOptOut, type SpanOwner, spanRequest, splitHostPort } from "./traces.ts";
import { OptOutCache } from "../opt_outs.ts";

const GROUP = "L7 protocols";
const RING = "l7_events";
/**
 * How long a request waits for its connection or container to be known, ms: as long as the net
 * module lets a connection wait for its container.
 */
export const DEFER_MS = 120_000;
/** Most requests waiting so. */
const DEFER_MAX = 65_536;

/** The protocols this build matches, in the order of the start-up line. */
export const L7_PROTOCOLS: readonly string[] = [
  "http",
  "http2",
  "grpc",
  "postgres",
  "redis",
  "memcached",
  "mysql",
  "dns",
];

/** The module's flags (coroot-node-agent's). */
export const L7_FLAGS: readonly FlagSpec[] = [
  {
    name: "disable-l7-tracing",
    env: "DISABLE_L7_TRACING",
    kind: "bool",
    help: "Attach no read/write tracepoints: no L7 protocol metrics (the TCP ones stay)",
    group: GROUP,
  },
  {
    name: "exclude-http-requests-by-path",
    env: "EXCLUDE_HTTP_REQUESTS_BY_PATH",
    kind: "list",
    check: checkGlob,
    accepts: "a path glob with *, **, ?, [a-z], {a,b} (repeatable)",
    help: "HTTP requests whose path matches are left out of the metrics",
    group: GROUP,
  },
  {
    name: "max-fqdns-per-container",
    env: "MAX_FQDNS_PER_CONTAINER",
    kind: "int",
    default: 50,
    min: 0,
    help: "Most distinct DNS names labelled per container; the rest are counted as ~other",
    group: GROUP,
  },
];

/** BPF is possible: granted, not switched off, not a fixture tree. */
function bpfWanted(flags: FlagValues, paths: HostPaths): boolean {
  return flags["disable-bpf"] !== true && !paths.fixture &&
    Deno.permissions.querySync({ name: "ffi", path: libraryPath() }).state === "granted";
}

/** Requests of one connection waiting for it (or its process) to be known. */
/** An attributed connection's table entry, kept by socket address. */
interface SocketEntry {
  /** The connection's: a socket address reused by another connection differs in one of them. */
  sport: number;
  dport: number;
  netns: number;
  remote: Uint8Array;
  /** The process that read an inbound request (its container owns the inbound count). */
  pid: number;
  cgroupId: number;
  /**
   * Outbound: the net module's tracker that attributed it (a restarted module's entries are
   * not used); inbound: undefined.
   */
  tracker: typeof netTracker.current;
  protocol: Protocol;
  /** The container, and for outbound requests their labels. */
  found: { containerId: string; destination?: string; actualDestination?: string };
  entry: L7Entry;
}

/**
 * Attributed connections kept (the oldest goes first): a connection not kept only takes the
 * full path.
 */
const SOCKETS_MAX = 16_384;

interface Deferred {
  e: {
    pid: number;
    cgroupId: number;
    sk: number;
    netns: number;
    saddr: string;
    sport: number;
    daddr: string;
    dport: number;
  };
  items: Completed[];
  /** When each item's answer was handled, ms since the epoch (its span's end). */
  ends: number[];
  sinceMs: number;
}

/**
 * Bytes a drain may leave unused because its next record did not fit (a record is at most a
 * few hundred bytes over its 1 KiB payload): a drain with more room left found the ring empty.
 */
const DRAIN_SLACK = 4096;

/**
 * Bytes drained at a time (58 records or more, each at most about 1.1 KiB): with the yield after
 * {@linkcode TURN_MS}, it bounds how long the event loop waits behind a busy ring.
 */
const DRAIN_BUFFER = 64 * 1024;

/** Longest run of drains, ms, before the loop lets the event loop's other work run. */
const TURN_MS = 10;

/** How often waiting requests are looked up again, ms (one lookup per connection). */
const RETRY_MS = 200;

/** The module definition. */
export const l7Module: ModuleSpec = {
  name: "l7",
  description: "L7 requests, errors and latency per protocol (HTTP/1, HTTP/2, gRPC, Postgres, " +
    "Redis, Memcached, MySQL, DNS), inbound and outbound",
  flags: L7_FLAGS,
  permissions(_flags, paths) {
    return [{ descriptor: { name: "read", path: paths.proc }, flag: `--allow-read=${paths.proc}` }];
  },
  disabledBy(flags, paths) {
    if (flags["disable-l7-tracing"] === true) {
      return { reason: "disabled by --disable-l7-tracing", flag: "--disable-l7-tracing=false" };
    }
    if (!bpfWanted(flags, paths)) {
      return {
        reason: "needs BPF (--allow-ffi for libosprey, no --disable-bpf, not a fixture tree)",
        flag: `--allow-ffi=${libraryPath()}`,
      };
    }
    return undefined;
  },
  start(ctx): ModuleInstance {
    const { flags, registry, log } = ctx;
    const directory = containerDirectory.current;
    if (directory === undefined) {
      throw new Error("the l7 module needs the containers module, which is not running");
    }
    const families = new L7Families(registry);
    const tables = new L7Tables({ maxFqdns: Number(flags["max-fqdns-per-container"] ?? 50) });
    const excluded = new PathFilter(flags["exclude-http-requests-by-path"] as string[] ?? []);
    // the request target is decoded only when a path filter or a span needs it
    const matcher = new L7Matcher({ paths: !excluded.empty });
    const names = new DnsNames();
    const loaded: LoadedObject = loadObject("l7", ctx);
    let ring: RingBuffer;
    try {
      ring = loaded.obj.openRing(RING);
    } catch (err) {
      loaded.close();
      throw err;
    }
    log.info("l7: payload capture on", {
      protocols: L7_PROTOCOLS.join(","),
      ...loaded.obj.info(),
      excluded_paths: (flags["exclude-http-requests-by-path"] as string[] ?? []).length,
    });

    const outcomes = {
      counted: 0,
      excluded: 0,
      untracked: 0,
      not_a_container: 0,
      deferred_overflow: 0,
    };
    /** By socket and ports: one lookup per connection, however many requests wait on it. */
    const deferred = new Map<string, Deferred>();
    /** How many of `deferred` each socket address has: its text key is made only for those. */
    const deferredSockets = new Map<number, number>();
    /**
     * Connections already attributed, by socket address: their next requests count straight
     * into the table entry, without the net module's or the registry's lookup, or text made.
     */
    const sockets = new Map<number, SocketEntry>();
    let waiting = 0;
    let lastRetryMs = 0;
    /** Span owners by container id (the net module gives only the id), with their views. */
    const owners = new Map<string, { owner: SpanOwner; view?: ContainerView }>();
    /** COROOT_EBPF_TRACES: each process's environment read once, verdicts per ring batch. */
    const optOuts = new OptOutCache({ proc: ctx.paths.proc });
    const spanOptOut = new SpanOptOut(optOuts);
    /** Containers already logged as opted out of spans. */
    const optedOutLogged = new Set<string>();
    const unsubscribe = directory.onContainerRemoved((c) => {
      tables.forget(c.id);
      owners.delete(c.id);
      for (const [sk, s] of sockets) if (s.found.containerId === c.id) sockets.delete(sk);
      optedOutLogged.delete(c.id);
    });
    const ownerOf = (view: ContainerView): { owner: SpanOwner; view?: ContainerView } => {
      let o = owners.get(view.id);
      if (o === undefined) {
        const service = view.appId !== "" ? view.appId : view.id;
        owners.set(view.id, o = { owner: { id: view.id, service }, view });
      }
      return o;
    };
    const ownerById = (id: string): { owner: SpanOwner; view?: ContainerView } => {
      const known = owners.get(id);
      if (known !== undefined) return known;
      // a container not seen here yet: one pass over the registry's views
      for (const view of directory.containers()) {
        if (view.id === id && !view.removed) return ownerOf(view);
      }
      return { owner: { id, service: id } };
    };
    /** Hands a counted outbound request to the traces exporter, if push runs one. */
    const trace = (
      c: Completed,
      owner: () => { owner: SpanOwner; view?: ContainerView },
      peer: { host: string; port: number } | undefined,
      endMs: number,
    ) => {
      const sink = pushSinks.traces;
      if (sink === undefined || c.summary === undefined || peer === undefined) return;
      const o = owner();
      if (o.view !== undefined && spanOptOut.suppress(o.view)) {
        if (!optedOutLogged.has(o.owner.id)) {
          optedOutLogged.add(o.owner.id);
          log.info("l7: no spans for a container (COROOT_EBPF_TRACES=disabled)", {
            container_id: o.owner.id,
          });
        }
        return;
      }
      const req = spanRequest(c, o.owner, peer, endMs);
      if (req !== undefined) sink.emit(req);
    };

    /** Counts a completed request; false when it must wait (connection or container pending). */
    const account = (e: Deferred["e"], c: Completed, final: boolean, endMs: number): boolean => {
      const seconds = c.durationNs / 1e9;
      if (c.protocol === "http" && c.path !== undefined && excluded.excludes(c.path)) {
        outcomes.excluded++;
        return true;
      }
      const tracker = netTracker.current;
      if (!c.inbound && c.protocol !== "dns" && tracker !== undefined) {
        // the connection's container as the net module attributed it (at connect, while the
        // process surely lived), with its labels
        if (e === ev) fillL7Addresses(ev);
        const found = tracker.l7Destination(e.sk, e);
        if (found === undefined) {
          if (final) outcomes.untracked++;
          return final;
        }
        const entry = tables.entry(found.containerId, c.protocol, false, found);
        if (entry !== undefined) {
          countInto(entry, c.status, seconds);
          // the record being handled (not a waiting copy): its raw address is at hand
          if (e === ev) remember(tracker, c.protocol, found, entry);
        }
        outcomes.counted++;
        if (c.summary !== undefined) {
          // the actual destination, or the destination when it has none (`fqdn:port`)
          trace(
            c,
            () => ownerById(found.containerId),
            splitHostPort(found.actualDestination || found.destination),
            endMs,
          );
        }
        return true;
      }
      const owner = directory.lookupPid(e.pid, e.cgroupId);
      if (owner === "pending" || owner === "unknown") {
        if (final) outcomes.not_a_container++;
        return final;
      }
      if (owner === undefined) {
        outcomes.not_a_container++;
        return true;
      }
      if (c.protocol === "dns") {
        const d = c.dns!;
        tables.addDns(owner.id, {
          inbound: c.inbound,
          status: c.status,
          seconds,
          requestType: d.requestType,
          domain: normalizeDomain(d.name, d.requestType),
        });
        outcomes.counted++;
        return true;
      }
      if (c.inbound) {
        const entry = tables.entry(owner.id, c.protocol, true);
        countInto(entry!, c.status, seconds);
        if (e === ev) remember(undefined, c.protocol, { containerId: owner.id }, entry!);
        outcomes.counted++;
        return true;
      }
      // without the net module: the record's own remote address is both labels (or by name)
      if (e === ev) fillL7Addresses(ev);
      const hp = { ip: e.daddr, port: e.dport };
      tables.add(
        owner.id,
        { protocol: c.protocol, inbound: false, status: c.status, seconds },
        destinationLabels(hp, hp, names.lookup(e.daddr)),
      );
      outcomes.counted++;
      if (c.summary !== undefined) {
        trace(c, () => ownerOf(owner), { host: e.daddr, port: e.dport }, endMs);
      }
      return true;
    };

    /**
     * Learns an outbound answer's names at once (the connect that follows it must find them),
     * unless its process is known to be in no container (the reference learns from containers'
     * answers only); one whose container is still being identified teaches too.
     */
    const learn = (d: NonNullable<Completed["dns"]>) => {
      if (directory.lookupPid(ev.pid, ev.cgroupId) === undefined) return;
      names.learn(normalizeDomain(d.name, d.requestType), d.addresses);
    };

    const retryDeferred = (now: number) => {
      if (deferred.size === 0 || now - lastRetryMs < RETRY_MS) return;
      lastRetryMs = now;
      for (const [key, d] of deferred) {
        const final = now - d.sinceMs >= DEFER_MS;
        // the first decides for all: they share the connection and the process
        if (!account(d.e, d.items[0], final, d.ends[0])) continue;
        for (let i = 1; i < d.items.length; i++) account(d.e, d.items[i], true, d.ends[i]);
        waiting -= d.items.length;
        deferred.delete(key);
        const left = (deferredSockets.get(d.e.sk) ?? 1) - 1;
        if (left > 0) deferredSockets.set(d.e.sk, left);
        else deferredSockets.delete(d.e.sk);
      }
    };

    const ev: L7Event = emptyL7Event();
    /** Keeps what a request of `ev`'s connection counted into, for the connection's next ones. */
    const remember = (
      tracker: SocketEntry["tracker"],
      protocol: Protocol,
      found: SocketEntry["found"],
      entry: L7Entry,
    ) => {
      sockets.delete(ev.sk); // a reused address goes to the end, as the newest
      if (sockets.size >= SOCKETS_MAX) sockets.delete(sockets.keys().next().value!);
      sockets.set(ev.sk, {
        sport: ev.sport,
        dport: ev.dport,
        netns: ev.netns,
        remote: l7RemoteAddress(ev),
        pid: ev.pid,
        cgroupId: ev.cgroupId,
        tracker,
        protocol,
        found,
        entry,
      });
    };
    /**
     * Counts a request of `ev`'s connection through its kept entry; false when there is none
     * (first request, another connection on a reused socket address, another process or
     * cgroup reading an inbound one, the net module restarted), so it takes the full path.
     */
    const counted = (c: Completed): boolean => {
      const s = sockets.get(ev.sk);
      if (
        s === undefined || s.protocol !== c.protocol || s.sport !== ev.sport ||
        s.dport !== ev.dport || s.netns !== ev.netns || !l7SameRemote(ev, s.remote)
      ) {
        return false;
      }
      if (c.inbound) {
        // the reading process's container
        if (s.tracker !== undefined || s.pid !== ev.pid || s.cgroupId !== ev.cgroupId) return false;
      } else if (s.tracker === undefined || s.tracker !== netTracker.current) return false;
      if (c.protocol === "http" && c.path !== undefined && excluded.excludes(c.path)) {
        outcomes.excluded++;
        return true;
      }
      countInto(s.entry, c.status, c.durationNs / 1e9);
      outcomes.counted++;
      if (c.summary !== undefined && !c.inbound) {
        const found = s.found as Required<SocketEntry["found"]>;
        trace(
          c,
          () => ownerById(found.containerId),
          splitHostPort(found.actualDestination || found.destination),
          now,
        );
      }
      return true;
    };

    const stopping = new AbortController();
    const records = bpfFamilies(registry).records.labels(RING, "payload");
    let now = 0;
    /** A completed request of the record being handled (`ev`): counted, or it waits. */
    const onDone = (c: Completed) => {
      if (c.protocol === "dns" && !c.inbound && c.dns!.addresses.length > 0) learn(c.dns!);
      // the key (a 52-bit number as text) costs more than the rest: made only when it may match
      const key = deferredSockets.has(ev.sk) ? `${ev.sk}:${ev.sport}:${ev.dport}` : "";
      const waitingFor = key === "" ? undefined : deferred.get(key);
      if (waitingFor !== undefined) {
        // its connection is still unknown: in line behind the others
        if (waiting >= DEFER_MAX) {
          outcomes.deferred_overflow++;
          return;
        }
        waitingFor.items.push(c);
        waitingFor.ends.push(now);
        waiting++;
        return;
      }
      if (c.protocol !== "dns" && counted(c)) return;
      if (account(ev, c, false, now)) return;
      if (waiting >= DEFER_MAX) {
        outcomes.deferred_overflow++;
        return;
      }
      fillL7Addresses(ev);
      const e = {
        pid: ev.pid,
        cgroupId: ev.cgroupId,
        sk: ev.sk,
        netns: ev.netns,
        saddr: ev.saddr,
        sport: ev.sport,
        daddr: ev.daddr,
        dport: ev.dport,
      };
      deferredSockets.set(ev.sk, (deferredSockets.get(ev.sk) ?? 0) + 1);
      deferred.set(key === "" ? `${ev.sk}:${ev.sport}:${ev.dport}` : key, {
        e,
        items: [c],
        ends: [now],
        sinceMs: now,
      });
      waiting++;
    };
    dnsNames.current = names;
    const batch = new FrameBatch(new Uint8Array(DRAIN_BUFFER));
    const loop = (async () => {
      // ring.batches() as written out, to see the drains that leave the ring empty
      let turnStart = performance.now();
      while (!stopping.signal.aborted && !ring.closed) {
        const n = ring.drain(batch.bytes);
        if (n > 0) {
          batch.length = n;
          now = Date.now();
          matcher.traced = pushSinks.traces !== undefined;
          spanOptOut.newRound();
          forEachFrame(batch, (off, len) => {
            if (l7RecordType(batch, off) !== L7_RECORD_TYPE) return;
            records.inc();
            decodeL7Event(batch, off, len, ev);
            matcher.handle(ev, onDone);
          });
          retryDeferred(now);
        }
        // a drain that did not fill the buffer emptied the ring: every answer read before it
        // is learnt now (same turn: no await between the drain and this)
        if (n <= batch.bytes.length - DRAIN_SLACK) names.caughtUp();
        if (n === 0) {
          await ring.wait(100);
          turnStart = performance.now();
        } else if (performance.now() - turnStart >= TURN_MS) {
          // records keep coming: let scrapes and timers run between drains
          await new Promise((r) => setTimeout(r, 0));
          turnStart = performance.now();
        }
      }
    })();
    loop.catch((err) => log.error("l7: event loop stopped", { error: err }));

    let written = new Set<string>();
    const collectors: Collector[] = [{
      name: "l7",
      collect: () => {
        lastRetryMs = 0;
        retryDeferred(Date.now());
        if (pushSinks.traces !== undefined) {
          // read each new process's opt-outs now, while it surely lives (the reference reads
          // them when it starts tracking a process), and forget the processes that left
          const live = new Map<number, number>();
          for (const view of directory.containers()) {
            if (view.removed) continue;
            view.forEachProcess((pid, startMs) => {
              live.set(pid, startMs);
              optOuts.get(pid, startMs);
            });
          }
          optOuts.retain((pid, startMs) => live.get(pid) === startMs);
        } else if (optOuts.size > 0) optOuts.retain(() => false);
        for (const view of directory.containers()) {
          if (!view.visible || view.removed) continue;
          const t = tables.get(view.id);
          if (t !== undefined) writeContainerL7(t, view.series, families);
        }
        // ip_to_fqdn follows the table: an entry evicted, aged or re-pointed loses its series
        names.expire();
        const current = new Set<string>();
        for (const [ip, fqdn] of names.ipToFqdn()) {
          current.add(ip + "\0" + fqdn);
          families.ipToFqdn.labels(ip, fqdn).set(1);
        }
        for (const key of written) {
          if (!current.has(key)) families.ipToFqdn.remove(...(key.split("\0") as [string, string]));
        }
        written = current;
        for (const [k, v] of Object.entries(outcomes)) families.requests.labels(k).set(v);
        families.requests.labels("waiting").set(waiting);
        const m = matcher.counters;
        families.events.labels("connections_evicted").set(m.connectionsEvicted);
        families.events.labels("pending_overflow").set(m.pendingOverflow);
        families.events.labels("unmatched_responses").set(m.unmatchedResponses);
        families.events.labels("joined").set(m.joined);
        families.events.labels("answered_uncounted").set(m.answeredUncounted);
        families.events.labels("reused_sockets").set(m.reused);
        families.events.labels("http2_mid_stream").set(m.http2MidStream);
        families.events.labels("hpack_unresolved").set(m.hpackUnresolved);
        families.events.labels("http2_evicted").set(m.http2Evicted);
        families.events.labels("spans_opted_out").set(spanOptOut.suppressed);
        families.events.labels("environ_unreadable").set(optOuts.counts.unreadable);
        families.events.labels("destinations_overflow").set(tables.destinationsOverflow);
        families.events.labels("ip_to_fqdn_evicted").set(names.evicted);
        const k = loaded.obj.counters();
        families.kernel.labels("args_table_full").set(k[L7Counter.ARGS_FULL] ?? 0);
        families.kernel.labels("records").set(k[L7Counter.RECORDS] ?? 0);
        families.kernel.labels("cut").set(k[L7Counter.CUT] ?? 0);
        families.kernel.labels("read_fault").set(k[L7Counter.READ_FAULT] ?? 0);
        families.kernel.labels("iovecs_left").set(k[L7Counter.IOV_LEFT] ?? 0);
        const lost = loaded.obj.lost();
        bpfFamilies(registry).lost.labels(RING, "payload").set(lost.total);
      },
    }];

    return {
      collectors,
      async stop() {
        stopping.abort();
        if (dnsNames.current === names) dnsNames.current = undefined;
        await loop.catch(() => {});
        unsubscribe();
        loaded.close();
      },
    };
  },
};
