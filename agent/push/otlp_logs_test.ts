import { deepEqual, equal } from "node:assert/strict";
import { hexId, logRecord, nanosLong, traceContextKey } from "./otlp_logs.ts";

Deno.test("traceContextKey(): trace and span keys, parent ids left as attributes", () => {
  for (const k of ["trace_id", "traceId", "TRACE-ID", "trace.id", "otel.trace_id", "@tr"]) {
    equal(traceContextKey(k), "trace", k);
  }
  for (const k of ["span_id", "spanId", "dd.span.id", "@sp"]) equal(traceContextKey(k), "span", k);
  for (const k of ["parent_span_id", "trace", "user_id"]) equal(traceContextKey(k), undefined, k);
});

Deno.test("logRecord(): body, severity, pattern hash, attributes, trace context", () => {
  const traceHex = "0af7651916cd43dd8448eb211c80319c";
  const r = logRecord({
    content: "boom",
    level: "error",
    timestampMs: 1700000000123.5,
    patternHash: "abc",
    sample: "boom",
    attributes: { trace_id: traceHex, span_id: "zz", user: "u1" },
  });
  equal(r.severityNumber, 17);
  equal(r.severityText, "error");
  deepEqual(r.body, { stringValue: "boom" });
  deepEqual(r.traceId, hexId(traceHex, 16));
  equal(r.spanId, undefined);
  deepEqual(r.attributes, [
    { key: "pattern.hash", value: { stringValue: "abc" } },
    { key: "span_id", value: { stringValue: "zz" } },
    { key: "user", value: { stringValue: "u1" } },
  ]);
  const ns = 1700000000123500000n;
  const l = nanosLong(1700000000123.5);
  equal((BigInt(l.high >>> 0) << 32n) + BigInt(l.low >>> 0), ns);
  equal(hexId("00000000000000000000000000000000", 16), undefined);
});
