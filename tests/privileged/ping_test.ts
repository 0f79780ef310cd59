/**
 * The pinger (`OspreyLibrary.ping`, ffi/src/ping.c) against real network
 * namespaces joined by veth pairs: replies, timeouts, routing refusals and
 * ICMP errors, IPv4 and IPv6, raw and datagram sockets, a missing namespace,
 * dropped capabilities (setpriv), and the caller's threads staying in their
 * namespace. Traffic stays inside the namespaces the tests create, or on
 * loopback.
 *
 * @module
 */
import { deepEqual, equal, ok, rejects } from "node:assert/strict";
import { BpfError, openLibrary, type PingReply, type PingResult } from "../../ffi/mod.ts";
import { privilegedIgnoreReason, sleep } from "./_helpers.ts";
import { createNetnsPair, netnsIgnoreReason, type NetnsPair } from "../helpers/netns.ts";

const ignoreReason = privilegedIgnoreReason() || netnsIgnoreReason();
if (ignoreReason) console.warn(`tests/privileged/ping_test.ts ignored: ${ignoreReason}`);
const ignore = ignoreReason !== "";

const CHILD = new URL("./testdata/ping_child.ts", import.meta.url).pathname;
const CAP_NET_RAW = 13;
const CAP_SYS_ADMIN = 21;

function reply(r: PingResult): PingReply {
  if ("error" in r) throw new Error(`${r.address}: expected a reply, got ${r.error}`);
  return r;
}

function assertReply(r: PingResult): PingReply {
  const rep = reply(r);
  ok(rep.rttSeconds > 0 && rep.rttSeconds < 1, `${rep.address}: RTT ${rep.rttSeconds} s`);
  return rep;
}

async function withPair(fn: (pair: NetnsPair) => Promise<void>): Promise<void> {
  const pair = await createNetnsPair();
  try {
    await fn(pair);
  } finally {
    await pair.remove();
  }
}

/** Network namespace inode of a namespace file or /proc link; undefined when gone. */
function nsInode(path: string): number | undefined {
  try {
    return Deno.statSync(path).ino ?? undefined;
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return undefined;
    throw err;
  }
}

/** [tid, comm, network namespace inode] of each of this process's threads. */
function threads(): Array<[string, string, number | undefined]> {
  const out: Array<[string, string, number | undefined]> = [];
  for (const e of Deno.readDirSync("/proc/self/task")) {
    let comm = "";
    try {
      comm = Deno.readTextFileSync(`/proc/self/task/${e.name}/comm`).trim();
    } catch {
      continue; // exited meanwhile
    }
    out.push([e.name, comm, nsInode(`/proc/self/task/${e.name}/ns/net`)]);
  }
  return out;
}

Deno.test({
  name: "ping() measures IPv4 and IPv6 RTTs inside a namespace with kernel TX and RX timestamps",
  ignore,
  async fn() {
    using lib = openLibrary();
    await withPair(async ({ a, b }) => {
      const rs = await lib.ping(a.path, [b.v4, b.v6], { timeoutMs: 2000 });
      equal(rs.length, 2);
      for (const [i, r] of rs.entries()) {
        const rep = assertReply(r);
        equal(rep.address, [b.v4, b.v6][i]);
        equal(rep.socket, "raw");
        // veth stamps its transmissions; the library keeps RX stamping on
        equal(rep.txClock, "kernel");
        equal(rep.rxClock, "kernel");
      }
      // a second batch right away is timed the same way
      for (const r of await lib.ping(a.path, [b.v4, b.v6], { timeoutMs: 2000 })) {
        const rep = assertReply(r);
        deepEqual([rep.txClock, rep.rxClock], ["kernel", "kernel"]);
      }
    });
  },
});

Deno.test({
  name: "ping() gives ETIMEDOUT for a silent address on the subnet, at the deadline",
  ignore,
  async fn() {
    using lib = openLibrary();
    await withPair(async ({ a }) => {
      const t0 = performance.now();
      const rs = await lib.ping(a.path, ["10.201.0.9", "fd00:201::9"], { timeoutMs: 300 });
      const elapsed = performance.now() - t0;
      deepEqual(rs, [
        { address: "10.201.0.9", error: "ETIMEDOUT", errno: 110, sent: true },
        { address: "fd00:201::9", error: "ETIMEDOUT", errno: 110, sent: true },
      ]);
      ok(elapsed >= 290, `waited for the deadline (${elapsed} ms)`);
      ok(elapsed < 3000, `returned at the deadline, not much later (${elapsed} ms)`);
    });
  },
});

Deno.test({
  name: "ping() fails each unreachable target alone in a mixed batch; the good ones answer",
  ignore,
  async fn() {
    using lib = openLibrary();
    await withPair(async ({ a, b }) => {
      // refused by a's own routing table
      await a.ip("route", "add", "unreachable", "10.98.0.0/16");
      await a.ip("route", "add", "prohibit", "10.96.0.0/16");
      // b routes for a and answers with ICMP errors
      await b.sysctl("net.ipv4.ip_forward", "1");
      await b.sysctl("net.ipv6.conf.all.forwarding", "1");
      await b.ip("route", "add", "unreachable", "10.97.0.0/16");
      await b.ip("-6", "route", "add", "unreachable", "fd00:97::/64");
      await a.ip("route", "add", "10.97.0.0/16", "via", b.v4);
      await a.ip("-6", "route", "add", "fd00:97::/64", "via", b.v6);

      const targets = [
        "10.99.0.1", // no route at all
        b.v4,
        "10.98.0.1", // unreachable route
        "10.96.0.1", // prohibit route
        "10.97.0.1", // b: ICMP host unreachable
        "fd00:99::1", // no route
        b.v6,
        "fd00:97::1", // b: ICMPv6 no route
        "not-an-address",
      ];
      const rs = await lib.ping(a.path, targets, { timeoutMs: 2000 });
      assertReply(rs[1]);
      assertReply(rs[6]);
      deepEqual(rs.filter((r) => "error" in r), [
        { address: "10.99.0.1", error: "ENETUNREACH", errno: 101, sent: false },
        { address: "10.98.0.1", error: "EHOSTUNREACH", errno: 113, sent: false },
        { address: "10.96.0.1", error: "EACCES", errno: 13, sent: false },
        {
          address: "10.97.0.1",
          error: "EHOSTUNREACH",
          errno: 113,
          sent: true,
          icmp: { type: 3, code: 1 },
        },
        { address: "fd00:99::1", error: "ENETUNREACH", errno: 101, sent: false },
        {
          address: "fd00:97::1",
          error: "ENETUNREACH",
          errno: 101,
          sent: true,
          icmp: { type: 1, code: 0 },
        },
        { address: "not-an-address", error: "EINVAL", errno: 22, sent: false },
      ]);
    });
  },
});

Deno.test({
  name: "ping() says which namespace file is missing or is not a network namespace",
  ignore,
  async fn() {
    using lib = openLibrary();
    const missing = `/run/netns/osprey-ping-${Deno.pid}-missing`;
    await rejects(() => lib.ping(missing, ["10.0.0.1"]), (err: unknown) => {
      ok(err instanceof BpfError);
      equal(err.code, "ENOENT");
      equal(err.operation, `ping from network namespace "${missing}"`);
      ok(err.message.includes(`open network namespace "${missing}"`), err.message);
      return true;
    });
    for (const path of ["/proc/self/ns/uts", "/etc/hostname"]) {
      await rejects(() => lib.ping(path, ["10.0.0.1"]), (err: unknown) => {
        ok(err instanceof BpfError);
        equal(err.code, "EINVAL");
        ok(err.message.includes(`"${path}" is not a network namespace`), err.message);
        return true;
      });
    }
  },
});

Deno.test({
  name: "ping() enters the namespace on a thread of its own; Deno's threads and event loop stay",
  ignore,
  async fn() {
    using lib = openLibrary();
    await withPair(async ({ a }) => {
      const own = nsInode("/proc/self/ns/net");
      const target = nsInode(a.path);
      ok(own !== undefined && target !== undefined && own !== target);
      for (const [tid, comm, ns] of threads()) equal(ns, own, `thread ${tid} (${comm}) before`);

      let settled = false;
      const call = lib.ping(a.path, ["10.201.0.9"], { timeoutMs: 1500 }).finally(() => {
        settled = true;
      });
      // the event loop runs meanwhile: this loop polls while the call waits
      let inside: string | undefined;
      for (let k = 0; k < 100 && !inside; k++) {
        inside = threads().find(([, comm, ns]) => comm === "osp-ping" && ns === target)?.[0];
        if (!inside) await sleep(10);
      }
      ok(inside, "an osp-ping thread was in the target namespace during the call");
      equal(settled, false, "seen while the call was still waiting");
      for (const [tid, comm, ns] of threads()) {
        if (tid !== inside) equal(ns, own, `thread ${tid} (${comm}) during`);
      }
      const [r] = await call;
      equal("error" in r && r.error, "ETIMEDOUT");
      for (const [tid, comm, ns] of threads()) equal(ns, own, `thread ${tid} (${comm}) after`);
      ok(!threads().some(([, comm]) => comm === "osp-ping"), "the ping thread has exited");
    });
  },
});

Deno.test({
  name: "ping() calls at once in one namespace each get their own replies",
  ignore,
  async fn() {
    using lib = openLibrary();
    await withPair(async ({ a, b }) => {
      const calls = await Promise.all([
        lib.ping(a.path, [b.v4, b.v6], { timeoutMs: 2000 }),
        lib.ping(a.path, [b.v6, "10.201.0.9", b.v4], { timeoutMs: 500 }),
        lib.ping(a.path, [b.v4], { timeoutMs: 2000 }),
        lib.ping(a.path, [b.v4, b.v4], { timeoutMs: 2000, datagramOnly: false }),
      ]);
      for (const r of [...calls[0], calls[1][0], calls[1][2], ...calls[2], ...calls[3]]) {
        assertReply(r);
      }
      equal("error" in calls[1][1] && calls[1][1].error, "ETIMEDOUT");
    });
  },
});

Deno.test({
  name: "ping() uses ICMP datagram sockets where ping_group_range allows, else reports EPERM",
  ignore,
  async fn() {
    using lib = openLibrary();
    await withPair(async ({ a, b }) => {
      await a.sysctl("net.ipv4.ping_group_range", "1 0");
      deepEqual(await lib.ping(a.path, [b.v4, b.v6], { datagramOnly: true }), [
        { address: b.v4, error: "EPERM", errno: 1, sent: false },
        { address: b.v6, error: "EPERM", errno: 1, sent: false },
      ]);
      await a.sysctl("net.ipv4.ping_group_range", "0 0");
      const rs = await lib.ping(a.path, [b.v4, b.v6, "10.201.0.9"], {
        datagramOnly: true,
        timeoutMs: 1000,
      });
      for (const r of rs.slice(0, 2)) {
        const rep = assertReply(r);
        deepEqual([rep.socket, rep.txClock, rep.rxClock], ["datagram", "kernel", "kernel"]);
      }
      equal("error" in rs[2] && rs[2].error, "ETIMEDOUT");
    });
  },
});

Deno.test({
  name: "ping() times with clock_gettime when asked to ignore kernel timestamps",
  ignore,
  async fn() {
    using lib = openLibrary();
    await withPair(async ({ a, b }) => {
      for (const r of await lib.ping(a.path, [b.v4, b.v6], { userClock: true, timeoutMs: 2000 })) {
        const rep = assertReply(r);
        deepEqual([rep.socket, rep.txClock, rep.rxClock], ["raw", "user", "user"]);
      }
    });
  },
});

Deno.test({
  name: "ping() pings loopback from the caller's own namespace with an empty path",
  ignore,
  async fn() {
    using lib = openLibrary();
    const rs = await lib.ping("", ["127.0.0.1", "::1"], { timeoutMs: 2000 });
    for (const r of rs) assertReply(r);
  },
});

Deno.test({
  name: "ping() takes a process's /proc/<pid>/ns/net, through the host view where it exists",
  ignore,
  async fn() {
    using lib = openLibrary();
    await withPair(async ({ a, b }) => {
      const child = new Deno.Command("ip", {
        args: ["netns", "exec", a.name, "sleep", "30"],
        stdout: "null",
        stderr: "null",
      }).spawn();
      try {
        // wait until the child has entered the namespace and exec'd sleep
        const want = nsInode(a.path);
        let path = "";
        for (let k = 0; k < 200; k++) {
          const view = `/run/osprey/host/proc/${child.pid}`;
          const proc = nsInode(`${view}/ns/net`) !== undefined ? view : `/proc/${child.pid}`;
          const comm = Deno.readTextFileSync(`${proc}/comm`).trim();
          if (comm === "sleep" && nsInode(`${proc}/ns/net`) === want) {
            path = `${proc}/ns/net`;
            break;
          }
          await sleep(10);
        }
        ok(path, "the child entered the namespace");
        for (const r of await lib.ping(path, [b.v4, b.v6], { timeoutMs: 2000 })) assertReply(r);
      } finally {
        child.kill("SIGKILL");
        await child.status;
      }
    });
  },
});

interface ChildOutcome {
  ok: boolean;
  capEff: string;
  results?: PingResult[];
  code?: string;
  message?: string;
}

function hasCap(capEff: string, cap: number): boolean {
  return (BigInt(`0x${capEff}`) >> BigInt(cap) & 1n) === 1n;
}

/** Runs testdata/ping_child.ts under `setpriv` with one capability dropped. */
async function pingWithout(
  cap: "net_raw" | "sys_admin",
  path: string,
  targets: string[],
  options: Record<string, unknown> = {},
): Promise<ChildOutcome> {
  const out = await new Deno.Command("setpriv", {
    args: [
      `--inh-caps=-${cap}`,
      `--bounding-set=-${cap}`,
      Deno.execPath(),
      "run",
      "-A",
      "--no-prompt",
      CHILD,
      path,
      JSON.stringify(options),
      ...targets,
    ],
    env: { NO_COLOR: "1", DENO_NO_UPDATE_CHECK: "1", RUST_BACKTRACE: "0" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const d = new TextDecoder();
  equal(out.code, 0, `child failed:\n${d.decode(out.stdout)}\n${d.decode(out.stderr)}`);
  return JSON.parse(d.decode(out.stdout).trim().split("\n").at(-1) ?? "{}");
}

function setprivIgnoreReason(): string {
  try {
    new Deno.Command("setpriv", { args: ["--version"], stdout: "null", stderr: "null" })
      .outputSync();
    return "";
  } catch {
    return "setpriv not installed (util-linux)";
  }
}
const ignoreSetpriv = ignore || setprivIgnoreReason() !== "";

Deno.test({
  name: "ping() without CAP_NET_RAW falls back to datagram sockets, or reports EPERM",
  ignore: ignoreSetpriv,
  async fn() {
    await withPair(async ({ a, b }) => {
      await a.sysctl("net.ipv4.ping_group_range", "1 0");
      const refused = await pingWithout("net_raw", a.path, [b.v4, b.v6]);
      ok(!hasCap(refused.capEff, CAP_NET_RAW), "the child ran without CAP_NET_RAW");
      ok(hasCap(refused.capEff, CAP_SYS_ADMIN), "but with CAP_SYS_ADMIN");
      deepEqual(refused.results, [
        { address: b.v4, error: "EPERM", errno: 1, sent: false },
        { address: b.v6, error: "EPERM", errno: 1, sent: false },
      ]);

      await a.sysctl("net.ipv4.ping_group_range", "0 2147483647");
      const allowed = await pingWithout("net_raw", a.path, [b.v4, b.v6], { timeoutMs: 2000 });
      ok(!hasCap(allowed.capEff, CAP_NET_RAW));
      for (const r of allowed.results ?? []) equal(assertReply(r).socket, "datagram");
      equal(allowed.results?.length, 2);
    });
  },
});

Deno.test({
  name: "ping() without CAP_SYS_ADMIN cannot enter another namespace, and says why",
  ignore: ignoreSetpriv,
  async fn() {
    await withPair(async ({ a, b }) => {
      const r = await pingWithout("sys_admin", a.path, [b.v4]);
      ok(!hasCap(r.capEff, CAP_SYS_ADMIN), "the child ran without CAP_SYS_ADMIN");
      equal(r.ok, false);
      equal(r.code, "EPERM");
      ok(r.message?.includes(`enter network namespace "${a.path}"`), r.message);
      ok(r.message?.includes("CAP_SYS_ADMIN"), r.message);
      // its own namespace needs no setns
      const own = await pingWithout("sys_admin", "", ["127.0.0.1"], { timeoutMs: 2000 });
      equal(own.ok, true);
      assertReply(own.results![0]);
    });
  },
});
