import { deepEqual, equal, ok } from "node:assert/strict";
import {
  decodeProcNetAddress,
  parseProcNetTcp,
  type ProcNetTcpSocket,
  TCP_STATE,
  tcpStateName,
} from "./proc_net_tcp.ts";
import { parseSs, pyAddress, type PyReport, socketKey, TESTDATA } from "./_reconcile_testing.ts";

const REC = `${TESTDATA}/netns`;
const LE = { littleEndian: true };

function recorded(): ProcNetTcpSocket[] {
  const a = parseProcNetTcp(Deno.readTextFileSync(`${REC}/tcp`), LE);
  const b = parseProcNetTcp(Deno.readTextFileSync(`${REC}/tcp6`), LE);
  equal(a.bad + b.bad, 0);
  return [...a.sockets, ...b.sockets];
}

Deno.test("parseProcNetTcp() on recorded tcp and tcp6 finds exactly the sockets ss lists (netlink)", () => {
  const ours = recorded().map(socketKey).sort();
  const theirs = parseSs(Deno.readTextFileSync(`${REC}/ss.txt`)).map(socketKey).sort();
  ok(theirs.length >= 28, `ss lists ${theirs.length} sockets`);
  deepEqual(ours, theirs);
});

Deno.test("parseProcNetTcp() on recorded files agrees with each socket's own view of itself", () => {
  const report = JSON.parse(Deno.readTextFileSync(`${REC}/sockets.json`)) as PyReport;
  const parsed = recorded();
  for (const py of report.sockets) {
    const local = [pyAddress(py.local[0]), py.local[1]];
    const remote = py.remote ? [pyAddress(py.remote[0]), py.remote[1]] : undefined;
    const found = parsed.filter((s) =>
      s.localAddress === local[0] && s.localPort === local[1] &&
      (remote === undefined
        ? (py.state === TCP_STATE.LISTEN ? s.remotePort === 0 : s.remotePort === 81)
        : s.remoteAddress === remote[0] && s.remotePort === remote[1])
    );
    equal(found.length, 1, `${py.role} ${JSON.stringify(py)}: ${found.length} matches`);
    equal(found[0].state, py.state, py.role);
    equal(found[0].family, py.family, py.role);
    equal(found[0].inode === 0, py.fd === null, `${py.role}: inode ${found[0].inode}`);
    equal(found[0].uid, 0);
  }
});

Deno.test("parseProcNetTcp() reads the recorded states: listens, established, time-wait, half-closed, syn-sent", () => {
  const byState = new Map<string, number>();
  for (const s of recorded()) {
    const name = tcpStateName(s.state) ?? String(s.state);
    byState.set(name, (byState.get(name) ?? 0) + 1);
  }
  deepEqual(Object.fromEntries([...byState].sort()), {
    CLOSE_WAIT: 1,
    ESTABLISHED: 20,
    FIN_WAIT2: 1,
    LISTEN: 4,
    SYN_SENT: 1,
    TIME_WAIT: 1,
  });
});

const HEADER4 =
  "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode";
const HEADER6 =
  "  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode";

function line4(local: string, remote: string, st: string, uid = "0", inode = "12345"): string {
  return `   0: ${local} ${remote} ${st} 00000000:00000000 00:00000000 00000000 ${
    uid.padStart(5)
  }        0 ${inode} 1 0000000000000000 100 0 0 10 0`;
}

Deno.test("parseProcNetTcp() decodes little-endian words, host-order ports, hex states, decimal uid and inode", () => {
  const t = parseProcNetTcp(
    [
      HEADER4,
      line4("0100007F:1F90", "0A01A8C0:FFFF", "01", "1000", "4294967295"),
      line4("00000000:0016", "00000000:0000", "0A", "65534", "7"),
    ].join("\n"),
    LE,
  );
  equal(t.bad, 0);
  deepEqual(t.sockets, [
    {
      family: 4,
      state: 1,
      localAddress: "127.0.0.1",
      localPort: 8080,
      remoteAddress: "192.168.1.10",
      remotePort: 65535,
      uid: 1000,
      inode: 4294967295,
    },
    {
      family: 4,
      state: 10,
      localAddress: "0.0.0.0",
      localPort: 22,
      remoteAddress: "0.0.0.0",
      remotePort: 0,
      uid: 65534,
      inode: 7,
    },
  ]);
});

Deno.test("parseProcNetTcp() reads every kernel state number", () => {
  const lines = [HEADER4];
  for (let st = 1; st <= 13; st++) {
    lines.push(
      line4("0100007F:0050", "0100007F:C000", st.toString(16).toUpperCase().padStart(2, "0")),
    );
  }
  const t = parseProcNetTcp(lines.join("\n"), LE);
  equal(t.bad, 0);
  deepEqual(t.sockets.map((s) => tcpStateName(s.state)), [
    "ESTABLISHED",
    "SYN_SENT",
    "SYN_RECV",
    "FIN_WAIT1",
    "FIN_WAIT2",
    "TIME_WAIT",
    "CLOSE",
    "CLOSE_WAIT",
    "LAST_ACK",
    "LISTEN",
    "CLOSING",
    "NEW_SYN_RECV",
    "BOUND_INACTIVE",
  ]);
  equal(tcpStateName(0), undefined);
  equal(tcpStateName(14), undefined);
});

Deno.test("parseProcNetTcp() reads tcp6: RFC 5952 text, IPv4-mapped as dotted, time-wait lines with fewer columns", () => {
  const v6 = (l: string, r: string, st: string, tail: string) =>
    `   1: ${l} ${r} ${st} 00000000:00000000 00:00000000 00000000     0        0 ${tail}`;
  const text = [
    HEADER6,
    v6(
      "B80D0120000000000000000001000000:01BB",
      "000080FE00000000FF27000AA1664EFE:D431",
      "01",
      "99 1 0000000000000000 20 4 30 10 -1",
    ),
    v6(
      "0000000000000000FFFF00000302010A:1F90",
      "0000000000000000FFFF00000100007F:8000",
      "06",
      "0 3 0000000000000000",
    ),
    v6(
      "B80D01200000000000000100" + "01000000:0001",
      "000000000000000000000000" + "0100007F:0002",
      "0A",
      "5 1 0000000000000000 100 0 0 10 0",
    ),
    v6(
      "00000000000000000000000000000000:2382",
      "00000000000000000000000000000000:0000",
      "0A",
      "6 1 0000000000000000 100 0 0 10 0",
    ),
  ].join("\n");
  const t = parseProcNetTcp(text, LE);
  equal(t.bad, 0);
  deepEqual(
    t.sockets.map((
      s,
    ) => [s.family, s.state, s.localAddress, s.localPort, s.remoteAddress, s.remotePort, s.inode]),
    [
      [6, 1, "2001:db8::1", 443, "fe80::a00:27ff:fe4e:66a1", 54321, 99],
      [6, 6, "10.1.2.3", 8080, "127.0.0.1", 32768, 0],
      [6, 10, "2001:db8::1:0:0:1", 1, "::7f00:1", 2, 5],
      [6, 10, "::", 9090, "::", 0, 6],
    ],
  );
});

Deno.test("parseProcNetTcp() skips and counts odd lines, never failing the file", () => {
  const good = line4("0100007F:1F90", "0100007F:C000", "01");
  const odd = [
    good.slice(0, 40), // truncated
    "garbage",
    "\u0000\u0001\u0002",
    line4("0100007F:1F9", "0100007F:C000", "01"), // 3-digit port
    line4("0100007F1:1F90", "0100007F:C000", "01"), // 9-digit address
    line4("0100007F:1F90", "00000000000000000000000000000000:0000", "01"), // mixed widths
    line4("0100007G:1F90", "0100007F:C000", "01"), // not hex
    line4("0100007F:1F90", "0100007F:C000", "1"), // 1-digit state
    line4("0100007F:1F90", "0100007F:C000", "01", "-1"), // negative uid
    line4("0100007F:1F90", "0100007F:C000", "01", "4294967296"), // uid over 32 bits
    line4("0100007F:1F90", "0100007F:C000", "01", "0", "12a"), // inode not decimal
    line4("0100007F:1F90", "0100007F:C000", "01", "0", "9".repeat(16)), // inode too long
    good.replace("   0:", "   x:"), // bad slot
    good.replace("00000000:00000000", "00000000"), // tx/rx without colon
  ];
  const t = parseProcNetTcp([HEADER4, good, ...odd, good, ""].join("\n"), LE);
  equal(t.bad, odd.length);
  equal(t.sockets.length, 2);
  deepEqual(t.sockets[0], t.sockets[1]);
});

Deno.test("parseProcNetTcp() hands each odd line to skip with its file and line number", () => {
  const good = line4("0100007F:1F90", "0100007F:C000", "01");
  const got: string[] = [];
  const t = parseProcNetTcp([HEADER4, good, "garbage", good, "junk"].join("\n"), {
    ...LE,
    file: "/proc/7/net/tcp",
    firstLine: 11,
    skip: (e) => got.push(`${e.file}:${e.line}`),
  });
  equal(t.bad, 2);
  deepEqual(got, ["/proc/7/net/tcp:13", "/proc/7/net/tcp:15"]);
});

Deno.test("parseProcNetTcp() of empty text, a lone header, blank lines and a header in the middle", () => {
  deepEqual(parseProcNetTcp(""), { sockets: [], bad: 0 });
  deepEqual(parseProcNetTcp(HEADER4 + "\n"), { sockets: [], bad: 0 });
  const t = parseProcNetTcp(
    ["", HEADER4, "   ", line4("0100007F:0050", "0100007F:C000", "01"), HEADER6, "\n"].join("\n"),
    LE,
  );
  equal(t.bad, 0);
  equal(t.sockets.length, 1);
});

Deno.test("parseProcNetTcp() accepts lower-case hex", () => {
  const t = parseProcNetTcp(line4("0a01a8c0:1f90", "0100007f:c000", "0a"), LE);
  equal(t.bad, 0);
  equal(t.sockets[0].localAddress, "192.168.1.10");
  equal(t.sockets[0].state, 10);
});

Deno.test("decodeProcNetAddress() reads each 32-bit word in the printing host's byte order", () => {
  equal(decodeProcNetAddress("0100007F", true), "127.0.0.1");
  equal(decodeProcNetAddress("7F000001", false), "127.0.0.1");
  equal(decodeProcNetAddress("00000000000000000000000001000000", true), "::1");
  equal(decodeProcNetAddress("00000000000000000000000000000001", false), "::1");
  equal(decodeProcNetAddress("0000000000000000FFFF00000302010A", true), "10.1.2.3");
  equal(decodeProcNetAddress("00000000000000000000FFFF0A010203", false), "10.1.2.3");
  equal(decodeProcNetAddress("0000000000000000FFFF000001000000", true), "0.0.0.1");
  // ::ffff:0:1.2.3.4 (IPv4-translated) and 64:ff9b::/96 are not mapped
  equal(decodeProcNetAddress("00000000000000000000FFFF04030201", true), "::ffff:0:102:304");
  equal(decodeProcNetAddress("9BFF64000000000000000000010000C0", true), "64:ff9b::c000:1");
  equal(decodeProcNetAddress("0100007", true), undefined);
  equal(decodeProcNetAddress("0100007X", true), undefined);
  equal(decodeProcNetAddress("", true), undefined);
});
