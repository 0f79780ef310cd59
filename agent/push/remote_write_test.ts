import { deepEqual, equal } from "node:assert/strict";
import { createHash } from "node:crypto";
import { Registry } from "../metrics/mod.ts";
import {
  buildWriteRequest,
  instanceLabel,
  pushLabels,
  snappyCompress,
  snappyUncompress,
} from "./remote_write.ts";
import { decodeWriteRequest } from "./remote_write_decode.ts";

Deno.test("instanceLabel(): the machine id, or md5(machine id + uuid without dashes)", () => {
  equal(instanceLabel("abc", ""), "abc");
  equal(instanceLabel("abc", "abc"), "abc");
  equal(
    instanceLabel("abc", "12-34"),
    createHash("md5").update("abc1234").digest("hex"),
  );
});

Deno.test("buildWriteRequest(): sorted labels, instance/job, histograms expanded, metadata", () => {
  const reg = new Registry({ constLabels: { machine_id: "m1", system_uuid: "u-1" } });
  reg.setScopedConstLabels((n) => n.startsWith("container_"), { az: "z", region: "r" });
  reg.gauge({ name: "container_x", help: "X", labelNames: ["container_id"] }).labels("/c").set(
    2.5,
  );
  reg.counter({ name: "a_total", help: "A" }).labels().inc(3);
  const h = reg.histogram({ name: "h_seconds", help: "H", labelNames: ["k"], buckets: [0.1, 1] });
  h.labels("v").observe(0.5);
  reg.gauge({ name: "empty", help: "none" });
  const wr = buildWriteRequest(reg, 1700000000123, pushLabels(reg));
  const d = decodeWriteRequest(wr.raw);
  equal(wr.series, 2 + 5);
  const inst = instanceLabel("m1", "u-1");
  deepEqual(d.series[0].labels, [
    ["__name__", "a_total"],
    ["instance", inst],
    ["job", "coroot-node-agent"],
    ["machine_id", "m1"],
    ["system_uuid", "u-1"],
  ]);
  deepEqual(d.series[0].samples, [{ value: 3, ts: 1700000000123 }]);
  deepEqual(d.series[1].labels, [
    ["__name__", "container_x"],
    ["az", "z"],
    ["container_id", "/c"],
    ["instance", inst],
    ["job", "coroot-node-agent"],
    ["machine_id", "m1"],
    ["region", "r"],
    ["system_uuid", "u-1"],
  ]);
  const hs = d.series.slice(2).map((s) => [
    Object.fromEntries(s.labels).__name__,
    Object.fromEntries(s.labels).le,
    s.samples[0].value,
  ]);
  deepEqual(hs, [
    ["h_seconds_bucket", "0.1", 0],
    ["h_seconds_bucket", "1", 1],
    ["h_seconds_bucket", "+Inf", 1],
    ["h_seconds_sum", undefined, 0.5],
    ["h_seconds_count", undefined, 1],
  ]);
  deepEqual(d.metadata, [
    { type: 1, name: "a_total", help: "A" },
    { type: 2, name: "container_x", help: "X" },
    { type: 3, name: "h_seconds", help: "H" },
  ]);
  deepEqual(snappyUncompress(snappyCompress(wr.raw)), wr.raw);
});
