import { deepEqual, equal } from "node:assert/strict";
import { levelOfValue, MAX_ATTRIBUTES, parseJsonLog } from "./json_log.ts";

Deno.test("parseJsonLog() takes the message and level keys by priority and flattens the rest", () => {
  const j = parseJsonLog(
    '{"time":"2024","level":"ERROR","msg":"db down","message":"second","ctx":{"host":"a","n":[1,2]},"trace_id":"abc"}',
    true,
  );
  deepEqual(j, {
    message: "db down",
    level: "error",
    attributes: { message: "second", "ctx.host": "a", "ctx.n": "[1,2]", trace_id: "abc" },
  });
});

Deno.test("parseJsonLog() reads numeric (bunyan/pino) and other level forms", () => {
  equal(parseJsonLog('{"msg":"x","level":50}', false)?.level, "error");
  equal(parseJsonLog('{"msg":"x","lvl":"wrn"}', false)?.level, "warning");
  equal(parseJsonLog('{"@m":"x","@l":"Fatal"}', false)?.level, "critical");
  equal(parseJsonLog('{"body":"x","severity_text":"notice"}', false)?.level, "info");
  equal(parseJsonLog('{"log":"x"}', false)?.level, "unknown");
  equal(levelOfValue(10), "debug");
  equal(levelOfValue(30), "info");
  equal(levelOfValue(40), "warning");
  equal(levelOfValue(60), "critical");
  equal(levelOfValue(100), "unknown");
  equal(levelOfValue(true), "unknown");
});

Deno.test("parseJsonLog() leaves lines that are not JSON objects with a message", () => {
  for (const l of ["{not json}", "[1,2]", '{"a":1}', "plain", "{", '"x"']) {
    equal(parseJsonLog(l, false), null, l);
  }
});

Deno.test("parseJsonLog() caps attributes at 100, depth 8 and 4096-unit values", () => {
  const o: Record<string, unknown> = { msg: "m" };
  for (let i = 0; i < 150; i++) o[`k${i}`] = i;
  equal(Object.keys(parseJsonLog(JSON.stringify(o), true)!.attributes!).length, MAX_ATTRIBUTES);
  let deep: unknown = "leaf";
  for (let i = 0; i < 12; i++) deep = { d: deep };
  const a = parseJsonLog(JSON.stringify({ msg: "m", x: deep, long: "v".repeat(5000) }), true)!
    .attributes!;
  const key = Object.keys(a).find((k) => k.startsWith("x."))!;
  equal(key.split(".").length, 8);
  equal(a.long.length, 4096);
});
