/**
 * One runtime API socket (Docker's, or Podman's): `inspect(id)` over HTTP on a unix socket,
 * with a short timeout, a per-id cache, one request per id at a time, and a backoff that stops
 * asking a socket that is missing, refusing or too slow.
 *
 * Nothing here logs per container. Each failed request is counted through `onError(reason)`;
 * the socket going down and coming back are reported once each through `onDown` and `onUp`.
 *
 * Deno needs three grants for the socket plus net on the URL's placeholder host
 * ({@linkcode API_HOST}): `--allow-net=unix:<socket>,d --allow-read=<socket>
 * --allow-write=<socket>`.
 *
 * @module
 */

import { MetadataParseError } from "../metadata/types.ts";
import { type ApiContainer, type InspectFlavor, parseInspect } from "./inspect.ts";

/** The runtimes with an API client. */
export type ApiRuntime = "docker" | "podman";

/**
 * The host part of request URLs. The socket decides where a request goes; Deno still checks
 * net permission for this host (port 80), so it must be granted next to the socket.
 */
export const API_HOST = "d";

/** Why a request failed; the `reason` label of `osprey_container_runtime_api_errors_total`. */
export type ApiErrorReason =
  | "socket_missing"
  | "refused"
  | "permission"
  | "connect"
  | "protocol"
  | "timeout"
  | "http_status"
  | "not_found"
  | "malformed";

/** Every reason, for tests and documentation. */
export const API_ERROR_REASONS: readonly ApiErrorReason[] = [
  "socket_missing",
  "refused",
  "permission",
  "connect",
  "protocol",
  "timeout",
  "http_status",
  "not_found",
  "malformed",
];

/** The answer to one inspect. */
export type InspectResult =
  | { readonly kind: "found"; readonly container: ApiContainer }
  /** The API answered, and has no such container (404), or answered something unusable. */
  | { readonly kind: "absent"; readonly reason: "not_found" | "malformed" | "http_status" }
  /** The socket could not be asked: it failed now, or failed recently and is backing off. */
  | { readonly kind: "unavailable"; readonly reason: ApiErrorReason | "backoff" };

/** Options of {@linkcode RuntimeApiClient}. */
export interface RuntimeApiClientOptions {
  readonly runtime: ApiRuntime;
  /** Absolute path of the unix socket. */
  readonly socket: string;
  /** One request's timeout, body included. @default 2000 */
  readonly timeoutMs?: number;
  /** First delay after a socket failure; doubles per failure. @default 1000 */
  readonly backoffMinMs?: number;
  /** @default 60000 */
  readonly backoffMaxMs?: number;
  /** Ids whose answer is kept. @default 4096 */
  readonly cacheMax?: number;
  /** How long a found container is kept. @default 600000 */
  readonly cacheTtlMs?: number;
  /** How long a 404 or an unusable answer is kept. @default 10000 */
  readonly absentTtlMs?: number;
  /** Larger answers are malformed. @default 4 MiB */
  readonly maxBodyBytes?: number;
  /** Each failed request. */
  readonly onError?: (reason: ApiErrorReason) => void;
  /** The socket started failing (once per outage). */
  readonly onDown?: (reason: ApiErrorReason, error: string, retryInMs: number) => void;
  /** The socket answered again after an outage. */
  readonly onUp?: () => void;
  /** @default Date.now */
  readonly now?: () => number;
}

interface Cached {
  readonly at: number;
  readonly result: InspectResult;
}

const OS_ERROR = /\(os error (\d+)\)/;

/**
 * The reason of a failed `fetch`, from its type and its (and its causes') messages: Deno
 * reports connection errors as `TypeError: fetch failed` caused by
 * `client error (Connect): No such file or directory (os error 2)` and the like.
 */
export function classifyFetchError(err: unknown): ApiErrorReason {
  if (err instanceof DOMException && (err.name === "TimeoutError" || err.name === "AbortError")) {
    return "timeout";
  }
  if (err instanceof Deno.errors.NotCapable || err instanceof Deno.errors.PermissionDenied) {
    return "permission";
  }
  const text: string[] = [];
  for (let e: unknown = err, depth = 0; e !== undefined && depth < 5; depth++) {
    text.push(e instanceof Error ? e.message : String(e));
    e = e instanceof Error ? e.cause : undefined;
  }
  const all = text.join(" | ");
  const os = OS_ERROR.exec(all);
  if (os !== null) {
    switch (Number(os[1])) {
      case 2: // ENOENT
      case 20: // ENOTDIR
        return "socket_missing";
      case 111: // ECONNREFUSED
        return "refused";
      case 1: // EPERM
      case 13: // EACCES
        return "permission";
    }
  }
  if (/\(Connect\)/.test(all)) return "connect";
  return "protocol";
}

function describe(err: unknown): string {
  const parts: string[] = [];
  for (let e: unknown = err, depth = 0; e !== undefined && depth < 5; depth++) {
    parts.push(e instanceof Error ? e.message : String(e));
    e = e instanceof Error ? e.cause : undefined;
  }
  return parts.join(": ");
}

/** Reads a body up to `max` bytes; undefined when it is larger. */
async function readCapped(r: Response, max: number): Promise<string | undefined> {
  const declared = Number(r.headers.get("content-length") ?? "");
  if (Number.isFinite(declared) && declared > max) {
    await r.body?.cancel();
    return undefined;
  }
  if (r.body === null) return "";
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = r.body.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.length;
      if (size > max) {
        await reader.cancel();
        return undefined;
      }
      chunks.push(value);
    }
  } finally {
    reader.releaseLock();
  }
  const all = new Uint8Array(size);
  let off = 0;
  for (const c of chunks) {
    all.set(c, off);
    off += c.length;
  }
  return new TextDecoder().decode(all);
}

/** The API of one runtime socket. Call {@linkcode close} when done. */
export class RuntimeApiClient {
  readonly runtime: ApiRuntime;
  readonly socket: string;
  readonly #flavor: InspectFlavor;
  readonly #timeoutMs: number;
  readonly #backoffMin: number;
  readonly #backoffMax: number;
  readonly #cacheMax: number;
  readonly #ttl: number;
  readonly #absentTtl: number;
  readonly #maxBody: number;
  readonly #o: RuntimeApiClientOptions;
  readonly #now: () => number;
  readonly #cache = new Map<string, Cached>();
  readonly #inflight = new Map<string, Promise<InspectResult>>();
  #client: Deno.HttpClient | undefined;
  #closed = false;
  #backoffMs = 0;
  #downUntil = 0;
  #down = false;

  constructor(opts: RuntimeApiClientOptions) {
    if (!opts.socket.startsWith("/")) {
      throw new TypeError(`The ${opts.runtime} socket must be an absolute path: "${opts.socket}"`);
    }
    this.#o = opts;
    this.runtime = opts.runtime;
    this.socket = opts.socket;
    this.#flavor = opts.runtime === "podman" ? "libpod" : "docker";
    this.#timeoutMs = opts.timeoutMs ?? 2000;
    this.#backoffMin = opts.backoffMinMs ?? 1000;
    this.#backoffMax = opts.backoffMaxMs ?? 60_000;
    this.#cacheMax = opts.cacheMax ?? 4096;
    this.#ttl = opts.cacheTtlMs ?? 600_000;
    this.#absentTtl = opts.absentTtlMs ?? 10_000;
    this.#maxBody = opts.maxBodyBytes ?? 4 * 1024 * 1024;
    this.#now = opts.now ?? Date.now;
  }

  /** True while the socket is failing (between `onDown` and `onUp`). */
  get down(): boolean {
    return this.#down;
  }

  /** The request path of a container's inspect. */
  pathOf(id: string): string {
    const e = encodeURIComponent(id);
    return this.#flavor === "libpod"
      ? `/v4.0.0/libpod/containers/${e}/json`
      : `/containers/${e}/json`;
  }

  /**
   * What the API says about a container. Never rejects: failures are results. A cached answer
   * is returned without asking; concurrent calls for one id share one request.
   */
  inspect(id: string): Promise<InspectResult> {
    if (this.#closed) return Promise.resolve({ kind: "unavailable", reason: "backoff" });
    const now = this.#now();
    const hit = this.#cache.get(id);
    if (hit !== undefined) {
      const ttl = hit.result.kind === "found" ? this.#ttl : this.#absentTtl;
      if (now - hit.at < ttl) return Promise.resolve(hit.result);
      this.#cache.delete(id);
    }
    if (now < this.#downUntil) return Promise.resolve({ kind: "unavailable", reason: "backoff" });
    const running = this.#inflight.get(id);
    if (running !== undefined) return running;
    const p = this.#request(id).finally(() => this.#inflight.delete(id));
    this.#inflight.set(id, p);
    return p;
  }

  /** Forgets what is cached for a container (it was removed). */
  forget(id: string): void {
    this.#cache.delete(id);
  }

  /** Closes the HTTP client; later calls answer `unavailable`. */
  close(): void {
    this.#closed = true;
    this.#client?.close();
    this.#client = undefined;
    this.#cache.clear();
  }

  async #request(id: string): Promise<InspectResult> {
    let r: Response;
    let body: string | undefined;
    try {
      this.#client ??= Deno.createHttpClient({
        proxy: { transport: "unix", path: this.socket },
      });
      const signal = AbortSignal.timeout(this.#timeoutMs);
      r = await fetch(`http://${API_HOST}${this.pathOf(id)}`, { client: this.#client, signal });
      body = r.ok ? await readCapped(r, this.#maxBody) : undefined;
      if (!r.ok) await r.body?.cancel();
    } catch (err) {
      return this.#socketFailed(classifyFetchError(err), err);
    }
    this.#socketOk();
    if (r.status === 404) return this.#remember(id, { kind: "absent", reason: "not_found" });
    if (!r.ok) return this.#remember(id, { kind: "absent", reason: "http_status" });
    if (body === undefined) return this.#remember(id, { kind: "absent", reason: "malformed" });
    let container: ApiContainer;
    try {
      container = parseInspect(body, this.#flavor);
    } catch (err) {
      if (!(err instanceof MetadataParseError)) throw err;
      return this.#remember(id, { kind: "absent", reason: "malformed" });
    }
    // The API resolves names and id prefixes too: only the very container will do.
    if (container.id !== id) return this.#remember(id, { kind: "absent", reason: "malformed" });
    return this.#remember(id, { kind: "found", container });
  }

  #remember(id: string, result: InspectResult): InspectResult {
    if (result.kind === "absent") this.#o.onError?.(result.reason);
    if (this.#closed) return result;
    this.#cache.delete(id);
    this.#cache.set(id, { at: this.#now(), result });
    for (const key of this.#cache.keys()) {
      if (this.#cache.size <= this.#cacheMax) break;
      this.#cache.delete(key);
    }
    return result;
  }

  /** The socket, not the container, is the problem: count it and back off. */
  #socketFailed(reason: ApiErrorReason, err: unknown): InspectResult {
    if (this.#closed) return { kind: "unavailable", reason };
    this.#o.onError?.(reason);
    this.#backoffMs = this.#backoffMs === 0
      ? this.#backoffMin
      : Math.min(this.#backoffMs * 2, this.#backoffMax);
    this.#downUntil = this.#now() + this.#backoffMs;
    // A fresh connection pool next time: the daemon may have been restarted.
    this.#client?.close();
    this.#client = undefined;
    if (!this.#down) {
      this.#down = true;
      this.#o.onDown?.(reason, describe(err), this.#backoffMs);
    }
    return { kind: "unavailable", reason };
  }

  #socketOk(): void {
    this.#backoffMs = 0;
    this.#downUntil = 0;
    if (this.#down) {
      this.#down = false;
      this.#o.onUp?.();
    }
  }
}
