import { deepEqual, equal } from "node:assert/strict";
import {
  mysqlHeaderOnly,
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
