/**
 * Osprey's HTTP server: a Hono app with `/metrics` (content-negotiated text 0.0.4 or
 * OpenMetrics 1.0, optional gzip, concurrency-capped), `/healthz` and `/readyz`, and the
 * `Deno.serve` wrapper that binds it.
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
export { type AppDeps, createApp, type HealthStatus, type ServerLog } from "./app.ts";
export { type FetchApp, type RunningServer, serve, type ServeOptions } from "./serve.ts";
export { formatListen, type ListenAddress, parseListen } from "./listen.ts";
export { acceptsGzip, negotiateFormat } from "./negotiate.ts";
export { scrapeLimit, type ScrapeLimitOptions } from "./scrape_limit.ts";
