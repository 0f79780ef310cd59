import { equal, throws } from "node:assert/strict";
import {
  postgresAnsweredWithoutResult,
  postgresRequestKind,
  postgresResponseStatus,
  PostgresStatements,
} from "./postgres.ts";

const enc = new TextEncoder();

/** A message: type byte, big-endian length (itself plus body), body. */
function msg(type: string, ...parts: (string | number[])[]): number[] {
  const body: number[] = [];
  for (const p of parts) body.push(...(typeof p === "string" ? enc.encode(p) : p));
  const len = body.length + 4;
  return [type.charCodeAt(0), len >>> 24, (len >> 16) & 255, (len >> 8) & 255, len & 255, ...body];
}
const z = [0];
const u8 = (...ms: number[][]) => new Uint8Array(ms.flat());

Deno.test("postgresRequestKind() takes Q/C whose length is the write, or a write ending in Sync", () => {
  equal(postgresRequestKind(u8(msg("Q", "SELECT 1", z))), "query");
  equal(postgresRequestKind(u8(msg("Q", "SELECT 1", z), [0])), null, "length does not match");
  equal(postgresRequestKind(u8(msg("C", "Sname", z))), "close");
  equal(postgresRequestKind(u8(msg("C", "Sname", z), msg("S"))), "close");
  const batch = u8(
    msg("P", "", z, "SELECT $1", z, [0, 0]),
    msg("B", "", z, "", z, [0, 0, 0, 0, 0, 0]),
    msg("D", "P", z),
    msg("E", "", z, [0, 0, 0, 0]),
    msg("S"),
  );
  equal(postgresRequestKind(batch), "prepare");
  equal(
    postgresRequestKind(
      u8(msg("B", "", z, "stmt1", z, [0, 0, 0, 0, 0, 0]), msg("E", "", z, [0, 0, 0, 0]), msg("S")),
    ),
    "execute",
  );
  equal(postgresRequestKind(batch.subarray(0, batch.length - 1)), null, "no Sync at the end");
  // Cut capture: the Sync is beyond what was captured.
  equal(postgresRequestKind(batch.subarray(0, 20), batch.length), "prepare");
  equal(
    postgresRequestKind(batch.subarray(0, 10), 15),
    null,
    "a length past the write",
  );
  equal(postgresRequestKind(new Uint8Array([0x51, 0, 0])), null);
});

Deno.test("postgresResponseStatus() reads E as failed and t/T/D/C as ok, after 1/2/3/n", () => {
  equal(
    postgresResponseStatus(
      u8(msg("T", [0, 0]), msg("D", [0, 0]), msg("C", "SELECT 1", z), msg("Z", "I")),
    ),
    "ok",
  );
  equal(postgresResponseStatus(u8(msg("E", "SERROR", z, z), msg("Z", "I"))), "failed");
  equal(postgresResponseStatus(u8(msg("1"), msg("2"), msg("T", [0, 0]))), "ok");
  equal(postgresResponseStatus(u8(msg("1"), msg("2"), msg("n"), msg("C", "INSERT 0 1", z))), "ok");
  equal(postgresResponseStatus(u8(msg("1"), msg("E", "x", z))), "failed");
  equal(postgresResponseStatus(u8(msg("N", "SNOTICE", z, z), msg("C", "DROP TABLE", z))), "ok");
  equal(postgresResponseStatus(u8(msg("Z", "I"))), null);
  equal(postgresResponseStatus(u8(msg("1"), msg("Z", "I"))), null);
  const big = u8(msg("D", new Array(2000).fill(0x61)));
  equal(
    postgresResponseStatus(big.subarray(0, 100)),
    null,
    "the first message does not fit the read",
  );
  equal(postgresResponseStatus(big.subarray(0, 100), big.length), "ok");
});

Deno.test("PostgresStatements summarises queries and remembers prepared statements", () => {
  const s = new PostgresStatements(2);
  equal(s.summarize(u8(msg("Q", "SELECT 1", z))), "SELECT 1");
  equal(s.summarize(u8(msg("Q", "SELECT 1"))), "SELECT 1...");
  equal(s.summarize(u8(msg("P", "s1", z, "SELECT $1", z, [0, 0]))), "PREPARE s1 AS SELECT $1");
  equal(s.summarize(u8(msg("B", "", z, "s1", z, [0, 0]))), "SELECT $1");
  equal(s.summarize(u8(msg("B", "", z, "s9", z, [0, 0]))), "EXECUTE s9 /* unknown */");
  equal(s.summarize(u8(msg("C", "Ss1", z))), "");
  equal(s.summarize(u8(msg("B", "", z, "s1", z))), "EXECUTE s1 /* unknown */");
  s.summarize(u8(msg("P", "a", z, "A", z)));
  s.summarize(u8(msg("P", "b", z, "B", z)));
  s.summarize(u8(msg("P", "c", z, "C", z)));
  equal(s.size, 2);
  equal(s.evicted, 1);
  equal(s.summarize(u8(msg("B", "", z, "a", z))), "EXECUTE a /* unknown */", "the oldest went");
  equal(s.summarize(u8(msg("B", "", z, "c", z))), "C");
  equal(s.summarize(new Uint8Array([0x51])), "");
  throws(() => new PostgresStatements(0), RangeError);
});

Deno.test("postgresAnsweredWithoutResult() takes completions and notices ending in ReadyForQuery", () => {
  const ready = msg("Z", [0x49]);
  equal(postgresAnsweredWithoutResult(u8(msg("1"), ready)), true, "Parse + Sync");
  equal(postgresAnsweredWithoutResult(u8(msg("3"), ready)), true, "Close + Sync");
  equal(postgresAnsweredWithoutResult(u8(msg("1"), msg("N", "SWARNING", z, z), ready)), true);
  equal(postgresAnsweredWithoutResult(u8(ready)), false, "a Sync alone is no request's answer");
  equal(postgresAnsweredWithoutResult(u8(msg("1"))), false, "no ReadyForQuery yet");
  equal(postgresAnsweredWithoutResult(u8(msg("1"), ready, [0])), false, "more than the read");
  equal(postgresAnsweredWithoutResult(u8(msg("1"), msg("D", [0, 0]), ready)), false);
  equal(postgresResponseStatus(u8(msg("1"), ready)), null, "no status in it");
});
