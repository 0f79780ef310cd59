/**
 * The `--listen` address: parsing `host:port` strings and printing them back.
 *
 * @module
 */

/** A host and port to listen on. */
export interface ListenAddress {
  /** IPv4/IPv6 address or host name, without brackets. */
  hostname: string;
  /** TCP port, 0–65535 (0 lets the kernel pick). */
  port: number;
}

const BRACKETED_REGEXP = /^\[([^\]]+)\]:(\d+)$/;
const PLAIN_REGEXP = /^([^:\[\]]*):(\d+)$/;

/**
 * Parses `0.0.0.0:80`, `127.0.0.1:9100`, `[::]:80`, `[::1]:9100`, `localhost:9100` or
 * `:9100`. An empty host means every IPv4 interface (`0.0.0.0`, Deno's default), as the
 * `:80` default of coroot-node-agent means every interface.
 *
 * @throws {TypeError} on a malformed address (a bare IPv6 address needs brackets).
 * @throws {RangeError} on a port above 65535.
 */
export function parseListen(address: string): ListenAddress {
  const s = address.trim();
  const m = BRACKETED_REGEXP.exec(s) ?? PLAIN_REGEXP.exec(s);
  if (m === null) {
    throw new TypeError(
      `Invalid listen address "${address}": expected host:port, [ipv6]:port or :port`,
    );
  }
  const port = Number(m[2]);
  if (port > 65535) {
    throw new RangeError(`Invalid listen address "${address}": port ${port} is above 65535`);
  }
  return { hostname: m[1] === "" ? "0.0.0.0" : m[1], port };
}

/** Prints an address as `host:port`, bracketing IPv6 hosts (`[::]:80`). */
export function formatListen(addr: ListenAddress): string {
  return addr.hostname.includes(":")
    ? `[${addr.hostname}]:${addr.port}`
    : `${addr.hostname}:${addr.port}`;
}
