/**
 * Middleware that caps concurrent requests (for `/metrics`): beyond the cap, a request is
 * answered 503 at once instead of queueing behind slow scrapes.
 *
 * @module
 */
import type { Context, MiddlewareHandler, Next } from "hono";

/** Options of {@linkcode scrapeLimit}. */
export interface ScrapeLimitOptions {
  /** Requests allowed at the same time. @default 4 */
  max?: number;
}

/**
 * Creates the limit middleware. Each call creates its own counter.
 *
 * @throws {RangeError} when `max` is not a positive integer.
 */
export function scrapeLimit(opts: ScrapeLimitOptions = {}): MiddlewareHandler {
  const max = opts.max ?? 4;
  if (!Number.isInteger(max) || max < 1) {
    throw new RangeError(`Cannot limit scrapes to ${max}: the limit must be a positive integer`);
  }
  let inFlight = 0;
  return async function scrapeLimit(c: Context, next: Next): Promise<Response | void> {
    if (inFlight >= max) {
      c.header("Retry-After", "1");
      return c.text(`too many concurrent scrapes (limit ${max})\n`, 503);
    }
    inFlight++;
    try {
      await next();
    } finally {
      inFlight--;
    }
  };
}
