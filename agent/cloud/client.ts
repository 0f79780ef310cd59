/**
 * What every provider's client is built on: requests against one base URL through a
 * {@linkcode MetadataHttp}, each with the module's deadline and counted, and the checks that
 * turn an answer into a value or a {@linkcode CloudMetadataError}.
 *
 * @module
 */
import type { Provider } from "./detect.ts";
import type { CloudInfo } from "./info.ts";
import { CloudMetadataError } from "./http_client.ts";
import type { MetadataHttp, MetadataResponse } from "./http_client.ts";

/** Options of a {@linkcode MetadataClient}. */
export interface MetadataClientOptions {
  readonly http: MetadataHttp;
  /** Deadline of each request, in ms. */
  readonly timeoutMs: number;
  /** Aborts the request in flight. */
  readonly signal?: AbortSignal;
  /** Called once per request sent (`osprey_cloud_metadata_requests_total`). */
  readonly onRequest?: () => void;
}

/** A request relative to the client's base URL. */
export interface ClientRequest {
  readonly method?: "GET" | "PUT";
  /** Path and query, starting with `/`. */
  readonly path: string;
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: string;
}

/** Longest label value taken from a metadata service. */
export const MAX_VALUE_LENGTH = 256;

/**
 * A metadata value as a label value: trimmed, printable ASCII only (every documented value is:
 * IDs, names, zones, addresses), at most {@linkcode MAX_VALUE_LENGTH} characters.
 *
 * @throws {CloudMetadataError} `bad_response` for anything else, naming the field.
 */
export function checkValue(field: string, value: unknown): string {
  if (value === undefined || value === null) return "";
  if (typeof value !== "string" && typeof value !== "number") {
    throw new CloudMetadataError("bad_response", `${field}: not a text value`);
  }
  const v = String(value).trim();
  if (v.length > MAX_VALUE_LENGTH || !/^[\x20-\x7e]*$/.test(v)) {
    throw new CloudMetadataError(
      "bad_response",
      `${field}: not a printable value of at most ${MAX_VALUE_LENGTH} characters`,
    );
  }
  return v;
}

/** Like {@linkcode checkValue}, and empty is an error too. */
export function requireValue(field: string, value: unknown): string {
  const v = checkValue(field, value);
  if (v === "") throw new CloudMetadataError("bad_response", `${field}: missing or empty`);
  return v;
}

/** Parses a JSON body; `bad_response` when it is not JSON or not an object. */
export function parseJsonObject(what: string, body: string): Record<string, unknown> {
  let v: unknown;
  try {
    v = JSON.parse(body);
  } catch (err) {
    throw new CloudMetadataError("bad_response", `${what}: not JSON`, { cause: err });
  }
  if (typeof v !== "object" || v === null || Array.isArray(v)) {
    throw new CloudMetadataError("bad_response", `${what}: not a JSON object`);
  }
  return v as Record<string, unknown>;
}

/** The object at `key` of `o`, or {} when absent or not an object. */
export function objectAt(o: unknown, key: string): Record<string, unknown> {
  if (typeof o !== "object" || o === null) return {};
  const v = (o as Record<string, unknown>)[key];
  return typeof v === "object" && v !== null && !Array.isArray(v)
    ? v as Record<string, unknown>
    : {};
}

/** The first element of the array at `key` of `o`, or {}. */
export function firstAt(o: unknown, key: string): Record<string, unknown> {
  if (typeof o !== "object" || o === null) return {};
  const v = (o as Record<string, unknown>)[key];
  return Array.isArray(v) && typeof v[0] === "object" && v[0] !== null
    ? v[0] as Record<string, unknown>
    : {};
}

/** Requests against one base URL. */
export class MetadataClient {
  /** Base URL without a trailing slash, e.g. `http://169.254.169.254`. */
  readonly base: string;
  readonly #opts: MetadataClientOptions;

  constructor(base: string, opts: MetadataClientOptions) {
    this.base = base.replace(/\/+$/, "");
    this.#opts = opts;
  }

  /** Sends a request and returns the whole answer, whatever its status. */
  send(req: ClientRequest): Promise<MetadataResponse> {
    this.#opts.onRequest?.();
    return this.#opts.http({
      method: req.method ?? "GET",
      url: this.base + req.path,
      headers: req.headers,
      body: req.body,
    }, { timeoutMs: this.#opts.timeoutMs, signal: this.#opts.signal });
  }

  /**
   * The body of a 200 answer. With `optional`, a 404 is "" (a value the instance does not
   * have, such as a public address).
   *
   * @throws {CloudMetadataError} `http_status` for any other status.
   */
  async body(req: ClientRequest & { readonly optional?: boolean }): Promise<string> {
    const res = await this.send(req);
    if (res.status === 200) return res.body;
    if (res.status === 404 && req.optional) return "";
    throw new CloudMetadataError(
      "http_status",
      `${req.method ?? "GET"} ${this.base}${req.path} answered ${res.status}`,
    );
  }
}

/** A provider's client: where its service is and how to ask it. */
export interface ProviderClient {
  readonly provider: Provider;
  /** Base URLs tried in order (IBM: http, then https); the first that answers wins. */
  readonly bases: readonly string[];
  /** Asks the service everything `node_cloud_info` needs. */
  fetch(c: MetadataClient): Promise<CloudInfo>;
}
