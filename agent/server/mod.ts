/**
 * Osprey's HTTP server: a Hono app with `/metrics` (content-negotiated text 0.0.4 or
 * OpenMetrics 1.0, optional gzip, concurrency-capped), `/healthz` and `/readyz`, and the
 * HTTP/1.1 server on `Deno.listen` that binds it (timeouts, a connection cap, accept errors
 * counted and survived).
 *
 * The only import target for other folders.
 *
 * @example
 * ```ts
 * import { Registry } from "../metrics/mod.ts";
 * import { createApp, parseListen, serve } from "./mod.ts";
 *
 * const app = createApp({ registry: new Registry(), ready: () => true });
 * const ctl = new AbortController();
 * const server = await serve(app, { ...parseListen("127.0.0.1:0"), signal: ctl.signal });
 * ctl.abort();
 * await server.finished;
 * ```
 *
 * @module
 */
export {
  ALLOW,
  type AppDeps,
  createApp,
  type HealthStatus,
  ROUTES,
  type ServerLog,
} from "./app.ts";
export {
  ACCEPT_ERROR_REASONS,
  type AcceptErrorReason,
  CLOSE_REASONS,
  type CloseReason,
  type FetchApp,
  type RunningServer,
  serve,
  type ServeLog,
  type ServeOptions,
  type ServerLimits,
  type ServerMetrics,
} from "./serve.ts";
export { type HttpServerMetrics, httpServerMetrics } from "./server_metrics.ts";
export { formatListen, type ListenAddress, parseListen } from "./listen.ts";
export { acceptsGzip, negotiateFormat } from "./negotiate.ts";
export { scrapeLimit, type ScrapeLimitOptions } from "./scrape_limit.ts";
export { type HeadLimits, RequestHeadError } from "./request_head.ts";
