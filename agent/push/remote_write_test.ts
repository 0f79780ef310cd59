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

/** A decoded `prometheus.WriteRequest` (prompb field numbers), for tests. */
export interface DecodedWriteRequest {
  series: { labels: [string, string][]; samples: { value: number; ts: number }[] }[];
  metadata: { type: number; name: string; help: string }[];
}

/** Decodes a `WriteRequest` by its field numbers, independently of the encoder. */
export function decodeWriteRequest(bytes: Uint8Array): DecodedWriteRequest {
  const r = protobuf.Reader.create(bytes);
  const out: DecodedWriteRequest = { series: [], metadata: [] };
  while (r.pos < r.len) {
    const tag = r.uint32();
    if (tag === 10) {
      const end = r.uint32() + r.pos;
      const s: DecodedWriteRequest["series"][number] = { labels: [], samples: [] };
      while (r.pos < end) {
        const t = r.uint32();
        const e = r.uint32() + r.pos;
        if (t === 10) {
          let n = "", v = "";
          while (r.pos < e) {
            const f = r.uint32();
            if (f === 10) n = r.string();
            else if (f === 18) v = r.string();
            else r.skipType(f & 7);
          }
          s.labels.push([n, v]);
        } else if (t === 18) {
          let value = 0, ts = 0;
          while (r.pos < e) {
            const f = r.uint32();
            if (f === 9) value = r.double();
            else if (f === 16) ts = Number(r.int64().toString());
            else r.skipType(f & 7);
          }
          s.samples.push({ value, ts });
        } else r.skipType(t & 7);
        r.pos = e;
      }
      out.series.push(s);
    } else if (tag === 26) {
      const end = r.uint32() + r.pos;
      const m = { type: 0, name: "", help: "" };
      while (r.pos < end) {
        const f = r.uint32();
        if (f === 8) m.type = r.int32();
        else if (f === 18) m.name = r.string();
        else if (f === 34) m.help = r.string();
        else r.skipType(f & 7);
      }
      out.metadata.push(m);
    } else r.skipType(tag & 7);
  }
  return out;
}

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
