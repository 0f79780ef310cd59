/**
 * Prometheus remote write 1.0 payloads from the registry the exposition serves (reference
 * §8.6): a protobuf `prometheus.WriteRequest` with one `TimeSeries` per sample name (counters
 * and gauges: one; histograms: `_bucket` per bound and `+Inf`, `_sum`, `_count`), every series'
 * labels sorted by name with `__name__`, the family's labels, its constant labels and the push
 * labels (`instance`, `job`, §1.4), one `MetricMetadata` per family, snappy block-compressed.
 *
 * Field numbers are those of Prometheus' `prompb/types.proto` and `prompb/remote.proto`;
 * the bytes are written with protobufjs' `Writer` and compressed with snappyjs.
 *
 * @module
 */
import { createHash } from "node:crypto";
import protobuf from "protobufjs/minimal";
import SnappyJS from "snappyjs";
import { formatLe } from "../metrics/mod.ts";
import type { Histogram, MetricFamily, Registry } from "../metrics/mod.ts";

/** The `job` label remote write adds, as the reference does. */
export const JOB = "coroot-node-agent";

/** `prompb.MetricMetadata.MetricType` values. */
const METADATA_TYPE = { counter: 1, gauge: 2, histogram: 3 } as const;

/**
 * The `instance` label (reference §1.4): the machine id, or the MD5 (lowercase hex) of the
 * machine id followed by the system UUID without dashes when that UUID is known and differs.
 */
export function instanceLabel(machineId: string, systemUuid: string): string {
  const uuid = systemUuid.replaceAll("-", "");
  if (uuid === "" || uuid === machineId) return machineId;
  return createHash("md5").update(machineId).update(uuid).digest("hex");
}

/** The labels remote write adds to every series: `instance` and `job`. */
export function pushLabels(registry: Registry): Record<string, string> {
  const c = registry.constLabels;
  return { instance: instanceLabel(c.machine_id ?? "", c.system_uuid ?? ""), job: JOB };
}

/** Per family: label names sorted, each with where its value comes from. */
interface LabelPlan {
  /** Sorted label names. */
  readonly names: readonly string[];
  /**
   * For each sorted name: >= 0 an index into the series' own label values; -1 the metric
   * name; -2 `le`; -3 a fixed value from `fixed`.
   */
  readonly source: Int32Array;
  readonly fixed: readonly string[];
}

function planFor(family: MetricFamily, extra: Readonly<Record<string, string>>): LabelPlan {
  const own = family.labelNames as readonly string[];
  const all = new Map<string, { src: number; fixed: string }>();
  for (const [k, v] of Object.entries(extra)) all.set(k, { src: -3, fixed: v });
  own.forEach((n, i) => all.set(n, { src: i, fixed: "" }));
  all.set("__name__", { src: -1, fixed: "" });
  if (family.type === "histogram") all.set("le", { src: -2, fixed: "" });
  const names = [...all.keys()].sort();
  const source = new Int32Array(names.length);
  const fixed: string[] = [];
  names.forEach((n, i) => {
    const e = all.get(n)!;
    source[i] = e.src;
    fixed.push(e.fixed);
  });
  return { names, source, fixed };
}

/** Writes one `TimeSeries` (field 1 of `WriteRequest`). */
function writeSeries(
  w: protobuf.Writer,
  plan: LabelPlan,
  values: readonly string[],
  name: string,
  le: string,
  value: number,
  tsMs: number,
): void {
  w.uint32(10).fork();
  const { names, source, fixed } = plan;
  for (let i = 0; i < names.length; i++) {
    const s = source[i];
    const v = s >= 0 ? values[s] : s === -1 ? name : s === -2 ? le : fixed[i];
    // Prometheus drops empty label values; so do we (an empty value means "no label").
    if (v === "") continue;
    w.uint32(10).fork().uint32(10).string(names[i]).uint32(18).string(v).ldelim();
  }
  w.uint32(18).fork().uint32(9).double(value).uint32(16).int64(tsMs).ldelim();
  w.ldelim();
}

/** What {@linkcode buildWriteRequest} made. */
export interface WriteRequestBytes {
  /** The serialized, uncompressed `WriteRequest`. */
  readonly raw: Uint8Array;
  /** Number of `TimeSeries` in it. */
  readonly series: number;
}

/**
 * Serializes the registry's current state as one `WriteRequest` with every sample stamped
 * `tsMs` (milliseconds since the epoch). `extra` (usually {@linkcode pushLabels}) is added to
 * every series; a family's own label of the same name wins. Families without series are
 * left out, metadata included.
 */
export function buildWriteRequest(
  registry: Registry,
  tsMs: number,
  extra: Readonly<Record<string, string>>,
): WriteRequestBytes {
  const w = protobuf.Writer.create();
  let series = 0;
  const metadata: Array<[type: number, name: string, help: string]> = [];
  for (const family of registry) {
    if (family.size === 0) continue;
    const plan = planFor(family, { ...extra, ...registry.constLabelsOf(family.name) });
    metadata.push([METADATA_TYPE[family.type], family.name, family.help]);
    if (family.type === "histogram") {
      const h = family as Histogram<readonly string[]>;
      const les = [...h.buckets.map((b) => formatLe(b, false)), "+Inf"];
      const bucket = `${family.name}_bucket`;
      const sum = `${family.name}_sum`;
      const count = `${family.name}_count`;
      for (const s of h) {
        const values = s.labelValues;
        const cum = s.cumulativeCounts();
        for (let i = 0; i < les.length; i++) {
          writeSeries(w, plan, values, bucket, les[i], cum[i], tsMs);
        }
        writeSeries(w, plan, values, sum, "", s.sum, tsMs);
        writeSeries(w, plan, values, count, "", s.count, tsMs);
        series += les.length + 2;
      }
    } else {
      for (const s of family as Iterable<{ labelValues: readonly string[]; value: number }>) {
        writeSeries(w, plan, s.labelValues, family.name, "", s.value, tsMs);
        series++;
      }
    }
  }
  for (const [type, name, help] of metadata) {
    w.uint32(26).fork().uint32(8).int32(type).uint32(18).string(name);
    if (help !== "") w.uint32(34).string(help);
    w.ldelim();
  }
  return { raw: w.finish(), series };
}

/** Snappy block format (what remote write's `Content-Encoding: snappy` means). */
export function snappyCompress(raw: Uint8Array): Uint8Array {
  return SnappyJS.compress(raw);
}

/** Snappy block decompression (tests, and checking a spooled batch). */
export function snappyUncompress(data: Uint8Array): Uint8Array {
  return SnappyJS.uncompress(data);
}
