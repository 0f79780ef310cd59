/**
 * The HTTP side of push: one `Deno.HttpClient` for every endpoint (with `--ca-file`'s
 * certificates added to the system roots), a POST with a deadline, and the classification of
 * its outcome that the remote-write sender and the OTLP exporters share.
 *
 * `--insecure-skip-verify`: Deno 2.9.6's `Deno.createHttpClient` has no option to skip
 * certificate verification; the runtime flag `--unsafely-ignore-certificate-errors=<host>` does
 * it, scoped to the named hosts. The launcher (`tools/sandbox/args.ts`) adds it for the
 * endpoints' hosts when the flag is set; under `deno run` the user adds it (README "Push mode").
 *
 * @module
 */

/** Thrown when `--ca-file` cannot be read. */
export class CaFileError extends Error {
  override name = "CaFileError";
}

/**
 * The client every push request goes through: the system roots plus the PEM certificates of
 * `caFile` (when given). @throws {CaFileError} when `caFile` cannot be read.
 */
export function pushHttpClient(caFile: string): Deno.HttpClient {
  const caCerts: string[] = [];
  if (caFile !== "") {
    try {
      caCerts.push(Deno.readTextFileSync(caFile));
    } catch (err) {
      throw new CaFileError(`Cannot read the CA file "${caFile}" (--ca-file)`, { cause: err });
    }
  }
  return Deno.createHttpClient({ caCerts, poolIdleTimeout: 60_000 });
}

/** How a POST ended. */
export type PostOutcome =
  | { kind: "ok"; status: number }
  /** Retry later: 5xx, 429, network or TLS failure, timeout. */
  | { kind: "retry"; reason: RetryReason; status?: number; retryAfterMs?: number; detail: string }
  /** Do not retry: any other status. */
  | { kind: "reject"; status: number; detail: string };

/** Why a POST is retried (the `reason` label). */
export type RetryReason = "http_5xx" | "http_429" | "network" | "timeout";

/**
 * `Retry-After` as milliseconds from `now`: delay-seconds or an HTTP date; undefined when
 * absent or unreadable.
 */
export function parseRetryAfter(value: string | null, now = Date.now()): number | undefined {
  if (value === null) return undefined;
  const v = value.trim();
  if (/^\d+$/.test(v)) return Number(v) * 1000;
  const t = Date.parse(v);
  return Number.isNaN(t) ? undefined : Math.max(0, t - now);
}

/** The options of {@linkcode post}. */
export interface PostOptions {
  readonly client: Deno.HttpClient;
  readonly headers: Record<string, string>;
  readonly timeoutMs: number;
  /** Aborts the request when the agent stops. */
  readonly signal?: AbortSignal;
}

/**
 * POSTs `body` to `url` and classifies the answer. Never throws for HTTP or network failures
 * (they are outcomes); an abort of `opts.signal` rethrows.
 */
export async function post(url: URL, body: Uint8Array, opts: PostOptions): Promise<PostOutcome> {
  const deadline = AbortSignal.timeout(opts.timeoutMs);
  const signal = opts.signal ? AbortSignal.any([opts.signal, deadline]) : deadline;
  let res: Response;
  try {
    res = await fetch(url, {
      method: "POST",
      body: body as Uint8Array<ArrayBuffer>,
      headers: { ...opts.headers, "Content-Length": String(body.length) },
      client: opts.client,
      signal,
    });
  } catch (err) {
    if (opts.signal?.aborted) throw err;
    if (deadline.aborted) {
      return { kind: "retry", reason: "timeout", detail: `no answer within ${opts.timeoutMs} ms` };
    }
    return { kind: "retry", reason: "network", detail: String(err) };
  }
  let text = "";
  try {
    text = (await res.text()).slice(0, 512);
  } catch {
    // the answer's body is only used in a log line
  }
  if (res.status >= 200 && res.status < 300) return { kind: "ok", status: res.status };
  const detail = `HTTP ${res.status}${text ? `: ${text.trim()}` : ""}`;
  if (res.status === 429 || res.status >= 500) {
    return {
      kind: "retry",
      reason: res.status === 429 ? "http_429" : "http_5xx",
      status: res.status,
      retryAfterMs: parseRetryAfter(res.headers.get("retry-after")),
      detail,
    };
  }
  return { kind: "reject", status: res.status, detail };
}

/** Exponential backoff: `min`, doubled per failure, capped at `max`; reset on success. */
export class Backoff {
  readonly minMs: number;
  readonly maxMs: number;
  #next: number;

  constructor(minMs: number, maxMs: number) {
    this.minMs = minMs;
    this.maxMs = Math.max(minMs, maxMs);
    this.#next = minMs;
  }

  /** The wait before the next attempt (and doubles the one after). */
  next(): number {
    const d = this.#next;
    this.#next = Math.min(this.maxMs, this.#next * 2);
    return d;
  }

  /** Back to `min`. */
  reset(): void {
    this.#next = this.minMs;
  }
}

/** Resolves after `ms`, or early (without throwing) when `signal` aborts or `wake` is called. */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal.removeEventListener("abort", done);
      resolve();
    }
    signal.addEventListener("abort", done, { once: true });
  });
}
