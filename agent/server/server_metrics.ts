/**
 * The server's self-metrics: open connections, why connections were closed, failed accepts and
 * scrapes refused by the concurrency limit.
 *
 * @module
 */
import type { Registry } from "../metrics/mod.ts";
import {
  ACCEPT_ERROR_REASONS,
  type AcceptErrorReason,
  CLOSE_REASONS,
  type CloseReason,
  type ServerMetrics,
} from "./serve.ts";

/** {@linkcode ServerMetrics} plus the app's refused-scrape counter. */
export interface HttpServerMetrics extends ServerMetrics {
  /** A scrape was answered 503 by the concurrency limit. */
  scrapeRefused(): void;
}

/**
 * Registers `osprey_http_connections_open`, `osprey_http_connections_closed_total{reason}`,
 * `osprey_http_accept_errors_total{reason}` and `osprey_http_scrapes_refused_total` in
 * `registry` (every reason's series from 0) and returns the hooks that update them.
 */
export function httpServerMetrics(registry: Registry): HttpServerMetrics {
  const open = registry.gauge({
    name: "osprey_http_connections_open",
    help: "HTTP connections open now",
  }).labels();
  const closedFamily = registry.counter({
    name: "osprey_http_connections_closed_total",
    help: "HTTP connections closed, by reason: peer (the client closed), done (after a " +
      "response, on request), idle_timeout, header_timeout, write_timeout, bad_request, " +
      "over_limit (refused at the cap, every connection busy), evicted (closed at the cap to " +
      "make room: it was idle or still sending its request), shutdown",
    labelNames: ["reason"],
  });
  const closed = new Map(CLOSE_REASONS.map((r) => [r, closedFamily.labels(r)] as const));
  const acceptFamily = registry.counter({
    name: "osprey_http_accept_errors_total",
    help: "Failed accepts of HTTP connections, by errno (emfile: out of file descriptors); " +
      "the server retries with a backoff",
    labelNames: ["reason"],
  });
  const accept = new Map(ACCEPT_ERROR_REASONS.map((r) => [r, acceptFamily.labels(r)] as const));
  const refused = registry.counter({
    name: "osprey_http_scrapes_refused_total",
    help: "Scrapes answered 503 because the concurrent scrape limit was reached",
  }).labels();
  return {
    connectionsOpen: (n: number) => open.set(n),
    connectionClosed: (reason: CloseReason) => closed.get(reason)!.inc(),
    acceptError: (reason: AcceptErrorReason) => accept.get(reason)!.inc(),
    scrapeRefused: () => refused.inc(),
  };
}
