/**
 * Seeded fuzz of the L7 matcher (agent/l7/matcher.ts), as the protocol parsers are fuzzed
 * (agent/l7/protocols/protocols_fuzz_test.ts): 100,000 record sequences, each a conversation of
 * one protocol (HTTP/1, HTTP/2 and gRPC from a real node:http2 capture, Postgres, MySQL from a
 * real MariaDB capture, Redis, Memcached, DNS over UDP and TCP) seen from the client or the server
 * side, then mutated: payloads by the parsers' mutations, records split in two (a short first
 * part, both directions), dropped, repeated, swapped, cut (the syscall moved more than the
 * capture), the socket closed (`forget`) or its address reused by new ports, timestamps out of
 * order, DNS ids changed, and several connections interleaved on a matcher that lives across
 * sequences. Random records in between. The matcher must throw nothing, report only known
 * protocols and status labels with finite non-negative durations, keep its counters
 * non-negative integers, and keep every table within its cap (connections, requests and DNS ids
 * waiting per connection, prepared statements, kept parts, HTTP/2 streams). Seeded
 * (`FUZZ_SEED`), so a failure names its sequence and reproduces.
 */
import { ok } from "node:assert/strict";
import { emptyL7Event, type L7Event } from "../../ffi/mod.ts";
import { fuzzInput, prng } from "../_fuzz_testing.ts";
import { type Completed, L7Matcher } from "./matcher.ts";

const SEED = Number(Deno.env.get("FUZZ_SEED") ?? 0x17_0009);
const SEQUENCES = 100_000;
const MAX_CONNECTIONS = 32;
const MAX_PENDING = 8;

const enc = new TextEncoder();
const b = (s: string) => [...enc.encode(s)];
const hex = (h: string) => [...h.matchAll(/../g)].map((m) => parseInt(m[0], 16));

/** One record of a conversation: who sent it, and its bytes. */
interface Step {
  from: "client" | "server";
  bytes: number[];
}
interface Conversation {
  name: string;
  l4: 6 | 17;
  port: number;
  steps: Step[];
}

function pg(type: string, ...parts: number[][]): number[] {
  const body = parts.flat();
  const n = body.length + 4;
  return [type.charCodeAt(0), n >>> 24, (n >> 16) & 255, (n >> 8) & 255, n & 255, ...body];
}
function dnsName(n: string): number[] {
  const out: number[] = [];
  for (const l of n.split(".")) out.push(l.length, ...b(l));
  return [...out, 0];
}
function dns(id: number, answer: boolean, rcode: number, ips: number[][]): number[] {
  const head = [id >> 8, id & 255, answer ? 0x81 : 0x01, answer ? 0x80 | rcode : 0];
  const counts = [0, 1, 0, ips.length, 0, 0, 0, 0];
  const an = ips.flatMap((ip) => [0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, ...ip]);
  return [...head, ...counts, ...dnsName("api.example.com"), 0, 1, 0, 1, ...an];
}
const tcpDns = (m: number[]) => [m.length >> 8, m.length & 255, ...m];

async function captures(file: string): Promise<Step[]> {
  const url = new URL(`./protocols/testdata/${file}`, import.meta.url);
  const json = JSON.parse(await Deno.readTextFile(url)) as
    | { side: string; hex: string }[]
    | Record<string, { side: string; hex: string }[] | string>;
  const list = Array.isArray(json)
    ? json
    : Object.values(json).filter((v): v is { side: string; hex: string }[] => Array.isArray(v))
      .flat();
  return list.map((x) => ({
    from: x.side === "client" ? "client" : "server",
    bytes: hex(x.hex).slice(0, 1024),
  }));
}

async function conversations(): Promise<Conversation[]> {
  const z = [0];
  const c = (bytes: number[]): Step => ({ from: "client", bytes });
  const s = (bytes: number[]): Step => ({ from: "server", bytes });
  const ready = pg("Z", [0x49]);
  return [
    {
      name: "http1",
      l4: 6,
      port: 80,
      steps: [
        c(b("GET /a?x=1 HTTP/1.1\r\nHost: h\r\n\r\n")),
        s(b("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")),
        c(b("POST /b HTTP/1.1\r\nContent-Length: 2\r\n\r\n")),
        c(b("{}")),
        s(b("HTTP/1.1 100 Continue\r\n\r\n")),
        s(b("HTTP/1.1 503 Busy\r\n\r\n")),
        c(b("GET /c HTTP/1.1\r\n\r\nGET /d HTTP/1.1\r\n\r\n")),
        s(b("HTTP/1.1 404 Not Found\r\n\r\n")),
      ],
    },
    { name: "http2", l4: 6, port: 8080, steps: await captures("http2_node.json") },
    { name: "mysql", l4: 6, port: 3306, steps: await captures("mysql_mariadb.json") },
    {
      name: "postgres",
      l4: 6,
      port: 5432,
      steps: [
        c(pg("Q", b("SELECT 1"), z)),
        s([...pg("T", [0, 0]), ...pg("D", [0, 0]), ...pg("C", b("SELECT 1"), z), ...ready]),
        c([...pg("P", b("s1"), z, b("SELECT $1"), z, [0, 0]), ...pg("S")]),
        s([...pg("1"), ...ready]),
        c([...pg("B", z, b("s1"), z, [0, 0, 0, 0, 0, 0]), ...pg("E", z, [0, 0, 0, 0]), ...pg("S")]),
        s([...pg("2"), ...pg("C", b("SELECT 1"), z), ...ready]),
        c([...pg("C", b("Ss1"), z), ...pg("S")]),
        s([...pg("3"), ...ready]),
        c(pg("Q", b("BAD"), z)),
        s([...pg("E", b("SERROR"), z, z), ...ready]),
      ],
    },
    {
      name: "redis",
      l4: 6,
      port: 6379,
      steps: [
        c(b("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n")),
        s(b("+OK\r\n")),
        c(b("*2\r\n$3\r\nGET\r\n$1\r\nk\r\n*2\r\n$3\r\nGET\r\n$1\r\nj\r\n")),
        s(b("$1\r\nv\r\n$-1\r\n")),
        c(b("*3\r\n$4\r\nHGET\r\n$1\r\nk\r\n$1\r\nf\r\n")),
        s(b("-WRONGTYPE Operation against a key\r\n")),
        s(b("%1\r\n+a\r\n:1\r\n")),
      ],
    },
    {
      name: "memcached",
      l4: 6,
      port: 11211,
      steps: [
        c(b("set k 0 0 1\r\nv\r\n")),
        s(b("STORED\r\n")),
        c(b("get k j\r\n")),
        s(b("VALUE k 0 1\r\nv\r\nEND\r\n")),
        c(b("incr x 1\r\n")),
        s(b("CLIENT_ERROR bad\r\n")),
      ],
    },
    {
      name: "dns-udp",
      l4: 17,
      port: 53,
      steps: [
        c(dns(7, false, 0, [])),
        c(dns(8, false, 0, [])),
        s(dns(8, true, 3, [])),
        s(dns(7, true, 0, [[10, 0, 0, 7], [10, 0, 0, 8]])),
      ],
    },
    {
      name: "dns-tcp",
      l4: 6,
      port: 53,
      steps: [c(tcpDns(dns(9, false, 0, []))), s(tcpDns(dns(9, true, 0, [[1, 2, 3, 4]])))],
    },
  ];
}

const STATUS = new Set([
  "ok",
  "failed",
  "unknown",
  "1xx",
  "2xx",
  "3xx",
  "4xx",
  "5xx",
  "format_error",
  "servfail",
  "nxdomain",
  "not_implemented",
  "refused",
]);
const PROTOCOLS = new Set(["http", "postgres", "redis", "memcached", "mysql", "dns"]);

/** A record as the ring would give it. */
function record(
  o: { sk: number; l4: number; dir: "read" | "write"; ts: number; ports: [number, number] },
  payload: Uint8Array,
  size: number,
): L7Event {
  const e = emptyL7Event();
  Object.assign(e, {
    sk: o.sk,
    l4: o.l4,
    dir: o.dir,
    tsNs: o.ts,
    sport: o.ports[0],
    dport: o.ports[1],
    payload,
    size,
    pid: 1,
  });
  return e;
}

Deno.test("fuzz: L7Matcher on mutated record sequences keeps its bounds and reports only valid requests", async () => {
  const convs = await conversations();
  const samples = convs.flatMap((c) => c.steps.map((s) => s.bytes));
  const rnd = prng(SEED ^ 0x6d61_7463);
  const int = (n: number) => Math.floor(rnd() * n);
  let matcher = new L7Matcher({ maxConnections: MAX_CONNECTIONS, maxPending: MAX_PENDING });
  let completed = 0;
  let records = 0;
  const seen = new Set<string>();
  let current = "";
  const done = (c: Completed) => {
    ok(PROTOCOLS.has(c.protocol), `${current}: protocol ${c.protocol}`);
    ok(
      STATUS.has(c.status) ||
        (c.protocol === "http" && (c.status === "" || /^grpc:[A-Z_]+$/.test(c.status))),
      `${current}: ${c.protocol} status ${JSON.stringify(c.status)}`,
    );
    ok(Number.isFinite(c.durationNs) && c.durationNs >= 0, `${current}: ${c.durationNs} ns`);
    if (c.dns !== undefined) ok(c.dns.name.length <= 255 * 4, current);
    completed++;
    seen.add(`${c.protocol}:${c.inbound}`);
  };
  for (let i = 0; i < SEQUENCES; i++) {
    // a fresh matcher now and then; otherwise state carries over, as in the agent
    if (i % 5000 === 0) {
      matcher = new L7Matcher({ maxConnections: MAX_CONNECTIONS, maxPending: MAX_PENDING });
      matcher.traced = (i / 5000) % 2 === 1;
    }
    const conns = 1 + int(3);
    const queue: L7Event[][] = [];
    for (let k = 0; k < conns; k++) {
      const conv = convs[int(convs.length)];
      const serverSide = rnd() < 0.5;
      const sk = 1 + int(MAX_CONNECTIONS * 2);
      let ports: [number, number] = serverSide
        ? [conv.port, 40000 + int(8)]
        : [40000 + int(8), conv.port];
      let ts = int(1_000_000);
      const out: L7Event[] = [];
      let steps = conv.steps.slice(int(2) === 0 ? int(conv.steps.length) : 0);
      if (rnd() < 0.1) steps = [...steps, ...steps]; // the conversation again
      for (const step of steps) {
        const r = rnd();
        if (r < 0.05) continue; // lost
        let bytes = rnd() < 0.3 ? fuzzInput(samples, rnd) : new Uint8Array(step.bytes);
        if (rnd() < 0.05) bytes = fuzzInput([step.bytes], rnd);
        const dir: "read" | "write" = (step.from === "client") !== serverSide ? "write" : "read";
        ts += rnd() < 0.03 ? -int(1000) : int(5000); // now and then out of order
        const size = bytes.length + (rnd() < 0.1 ? int(5000) : 0); // cut
        if (conv.name === "dns-udp" && rnd() < 0.2 && bytes.length >= 2) bytes[int(2)] = int(256);
        const o = { sk, l4: conv.l4, dir, ts, ports };
        if (rnd() < 0.15 && bytes.length > 1) {
          // split: a short first part, then the rest
          const at = 1 + int(Math.min(bytes.length - 1, 70));
          out.push(record(o, bytes.slice(0, at), at));
          out.push(record({ ...o, ts: ts + 1 }, bytes.slice(at), size - at));
        } else out.push(record(o, bytes, size));
        if (rnd() < 0.02) out.push(record(o, bytes, size)); // repeated
        if (rnd() < 0.02) ports = [ports[0] + 1, ports[1]]; // the address reused
        if (rnd() < 0.01) out.push(record({ ...o, sk: -1 }, new Uint8Array(0), 0)); // a close
      }
      for (let j = out.length - 1; j > 0; j--) {
        if (rnd() < 0.03) [out[j], out[j - 1]] = [out[j - 1], out[j]];
      }
      queue.push(out);
    }
    // interleave the connections' records
    const at = queue.map(() => 0);
    for (;;) {
      const open = queue.map((_, k) => k).filter((k) => at[k] < queue[k].length);
      if (open.length === 0) break;
      const k = open[int(open.length)];
      const e = queue[k][at[k]++];
      current = `seed ${SEED} sequence ${i} record ${records}`;
      records++;
      try {
        if (e.sk === -1) matcher.forget(queue[k][0].sk);
        else matcher.handle(e, done);
      } catch (err) {
        const h = [...e.payload].map((x) => x.toString(16).padStart(2, "0")).join("");
        throw new Error(`${current} (${e.dir} ${e.size} ${h}) failed`, { cause: err });
      }
    }
    const z = matcher.stateSizes();
    ok(z.connections <= MAX_CONNECTIONS, `${current}: ${z.connections} connections`);
    ok(z.pending <= MAX_PENDING, `${current}: ${z.pending} waiting`);
    ok(z.dnsIds <= MAX_PENDING, `${current}: ${z.dnsIds} DNS ids`);
    ok(z.statements <= 256, `${current}: ${z.statements} statements`);
    ok(z.partialBytes < 1024, `${current}: a kept part of ${z.partialBytes} bytes`);
    ok(z.h2Streams <= 1024, `${current}: ${z.h2Streams} HTTP/2 streams`);
    for (const [k, v] of Object.entries(matcher.counters)) {
      ok(Number.isInteger(v) && v >= 0, `${current}: counter ${k} = ${v}`);
    }
  }
  ok(records >= SEQUENCES, `${records} records`);
  // the mutations must leave most conversations recognisable: every protocol, both sides
  for (const p of PROTOCOLS) {
    for (const side of [true, false]) ok(seen.has(`${p}:${side}`), `no ${p} inbound=${side}`);
  }
  ok(completed > SEQUENCES / 4, `only ${completed} requests completed`);
});
