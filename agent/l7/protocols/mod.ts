/**
 * Pure L7 protocol code (contract §2.4, §3.5): detection of requests and responses in captured
 * payload prefixes, status values, and the request summaries traces carry. No I/O and no BPF:
 * every function takes bytes (at most about 1 KiB, possibly cut anywhere) and never throws on
 * them; the errors a caller can see are declared on each function (bad flag values, bad options).
 *
 * @module
 */

export * from "./status.ts";
export * from "./http1.ts";
export * from "./path_glob.ts";
export * from "./dns.ts";
export * from "./postgres.ts";
export * from "./mysql.ts";
export * from "./redis.ts";
export * from "./memcached.ts";
export * from "./hpack.ts";
export * from "./http2.ts";
export * from "./detect.ts";
