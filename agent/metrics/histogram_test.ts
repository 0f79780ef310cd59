import { deepEqual, equal, throws } from "node:assert/strict";
import { Registry } from "./registry.ts";
import { DEFAULT_BUCKETS } from "./histogram.ts";

function text(reg: Registry, format: "text" | "openmetrics" = "text"): string {
  return new TextDecoder().decode(reg.encode(format));
}

Deno.test("Histogram series observe() counts into the first bucket with bound >= value", () => {
  const h = new Registry().histogram({ name: "d_seconds", help: "D", buckets: [1, 2, 5] });
  const s = h.labels();
  for (const v of [0.5, 1, 1.5, 2, 4, 5, 6, NaN]) s.observe(v);
  deepEqual(s.cumulativeCounts(), [2, 4, 6, 8]);
  equal(s.count, 8);
  equal(s.sum, NaN);
});

Deno.test("Histogram series observe() bins correctly with many buckets (binary search)", () => {
  const buckets = Array.from({ length: 40 }, (_, i) => 2 ** i);
  const s = new Registry().histogram({ name: "h", help: "H", buckets }).labels();
  for (const v of [0, 1, 1.5, 2, 3, 1024, 2 ** 39, 2 ** 40]) s.observe(v);
  const cum = s.cumulativeCounts();
  equal(cum[0], 2); // 0, 1
  equal(cum[1], 4); // 1.5, 2
  equal(cum[2], 5); // 3
  equal(cum[10], 6); // 1024
  equal(cum[39], 7); // 2^39
  equal(cum[40], 8); // +Inf
});

Deno.test("Histogram series setCounts() mirrors per-bucket counts", () => {
  const s = new Registry().histogram({ name: "h", help: "H", buckets: [1, 2] }).labels();
  s.setCounts([3, 0, 2], 9.5);
  deepEqual(s.cumulativeCounts(), [3, 3, 5]);
  equal(s.count, 5);
  equal(s.sum, 9.5);
  throws(() => s.setCounts([1, 2], 0), { name: "RangeError", message: /expected 3/ });
});

Deno.test("Histogram writes cumulative buckets, +Inf, _sum and _count in text 0.0.4", () => {
  const reg = new Registry();
  const h = reg.histogram({
    name: "rpc_seconds",
    help: "RPC",
    labelNames: ["m"],
    buckets: [0.1, 1],
  });
  h.labels("get").observe(0.05);
  h.labels("get").observe(0.5);
  h.labels("get").observe(3);
  equal(
    text(reg),
    [
      "# HELP rpc_seconds RPC",
      "# TYPE rpc_seconds histogram",
      'rpc_seconds_bucket{m="get",le="0.1"} 1',
      'rpc_seconds_bucket{m="get",le="1"} 2',
      'rpc_seconds_bucket{m="get",le="+Inf"} 3',
      'rpc_seconds_sum{m="get"} 3.55',
      'rpc_seconds_count{m="get"} 3',
      "",
    ].join("\n"),
  );
});

Deno.test("Histogram writes canonical le values in OpenMetrics", () => {
  const reg = new Registry();
  reg.histogram({ name: "h", help: "H", buckets: [1, 10, 1e6] }).labels().observe(2);
  equal(
    text(reg, "openmetrics"),
    [
      "# TYPE h histogram",
      "# HELP h H",
      'h_bucket{le="1.0"} 0',
      'h_bucket{le="10.0"} 1',
      'h_bucket{le="1e+06"} 1',
      'h_bucket{le="+Inf"} 1',
      "h_sum 2",
      "h_count 1",
      "# EOF",
      "",
    ].join("\n"),
  );
});

Deno.test("Histogram with a _total name keeps it in both formats", () => {
  const reg = new Registry();
  reg.histogram({ name: "x_duration_seconds_total", help: "D", buckets: [1] }).labels().observe(1);
  const t = text(reg);
  equal(t.includes("# TYPE x_duration_seconds_total histogram\n"), true);
  equal(t.includes('x_duration_seconds_total_bucket{le="+Inf"} 1\n'), true);
  const om = text(reg, "openmetrics");
  equal(om.includes("# TYPE x_duration_seconds_total histogram\n"), true);
  equal(om.includes("x_duration_seconds_total_count 1\n"), true);
});

Deno.test("Histogram uses client_golang's default buckets", () => {
  const h = new Registry().histogram({ name: "h", help: "H" });
  deepEqual(h.buckets, DEFAULT_BUCKETS);
  deepEqual(h.buckets, [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]);
});

Deno.test("Histogram drops a trailing Infinity bound and rejects bad bounds", () => {
  const reg = new Registry();
  deepEqual(reg.histogram({ name: "a", help: "A", buckets: [1, Infinity] }).buckets, [1]);
  throws(() => reg.histogram({ name: "b", help: "B", buckets: [2, 1] }), {
    name: "TypeError",
    message: /strictly increasing, got 2 then 1/,
  });
  throws(() => reg.histogram({ name: "c", help: "C", buckets: [1, 1] }), TypeError);
  throws(() => reg.histogram({ name: "d", help: "D", buckets: [NaN] }), /not a finite number/);
});

Deno.test("Histogram reserves the le label", () => {
  throws(() => new Registry().histogram({ name: "h", help: "H", labelNames: ["le"] }), {
    name: "TypeError",
    message: /Invalid label name "le" for histogram "h": the name is reserved/,
  });
});
