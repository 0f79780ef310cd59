/**
 * The one way the cloud module talks HTTP: `node:http` with a deadline for the whole exchange
 * (connect, head and body), no keep-alive (a new connection per request, as the reference
 * does), a cap on the body, and errors classified into a few reasons for
 * `osprey_cloud_metadata_errors_total{provider,reason}`.
 *
 * `node:http` rather than `fetch`: Deno's `fetch` (and `Deno.createHttpClient`) sends through
 * `HTTP_PROXY` whatever the address, even 127.0.0.1 (tried with Deno 2.9.6), and a metadata
 * service must never be asked through a proxy (Azure's documentation says so); `node:http`
 * ignores the proxy variables. Deno still checks the net permission of every connection.
 *
 * @module
 */
import { Buffer } from "node:buffer";
import http from "node:http";
import https from "node:https";

/** Why a metadata request failed, the `reason` label. */
export type FailureReason =
  /** No complete answer within the deadline (a server that hangs or trickles). */
  | "timeout"
  /** The connection failed or broke (refused, reset, no route, DNS). */
  | "unreachable"
  /** An HTTP status other than 200 (and other than 404 for an optional value). */
  | "http_status"
  /** The token endpoint (AWS, IBM) did not give a token. */
  | "token_refused"
  /** A body that is not what the provider documents (bad JSON, YAML, missing values, too long). */
  | "bad_response"
  /** Deno refused the connection: the address is not granted. */
  | "not_granted";

/** Every reason, in a fixed order. */
export const FAILURE_REASONS: readonly FailureReason[] = [
  "timeout",
  "unreachable",
  "http_status",
  "token_refused",
  "bad_response",
  "not_granted",
];

/** A failed metadata request or answer, with its reason. */
export class CloudMetadataError extends Error {
  /** The `reason` label. */
  readonly reason: FailureReason;

  constructor(reason: FailureReason, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "CloudMetadataError";
    this.reason = reason;
  }
}

/** One request to a metadata service. */
export interface MetadataRequest {
  readonly method: "GET" | "PUT";
  /** Absolute http or https URL. */
  readonly url: string;
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: string;
}

/** A complete answer (any status). */
export interface MetadataResponse {
  readonly status: number;
  /** The body decoded as UTF-8 (invalid bytes become U+FFFD). */
  readonly body: string;
}

/** Options of one request. */
export interface RequestOptions {
  /** Deadline of the whole exchange, in ms. */
  readonly timeoutMs: number;
  /** Aborts the request (the module stops); it then fails with reason `timeout`. */
  readonly signal?: AbortSignal;
}

/**
 * Sends one request and resolves with the complete answer, or rejects with a
 * {@linkcode CloudMetadataError}. Replaceable in tests (a spy that records or refuses).
 */
export type MetadataHttp = (
  req: MetadataRequest,
  opts: RequestOptions,
) => Promise<MetadataResponse>;

/** Largest body read; a longer one fails with `bad_response` (answers are a few KiB at most). */
export const MAX_BODY_BYTES = 256 * 1024;

function classify(err: unknown, url: string): CloudMetadataError {
  if (err instanceof CloudMetadataError) return err;
  if (err instanceof Deno.errors.NotCapable || err instanceof Deno.errors.PermissionDenied) {
    return new CloudMetadataError("not_granted", `Cannot connect to ${url}: not granted`, {
      cause: err,
    });
  }
  return new CloudMetadataError("unreachable", `Cannot get an answer from ${url}`, { cause: err });
}

/** The real {@linkcode MetadataHttp}: `node:http`/`node:https`, no proxy, no keep-alive. */
export function nodeMetadataHttp(
  req: MetadataRequest,
  opts: RequestOptions,
): Promise<MetadataResponse> {
  return new Promise<MetadataResponse>((resolve, reject) => {
    const where = `${req.method} ${req.url}`;
    let settled = false;
    let request: http.ClientRequest | undefined;
    const finish = (err: CloudMetadataError | undefined, res?: MetadataResponse) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      opts.signal?.removeEventListener("abort", onAbort);
      if (err !== undefined) {
        request?.destroy();
        reject(err);
      } else resolve(res!);
    };
    const timer = setTimeout(() => {
      finish(
        new CloudMetadataError(
          "timeout",
          `${where}: no complete answer within ${opts.timeoutMs} ms`,
        ),
      );
    }, opts.timeoutMs);
    const onAbort = () => finish(new CloudMetadataError("timeout", `${where}: stopped`));
    if (opts.signal?.aborted) return onAbort();
    opts.signal?.addEventListener("abort", onAbort);
    try {
      const mod = req.url.startsWith("https:") ? https : http;
      const headers: Record<string, string> = { ...req.headers };
      if (req.body !== undefined) headers["content-length"] = String(Buffer.byteLength(req.body));
      request = mod.request(req.url, { method: req.method, headers, agent: false });
    } catch (err) {
      return finish(classify(err, where));
    }
    request.on("error", (err) => finish(classify(err, where)));
    request.on("response", (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on("data", (chunk: Buffer) => {
        size += chunk.length;
        if (size > MAX_BODY_BYTES) {
          finish(
            new CloudMetadataError("bad_response", `${where}: body over ${MAX_BODY_BYTES} bytes`),
          );
          return;
        }
        chunks.push(chunk);
      });
      res.on("error", (err) => finish(classify(err, where)));
      res.on("aborted", () => finish(classify(new Error("answer cut short"), where)));
      res.on("end", () => {
        finish(undefined, {
          status: res.statusCode ?? 0,
          body: Buffer.concat(chunks).toString("utf8"),
        });
      });
    });
    request.end(req.body);
  });
}
