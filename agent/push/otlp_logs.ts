/**
 * OTLP log records from parsed container log messages (reference §5.2 end, read against its
 * `logs/otel.go`): one record per message with the message as body, the level as severity
 * text and number, the message time as observed timestamp, the attribute `pattern.hash` and
 * the message's JSON attributes; a trace id / span id attribute (keys such as `trace_id`,
 * `traceId`, `@tr`, `x.span_id`) that holds valid hex becomes the record's trace context
 * instead of an attribute. Records are grouped by resource: `service.name` and `container.id`.
 *
 * @module
 */
import type { OtlpTypes } from "./otlp_exporter.ts";

/**
 * A parsed log message, as the logs module's parser gives it (structurally the same as its
 * `LogMessage`, not imported so this module stands alone).
 */
export interface LogMessage {
  /** The message text (possibly multi-line). */
  readonly content: string;
  readonly level: "unknown" | "debug" | "info" | "warning" | "error" | "critical";
  /** When the message was read/logged, ms since the epoch. */
  readonly timestampMs: number;
  /** Lowercase hex MD5 of the pattern; "" for levels that get no pattern. */
  readonly patternHash: string;
  readonly sample: string;
  /** Attributes flattened from a JSON line. */
  readonly attributes?: Readonly<Record<string, string>>;
}

/** A message with the container it came from, as queued. */
export interface LogEntry {
  readonly containerId: string;
  readonly serviceName: string;
  readonly msg: LogMessage;
}

/** OTLP `SeverityNumber` per level (as the reference maps them). */
export const SEVERITY_NUMBER: Readonly<Record<LogMessage["level"], number>> = {
  unknown: 0, // SEVERITY_NUMBER_UNSPECIFIED
  debug: 5, // DEBUG
  info: 9, // INFO
  warning: 13, // WARN
  error: 17, // ERROR
  critical: 21, // FATAL
};

const TRACE_KEYS = ["traceid", "trace_id", "trace-id", "trace.id"];
const SPAN_KEYS = ["spanid", "span_id", "span-id", "span.id"];

/** Whether an attribute key names the record's trace id, span id, or neither. */
export function traceContextKey(key: string): "trace" | "span" | undefined {
  const k = key.toLowerCase();
  if (k === "@tr") return "trace";
  if (k === "@sp") return "span";
  if (k.includes("parent")) return undefined; // a parent span id is not the record's
  const is = (list: string[]) => list.some((s) => k === s || k.endsWith("." + s));
  if (is(TRACE_KEYS)) return "trace";
  if (is(SPAN_KEYS)) return "span";
  return undefined;
}

/** Bytes of a hex id of `n` bytes, or undefined when not exactly that (or all zero). */
export function hexId(text: string, n: number): Uint8Array | undefined {
  if (text.length !== n * 2 || !/^[0-9a-fA-F]+$/.test(text)) return undefined;
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = parseInt(text.slice(i * 2, i * 2 + 2), 16);
  return out.some((b) => b !== 0) ? out : undefined;
}

/** Nanoseconds since the epoch as a protobufjs Long-like (exact beyond 2^53). */
export function nanosLong(ms: number): { low: number; high: number; unsigned: boolean } {
  const whole = Math.floor(ms);
  const ns = BigInt(whole) * 1_000_000n + BigInt(Math.round((ms - whole) * 1e6));
  return {
    low: Number(ns & 0xffffffffn) | 0,
    high: Number((ns >> 32n) & 0xffffffffn) | 0,
    unsigned: true,
  };
}

function str(key: string, value: string) {
  return { key, value: { stringValue: value } };
}

/** One OTLP `LogRecord` (as a protobufjs message object) for a message. */
export function logRecord(msg: LogMessage): Record<string, unknown> {
  const attributes = [str("pattern.hash", msg.patternHash)];
  let traceId: Uint8Array | undefined;
  let spanId: Uint8Array | undefined;
  for (const [k, v] of Object.entries(msg.attributes ?? {})) {
    const kind = traceContextKey(k);
    if (kind === "trace" && traceId === undefined) {
      traceId = hexId(v, 16);
      if (traceId !== undefined) continue;
    } else if (kind === "span" && spanId === undefined) {
      spanId = hexId(v, 8);
      if (spanId !== undefined) continue;
    }
    attributes.push(str(k, v));
  }
  const rec: Record<string, unknown> = {
    observedTimeUnixNano: nanosLong(msg.timestampMs),
    severityNumber: SEVERITY_NUMBER[msg.level] ?? 0,
    severityText: msg.level,
    body: { stringValue: msg.content },
    attributes,
  };
  if (traceId !== undefined) rec.traceId = traceId;
  if (spanId !== undefined) rec.spanId = spanId;
  return rec;
}

/**
 * Encodes a batch as an `ExportLogsServiceRequest`: one `ResourceLogs` per (service name,
 * container id), each with one scope (`coroot-node-agent`, `version`).
 */
export function encodeLogs(
  types: OtlpTypes,
  batch: readonly LogEntry[],
  version: string,
): Uint8Array {
  const byResource = new Map<string, { entry: LogEntry; records: Record<string, unknown>[] }>();
  for (const e of batch) {
    const key = `${e.serviceName}\0${e.containerId}`;
    let g = byResource.get(key);
    if (g === undefined) byResource.set(key, g = { entry: e, records: [] });
    g.records.push(logRecord(e.msg));
  }
  const resourceLogs = [...byResource.values()].map((g) => ({
    resource: {
      attributes: [
        str("service.name", g.entry.serviceName),
        str("container.id", g.entry.containerId),
      ],
    },
    scopeLogs: [{ scope: { name: "coroot-node-agent", version }, logRecords: g.records }],
  }));
  return types.ExportLogsServiceRequest.encode({ resourceLogs }).finish();
}
