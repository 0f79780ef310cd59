import { deepEqual, equal } from "node:assert/strict";
import { createHash } from "node:crypto";
import protobuf from "protobufjs/minimal";
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

Deno.test("buildWriteRequest(): the same bytes as protobufjs' Writer (UTF-8, long values, empties)", () => {
  const reg = new Registry({ constLabels: { machine_id: "m", system_uuid: "" } });
  const g = reg.gauge({ name: "g", help: "ünïcode help", labelNames: ["a", "b"] });
  g.labels("ключ", "x".repeat(300)).set(-1.5e300);
  g.labels("", "v").set(NaN);
  const h = reg.histogram({ name: "h", help: "", labelNames: ["z"], buckets: [1] });
  h.labels("").observe(3);
  const ts = 1_764_000_000_123;
  const extra = pushLabels(reg);
  const got = buildWriteRequest(reg, ts, extra).raw;

  // the oracle: protobufjs, label by label in sorted order, empty values left out
  const w = protobuf.Writer.create();
  const series = (labels: Record<string, string>, value: number) => {
    w.uint32(10).fork();
    for (const k of Object.keys(labels).sort()) {
      if (labels[k] === "") continue;
      w.uint32(10).fork().uint32(10).string(k).uint32(18).string(labels[k]).ldelim();
    }
    w.uint32(18).fork().uint32(9).double(value).uint32(16).int64(ts).ldelim().ldelim();
  };
  const base = { ...extra, machine_id: "m", system_uuid: "" };
  series({ ...base, __name__: "g", a: "ключ", b: "x".repeat(300) }, -1.5e300);
  series({ ...base, __name__: "g", a: "", b: "v" }, NaN);
  series({ ...base, __name__: "h_bucket", z: "", le: "1" }, 0);
  series({ ...base, __name__: "h_bucket", z: "", le: "+Inf" }, 1);
  series({ ...base, __name__: "h_sum", z: "" }, 3);
  series({ ...base, __name__: "h_count", z: "" }, 1);
  w.uint32(26).fork().uint32(8).int32(2).uint32(18).string("g").uint32(34).string("ünïcode help")
    .ldelim();
  w.uint32(26).fork().uint32(8).int32(3).uint32(18).string("h").ldelim();
  deepEqual(got, w.finish());
});
