/**
 * NatWatcher against the real kernel: namespaces joined by veth pairs, a
 * DNAT rule per family in the router namespace (iptables/ip6tables), real
 * TCP connections from a client namespace through a "VIP" to a backend.
 */
import { deepEqual, equal, ok, rejects } from "node:assert/strict";
import {
  BpfError,
  encodeNatQuery,
  NAT_QUERY_SIZE,
  type NatQuery,
  type NatResult,
  type NatWatcher,
  openLibrary,
} from "../../ffi/mod.ts";
import { privilegedIgnoreReason } from "./_helpers.ts";
import { type HeldConnections, NatLab, natLabIgnoreReason } from "../helpers/netns_lab.ts";

const ignoreReason = privilegedIgnoreReason() || await natLabIgnoreReason();
if (ignoreReason) console.warn(`tests/privileged/nat_test.ts ignored: ${ignoreReason}`);
const ignore = ignoreReason !== "";

/** Queries for held connections: their local ends, to `host:port`. */
function queries(held: HeldConnections, host: string, port: number, startNs = 0): NatQuery[] {
  return held.ends.map((e) => ({
    saddr: e.local,
    sport: e.port,
    daddr: host,
    dport: port,
    startNs,
  }));
}

/** Network namespace link of every thread of this process, by tid. */
function threadNamespaces(): Map<number, { comm: string; netns: string }> {
  const out = new Map<number, { comm: string; netns: string }>();
  for (const t of Deno.readDirSync("/proc/self/task")) {
    try {
      out.set(Number(t.name), {
        comm: Deno.readTextFileSync(`/proc/self/task/${t.name}/comm`).trim(),
        netns: Deno.readLinkSync(`/proc/self/task/${t.name}/ns/net`),
      });
    } catch { /* the thread ended meanwhile */ }
  }
  return out;
}

function natThreads(): number[] {
  return [...threadNamespaces()].filter(([, t]) => t.comm === "osp-nat").map(([tid]) => tid);
}

function backendOf(lab: NatLab, r: NatResult, v6: boolean): void {
  ok(r.found, `found: ${JSON.stringify(r)}`);
  equal(r.addr, v6 ? lab.backend6 : lab.backend4);
  equal(r.port, lab.backendPort);
}

Deno.test({
  name: "NatWatcher resolves DNATed connections opened before (dump) and after (events) it " +
    "opened, IPv4 and IPv6; direct ones are not NATed; Deno's threads stay in their namespace",
  ignore,
  sanitizeResources: false, // child process pipes of the namespace peers
  async fn() {
    const lab = await NatLab.create();
    try {
      using lib = openLibrary();
      const before4 = await lab.hold(lab.vip4, 80, 2);
      const before6 = await lab.hold(lab.vip6, 80, 2);
      const direct4 = await lab.hold(lab.backend4, 8080, 1);
      const threadsBefore = threadNamespaces();
      const ownNetns = Deno.readLinkSync("/proc/thread-self/ns/net");

      using w = await lib.openNatWatcher(lab.routerPath);
      const info = w.info();
      equal(info.mode, "events");
      equal(info.netnsInode, Deno.statSync(lab.routerPath).ino);
      ok([1, 2].includes(info.conntrackEvents), `nf_conntrack_events ${info.conntrackEvents}`);
      equal(info.eventsSet, false);
      deepEqual(w.stats().seeded, 4, "the four VIP connections came from the dump");

      const after4 = await lab.hold(lab.vip4, 80, 3);
      const after6 = await lab.hold(lab.vip6, 80, 3);
      const direct6 = await lab.hold(lab.backend6, 8080, 1);

      const q = [
        ...queries(before4, lab.vip4, 80),
        ...queries(before6, lab.vip6, 80),
        ...queries(after4, lab.vip4, 80),
        ...queries(after6, lab.vip6, 80),
        ...queries(direct4, lab.backend4, 8080),
        ...queries(direct6, lab.backend6, 8080),
      ];
      const r = w.lookup(q);
      for (const x of r.slice(0, 2)) backendOf(lab, x, false);
      for (const x of r.slice(2, 4)) backendOf(lab, x, true);
      for (const x of r.slice(4, 7)) backendOf(lab, x, false);
      for (const x of r.slice(7, 10)) backendOf(lab, x, true);
      deepEqual(r.map((x) => x.source), [
        ...Array(4).fill("seed"),
        ...Array(6).fill("cache"),
        "none",
        "none",
      ]);
      ok(r.every((x) => !x.unverified && !x.badQuery));

      // a query mixing IPv4 and IPv6 is refused, not looked up
      const [mixed] = w.lookup([{ ...q[0], daddr: lab.vip6 }]);
      equal(mixed.badQuery, true);
      equal(mixed.found, false);

      // a connection to the VIP from another source port is another tuple
      const other = w.lookup([{ ...q[4], sport: q[4].sport === 1 ? 2 : q[4].sport - 1 }]);
      equal(other[0].found, false);

      const s = w.stats();
      equal(s.natEvents, 6, "one NEW event per VIP connection made after open");
      equal(s.seeded, 4);
      equal(s.cached, 10);
      equal(s.hits, 10);
      equal(s.misses, 4);
      equal(s.gets, 0, "no GET: no event was lost");
      equal(s.overruns, 0);
      equal(s.dropped, 0);
      equal(s.evicted, 0);
      equal(s.lookups, 14);

      // the library's thread is in the router's namespace; every other thread where it was
      const nat = natThreads();
      deepEqual(nat, [info.threadId]);
      const routerNetns = `net:[${info.netnsInode}]`;
      for (const [tid, t] of threadNamespaces()) {
        if (tid === info.threadId) equal(t.netns, routerNetns);
        else equal(t.netns, ownNetns, `thread ${tid} (${t.comm})`);
      }
      for (const [tid, t] of threadsBefore) {
        if (threadNamespaces().has(tid)) equal(t.netns, ownNetns);
      }
      equal(Deno.readLinkSync("/proc/thread-self/ns/net"), ownNetns);
      // signals (SIGINT 2, SIGTERM 15) are for Deno's threads, never the library's
      const status = Deno.readTextFileSync(`/proc/self/task/${info.threadId}/status`);
      const blocked = BigInt(`0x${status.match(/^SigBlk:\s*([0-9a-f]+)$/m)![1]}`);
      for (const sig of [2n, 15n]) equal((blocked >> (sig - 1n)) & 1n, 1n, `signal ${sig} blocked`);

      w.close();
      w.close(); // idempotent
      deepEqual(natThreads(), [], "close stops the thread");
    } finally {
      await lab.remove();
    }
  },
});

Deno.test({
  name: "NatWatcher answers misses with ctnetlink GETs after lost events, only for connections " +
    "that began before the loss",
  ignore,
  sanitizeResources: false,
  async fn() {
    const lab = await NatLab.create();
    try {
      using lib = openLibrary();
      // a receive buffer of a few events and a thread that sleeps a minute after its first
      // drain: most of the next 30 events overflow the socket
      using w = await lib.openNatWatcher(lab.routerPath, { rcvbuf: 1, intervalMs: 60_000 });
      const vip = await lab.hold(lab.vip4, 80, 30);
      const r = w.lookup(queries(vip, lab.vip4, 80));
      for (const x of r) backendOf(lab, x, false);
      const s = w.stats();
      ok(s.overruns >= 1, `overruns ${s.overruns}`);
      ok(s.dropped > 0, `dropped ${s.dropped}`);
      equal(s.events + s.dropped, 30, "every event was either read or counted as dropped");
      const viaGet = r.filter((x) => x.source === "get").length;
      equal(viaGet, s.gets);
      equal(s.gets, 30 - s.natEvents, "exactly the lost ones were asked");
      equal(s.getFound, s.gets);
      ok(s.lastLossNs > 0);

      // a connection that began after the loss: its miss is certain, no GET
      const direct = await lab.hold(lab.backend4, 8080, 1);
      const [late] = w.lookup(queries(direct, lab.backend4, 8080, s.lastLossNs + 1));
      equal(late.source, "none");
      equal(w.stats().gets, s.gets);
      // one that began at the loss (or unknown: 0) is verified
      const [early] = w.lookup(queries(direct, lab.backend4, 8080, s.lastLossNs));
      equal(early.source, "get");
      equal(early.found, false);
      const [unknown] = w.lookup(queries(direct, lab.backend4, 8080, 0));
      equal(unknown.source, "get");
      equal(w.stats().gets, s.gets + 2);
    } finally {
      await lab.remove();
    }
  },
});

Deno.test({
  name: "NatWatcher reads nf_conntrack_events: 0 means every miss is a GET; setEvents writes 1",
  ignore,
  sanitizeResources: false,
  async fn() {
    const lab = await NatLab.create();
    const sysctl = "net.netfilter.nf_conntrack_events";
    try {
      using lib = openLibrary();
      await lab.exec(lab.router, "sysctl", "-qw", `${sysctl}=0`);
      {
        using w = await lib.openNatWatcher(lab.routerPath, { noSeed: true });
        const info = w.info();
        equal(info.conntrackEvents, 0);
        equal(info.mode, "get");
        const vip = await lab.hold(lab.vip6, 80, 2);
        const direct = await lab.hold(lab.backend6, 8080, 1);
        const r = w.lookup([
          ...queries(vip, lab.vip6, 80, Number.MAX_SAFE_INTEGER),
          ...queries(direct, lab.backend6, 8080),
        ]);
        for (const x of r.slice(0, 2)) backendOf(lab, x, true);
        deepEqual(r.map((x) => x.source), ["get", "get", "get"]);
        equal(r[2].found, false);
        const s = w.stats();
        equal(s.gets, 3);
        equal(s.events, 0);
        // found entries are cached: asking again costs no GET
        deepEqual(w.lookup(queries(vip, lab.vip6, 80)).map((x) => x.source), ["cache", "cache"]);
        equal(w.stats().gets, 3);
      }
      {
        using w = await lib.openNatWatcher(lab.routerPath, { setEvents: true, noSeed: true });
        const info = w.info();
        equal(info.eventsSet, true);
        equal(info.conntrackEvents, 1);
        equal(info.mode, "events");
        equal((await lab.exec(lab.router, "sysctl", "-n", sysctl)).trim(), "1");
        const vip = await lab.hold(lab.vip4, 80, 2);
        const r = w.lookup(queries(vip, lab.vip4, 80));
        for (const x of r) backendOf(lab, x, false);
        deepEqual(r.map((x) => x.source), ["cache", "cache"]);
      }
    } finally {
      await lab.remove();
    }
  },
});

Deno.test({
  name: "NatWatcher evicts the oldest entries from a full cache, counts them, and verifies " +
    "their misses with GETs",
  ignore,
  sanitizeResources: false,
  async fn() {
    const lab = await NatLab.create();
    try {
      using lib = openLibrary();
      using w = await lib.openNatWatcher(lab.routerPath, { capacity: 4 });
      const vip = await lab.hold(lab.vip4, 80, 6);
      const q = queries(vip, lab.vip4, 80);
      // the newest four are cached
      const newest = w.lookup(q.slice(2));
      deepEqual(newest.map((x) => x.source), ["cache", "cache", "cache", "cache"]);
      let s = w.stats();
      equal(s.evicted, 2);
      equal(s.cached, 4);
      equal(s.capacity, 4);
      equal(s.gets, 0);
      // the two evicted ones began before the evicted entries were cached: GET
      const oldest = w.lookup(q.slice(0, 2));
      for (const x of oldest) backendOf(lab, x, false);
      deepEqual(oldest.map((x) => x.source), ["get", "get"]);
      s = w.stats();
      equal(s.gets, 2);
      equal(s.cached, 4);
    } finally {
      await lab.remove();
    }
  },
});

Deno.test({
  name: "closing a NatWatcher while another thread is inside lookup() is safe",
  ignore,
  sanitizeResources: false,
  async fn() {
    const lab = await NatLab.create();
    try {
      using lib = openLibrary();
      // every miss a GET, without a budget: each lookup call stays in the library a while
      const w: NatWatcher = await lib.openNatWatcher(lab.routerPath, {
        noEvents: true,
        noSeed: true,
        getRate: 0xffffffff,
      });
      const vip = await lab.hold(lab.vip4, 80, 4);
      const q = queries(vip, lab.vip4, 80);
      const count = 2000;
      const bytes = new Uint8Array(count * NAT_QUERY_SIZE);
      const view = new DataView(bytes.buffer);
      for (let i = 0; i < count; i++) {
        encodeNatQuery(view, i * NAT_QUERY_SIZE, { ...q[i % 4], sport: 1 + i });
      }
      const handle = w.handle;
      const worker = new Worker(new URL("./_nat_worker.ts", import.meta.url), { type: "module" });
      const messages: unknown[] = [];
      const done = new Promise<{ calls: number; last: number }>((resolve, reject) => {
        worker.onmessage = (e) => {
          messages.push(e.data);
          if (typeof e.data === "object") resolve(e.data);
        };
        worker.onerror = (e) => reject(e.error ?? new Error(e.message));
      });
      worker.postMessage({ handle, queries: bytes, count });
      while (!messages.includes("started")) await new Promise((r) => setTimeout(r, 5));
      // the worker calls again at once and spends nearly all its time inside the library
      // (each call makes 2000 GETs), so this close lands inside a lookup
      w.close();
      const end = await done;
      equal(end.last, -9, "the next call after close sees a stale handle (EBADF)");
      ok(end.calls >= 1);
      deepEqual(natThreads(), []);
      worker.terminate();
    } finally {
      await lab.remove();
    }
  },
});

Deno.test({
  name: "openNatWatcher() names the path when it does not exist or is not a network namespace",
  ignore: privilegedIgnoreReason() !== "",
  async fn() {
    using lib = openLibrary();
    await rejects(lib.openNatWatcher("/nonexistent/ns/net"), (err: unknown) => {
      ok(err instanceof BpfError);
      equal(err.code, "ENOENT");
      ok(err.message.includes("'/nonexistent/ns/net'"), err.message);
      return true;
    });
    await rejects(lib.openNatWatcher("/etc/hostname"), (err: unknown) => {
      ok(err instanceof BpfError);
      equal(err.code, "EINVAL");
      ok(err.message.includes("is not a network namespace"), err.message);
      return true;
    });
    deepEqual(natThreads(), []);
  },
});

Deno.test({
  name: "a NAT watcher needs CAP_NET_ADMIN; CAP_SYS_ADMIN to enter another namespace and " +
    "CAP_SYS_PTRACE to open another process's namespace link",
  ignore,
  sanitizeResources: false,
  async fn() {
    const lab = await NatLab.create();
    try {
      const child = new URL("./_nat_open_child.ts", import.meta.url).pathname;
      const open = async (drop: string, path: string) => {
        const out = await new Deno.Command("setpriv", {
          args: [`--bounding-set=-${drop}`, Deno.execPath(), "run", "-A", child, path],
          stdout: "piped",
          stderr: "inherit",
        }).output();
        ok(out.success);
        return JSON.parse(new TextDecoder().decode(out.stdout));
      };
      const noNetAdmin = await open("net_admin", "");
      equal(noNetAdmin.errno, 1);
      ok(noNetAdmin.message.includes("CAP_NET_ADMIN"), noNetAdmin.message);
      const noSysAdmin = await open("sys_admin", lab.routerPath);
      equal(noSysAdmin.errno, 1);
      ok(noSysAdmin.message.includes("CAP_SYS_ADMIN"), noSysAdmin.message);
      // its own namespace needs no CAP_SYS_ADMIN
      deepEqual(await open("sys_admin", ""), { ok: true, mode: "events" });
      // another process's namespace link (as the host's /proc/1/ns/net from a pod): opening it
      // needs ptrace access, so CAP_SYS_PTRACE when that process has capabilities we lack
      const sleeper = new Deno.Command("ip", {
        args: ["netns", "exec", lab.router, "sleep", "60"],
        stdin: "null",
      }).spawn();
      try {
        const link = `/proc/${sleeper.pid}/ns/net`;
        for (let i = 0; Deno.readLinkSync(link) === Deno.readLinkSync("/proc/self/ns/net"); i++) {
          if (i > 100) throw new Error("the sleeper never entered the router namespace");
          await new Promise((r) => setTimeout(r, 10));
        }
        const noPtrace = await open("sys_ptrace", link);
        equal(noPtrace.errno, 13);
        ok(noPtrace.message.includes(`open network namespace '${link}'`), noPtrace.message);
        deepEqual(await open("sys_resource", link), { ok: true, mode: "events" });
      } finally {
        sleeper.kill("SIGKILL");
        await sleeper.status;
      }
    } finally {
      await lab.remove();
    }
  },
});
