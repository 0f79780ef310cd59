import { deepEqual, equal, ok } from "node:assert/strict";
import { emptyTcpEvent, type TcpConnEntry, type TcpEvent, TcpFlag } from "../../ffi/mod.ts";
import { parsePortRanges } from "../flag_syntax.ts";
import { parsePrefix } from "./address.ts";
import { DestinationFilter } from "./filter.ts";
import type { ExistingConnection, ExistingSockets } from "./existing_sockets.ts";
import { ConnectionTracker, type ContainerRef, type Resolve } from "./tracker.ts";
import { DnsNames } from "../dns_names.ts";

const HOST_NS = 4026531840;
const POD_NS = 4026532001;

function setup(
  opts: { resolve?: Resolve; now?: () => number; maxDest?: number; names?: DnsNames } = {},
) {
  const web: ContainerRef = { id: "/docker/web" };
  const resolve: Resolve = opts.resolve ?? ((pid) => pid === 100 ? web : undefined);
  const t = new ConnectionTracker({
    resolve,
    filter: new DestinationFilter({
      ephemeralPorts: parsePortRanges("32768-60999"),
      publicNetworks: [parsePrefix("0.0.0.0/0")],
    }),
    hostNetns: HOST_NS,
    now: opts.now,
    maxDestinationsPerContainer: opts.maxDest,
    names: () => opts.names,
  });
  return { t, web };
}

let nextSk = 1000;
function ev(type: TcpEvent["type"], fields: Partial<TcpEvent> = {}): TcpEvent {
  return {
    ...emptyTcpEvent(),
    type,
    sk: nextSk,
    pid: 100,
    cgroupId: 7,
    netns: POD_NS,
    ipVersion: 4,
    saddr: "10.88.0.2",
    sport: 40000,
    daddr: "10.88.0.3",
    dport: 80,
    newState: type === "end" ? 4 : 1,
    ...fields,
  };
}

function existing(fields: Partial<ExistingConnection>): ExistingConnection {
  return {
    netns: POD_NS,
    family: 4,
    state: 1,
    localAddress: "10.88.0.2",
    localPort: 41000,
    remoteAddress: "10.88.0.9",
    remotePort: 80,
    inode: 0,
    uid: 0,
    pid: 100,
    fd: 3,
    owners: [],
    inbound: false,
    inboundBy: "ephemeral",
    ...fields,
  };
}

function scan(
  connections: ExistingConnection[],
  listens: { address: string; port: number }[] = [],
): ExistingSockets {
  return {
    connections,
    listens: listens.map((l) => ({
      netns: POD_NS,
      family: 4,
      address: l.address,
      port: l.port,
      inode: 1,
      uid: 0,
      pid: 100,
      fd: 4,
      owners: [],
    })),
    tables: [{
      netns: POD_NS,
      sockets: [
        ...connections.map((c) => ({
          family: 4 as const,
          state: 1,
          localAddress: c.localAddress,
          localPort: c.localPort,
          remoteAddress: c.remoteAddress,
          remotePort: c.remotePort,
          uid: 0,
          inode: c.inode,
        })),
        ...listens.map((l) => ({
          family: 4 as const,
          state: 10,
          localAddress: l.address,
          localPort: l.port,
          remoteAddress: "0.0.0.0",
          remotePort: 0,
          uid: 0,
          inode: 1,
        })),
      ],
    }],
    stats: {} as ExistingSockets["stats"],
  };
}

function entry(fields: Partial<TcpConnEntry>): TcpConnEntry {
  return {
    sk: 0,
    startNs: 0,
    cgroupId: 7,
    bytesSent: 0,
    bytesReceived: 0,
    inode: 0,
    pid: 100,
    fd: -1,
    retransmits: 0,
    flags: 0,
    ...fields,
  };
}

Deno.test("ConnectionTracker counts 50 connects, their time, bytes and the active gauge exactly", () => {
  const { t } = setup();
  for (let i = 0; i < 50; i++) {
    const sk = ++nextSk;
    t.handle(ev("connect", { sk, durationNs: 2_000_000 }));
    t.handle(ev("end", { sk, bytesSent: 10, bytesReceived: 7 }));
  }
  const d = [...t.net("/docker/web")!.destinations.values()];
  equal(d.length, 1);
  equal(d[0].destination, "10.88.0.3:80");
  equal(d[0].actualDestination, "10.88.0.3:80");
  equal(d[0].connects, 50);
  ok(Math.abs(d[0].connectSeconds - 0.1) < 1e-9);
  equal(d[0].bytesSent, 500);
  equal(d[0].bytesReceived, 350);
  equal(d[0].active, 0);
});

Deno.test("ConnectionTracker keeps the active gauge from periodic readings and ends", () => {
  const { t } = setup();
  const sks = [1, 2, 3, 4, 5, 6, 7].map(() => ++nextSk);
  for (const sk of sks) t.handle(ev("connect", { sk }));
  const d = () => [...t.net("/docker/web")!.destinations.values()][0];
  equal(d().active, 7);
  t.update(entry({ sk: sks[0], bytesSent: 100, bytesReceived: 5, retransmits: 2 }));
  t.update(entry({ sk: sks[0], bytesSent: 150, bytesReceived: 5, retransmits: 2 }));
  equal(d().bytesSent, 150);
  equal(d().retransmits, 2);
  for (const sk of sks) t.handle(ev("end", { sk, bytesSent: sk === sks[0] ? 160 : 0 }));
  equal(d().active, 0);
  equal(d().bytesSent, 160);
  equal(t.connectionCount, 0);
});

Deno.test("ConnectionTracker adds what a CLOSE record reports after the end", () => {
  const { t } = setup();
  const sk = ++nextSk;
  t.handle(ev("connect", { sk }));
  t.handle(ev("end", { sk, bytesSent: 11, bytesReceived: 0, newState: 8 }));
  t.handle(ev("close", { sk, bytesReceived: 7, flags: TcpFlag.AFTER_END | TcpFlag.ENDED }));
  const d = [...t.net("/docker/web")!.destinations.values()][0];
  equal(d.bytesSent, 11);
  equal(d.bytesReceived, 7);
  t.handle(ev("close", { sk, bytesReceived: 7, flags: TcpFlag.AFTER_END }));
  equal(d.bytesReceived, 7, "a second close of the same socket counts nothing");
  equal(t.counters.untrackedEnds, 1);
});

Deno.test("ConnectionTracker waits for a container being identified, then counts everything once", () => {
  let state: ContainerRef | "pending" = "pending";
  const { t } = setup({ resolve: () => state });
  const sk = ++nextSk;
  t.handle(ev("connect", { sk, durationNs: 1e9 }));
  t.handle(ev("failed", { sk: ++nextSk, dport: 81 }));
  t.update(entry({ sk, bytesSent: 3 }));
  t.handle(ev("end", { sk, bytesSent: 5, bytesReceived: 9 }));
  equal(t.pendingCount, 2);
  equal(t.net("/k8s/a/b/c"), undefined);
  t.round();
  equal(t.pendingCount, 2);
  state = { id: "/k8s/a/b/c" };
  t.round();
  equal(t.pendingCount, 0);
  const net = t.net("/k8s/a/b/c")!;
  const d = [...net.destinations.values()][0];
  deepEqual(
    [d.connects, d.connectSeconds, d.active, d.bytesSent, d.bytesReceived],
    [1, 1, 0, 5, 9],
  );
  deepEqual([...net.failed], [["10.88.0.3:81", 1]]);
});

Deno.test("ConnectionTracker drops what waits for its container too long, counted", () => {
  let now = 0;
  const { t } = setup({ resolve: () => "pending", now: () => now });
  t.handle(ev("connect", { sk: ++nextSk }));
  now = 121_000;
  t.round();
  equal(t.pendingCount, 0);
  equal(t.counters.unattributed, 1);
  equal(t.connectionCount, 0);
});

Deno.test("ConnectionTracker waits for the cgroup of a vanished process, then counts or gives up", () => {
  let now = 0;
  let known = false;
  const web: ContainerRef = { id: "/docker/web" };
  const { t } = setup({
    resolve: (_pid, cgroupId) => cgroupId === 7 && known ? web : "unknown",
    now: () => now,
  });
  t.handle(ev("connect", { sk: ++nextSk, cgroupId: 7 }));
  t.handle(ev("failed", { sk: ++nextSk, cgroupId: 8 }));
  equal(t.pendingCount, 2);
  now = 5_000;
  known = true; // another process of cgroup 7 was seen
  t.settle();
  equal([...t.net("/docker/web")!.destinations.values()][0].connects, 1);
  equal(t.pendingCount, 1);
  now = 14_000;
  t.settle();
  equal(t.pendingCount, 1, "still within the wait");
  now = 16_000;
  t.settle();
  equal(t.pendingCount, 0);
  equal(t.counters.unattributed, 1);
  equal(t.counters.filtered.not_a_container, 0);
});

Deno.test("ConnectionTracker ends a connection whose end was lost when its socket address is reused", () => {
  const { t } = setup();
  const sk = ++nextSk;
  t.handle(ev("connect", { sk, startNs: 1000, dport: 5432 }));
  const d = () => [...t.net("/docker/web")!.destinations.values()][0];
  t.update(entry({ sk, startNs: 1000, bytesSent: 10 }));
  deepEqual([d().active, d().bytesSent], [1, 10]);
  // its END record was lost; the address now holds another socket (an accepted one, say)
  t.update(entry({ sk, startNs: 2000, bytesSent: 999, flags: TcpFlag.INBOUND }));
  deepEqual([d().active, d().bytesSent], [0, 10], "ended, and the other socket's bytes not taken");
  equal(t.counters.repairedEnds, 1);
  // a new connect at the same address while an old one is still followed
  t.handle(ev("connect", { sk: ++nextSk, startNs: 3000, dport: 6000 }));
  t.handle(ev("connect", { sk: nextSk, startNs: 4000, dport: 6000 }));
  const d6 = [...t.net("/docker/web")!.destinations.values()][1];
  deepEqual([d6.connects, d6.active], [2, 1]);
  equal(t.counters.repairedEnds, 2);
  // an END of another socket than the one followed: not applied to it
  t.handle(ev("end", { sk: nextSk, startNs: 5000, dport: 6000, bytesSent: 77 }));
  deepEqual([d6.active, d6.bytesSent], [0, 0]);
  equal(t.counters.untrackedEnds, 1);
});

Deno.test("ConnectionTracker applies the contract's filters and counts each reason", () => {
  const { t } = setup();
  t.handle(ev("connect", { sk: ++nextSk, dport: 45000 }));
  t.handle(ev("connect", { sk: ++nextSk, dport: 50051 }));
  t.handle(ev("connect", { sk: ++nextSk, daddr: "169.254.169.254" }));
  t.handle(ev("connect", { sk: ++nextSk, daddr: "127.0.0.1" }));
  t.handle(ev("connect", { sk: ++nextSk, daddr: "127.0.0.1", netns: HOST_NS }));
  t.handle(ev("connect", { sk: ++nextSk, daddr: "2001:db8::1", ipVersion: 6 }));
  t.handle(ev("connect", { sk: ++nextSk, daddr: "8.8.8.8" }));
  t.handle(ev("connect", { sk: ++nextSk, pid: 999 }));
  t.handle(ev("connect", { sk: ++nextSk, ipVersion: 0 }));
  const dests = [...t.net("/docker/web")!.destinations.values()].map((d) => d.destination).sort();
  deepEqual(dests, ["10.88.0.3:50051", "127.0.0.1:80", "8.8.8.8:80"]);
  deepEqual(t.counters.filtered, {
    ephemeral_port: 1,
    link_local: 1,
    loopback_in_container: 1,
    public_network: 1,
    not_a_container: 1,
    address_family: 1,
  });
});

Deno.test("ConnectionTracker caps destinations per container and counts the overflow", () => {
  const { t } = setup({ maxDest: 2 });
  for (const port of [81, 82, 83, 83]) t.handle(ev("connect", { sk: ++nextSk, dport: port }));
  equal(t.net("/docker/web")!.destinations.size, 2);
  equal(t.counters.destinationsOverflow, 2);
});

Deno.test("ConnectionTracker takes the NAT destination when it is looked up later", () => {
  const { t } = setup();
  const sk = ++nextSk;
  t.handle(ev("connect", { sk, daddr: "10.96.0.10", dport: 53 }), true);
  const need = [...t.needingActual()];
  equal(need.length, 1);
  t.setActual(need[0], { ip: "10.244.1.5", port: 5353 });
  t.round();
  const d = [...t.net("/docker/web")!.destinations.values()][0];
  deepEqual([d.destination, d.actualDestination, d.connects], [
    "10.96.0.10:53",
    "10.244.1.5:5353",
    1,
  ]);
  const sk2 = ++nextSk;
  t.handle(ev("connect", { sk: sk2, daddr: "10.96.0.10", dport: 53 }), true);
  t.setActual([...t.needingActual()][0], undefined);
  t.round();
  ok(t.net("/docker/web")!.destinations.has("10.96.0.10:53\u000010.96.0.10:53"));
});

Deno.test("ConnectionTracker follows connections found at start: active now, bytes from now, end by tuple", () => {
  const { t } = setup();
  t.seed([
    existing({ localPort: 41000, remoteAddress: "10.88.0.9", remotePort: 5432, inode: 555 }),
    existing({
      localPort: 5432,
      remoteAddress: "10.88.0.7",
      remotePort: 42000,
      inode: 556,
      inbound: true,
    }),
  ]);
  const d = () => [...t.net("/docker/web")!.destinations.values()][0];
  equal(t.net("/docker/web")!.destinations.size, 1);
  deepEqual([d().connects, d().active], [0, 1]);
  const sk = ++nextSk;
  t.update(entry({ sk, inode: 555, bytesSent: 40, flags: TcpFlag.UNTRACKED }));
  equal(d().bytesSent, 40);
  t.handle(ev("end", {
    sk,
    sport: 41000,
    daddr: "10.88.0.9",
    dport: 5432,
    bytesSent: 50,
    flags: TcpFlag.UNTRACKED,
  }));
  deepEqual([d().active, d().bytesSent], [0, 50]);
});

Deno.test("ConnectionTracker looks up the actual destination of connections found at start", () => {
  const { t } = setup();
  t.seed([
    existing({ localPort: 41000, remoteAddress: "10.96.0.10", remotePort: 80, inode: 557 }),
    existing({ localPort: 41001, remoteAddress: "10.88.0.9", remotePort: 80, inode: 558 }),
  ], true);
  equal(t.net("/docker/web"), undefined, "nothing counted before the lookup");
  const need = [...t.needingActual()];
  deepEqual(need.map((c) => [c.daddr, c.dport, c.sport]), [
    ["10.96.0.10", 80, 41000],
    ["10.88.0.9", 80, 41001],
  ]);
  t.setActual(need[0], { ip: "10.244.1.5", port: 8080 });
  t.setActual(need[1], undefined);
  t.settle();
  const dests = [...t.net("/docker/web")!.destinations.values()]
    .map((d) => [d.destination, d.actualDestination, d.connects, d.active]);
  deepEqual(dests, [
    ["10.96.0.10:80", "10.244.1.5:8080", 0, 1],
    ["10.88.0.9:80", "10.88.0.9:80", 0, 1],
  ]);
  const sk = ++nextSk;
  t.handle(ev("end", { sk, sport: 41000, daddr: "10.96.0.10", dport: 80 }));
  equal([...t.net("/docker/web")!.destinations.values()][0].active, 0);
});

Deno.test("ConnectionTracker forgets destinations without attempts after 10 minutes, not active ones", () => {
  let now = 0;
  const { t } = setup({ now: () => now });
  const held = ++nextSk;
  t.handle(ev("connect", { sk: held, dport: 81 }));
  const done = ++nextSk;
  t.handle(ev("connect", { sk: done, dport: 82 }));
  t.handle(ev("end", { sk: done }));
  t.handle(ev("failed", { sk: ++nextSk, dport: 83 }));
  now = 600_001;
  t.round();
  const net = t.net("/docker/web")!;
  deepEqual([...net.destinations.values()].map((d) => d.destination), ["10.88.0.3:81"]);
  equal(net.failed.size, 0);
});

Deno.test("ConnectionTracker tracks listens: open, closed by whoever closes, reconciled from /proc", () => {
  let now = 0;
  const { t } = setup({ now: () => now });
  t.handle(ev("listen", { saddr: "0.0.0.0", sport: 8080, daddr: "" }));
  t.handle(ev("listen", { saddr: "0.0.0.0", sport: 40000, daddr: "" }));
  const net = t.net("/docker/web")!;
  equal(net.listens.size, 1);
  t.handle(ev("listen_close", { saddr: "0.0.0.0", sport: 8080, pid: 1 }));
  equal([...net.listens.values()][0].open, false);
  t.reconcileListens(POD_NS, new Map([["0.0.0.0\u00008080", 100], ["10.88.0.2\u00009090", 100]]));
  deepEqual(
    [...net.listens.values()].map((l) => [l.ip, l.port, l.open]),
    [["0.0.0.0", 8080, true], ["10.88.0.2", 9090, true]],
  );
  t.reconcileListens(POD_NS, new Map([["10.88.0.2\u00009090", 100]]));
  equal(net.listens.get(`${POD_NS}\u00000.0.0.0\u00008080`)!.open, false);
  now = 600_001;
  t.round();
  equal(net.listens.size, 1);
});

Deno.test("ConnectionTracker forgets a removed container and its connections", () => {
  const { t } = setup();
  const sk = ++nextSk;
  t.handle(ev("connect", { sk }));
  t.forgetContainer("/docker/web");
  equal(t.net("/docker/web"), undefined);
  equal(t.connectionCount, 0);
  t.handle(ev("end", { sk }));
  equal(t.counters.untrackedEnds, 1);
});

Deno.test("ConnectionTracker.reconcile() ends what /proc no longer shows and repairs listens", () => {
  const { t } = setup();
  const kept = ++nextSk, lost = ++nextSk;
  t.handle(ev("connect", { sk: kept, sport: 41001 }));
  t.handle(ev("connect", { sk: lost, sport: 41002 }));
  t.handle(ev("connect", { sk: ++nextSk, sport: 41003, netns: HOST_NS }));
  t.seed([existing({ localPort: 41004, remoteAddress: "10.88.0.3" })]);
  const d = () => [...t.net("/docker/web")!.destinations.values()][0];
  equal(d().active, 4);
  t.reconcile(
    scan([existing({ localPort: 41001, remotePort: 80, remoteAddress: "10.88.0.3" })], [{
      address: "0.0.0.0",
      port: 8080,
    }]),
  );
  equal(d().active, 2, "the connection in the host namespace was not scanned: kept");
  equal(t.counters.repairedEnds, 2);
  const net = t.net("/docker/web")!;
  deepEqual([...net.listens.values()].map((l) => [l.ip, l.port, l.open]), [[
    "0.0.0.0",
    8080,
    true,
  ]]);
  t.handle(ev("end", { sk: lost }));
  equal(d().active, 2, "a late end of a repaired connection counts nothing");
});

Deno.test("ConnectionTracker labels a name of several public addresses fqdn:port, failed connects too", () => {
  const names = new DnsNames();
  names.learn("api.test", ["203.0.113.10", "198.51.100.10"]);
  names.learn("one.test", ["203.0.113.20"]);
  const { t } = setup({ names });
  for (const daddr of ["203.0.113.10", "198.51.100.10", "203.0.113.20"]) {
    const sk = ++nextSk;
    t.handle(ev("connect", { sk, daddr, dport: 443 }));
    t.handle(ev("end", { sk, bytesSent: 5 }));
  }
  t.handle(ev("failed", { sk: ++nextSk, daddr: "198.51.100.10", dport: 443 }));
  const net = t.net("/docker/web")!;
  const named = net.destinations.get("api.test:443\u0000")!;
  deepEqual([named.destination, named.actualDestination, named.connects, named.bytesSent], [
    "api.test:443",
    "",
    2,
    10,
  ]);
  equal(net.destinations.get("203.0.113.20:443\u0000203.0.113.20:443")?.connects, 1);
  equal(net.destinations.size, 2);
  deepEqual([...net.failed], [["api.test:443", 1]]);
});

Deno.test("ConnectionTracker keeps ip:port when NAT sends a named address to a private one", () => {
  const names = new DnsNames();
  names.learn("api.test", ["203.0.113.10", "198.51.100.10"]);
  const { t } = setup({ names });
  t.handle(ev("connect", { sk: ++nextSk, daddr: "203.0.113.10", dport: 443 }), true);
  t.setActual([...t.needingActual()][0], { ip: "10.244.1.5", port: 8443 });
  t.round();
  deepEqual([...t.net("/docker/web")!.destinations.keys()], [
    "203.0.113.10:443\u000010.244.1.5:8443",
  ]);
});

Deno.test("ConnectionTracker waits for the names to catch up before labelling a public address", () => {
  let now = 0;
  const names = new DnsNames();
  const { t } = setup({ names, now: () => now });
  // the connect was read before the answer that preceded it: it waits
  const sk = ++nextSk;
  t.handle(ev("connect", { sk, daddr: "203.0.113.10", dport: 443 }));
  equal(t.net("/docker/web"), undefined);
  equal(t.pendingCount, 1);
  names.learn("api.test", ["203.0.113.10", "198.51.100.10"]);
  t.settle();
  equal(t.net("/docker/web")!.destinations.get("api.test:443\u0000")?.connects, 1);
  // no name at all: labelled ip:port once the source caught up
  const sk2 = ++nextSk;
  t.handle(ev("connect", { sk: sk2, daddr: "203.0.113.99", dport: 443 }));
  t.settle();
  equal(t.pendingCount, 1);
  names.caughtUp();
  t.settle();
  equal(t.pendingCount, 0);
  equal(
    t.net("/docker/web")!.destinations.get("203.0.113.99:443\u0000203.0.113.99:443")?.connects,
    1,
  );
  // a source that never catches up: ip:port after 2 s, counted
  const sk3 = ++nextSk;
  t.handle(ev("connect", { sk: sk3, daddr: "203.0.113.98", dport: 443 }));
  now = 2001;
  t.settle();
  equal(t.pendingCount, 0);
  equal(t.counters.nameWaitTimeouts, 1);
  // private destinations never wait
  t.handle(ev("connect", { sk: ++nextSk, daddr: "10.88.0.3", dport: 80 }));
  equal(t.pendingCount, 0);
  // an answer learnt after a connection was labelled does not change it
  names.learn("late.test", ["203.0.113.99", "198.51.100.99"]);
  equal(
    t.net("/docker/web")!.destinations.get("203.0.113.99:443\u0000203.0.113.99:443")?.active,
    1,
  );
  equal(t.net("/docker/web")!.destinations.has("late.test:443\u0000"), false);
});
