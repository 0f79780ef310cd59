import { deepEqual, equal, ok } from "node:assert/strict";
import { hostPaths } from "../paths.ts";
import {
  connectionDirection,
  DEFAULT_EPHEMERAL_PORTS,
  type ExistingConnection,
  type ExistingListen,
  existingSockets,
  joinExistingSockets,
  type NamespaceTable,
} from "./existing_sockets.ts";
import { parseProcNetTcp, TCP_STATE } from "./proc_net_tcp.ts";
import type { SocketOwner } from "./socket_owners.ts";
import { parseSocketLink } from "./socket_owners.ts";
import {
  netnsIgnoreReason,
  parseSs,
  pyAddress,
  type PyReport,
  startSocketsNamespace,
  TESTDATA,
} from "./_reconcile_testing.ts";

Deno.test("connectionDirection(): a listener in the namespace, then the ephemeral range, then the reference's port rule", () => {
  const listening = new Set([80, 61000]);
  const d = (l: number, r: number) => connectionDirection(l, r, listening, DEFAULT_EPHEMERAL_PORTS);
  deepEqual(d(80, 40000), { inbound: true, inboundBy: "listener" });
  deepEqual(d(61000, 40000), { inbound: true, inboundBy: "listener" }); // reference: outbound
  deepEqual(d(40000, 80), { inbound: false, inboundBy: "ephemeral" });
  deepEqual(d(40000, 50051), { inbound: false, inboundBy: "ephemeral" }); // reference: inbound
  deepEqual(d(40000, 61000), { inbound: false, inboundBy: "ephemeral" }); // reference: inbound
  deepEqual(d(7070, 40000), { inbound: true, inboundBy: "ports" }); // listener gone
  deepEqual(d(62000, 443), { inbound: false, inboundBy: "ports" });
  deepEqual(d(32768, 32769), { inbound: false, inboundBy: "ephemeral" });
  deepEqual(d(60999, 61000), { inbound: false, inboundBy: "ephemeral" });
  deepEqual(d(61001, 61002), { inbound: true, inboundBy: "ports" });
  deepEqual(connectionDirection(40000, 50051, new Set(), []), {
    inbound: true,
    inboundBy: "ports",
  });
  deepEqual(connectionDirection(1500, 80, new Set(), [{ from: 1024, to: 2000 }]), {
    inbound: false,
    inboundBy: "ephemeral",
  });
});

/** What the join must say about each socket sockets.py reports, in namespace `netns`. */
function expected(
  report: PyReport,
  netns: number,
  states: readonly number[] = [TCP_STATE.ESTABLISHED],
): { listens: object[]; connections: object[] } {
  const owners = (fd: number): SocketOwner[] =>
    [{ pid: report.pid, fd }, ...(report.child ? [{ pid: report.child, fd }] : [])]
      .sort((a, b) => a.pid - b.pid);
  const listens: object[] = [];
  const connections: object[] = [];
  for (const s of report.sockets) {
    if (s.fd === null) continue;
    const own = owners(s.fd);
    const holder = { pid: own[0].pid, fd: own[0].fd, owners: own };
    if (s.state === TCP_STATE.LISTEN) {
      listens.push({ netns, address: pyAddress(s.local[0]), port: s.local[1], ...holder });
    } else if (states.includes(s.state)) {
      const inbound = s.role.endsWith("_server");
      connections.push({
        netns,
        state: s.state,
        localAddress: pyAddress(s.local[0]),
        localPort: s.local[1],
        remoteAddress: pyAddress(s.remote![0]),
        remotePort: s.remote![1],
        ...holder,
        inbound,
        inboundBy: !inbound
          ? "ephemeral"
          : s.role === "orphan_listener_server"
          ? "ports"
          : "listener",
      });
    }
  }
  return { listens: sortByFd(listens), connections: sortByFd(connections) };
}

function sortByFd<T extends object>(list: T[]): T[] {
  return list.sort((a, b) => (a as { fd: number }).fd - (b as { fd: number }).fd);
}

function comparableListens(list: readonly ExistingListen[]): object[] {
  return sortByFd(list.map(({ netns, address, port, pid, fd, owners }) => ({
    netns,
    address,
    port,
    pid,
    fd,
    owners,
  })));
}

function comparableConnections(list: readonly ExistingConnection[]): object[] {
  return sortByFd(list.map((c) => ({
    netns: c.netns,
    state: c.state,
    localAddress: c.localAddress,
    localPort: c.localPort,
    remoteAddress: c.remoteAddress,
    remotePort: c.remotePort,
    pid: c.pid,
    fd: c.fd,
    owners: c.owners,
    inbound: c.inbound,
    inboundBy: c.inboundBy,
  })));
}

function recordedInput(): {
  report: PyReport;
  table: NamespaceTable;
  owners: Map<number, SocketOwner[]>;
} {
  const dir = `${TESTDATA}/netns`;
  const report = JSON.parse(Deno.readTextFileSync(`${dir}/sockets.json`)) as PyReport;
  const netns = Number(/\d+/.exec(report.netns)![0]);
  const sockets = [
    ...parseProcNetTcp(Deno.readTextFileSync(`${dir}/tcp`), { littleEndian: true }).sockets,
    ...parseProcNetTcp(Deno.readTextFileSync(`${dir}/tcp6`), { littleEndian: true }).sockets,
  ];
  const fds = JSON.parse(Deno.readTextFileSync(`${dir}/fds.json`)) as Record<string, string>;
  const owners = new Map<number, SocketOwner[]>();
  for (const [fd, link] of Object.entries(fds)) {
    const ino = parseSocketLink(link)!;
    owners.set(ino, [...owners.get(ino) ?? [], { pid: report.pid, fd: Number(fd) }]);
  }
  return { report, table: { netns, sockets }, owners };
}

Deno.test("joinExistingSockets() on the recorded namespace: listens, connections with holders and direction, the rest counted", () => {
  const { report, table, owners } = recordedInput();
  const got = joinExistingSockets([table], owners);
  const want = expected(report, table.netns);
  equal(want.listens.length, 4);
  equal(want.connections.length, 19);
  deepEqual(comparableListens(got.listens), want.listens);
  deepEqual(comparableConnections(got.connections), want.connections);
  // time-wait and the connection in the accept queue have no inode; the half-closed pair and
  // the SYN_SENT socket are in other states
  deepEqual(got.stats, { sockets: 28, noInode: 2, otherState: 3, ownerNotFound: 0 });
});

Deno.test("joinExistingSockets() keeps the connection states asked for", () => {
  const { report, table, owners } = recordedInput();
  const states = [TCP_STATE.ESTABLISHED, TCP_STATE.FIN_WAIT2, TCP_STATE.CLOSE_WAIT];
  const got = joinExistingSockets([table], owners, { connectionStates: states });
  deepEqual(
    comparableConnections(got.connections),
    expected(report, table.netns, states).connections,
  );
  equal(got.stats.otherState, 1);
});

Deno.test("joinExistingSockets() counts sockets whose holder is unknown, and sorts shared holders", () => {
  const { table, owners } = recordedInput();
  const listen = table.sockets.find((s) => s.state === TCP_STATE.LISTEN && s.localPort === 8080)!;
  const held = new Map(owners);
  held.set(listen.inode, [{ pid: 900, fd: 4 }, { pid: 7, fd: 9 }, { pid: 7, fd: 3 }]);
  const conn = table.sockets.find((s) => s.state === TCP_STATE.ESTABLISHED && s.inode !== 0)!;
  held.delete(conn.inode);
  const got = joinExistingSockets([table], held);
  const l = got.listens.find((x) => x.inode === listen.inode)!;
  deepEqual(l.owners, [{ pid: 7, fd: 3 }, { pid: 7, fd: 9 }, { pid: 900, fd: 4 }]);
  deepEqual([l.pid, l.fd], [7, 3]);
  equal(got.stats.ownerNotFound, 1);
  ok(!got.connections.some((c) => c.inode === conn.inode));
});

Deno.test("joinExistingSockets() matches listening ports per namespace only", () => {
  const s = (state: number, lp: number, rp: number, inode: number) => ({
    family: 4 as const,
    state,
    localAddress: "10.0.0.1",
    localPort: lp,
    remoteAddress: "10.0.0.2",
    remotePort: rp,
    uid: 0,
    inode,
  });
  const tables: NamespaceTable[] = [
    { netns: 1, sockets: [s(TCP_STATE.LISTEN, 61000, 0, 1)] },
    { netns: 2, sockets: [s(TCP_STATE.ESTABLISHED, 61000, 40000, 2)] },
  ];
  const owners = new Map([[1, [{ pid: 1, fd: 3 }]], [2, [{ pid: 2, fd: 3 }]]]);
  const got = joinExistingSockets(tables, owners);
  // namespace 2 has no listener on 61000: the port rule decides (40000 < 61000: outbound)
  deepEqual([got.connections[0].inbound, got.connections[0].inboundBy], [false, "ports"]);
});

const PATHS = hostPaths();
const VIEW = !PATHS.fixture && (() => {
  try {
    return Deno.readLinkSync(`${PATHS.proc}/self/ns/net`).startsWith("net:[");
  } catch {
    return false;
  }
})();

Deno.test({
  name:
    "existingSockets() finds this process's own listeners and connections with the fds ss names",
  ignore: !VIEW,
  async fn() {
    const l4 = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const l6 = Deno.listen({ hostname: "::1", port: 0 });
    const conns: Deno.Conn[] = [];
    try {
      for (let i = 0; i < 3; i++) {
        conns.push(await Deno.connect({ hostname: "127.0.0.1", port: l4.addr.port }));
        conns.push(await l4.accept());
      }
      for (let i = 0; i < 2; i++) {
        conns.push(await Deno.connect({ hostname: "::1", port: l6.addr.port }));
        conns.push(await l6.accept());
      }
      const got = await existingSockets(PATHS);
      ok(got.stats.complete);
      const ns = Number(/\d+/.exec(Deno.readLinkSync(`${PATHS.proc}/self/ns/net`))![0]);
      const ss = await new Deno.Command("ss", { args: ["-tanpeO"], stdout: "piped" }).output();
      const mine = parseSs(new TextDecoder().decode(ss.stdout))
        .filter((s) => s.users.some((u) => u.pid === Deno.pid));
      const ports = new Set([l4.addr.port, l6.addr.port]);
      const ours = mine.filter((s) => ports.has(s.localPort) || ports.has(s.remotePort));
      equal(ours.length, 12);

      const key = (x: { localAddress: string; localPort: number; inode: number }) =>
        `${x.localAddress}:${x.localPort}/${x.inode}`;
      const listens = got.listens.filter((l) => l.pid === Deno.pid && ports.has(l.port));
      deepEqual(
        listens.map((
          l,
        ) => [
          l.netns,
          key({ localAddress: l.address, localPort: l.port, inode: l.inode }),
          l.owners,
        ]).sort(),
        ours.filter((s) => s.state === TCP_STATE.LISTEN).map((s) => [ns, key(s), s.users]).sort(),
      );
      const connections = got.connections.filter((c) =>
        c.pid === Deno.pid && (ports.has(c.localPort) || ports.has(c.remotePort))
      );
      deepEqual(
        connections.map((c) => [c.netns, key(c), c.remoteAddress, c.remotePort, c.owners]).sort(),
        ours.filter((s) => s.state === TCP_STATE.ESTABLISHED)
          .map((s) => [ns, key(s), s.remoteAddress, s.remotePort, s.users]).sort(),
      );
      for (const c of connections) {
        equal(c.inbound, ports.has(c.localPort), `${c.localPort} -> ${c.remotePort}`);
        equal(c.inboundBy, c.inbound ? "listener" : "ephemeral");
      }
    } finally {
      for (const c of conns) c.close();
      l4.close();
      l6.close();
    }
  },
});

const NETNS_IGNORE = !VIEW ? "no host view (sh agent/host_view.sh)" : netnsIgnoreReason();

Deno.test({
  name:
    "existingSockets() in a namespace it did not create sees its sockets with its inode and both holders",
  ignore: NETNS_IGNORE !== "",
  async fn() {
    const ns = await startSocketsNamespace({ fork: true });
    try {
      ok(ns.report.child !== null);
      const states = [TCP_STATE.ESTABLISHED, TCP_STATE.FIN_WAIT2, TCP_STATE.CLOSE_WAIT];
      const got = await existingSockets(PATHS, { connectionStates: states });
      ok(got.stats.complete);
      ok(got.stats.namespaces >= 2);
      const want = expected(ns.report, ns.inode, states);
      equal(want.connections.length, 21);
      deepEqual(comparableListens(got.listens.filter((l) => l.netns === ns.inode)), want.listens);
      deepEqual(
        comparableConnections(got.connections.filter((c) => c.netns === ns.inode)),
        want.connections,
      );
      // the time-wait socket and the queued connection: counted, not returned
      ok(got.stats.noInode >= 2);
      // the SYN_SENT socket: counted
      ok(got.stats.otherState >= 1);
    } finally {
      await ns.close();
    }
  },
});

Deno.test({
  name: "existingSockets() stops at its deadline and says so",
  ignore: !VIEW,
  async fn() {
    const got = await existingSockets(PATHS, { timeoutMs: 0 });
    equal(got.stats.complete, false);
  },
});

Deno.test("existingSockets() throws a clear error when <proc> cannot be listed", async () => {
  const missing = `/nonexistent-osprey-${Deno.pid}`;
  try {
    await existingSockets({ ...PATHS, proc: missing });
    throw new Error("no error");
  } catch (err) {
    ok(err instanceof Error && err.message === `Cannot list the processes in "${missing}"`);
    ok(err.cause instanceof Deno.errors.NotFound);
  }
});

Deno.test("existingSockets() hands odd lines of the socket tables to skip, with their file and line", async () => {
  const root = Deno.makeTempDirSync({ prefix: "osprey-net-" });
  try {
    const fixture = new URL("../../tests/fixtures/host", import.meta.url).pathname;
    await new Deno.Command("cp", { args: ["-a", `${fixture}/.`, root] }).output();
    const tcp = `${root}/proc/4300/net/tcp`;
    const lines = Deno.readTextFileSync(tcp).split("\n");
    lines.splice(2, 0, "   7: garbage");
    Deno.writeTextFileSync(tcp, lines.join("\n"));
    const skipped: string[] = [];
    const got = await existingSockets(hostPaths({ hostRoot: root }), {
      skip: (e) => skipped.push(`${e.file.slice(root.length)}:${e.line}`),
    });
    equal(got.stats.badLines, 1);
    deepEqual(skipped, ["/proc/4300/net/tcp:3"]);
  } finally {
    Deno.removeSync(root, { recursive: true });
  }
});
