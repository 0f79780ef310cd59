/**
 * Seeded fuzz of the start-up reconciliation's pure parts: one mutated line of a recorded
 * `/proc/<pid>/net/tcp{,6}` costs exactly that line (every other line parses as before), whole
 * texts mangled never throw, every socket returned is well formed (IPv6 text checked against
 * the WHATWG URL parser's canonical form), the link parsers accept only the kernel's text, and
 * the join accounts for every socket. Seeded, so a failure reproduces.
 */
import { deepEqual, equal } from "node:assert/strict";
import { connectionDirection, joinExistingSockets } from "./existing_sockets.ts";
import type { NamespaceTable } from "./existing_sockets.ts";
import { parseProcNetTcp, type ProcNetTcpSocket, type ProcNetTcpTable } from "./proc_net_tcp.ts";
import type { SocketOwner } from "./socket_owners.ts";
import { parseNetNamespaceLink, parseSocketLink } from "./socket_owners.ts";
import { TESTDATA } from "./_reconcile_testing.ts";
import { prng } from "../_fuzz_testing.ts";

const SEED = 0x7c9e11;
const LINE_ITERATIONS = 4000;
const TEXT_ITERATIONS = 1500;
const JOIN_ITERATIONS = 1500;
const LE = { littleEndian: true };

const ALPHABET = " \t\r\n:0123456789ABCDEFabcdefxX-\u0000\u00e9\ud83d";

/** One mutation of a line: characters, fields, numbers. */
function mutateLine(line: string, rnd: () => number): string {
  const pick = (s: string) => s[Math.floor(rnd() * s.length)];
  const at = () => Math.floor(rnd() * (line.length + 1));
  const fields = () => line.trim().split(/\s+/);
  switch (Math.floor(rnd() * 12)) {
    case 0: { // a few characters replaced
      let s = line;
      for (let k = 1 + Math.floor(rnd() * 4); k > 0; k--) {
        const i = Math.floor(rnd() * Math.max(1, s.length));
        s = s.slice(0, i) + pick(ALPHABET) + s.slice(i + 1);
      }
      return s;
    }
    case 1: { // characters inserted
      const i = at();
      let ins = "";
      for (let k = 1 + Math.floor(rnd() * 5); k > 0; k--) ins += pick(ALPHABET);
      return line.slice(0, i) + ins + line.slice(i);
    }
    case 2: // a span deleted
      return line.slice(0, at()) + line.slice(at());
    case 3: // truncated
      return line.slice(0, at());
    case 4: { // random bytes
      let s = "";
      for (let n = Math.floor(rnd() * 80); n > 0; n--) {
        s += String.fromCharCode(Math.floor(rnd() * 256));
      }
      return s;
    }
    case 5: { // a huge or negative number inside a field
      const f = fields();
      const i = Math.floor(rnd() * f.length);
      f[i] = rnd() < 0.5 ? "9".repeat(1 + Math.floor(rnd() * 30)) : "-" + f[i];
      return f.join(" ");
    }
    case 6: { // two fields swapped
      const f = fields();
      const i = Math.floor(rnd() * f.length), j = Math.floor(rnd() * f.length);
      [f[i], f[j]] = [f[j], f[i]];
      return f.join(" ");
    }
    case 7: { // a field dropped
      const f = fields();
      f.splice(Math.floor(rnd() * f.length), 1);
      return f.join(" ");
    }
    case 8: { // a field duplicated
      const f = fields();
      const i = Math.floor(rnd() * f.length);
      f.splice(i, 0, f[i]);
      return f.join(" ");
    }
    case 9: // case changed
      return rnd() < 0.5 ? line.toLowerCase() : line.toUpperCase();
    case 10: // the header instead
      return "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt";
    default: { // an address or port digit count changed
      const f = fields();
      if (f.length > 2) f[1 + Math.floor(rnd() * 2)] += pick("0F");
      return f.join(" ");
    }
  }
}

function corpus(): string[] {
  const dir = `${TESTDATA}/netns`;
  return [Deno.readTextFileSync(`${dir}/tcp`), Deno.readTextFileSync(`${dir}/tcp6`)];
}

const V4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

/** Throws unless `s` is a socket the parser may return. */
function checkSocket(s: ProcNetTcpSocket, where: string): void {
  const int = (v: number, max: number) => Number.isSafeInteger(v) && v >= 0 && v <= max;
  if (s.family !== 4 && s.family !== 6) throw new Error(`${where}: family ${s.family}`);
  if (!int(s.state, 255)) throw new Error(`${where}: state ${s.state}`);
  if (!int(s.localPort, 65535) || !int(s.remotePort, 65535)) throw new Error(`${where}: port`);
  if (!int(s.uid, 0xffffffff)) throw new Error(`${where}: uid ${s.uid}`);
  if (!int(s.inode, Number.MAX_SAFE_INTEGER)) throw new Error(`${where}: inode ${s.inode}`);
  for (const a of [s.localAddress, s.remoteAddress]) {
    const m = V4.exec(a);
    if (m) {
      if (m.slice(1).some((x) => Number(x) > 255 || String(Number(x)) !== x)) {
        throw new Error(`${where}: IPv4 ${a}`);
      }
      continue;
    }
    if (s.family !== 6) throw new Error(`${where}: IPv6 text ${a} in an IPv4 line`);
    // The WHATWG URL parser writes IPv6 hosts in RFC 5952's canonical compressed form.
    const canonical = new URL(`http://[${a}]/`).hostname;
    if (canonical !== `[${a}]`) throw new Error(`${where}: ${a} is not canonical (${canonical})`);
    if (/^::ffff:[0-9a-f]{1,4}:[0-9a-f]{1,4}$/.test(a)) {
      throw new Error(`${where}: IPv4-mapped ${a} not shown dotted`);
    }
  }
}

function checkTable(t: ProcNetTcpTable, where: string): void {
  if (!Number.isSafeInteger(t.bad) || t.bad < 0) throw new Error(`${where}: bad ${t.bad}`);
  for (const s of t.sockets) checkSocket(s, where);
}

Deno.test("fuzz: one mutated line of a recorded table costs that line only; whole texts never throw", () => {
  const rnd = prng(SEED);
  const files = corpus();
  const started = performance.now();
  const failures: string[] = [];
  let rejected = 0, accepted = 0;

  for (let it = 0; it < LINE_ITERATIONS; it++) {
    const lines = files[it % files.length].split("\n");
    const i = 1 + Math.floor(rnd() * (lines.length - 2)); // not the header, not the last ""
    const mutated = mutateLine(lines[i], rnd);
    const text = [...lines.slice(0, i), mutated, ...lines.slice(i + 1)].join("\n");
    try {
      const whole = parseProcNetTcp(text, LE);
      const before = parseProcNetTcp(lines.slice(0, i).join("\n"), LE);
      const alone = parseProcNetTcp(mutated, LE);
      const after = parseProcNetTcp(lines.slice(i + 1).join("\n"), LE);
      checkTable(whole, `line ${i}`);
      equal(before.bad + after.bad, 0);
      deepEqual(whole.sockets, [...before.sockets, ...alone.sockets, ...after.sockets]);
      equal(whole.bad, alone.bad);
      if (alone.bad > 0) rejected++;
      else accepted++;
    } catch (err) {
      if (failures.length < 10) failures.push(`${JSON.stringify(mutated)}: ${err}`);
    }
  }

  for (let it = 0; it < TEXT_ITERATIONS; it++) {
    let text = files[it % files.length];
    for (let k = 1 + Math.floor(rnd() * 3); k > 0; k--) {
      const r = rnd();
      if (r < 0.3) text = text.slice(0, Math.floor(rnd() * text.length)); // truncated
      else if (r < 0.6) text = mutateLine(text, rnd); // the whole text as one "line"
      else {
        const ls = text.split("\n"); // lines shuffled, dropped, duplicated
        for (let j = ls.length - 1; j > 0; j--) {
          const x = Math.floor(rnd() * (j + 1));
          [ls[j], ls[x]] = [ls[x], ls[j]];
        }
        if (rnd() < 0.5) ls.splice(Math.floor(rnd() * ls.length), 1);
        else ls.push(ls[0]);
        text = ls.join("\n");
      }
    }
    try {
      checkTable(parseProcNetTcp(text, { littleEndian: rnd() < 0.5 }), "text");
    } catch (err) {
      if (failures.length < 10) failures.push(`${JSON.stringify(text.slice(0, 200))}: ${err}`);
    }
  }

  const ms = performance.now() - started;
  console.log(
    `fuzz (seed ${SEED}, ${ms.toFixed(0)} ms): ${accepted} mutated lines still parse, ` +
      `${rejected} rejected; ${TEXT_ITERATIONS} mangled texts`,
  );
  equal(failures.length, 0, failures.join("\n"));
});

Deno.test("fuzz: link parsers accept only socket:[N] and net:[N]", () => {
  const rnd = prng(SEED + 1);
  for (let it = 0; it < 5000; it++) {
    const n = Math.floor(rnd() * 1e12);
    let link = rnd() < 0.5 ? `socket:[${n}]` : `net:[${n}]`;
    const exact = rnd() < 0.5;
    if (!exact) link = mutateLine(link, rnd);
    for (const parse of [parseSocketLink, parseNetNamespaceLink]) {
      const v = parse(link);
      if (v !== undefined && (!Number.isSafeInteger(v) || v < 0)) {
        throw new Error(`${JSON.stringify(link)} gave ${v}`);
      }
      if (v !== undefined) {
        const prefix = parse === parseSocketLink ? "socket:[" : "net:[";
        equal(link, `${prefix}${link.slice(prefix.length, -1)}]`);
        equal(String(v), String(Number(link.slice(prefix.length, -1))));
      }
    }
    if (exact) {
      equal(
        link.startsWith("socket") ? parseSocketLink(link) : parseNetNamespaceLink(link),
        n,
      );
    }
  }
});

Deno.test("fuzz: joinExistingSockets() accounts for every socket and follows its direction rule", () => {
  const rnd = prng(SEED + 2);
  const int = (n: number) => Math.floor(rnd() * n);
  for (let it = 0; it < JOIN_ITERATIONS; it++) {
    const tables: NamespaceTable[] = [];
    const inodes = Array.from({ length: 1 + int(30) }, () => int(5) === 0 ? 0 : 1 + int(100));
    for (let t = 0, nt = 1 + int(3); t < nt; t++) {
      const sockets: ProcNetTcpSocket[] = [];
      for (let k = 0, n = int(40); k < n; k++) {
        sockets.push({
          family: rnd() < 0.5 ? 4 : 6,
          state: int(15),
          localAddress: "10.0.0.1",
          localPort: rnd() < 0.3 ? 32768 + int(28232) : int(65536),
          remoteAddress: "10.0.0.2",
          remotePort: int(65536),
          uid: 0,
          inode: inodes[int(inodes.length)],
        });
      }
      tables.push({ netns: 4026531840 + t, sockets });
    }
    const owners = new Map<number, SocketOwner[]>();
    for (const ino of inodes) {
      if (ino !== 0 && rnd() < 0.8) {
        owners.set(ino, Array.from({ length: int(3) }, () => ({ pid: 1 + int(50), fd: int(20) })));
      }
    }
    const states = Array.from({ length: int(4) }, () => int(15));
    const got = joinExistingSockets(tables, owners, { connectionStates: states });
    const s = got.stats;
    equal(
      got.listens.length + got.connections.length + s.noInode + s.otherState + s.ownerNotFound,
      s.sockets,
    );
    equal(s.sockets, tables.reduce((a, t) => a + t.sockets.length, 0));
    for (const c of [...got.listens, ...got.connections]) {
      equal(c.owners.length > 0, true);
      deepEqual([c.pid, c.fd], [c.owners[0].pid, c.owners[0].fd]);
      for (let k = 1; k < c.owners.length; k++) {
        const a = c.owners[k - 1], b = c.owners[k];
        equal(a.pid < b.pid || (a.pid === b.pid && a.fd <= b.fd), true);
      }
    }
    for (const c of got.connections) {
      const listening = new Set(
        tables.find((t) => t.netns === c.netns)!.sockets.filter((x) => x.state === 10)
          .map((x) => x.localPort),
      );
      deepEqual(
        { inbound: c.inbound, inboundBy: c.inboundBy },
        connectionDirection(c.localPort, c.remotePort, listening),
      );
      equal(states.includes(c.state) && c.state !== 10, true);
    }
  }
});
