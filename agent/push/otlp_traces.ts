/**
 * OTLP spans from outbound L7 requests (reference §8.5, read against its `tracing/tracing.go`):
 * one CLIENT span per request, a fresh trace each ("pseudo-traces", no context propagation),
 * ending when the request was seen and starting its duration earlier, with `net.peer.name` and
 * `net.peer.port` of the actual destination and the protocol's attributes; status ERROR when
 * the request failed. Head sampling: a request is kept with probability `--traces-sampling`.
 * Resource per container: `service.name`, `container.id`, `host.name`, `host.id`.
 *
 * @module
 */
import { nanosLong } from "./otlp_logs.ts";
import type { OtlpTypes } from "./otlp_exporter.ts";

/**
 * One outbound L7 request, as the L7 module will report it. Fields a protocol does not use are
 * left out. Protocols the reference traces: http, http2, postgres, mysql, mongo, clickhouse,
 * redis, memcached, zookeeper; others produce no span.
 */
export interface L7Request {
  readonly containerId: string;
  /** The workload id (or the container id for non-Kubernetes containers). */
  readonly serviceName: string;
  readonly protocol:
    | "http"
    | "http2"
    | "postgres"
    | "mysql"
    | "mongo"
    | "clickhouse"
    | "redis"
    | "memcached"
    | "zookeeper";
  /** The actual destination (after NAT). */
  readonly peerHost: string;
  readonly peerPort: number;
  /** When the response was seen (ms since the epoch). */
  readonly endMs: number;
  /** Request duration, ms. */
  readonly durationMs: number;
  /** HTTP method; Redis/Memcached command; Zookeeper operation. */
  readonly method?: string;
  /** HTTP path. */
  readonly path?: string;
  /** HTTP/2 scheme (http or https). */
  readonly scheme?: string;
  /** HTTP status; Zookeeper error code. */
  readonly status?: number;
  /** gRPC status (HTTP/2), when there was one. */
  readonly grpcStatus?: number;
  /** SQL / query text; Redis and Zookeeper arguments. */
  readonly query?: string;
  /** Memcached keys. */
  readonly items?: readonly string[];
  /** The request failed (databases); HTTP derives it from the status. */
  readonly failed?: boolean;
}

type AnyValue = { stringValue: string } | { intValue: number } | {
  arrayValue: { values: { stringValue: string }[] };
};
type KeyValue = { key: string; value: AnyValue };

const s = (key: string, v: string): KeyValue => ({ key, value: { stringValue: v } });
const i = (key: string, v: number): KeyValue => ({ key, value: { intValue: v } });

/** A span's name, attributes (without the peer ones) and error flag; undefined: no span. */
export function spanShape(
  r: L7Request,
): { name: string; attributes: KeyValue[]; error: boolean } | undefined {
  const dest = `${r.peerHost.includes(":") ? `[${r.peerHost}]` : r.peerHost}:${r.peerPort}`;
  const status = r.status ?? 0;
  const db = (system: string) => [s("db.system", system), s("db.statement", r.query ?? "")];
  const withArgs = (op: string) => (r.query ? `${op} ${r.query}` : op);
  switch (r.protocol) {
    case "http":
      if (!r.method) return undefined;
      return {
        name: r.method,
        attributes: [
          s("http.url", `http://${dest}${r.path ?? ""}`),
          s("http.method", r.method),
          i("http.status_code", status),
        ],
        error: status >= 400,
      };
    case "http2": {
      const method = r.method || "unknown";
      const attributes = [
        s("http.url", `${r.scheme || "unknown"}://${dest}${r.path || "/unknown"}`),
        s("http.method", method),
        i("http.status_code", status),
      ];
      const grpc = r.grpcStatus ?? -1;
      if (grpc >= 0) attributes.push(i("rpc.grpc.status_code", grpc));
      return { name: method, attributes, error: status > 400 || grpc > 0 };
    }
    case "postgres":
    case "mysql":
    case "mongo":
      if (!r.query) return undefined;
      return {
        name: "query",
        attributes: db({ postgres: "postgresql", mysql: "mysql", mongo: "mongodb" }[r.protocol]),
        error: r.failed === true,
      };
    case "clickhouse":
      return { name: "query", attributes: db("clickhouse"), error: r.failed === true };
    case "redis":
      if (!r.method) return undefined;
      return {
        name: r.method,
        attributes: [
          s("db.system", "redis"),
          s("db.operation", r.method),
          s("db.statement", withArgs(r.method)),
        ],
        error: r.failed === true,
      };
    case "memcached": {
      if (!r.method) return undefined;
      const attributes = [s("db.system", "memcached"), s("db.operation", r.method)];
      const items = r.items ?? [];
      if (items.length === 1) attributes.push(s("db.memcached.item", items[0]));
      if (items.length > 1) {
        attributes.push({
          key: "db.memcached.item",
          value: { arrayValue: { values: items.map((v) => ({ stringValue: v })) } },
        });
      }
      return { name: r.method, attributes, error: r.failed === true };
    }
    case "zookeeper":
      if (!r.method) return undefined;
      return {
        name: r.method,
        attributes: [
          s("db.system", "zookeeper"),
          s("db.operation", r.method),
          s("db.statement", withArgs(r.method)),
          i("zookeeper.status_code", status),
        ],
        error: status !== 0,
      };
    default:
      return undefined;
  }
}

/** A sampled request with its ids, as queued. */
export interface SpanEntry {
  readonly req: L7Request;
  readonly traceId: Uint8Array;
  readonly spanId: Uint8Array;
}

/** Random trace and span ids (never all zero). */
export function newIds(): { traceId: Uint8Array; spanId: Uint8Array } {
  const b = new Uint8Array(24);
  do crypto.getRandomValues(b); while (
    b.subarray(0, 16).every((x) => x === 0) || b.subarray(16).every((x) => x === 0)
  );
  return { traceId: b.slice(0, 16), spanId: b.slice(16) };
}

/** OTLP `Span.SpanKind.SPAN_KIND_CLIENT`. */
export const SPAN_KIND_CLIENT = 3;
/** OTLP `Status.StatusCode.STATUS_CODE_ERROR`. */
export const STATUS_CODE_ERROR = 2;

/** Host facts every span resource carries. */
export interface HostFacts {
  readonly hostName: string;
  readonly hostId: string;
}

/**
 * Encodes a batch as an `ExportTraceServiceRequest`: one `ResourceSpans` per container, each
 * with one scope (`coroot-node-agent`, `version`).
 */
export function encodeSpans(
  types: OtlpTypes,
  batch: readonly SpanEntry[],
  host: HostFacts,
  version: string,
): Uint8Array {
  const byResource = new Map<string, { req: L7Request; spans: unknown[] }>();
  for (const e of batch) {
    const shape = spanShape(e.req);
    if (shape === undefined) continue;
    const key = `${e.req.serviceName}\0${e.req.containerId}`;
    let g = byResource.get(key);
    if (g === undefined) byResource.set(key, g = { req: e.req, spans: [] });
    const r = e.req;
    g.spans.push({
      traceId: e.traceId,
      spanId: e.spanId,
      name: shape.name,
      kind: SPAN_KIND_CLIENT,
      startTimeUnixNano: nanosLong(r.endMs - r.durationMs),
      endTimeUnixNano: nanosLong(r.endMs),
      attributes: [
        ...shape.attributes,
        s("net.peer.name", r.peerHost),
        i("net.peer.port", r.peerPort),
      ],
      status: shape.error ? { code: STATUS_CODE_ERROR } : {},
    });
  }
  const resourceSpans = [...byResource.values()].map((g) => ({
    resource: {
      attributes: [
        s("host.name", host.hostName),
        s("host.id", host.hostId),
        s("service.name", g.req.serviceName),
        s("container.id", g.req.containerId),
      ],
    },
    scopeSpans: [{ scope: { name: "coroot-node-agent", version }, spans: g.spans }],
  }));
  return types.ExportTraceServiceRequest.encode({ resourceSpans }).finish();
}
