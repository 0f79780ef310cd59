import { equal, throws } from "node:assert/strict";
import { assertLabelName, assertMetricName, isValidLabelName, isValidMetricName } from "./names.ts";

Deno.test("isValidMetricName() accepts Prometheus names with colons", () => {
  for (const n of ["a", "_a", "node_cpu_seconds_total", "job:rate5m", "A1_b2"]) {
    equal(isValidMetricName(n), true, n);
  }
});

Deno.test("isValidMetricName() rejects empty, digit-first, punctuated and reserved names", () => {
  for (const n of ["", "1a", "a-b", "a b", "a.b", "é", "__reserved"]) {
    equal(isValidMetricName(n), false, n);
  }
});

Deno.test("isValidLabelName() rejects colons and reserved names", () => {
  equal(isValidLabelName("container_id"), true);
  equal(isValidLabelName("_x"), true);
  equal(isValidLabelName("a:b"), false);
  equal(isValidLabelName("__name__"), false);
  equal(isValidLabelName("0a"), false);
});

Deno.test("assertMetricName() throws a TypeError quoting the name", () => {
  throws(() => assertMetricName("bad-name", "register counter"), {
    name: "TypeError",
    message: /^Cannot register counter "bad-name": a metric name must match/,
  });
});

Deno.test("assertLabelName() throws a TypeError quoting the name and its owner", () => {
  throws(() => assertLabelName("a.b", 'gauge "g"'), {
    name: "TypeError",
    message: /^Invalid label name "a\.b" for gauge "g"/,
  });
});
