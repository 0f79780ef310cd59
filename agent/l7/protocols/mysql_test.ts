import { deepEqual, equal } from "node:assert/strict";
import { emptyL7Event } from "../../../ffi/mod.ts";
import { L7Matcher } from "../matcher.ts";
import {
  mysqlHeaderOnly,
  type MysqlRequestKind,
  mysqlRequestKind,
  mysqlRequestKindOfBody,
  mysqlResponse,
  MysqlStatements,
} from "./mysql.ts";

const enc = new TextEncoder();

function packet(seq: number, ...body: (string | number[])[]): Uint8Array {
  const b: number[] = [];
  for (const p of body) b.push(...(typeof p === "string" ? enc.encode(p) : p));
  return new Uint8Array([b.length & 255, (b.length >> 8) & 255, b.length >> 16, seq, ...b]);
}

Deno.test("mysqlRequestKind() takes the four commands with sequence 0 and a matching length", () => {
  equal(mysqlRequestKind(packet(0, [3], "SELECT 1")), "query");
  equal(mysqlRequestKind(packet(0, [0x16], "SELECT ?")), "prepare");
  equal(mysqlRequestKind(packet(0, [0x17, 1, 0, 0, 0, 0, 1, 0, 0, 0])), "execute");
  equal(mysqlRequestKind(packet(0, [0x19, 1, 0, 0, 0])), "close");
  equal(mysqlRequestKind(packet(1, [3], "SELECT 1")), null, "sequence 1");
  equal(mysqlRequestKind(packet(0, [0x0e])), null, "COM_PING");
  const long = packet(0, [3], "SELECT '" + "x".repeat(2000) + "'");
  equal(mysqlRequestKind(long.subarray(0, 1024), long.length), "query");
  equal(mysqlRequestKind(long.subarray(0, 1024)), null);
});

Deno.test("a header read on its own announces the body read next", () => {
  const p = packet(0, [3], "SELECT 1");
  const length = mysqlHeaderOnly(p.subarray(0, 4));
  equal(length, 9);
  equal(mysqlRequestKindOfBody(p.subarray(4), 9, length), "query");
  equal(mysqlRequestKindOfBody(p.subarray(4, 8), 4, length), null);
  equal(mysqlHeaderOnly(packet(1, [3]).subarray(0, 4)), -1);
  equal(mysqlHeaderOnly(new Uint8Array([0, 0, 0, 0])), -1);
});

Deno.test("mysqlResponse() reads OK, EOF, column counts and ERR, and a prepared statement's id", () => {
  deepEqual(mysqlResponse(packet(1, [0, 0, 0, 2, 0, 0, 0]), "query"), {
    status: "ok",
    statementId: 0,
  });
  deepEqual(mysqlResponse(packet(1, [0xff, 0x28, 0x04], "#42000bad"), "query"), {
    status: "failed",
    statementId: 0,
  });
  deepEqual(mysqlResponse(packet(1, [2]), "query"), { status: "ok", statementId: 0 });
  deepEqual(mysqlResponse(packet(1, [0xfe, 0, 0, 2, 0]), "query"), {
    status: "ok",
    statementId: 0,
  });
  deepEqual(mysqlResponse(packet(1, [0, 7, 0, 0, 0, 1, 0, 1, 0, 0, 0]), "prepare"), {
    status: "ok",
    statementId: 7,
  });
  deepEqual(mysqlResponse(packet(1, [0xff]).subarray(0, 4), "query"), {
    status: "ok",
    statementId: 0,
  });
  equal(mysqlResponse(packet(0, [0]), "query"), null, "sequence 0");
  equal(mysqlResponse(packet(1, [0x03, 0x64]), "query"), null);
});

Deno.test("MysqlStatements summarises queries and remembers prepared statements by id", () => {
  const s = new MysqlStatements(4);
  equal(s.summarize(packet(0, [3], "SELECT 1")), "SELECT 1");
  const long = packet(0, [3], "SELECT 123456789");
  equal(s.summarize(long.subarray(0, 12)), "SELECT ...");
  equal(s.summarize(packet(0, [0x16], "SELECT ?"), 7), "PREPARE 7 FROM SELECT ?");
  equal(s.summarize(packet(0, [0x17, 7, 0, 0, 0, 0, 1, 0, 0, 0])), "SELECT ?");
  equal(s.summarize(packet(0, [0x17, 8, 0, 0, 0, 0, 1, 0, 0, 0])), "EXECUTE 8 /* unknown */");
  equal(s.summarize(packet(0, [0x19, 7, 0, 0, 0])), "");
  equal(s.summarize(packet(0, [0x17, 7, 0, 0, 0, 0, 1, 0, 0, 0])), "EXECUTE 7 /* unknown */");
  equal(s.summarize(packet(0, [3])), "");
});

Deno.test("mysqlResponse() takes length-encoded column counts with and without the metadata flag", () => {
  const ok = { status: "ok", statementId: 0 };
  deepEqual(mysqlResponse(packet(1, [1, 1]), "query"), ok, "MariaDB: 1 column, metadata follows");
  deepEqual(mysqlResponse(packet(1, [1, 0]), "execute"), ok, "MariaDB: metadata cached");
  deepEqual(mysqlResponse(packet(1, [0xfc, 0x2c, 0x01]), "query"), ok, "300 columns");
  deepEqual(mysqlResponse(packet(1, [0xfc, 0x2c, 0x01, 1]), "query"), ok);
  deepEqual(mysqlResponse(packet(1, [0xfd, 0, 0, 1]), "query"), ok);
  deepEqual(mysqlResponse(packet(1, [0xfd, 0, 0, 1, 1]), "query"), ok);
  deepEqual(mysqlResponse(packet(1, [0xfc, 0x2c, 0x01, 1]).subarray(0, 6), "query"), ok, "cut");
  deepEqual(mysqlResponse(packet(1, [0xfe], new Array(20).fill(0)), "query"), ok, "OK as 0xfe");
  equal(mysqlResponse(packet(1, [1, 0x31]), "query"), null, "a row, not a count and flag");
  equal(mysqlResponse(packet(1, [0xfc, 0x2c, 0x01, 7]), "query"), null);
  equal(mysqlResponse(packet(1, [0xfb], "/tmp/x"), "query"), null, "LOCAL INFILE request");
  equal(mysqlResponse(packet(2, [3], "def"), "query"), null, "a column definition");
  equal(mysqlResponse(packet(0, [1, 1]), "query"), null, "sequence 0");
});

Deno.test("mysqlRequestKind() skips close packets written in front of the next command", () => {
  const close = packet(0, [0x19, 2, 0, 0, 0]);
  const prepare = packet(0, [0x16], "SELECT ?");
  const both = new Uint8Array([...close, ...close, ...prepare]);
  equal(mysqlRequestKind(both), "prepare");
  equal(mysqlRequestKind(both.subarray(0, 24), both.length), "prepare");
  equal(mysqlRequestKind(both, both.length + 1), null, "the last packet must end the write");
  equal(mysqlRequestKind(close), "close");
  equal(mysqlRequestKind(new Uint8Array([...close, ...close])), "close");
  equal(mysqlRequestKind(new Uint8Array([...close, 1, 2])), null);
});

// ---- captured from a real server ------------------------------------------------------------

interface Capture {
  server: string;
  text: { side: "client" | "server"; hex: string }[];
  prepared: { side: "client" | "server"; hex: string }[];
}

const capture: Capture = JSON.parse(
  Deno.readTextFileSync(new URL("./testdata/mysql_mariadb.json", import.meta.url)),
);
const unhex = (h: string) => new Uint8Array(h.match(/../g)!.map((x) => parseInt(x, 16)));

/** Requests and how each was answered, in order, reading a capture as a client would. */
function replay(chunks: Capture["text"]): [MysqlRequestKind, string, number][] {
  const out: [MysqlRequestKind, string, number][] = [];
  let waiting: MysqlRequestKind | null = null;
  for (const c of chunks) {
    const b = unhex(c.hex);
    if (c.side === "client") {
      const kind = mysqlRequestKind(b);
      if (kind !== null && kind !== "close") waiting = kind;
      continue;
    }
    const r = mysqlResponse(b, waiting ?? "query");
    if (waiting !== null && r !== null) out.push([waiting, r.status, r.statementId]);
    if (r !== null) waiting = null;
  }
  return out;
}

Deno.test("MariaDB 10.11 text protocol capture: greeting ignored, OK, result sets, 300 columns, ERR", () => {
  // the greeting (sequence 0) and the login's OK come before any request: never answers
  equal(mysqlRequestKind(unhex(capture.text[0].hex)), null);
  equal(mysqlResponse(unhex(capture.text[0].hex), "query"), null);
  deepEqual(replay(capture.text), [
    ["query", "ok", 0], // CREATE DATABASE
    ["query", "ok", 0], // CREATE TABLE
    ["query", "ok", 0], // INSERT
    ["query", "ok", 0], // SELECT 1: 01 01
    ["query", "ok", 0], // SELECT id, v: 02 01
    ["query", "ok", 0], // 300 columns: fc 2c 01 01
    ["query", "failed", 0], // no such table
  ]);
});

Deno.test("MariaDB 10.11 binary protocol capture (DBD::MariaDB server prepares): ids, executes, close", () => {
  deepEqual(replay(capture.prepared), [
    ["query", "ok", 0], // SET NAMES and three more settings DBD::MariaDB sends on connect
    ["query", "ok", 0],
    ["query", "ok", 0],
    ["query", "ok", 0],
    ["prepare", "ok", 1], // SELECT ? + 1
    ["execute", "ok", 0], // 01 01 (metadata follows)
    ["execute", "ok", 0], // 01 00 (metadata cached)
    ["execute", "ok", 0],
    ["prepare", "ok", 2], // INSERT, after the close of 1 (sent alone)
    ["execute", "ok", 0],
    ["execute", "failed", 0], // duplicate key
    // COM_STMT_RESET (not followed) and its OK: no request waits
    ["prepare", "failed", 0], // written behind the close of 2 in one write
  ]);
  const s = new MysqlStatements();
  const prepare = capture.prepared.find((c) =>
    c.side === "client" && c.hex.startsWith("0d00000016")
  )!;
  equal(s.summarize(unhex(prepare.hex), 1), "PREPARE 1 FROM SELECT ? + 1");
  const last = capture.prepared.findLast((c) =>
    c.side === "client" && c.hex.startsWith("0500000019")
  )!;
  equal(s.summarize(packet(0, [0x16], "INSERT ?"), 2), "PREPARE 2 FROM INSERT ?");
  equal(s.size, 2);
  // the close of 2 and the failing prepare in one write: 2 is forgotten, the prepare is read
  equal(s.summarize(unhex(last.hex), 0), "PREPARE 0 FROM SELEKT ?");
  equal(s.summarize(packet(0, [0x17, 2, 0, 0, 0, 0, 1, 0, 0, 0])), "EXECUTE 2 /* unknown */");
});

Deno.test("the captures through L7Matcher: exact ok/failed on the client and the server side", () => {
  for (const inbound of [false, true]) {
    const m = new L7Matcher();
    const counts: Record<string, number> = {};
    let sk = 1;
    for (const chunks of [capture.text, capture.prepared]) {
      sk++;
      let ts = 0;
      for (const c of chunks) {
        const e = emptyL7Event();
        const payload = unhex(c.hex);
        // the client writes what it sends; the server reads it
        const write = (c.side === "client") !== inbound;
        Object.assign(e, {
          sk,
          dir: write ? "write" : "read",
          tsNs: ts += 1000,
          payload: payload.subarray(0, 1024),
          size: payload.length,
          l4: 6,
          sport: inbound ? 3306 : 40000 + sk,
          dport: inbound ? 40000 + sk : 3306,
        });
        m.handle(e, (done) => {
          equal(done.protocol, "mysql");
          equal(done.inbound, inbound);
          counts[done.status] = (counts[done.status] ?? 0) + 1;
        });
      }
    }
    // text: 6 ok, 1 failed; prepared: 4 settings, 2 prepares, 4 executes ok, 1 execute and 1
    // prepare failed; the closes not counted
    deepEqual(counts, { ok: 16, failed: 3 }, inbound ? "server" : "client");
  }
});
