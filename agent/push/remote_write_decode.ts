/**
 * Reads a remote-write `WriteRequest` back by its field numbers (Prometheus' `prompb`), apart
 * from the encoder: for tests and the benchmark, which check what went on the wire.
 *
 * @module
 */
import protobuf from "protobufjs/minimal";

/** A decoded `prometheus.WriteRequest` (prompb field numbers), for tests. */
export interface DecodedWriteRequest {
  series: { labels: [string, string][]; samples: { value: number; ts: number }[] }[];
  metadata: { type: number; name: string; help: string }[];
}

/**
 * Decodes a serialized (uncompressed) `WriteRequest`; unknown fields are skipped.
 *
 * @throws {RangeError} on truncated or malformed protobuf (from protobufjs).
 */
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
