/**
 * Outbound requests as the push module's OTLP traces exporter takes them (contract §8.5: one
 * client span per outbound request of a traced protocol; DNS and inbound requests make none).
 * A container with `COROOT_EBPF_TRACES=disabled` in a process's environment makes none either
 * ({@linkcode SpanOptOut}, which reads environments through agent/opt_outs.ts).
 * {@linkcode spanRequest} is pure: a completed request with its summary ({@linkcode RequestSummary}, from the matcher),
 * the container and the actual destination go in, an {@linkcode L7Request} comes out.
 *
 * @module
 */
import type { L7Request } from "../push/otlp_traces.ts";
import type { Completed } from "./matcher.ts";
import type { OptOutCache } from "../opt_outs.ts";

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

/** What {@linkcode SpanOptOut} needs of a container: its id and its live processes. */
export interface ProcessOwner {
  readonly id: string;
  /** Each live process: its pid and start time (the container registry's `forEachProcess`). */
  forEachProcess(fn: (pid: number, startMs: number) => void): void;
}

/**
 * `COROOT_EBPF_TRACES=disabled` as the reference applies it: a container any of whose live
 * processes has it in its environment sends no spans at all (its requests are still counted in
 * the metrics). Each process's environment is read once ({@linkcode OptOutCache}); the verdict of
 * a container is kept for one round ({@linkcode SpanOptOut.newRound}, once per ring batch), so a
 * process that joins or leaves counts from the next batch on.
 */
export class SpanOptOut {
  readonly #cache: OptOutCache;
  readonly #round = new Map<string, boolean>();
  /** Spans not made because their container opted out. */
  suppressed = 0;

  constructor(cache: OptOutCache) {
    this.#cache = cache;
  }

  /** Forgets the verdicts of the last round. */
  newRound(): void {
    this.#round.clear();
  }

  /**
   * Whether `container` opted out of spans; when it did, also counts one span in
   * {@linkcode suppressed} (call it once per span that would be made).
   */
  suppress(container: ProcessOwner): boolean {
    let off = this.#round.get(container.id);
    if (off === undefined) {
      off = false;
      container.forEachProcess((pid, startMs) => {
        if (!off && this.#cache.get(pid, startMs).traces) off = true;
      });
      this.#round.set(container.id, off);
    }
    if (off) this.suppressed++;
    return off;
  }
}
