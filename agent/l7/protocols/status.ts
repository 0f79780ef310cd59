/**
 * The status label values of the L7 families (contract §2.4): HTTP classes, gRPC code names and
 * the `ok`/`failed`/`unknown` outcome of the other protocols.
 *
 * @module
 */

/** The `status` label of the Postgres, MySQL, Redis and Memcached families. */
export type QueryStatus = "ok" | "failed" | "unknown";

/** The `status` label of an HTTP request: its class, or `unknown` outside 100 to 599. */
export type HttpStatusClass = "1xx" | "2xx" | "3xx" | "4xx" | "5xx" | "unknown";

/**
 * The class of an HTTP status code as the reference labels it: `1xx` for 100 to 199, ...,
 * `5xx` for 500 to 599, `unknown` for anything else (0 when no status was read).
 */
export function httpStatusClass(code: number): HttpStatusClass {
  if (code >= 100 && code < 200) return "1xx";
  if (code >= 200 && code < 300) return "2xx";
  if (code >= 300 && code < 400) return "3xx";
  if (code >= 400 && code < 500) return "4xx";
  if (code >= 500 && code < 600) return "5xx";
  return "unknown";
}

/** gRPC status code names by number (grpc/grpc `doc/statuscodes.md`). */
const GRPC_CODES = [
  "OK",
  "CANCELLED",
  "UNKNOWN",
  "INVALID_ARGUMENT",
  "DEADLINE_EXCEEDED",
  "NOT_FOUND",
  "ALREADY_EXISTS",
  "PERMISSION_DENIED",
  "RESOURCE_EXHAUSTED",
  "FAILED_PRECONDITION",
  "ABORTED",
  "OUT_OF_RANGE",
  "UNIMPLEMENTED",
  "INTERNAL",
  "UNAVAILABLE",
  "DATA_LOSS",
  "UNAUTHENTICATED",
] as const;

/**
 * The `status` label of a gRPC call: `grpc:<NAME>` for codes 0 to 16 (`grpc:OK`,
 * `grpc:UNAVAILABLE`, ...). Any other number gives `""`, as in the reference, which then
 * counts the request under an empty status.
 */
export function grpcStatusLabel(code: number): string {
  const name = Number.isInteger(code) && code >= 0 ? GRPC_CODES[code] : undefined;
  return name === undefined ? "" : `grpc:${name}`;
}
