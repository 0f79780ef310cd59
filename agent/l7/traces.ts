/**
 * Outbound requests as the push module's OTLP traces exporter takes them (contract §8.5: one
 * client span per outbound request of a traced protocol; DNS and inbound requests make none).
 * Pure: a completed request with its summary ({@linkcode RequestSummary}, from the matcher),
 * the container and the actual destination go in, an {@linkcode L7Request} comes out.
 *
 * @module
 */
import type { L7Request } from "../push/otlp_traces.ts";
import type { Completed } from "./matcher.ts";

/** Whose request it is: the container and its `service.name`. */
export interface SpanOwner {
  /** The container id. */
  readonly id: string;
  /** The workload (the container view's `appId`), or the container id when it has none. */
  readonly service: string;
}

/**
 * `host` and `port` of a `host:port` or `[v6]:port` label value (the net module's
 * `actual_destination`); undefined when there is no numeric port after the last colon.
 */
export function splitHostPort(hp: string): { host: string; port: number } | undefined {
  const colon = hp.lastIndexOf(":");
  if (colon <= 0) return undefined;
  const portText = hp.slice(colon + 1);
  if (!/^\d{1,5}$/.test(portText)) return undefined;
  let host = hp.slice(0, colon);
  if (host.startsWith("[") && host.endsWith("]")) host = host.slice(1, -1);
  return { host, port: Number(portText) };
}

/**
 * The exporter's record of one completed outbound request, or undefined when it makes no span
 * here (inbound, DNS, no summary: the matcher was not traced when the request was seen).
 *
 * @param c the matcher's record; its `summary` says what the span carries, `status` whether a
 *   database request failed (`failed`), `durationNs` its duration (kernel clock)
 * @param owner the container that made the request
 * @param peer the actual destination (after NAT)
 * @param endMs when the answer was handled, ms since the epoch (the reference's "now")
 */
export function spanRequest(
  c: Completed,
  owner: SpanOwner,
  peer: { host: string; port: number },
  endMs: number,
): L7Request | undefined {
  const s = c.summary;
  if (s === undefined || c.inbound || c.protocol === "dns") return undefined;
  return {
    containerId: owner.id,
    serviceName: owner.service,
    protocol: s.protocol,
    peerHost: peer.host,
    peerPort: peer.port,
    endMs,
    durationMs: c.durationNs / 1e6,
    method: s.method,
    path: s.path,
    scheme: s.scheme,
    status: s.status,
    grpcStatus: s.grpcStatus,
    query: s.query,
    items: s.items,
    failed: c.status === "failed",
  };
}
