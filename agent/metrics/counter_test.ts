import { deepEqual, equal, throws } from "node:assert/strict";
import { Registry } from "./registry.ts";

function text(reg: Registry, format: "text" | "openmetrics" = "text"): string {
  return new TextDecoder().decode(reg.encode(format));
}

Deno.test("Counter.labels() returns one cached handle per label set, starting at zero", () => {
  const reg = new Registry();
  const c = reg.counter({ name: "x_total", help: "X", labelNames: ["a", "b"] });
  const s = c.labels("1", "2");
  equal(c.labels("1", "2"), s);
  equal(s.value, 0);
  s.inc();
  s.inc(2.5);
  equal(c.labels("1", "2").value, 3.5);
  deepEqual(s.labelValues, ["1", "2"]);
  equal(c.size, 1);
});

Deno.test("Counter series inc() refuses negative and NaN amounts", () => {
  const s = new Registry().counter({ name: "x_total", help: "X" }).labels();
  throws(() => s.inc(-1), { name: "RangeError", message: /Cannot increase a counter by -1/ });
  throws(() => s.inc(NaN), RangeError);
  equal(s.value, 0);
});

Deno.test("Counter series set() mirrors an absolute value", () => {
  const s = new Registry().counter({ name: "x_total", help: "X" }).labels();
  s.set(123456789012);
  equal(s.value, 123456789012);
});

Deno.test("Counter.labels() checks the number of label values", () => {
  const c = new Registry().counter({ name: "x_total", help: "X", labelNames: ["a", "b"] });
  throws(() => (c.labels as (...v: string[]) => unknown)("only-one"), {
    name: "TypeError",
    message: /expected 2 label values \(a, b\), got 1/,
  });
});

Deno.test("Counter with a _total name writes counter in text 0.0.4", () => {
  const reg = new Registry();
  const c = reg.counter({ name: "req_total", help: "Requests", labelNames: ["code"] });
  c.labels("200").inc(7);
  c.labels("500").inc();
  equal(
    text(reg),
    '# HELP req_total Requests\n# TYPE req_total counter\nreq_total{code="200"} 7\nreq_total{code="500"} 1\n',
  );
});

Deno.test("Counter with a _total name drops the suffix on OpenMetrics metadata only", () => {
  const reg = new Registry();
  reg.counter({ name: "req_total", help: "Requests" }).labels().inc(7);
  equal(text(reg, "openmetrics"), "# TYPE req counter\n# HELP req Requests\nreq_total 7\n# EOF\n");
});

Deno.test("Counter without _total is counter in text 0.0.4 and unknown in OpenMetrics", () => {
  const reg = new Registry();
  reg.counter({ name: "jvm_gc_time_seconds", help: "GC time" }).labels().set(1.5);
  equal(
    text(reg),
    "# HELP jvm_gc_time_seconds GC time\n# TYPE jvm_gc_time_seconds counter\njvm_gc_time_seconds 1.5\n",
  );
  equal(
    text(reg, "openmetrics"),
    "# TYPE jvm_gc_time_seconds unknown\n# HELP jvm_gc_time_seconds GC time\njvm_gc_time_seconds 1.5\n# EOF\n",
  );
});

Deno.test("Counter.remove() and clear() drop series from the output", () => {
  const reg = new Registry();
  const c = reg.counter({ name: "x_total", help: "X", labelNames: ["a"] });
  const kept = c.labels("keep");
  c.labels("drop").inc();
  equal(c.remove("drop"), true);
  equal(c.remove("drop"), false);
  equal(c.has("drop"), false);
  equal(c.has("keep"), true);
  kept.inc();
  equal(text(reg), '# HELP x_total X\n# TYPE x_total counter\nx_total{a="keep"} 1\n');
  c.clear();
  equal(c.size, 0);
  equal(text(reg), "");
  c.labels("new").inc(2);
  equal(text(reg), '# HELP x_total X\n# TYPE x_total counter\nx_total{a="new"} 2\n');
});

Deno.test("Counter handles removed while iterating stay usable and are not exposed", () => {
  const reg = new Registry();
  const c = reg.counter({ name: "x_total", help: "X", labelNames: ["a"] });
  for (let i = 0; i < 5; i++) c.labels(String(i)).inc(i);
  for (const s of c) {
    if (Number(s.labelValues[0]) % 2 === 1) c.remove(...(s.labelValues as [string]));
  }
  deepEqual([...c].map((s) => s.labelValues[0]), ["0", "2", "4"]);
});

Deno.test("Counter.labels() maps a number label value to the same series as its text", () => {
  const c = new Registry().counter({ name: "x_total", help: "X", labelNames: ["port"] });
  const s = c.labels("80");
  equal((c.labels as (...v: unknown[]) => unknown)(80), s);
  equal(c.size, 1);
});
