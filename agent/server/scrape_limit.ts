/**
 * Middleware that caps concurrent requests (for `/metrics`): beyond the cap, a request is
 * answered 503 at once instead of queueing behind slow scrapes.
 *
 * A request holds its slot until its response body has been read to the end (or cancelled),
 * not just until the handler returns: the handler encodes synchronously, and the cost of a
 * scrape is the encoded body held in memory while a client reads it. The agent's server reads
 * the next chunk only after it wrote the previous one to the socket, so a slot is released when
 * the last byte was handed to the kernel, when the connection fails, or when its write timeout
 * closes it.
 *
 * @module
 */
import type { Context, MiddlewareHandler, Next } from "hono";

/** Options of {@linkcode scrapeLimit}. */
export interface ScrapeLimitOptions {
  /** Requests allowed at the same time. @default 4 */
  max?: number;
  /** Called for each request refused with 503 (e.g. to count them). */
  onRefused?: () => void;
}

/**
 * A stream that passes `body` through and calls `release` once: after its last chunk was taken
 * and the next read found the end, or when it is cancelled or fails.
 */
function releasing(
  body: ReadableStream<Uint8Array>,
  release: () => void,
): ReadableStream<Uint8Array> {
  const reader = body.getReader();
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        const r = await reader.read();
        if (r.done) {
          release();
          controller.close();
        } else controller.enqueue(r.value);
      } catch (err) {
        release();
        controller.error(err);
      }
    },
    cancel(reason) {
      release();
      return reader.cancel(reason);
    },
    // no read-ahead: the next chunk is pulled only when the consumer asks for it
  }, { highWaterMark: 0 });
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
    if (c.req.method === "HEAD") return await next(); // no body to encode or hold
    if (inFlight >= max) {
      opts.onRefused?.();
      c.header("Retry-After", "1");
      return c.text(`too many concurrent scrapes (limit ${max})\n`, 503);
    }
    inFlight++;
    let held = false;
    const release = () => {
      if (held) {
        held = false;
        inFlight--;
      }
    };
    held = true;
    try {
      await next();
      const res = c.res;
      if (res.body !== null) {
        c.res = new Response(releasing(res.body, release), res);
      } else release();
    } catch (err) {
      release();
      throw err;
    }
  };
}
