/**
 * Which protocol a request capture belongs to, in the reference's detection order (contract
 * §3.5: HTTP, Postgres, Redis, Memcached, MySQL, ..., HTTP/2, ..., DNS; the protocols between
 * are not implemented), and the status of the capture that answers it. A convenience over the
 * per-protocol files for the code that matches requests to responses.
 *
 * @module
 */

import { dnsQueryId, dnsResponseHeader, dnsStatusLabel, type DnsTransport } from "./dns.ts";
import { http1ResponseStatus, isHttp1Request } from "./http1.ts";
import { looksLikeHttp2 } from "./http2.ts";
import { isMemcachedRequest, memcachedResponseStatus } from "./memcached.ts";
import { type MysqlRequestKind, mysqlRequestKind, mysqlResponse } from "./mysql.ts";
import {
  type PostgresRequestKind,
  postgresRequestKind,
  postgresResponseStatus,
} from "./postgres.ts";
import { isRedisRequest, redisResponseStatus } from "./redis.ts";
import { httpStatusClass } from "./status.ts";

/** A request capture, classified. */
export type DetectedRequest =
  | { protocol: "http" }
  | { protocol: "postgres"; kind: PostgresRequestKind }
  | { protocol: "redis" }
  | { protocol: "memcached" }
  | { protocol: "mysql"; kind: MysqlRequestKind }
  | { protocol: "http2" }
  | { protocol: "dns"; id: number };

const HTTP: DetectedRequest = Object.freeze({ protocol: "http" });
const REDIS: DetectedRequest = Object.freeze({ protocol: "redis" });
const MEMCACHED: DetectedRequest = Object.freeze({ protocol: "memcached" });
const HTTP2: DetectedRequest = Object.freeze({ protocol: "http2" });

/**
 * Classifies the capture of a request (written by a client, or read by a server), or null.
 *
 * @param buf the captured bytes (the start of the syscall's buffer)
 * @param totalLength the syscall's whole byte count
 * @param transport `udp` (the default) or `tcp`, for DNS (TCP puts a 2-byte length first)
 */
export function detectRequest(
  buf: Uint8Array,
  totalLength: number = buf.length,
  transport: DnsTransport = "udp",
): DetectedRequest | null {
  if (isHttp1Request(buf)) return HTTP;
  const pg = postgresRequestKind(buf, totalLength);
  if (pg !== null) return { protocol: "postgres", kind: pg };
  if (isRedisRequest(buf)) return REDIS;
  if (isMemcachedRequest(buf, totalLength)) return MEMCACHED;
  const my = mysqlRequestKind(buf, totalLength);
  if (my !== null) return { protocol: "mysql", kind: my };
  if (looksLikeHttp2(buf, "client")) return HTTP2;
  const id = dnsQueryId(buf, transport);
  if (id >= 0) return { protocol: "dns", id };
  return null;
}

/**
 * The `status` label of the capture that answers `request` (read by a client, written by a
 * server), or null when it is not an answer (the reference then drops the request uncounted).
 * HTTP/2 is not answered capture by capture: use {@linkcode Http2Connection}. DNS gives `""` for
 * RCODEs above 5 (not counted); a DNS answer with another ID is not this request's.
 */
export function responseStatus(
  request: DetectedRequest,
  buf: Uint8Array,
  totalLength: number = buf.length,
  transport: DnsTransport = "udp",
): string | null {
  switch (request.protocol) {
    case "http": {
      const code = http1ResponseStatus(buf);
      return code < 0 ? null : httpStatusClass(code);
    }
    case "postgres":
      return postgresResponseStatus(buf, totalLength);
    case "redis":
      return redisResponseStatus(buf);
    case "memcached":
      return memcachedResponseStatus(buf, totalLength);
    case "mysql":
      return mysqlResponse(buf, request.kind)?.status ?? null;
    case "dns": {
      const h = dnsResponseHeader(buf, transport);
      return h === null || h.id !== request.id ? null : dnsStatusLabel(h.rcode);
    }
    case "http2":
      return null;
  }
}
