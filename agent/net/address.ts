/**
 * IP addresses as the network module sees them: text in the forms the decoders write
 * (dotted IPv4, also for IPv4-mapped IPv6; RFC 5952 IPv6), parsed to 16 bytes for the
 * contract's classification (loopback, link-local, private) and prefix matching.
 *
 * Classes follow Go's `netip`/`netaddr`, which the reference uses (reference §2.3,
 * `common/net.go`): private is 10/8, 172.16/12, 192.168/16 and fc00::/7 (RFC 1918, RFC 4193),
 * plus the reference's own 100.64/10 (RFC 6598 shared address space); link-local unicast is
 * 169.254/16 and fe80::/10; loopback is 127/8 and ::1.
 *
 * @module
 */

import { parseIpAddress } from "../../ffi/mod.ts";

/** 16 bytes: IPv6, or IPv4-mapped IPv6 (`::ffff:a.b.c.d`). */
export type Ip16 = Uint8Array;

/** Parsed addresses by text (`null`: not an address), emptied when it reaches its bound. */
const parsed = new Map<string, Ip16 | null>();
const PARSED_MAX = 4096;

/**
 * Parses dotted IPv4 or IPv6 text (the C library's parser: no zones here); undefined when it is
 * neither. Remembers the last few thousand texts: the module parses the same few addresses for
 * every connection (its filters, NAT lookups), so the bytes returned are shared: read them only.
 */
export function parseIp(text: string): Ip16 | undefined {
  let ip = parsed.get(text);
  if (ip === undefined) {
    const a = parseIpAddress(text);
    ip = a === undefined || a.scopeId !== 0 ? null : a.bytes;
    if (parsed.size >= PARSED_MAX) parsed.clear();
    parsed.set(text, ip);
  }
  return ip ?? undefined;
}

/** Whether the address is IPv4 (IPv4-mapped). */
export function isV4(ip: Ip16): boolean {
  for (let i = 0; i < 10; i++) if (ip[i] !== 0) return false;
  return ip[10] === 0xff && ip[11] === 0xff;
}

/** 127/8, ::1. */
export function isLoopback(ip: Ip16): boolean {
  if (isV4(ip)) return ip[12] === 127;
  for (let i = 0; i < 15; i++) if (ip[i] !== 0) return false;
  return ip[15] === 1;
}

/** 169.254/16, fe80::/10. */
export function isLinkLocalUnicast(ip: Ip16): boolean {
  if (isV4(ip)) return ip[12] === 169 && ip[13] === 254;
  return ip[0] === 0xfe && (ip[1] & 0xc0) === 0x80;
}

/** 0.0.0.0, ::. */
export function isUnspecified(ip: Ip16): boolean {
  if (isV4(ip)) return ip[12] === 0 && ip[13] === 0 && ip[14] === 0 && ip[15] === 0;
  return ip.every((b) => b === 0);
}

/** 10/8, 172.16/12, 192.168/16, 100.64/10 (the reference adds it), fc00::/7. */
export function isPrivate(ip: Ip16): boolean {
  if (isV4(ip)) {
    const a = ip[12], b = ip[13];
    return a === 10 || (a === 172 && (b & 0xf0) === 16) || (a === 192 && b === 168) ||
      (a === 100 && (b & 0xc0) === 64);
  }
  return (ip[0] & 0xfe) === 0xfc;
}

/** An IP prefix, as `--track-public-network` gives them. */
export interface Prefix {
  readonly ip: Ip16;
  /** Prefix length counted in the 16-byte form (IPv4 /24 is 96 + 24). */
  readonly bits: number;
  /**
   * Whether it was written as an IPv4 network. An IPv6 one (even `::ffff:0:0/96` or `::/0`)
   * holds no IPv4 address, as in Go's netip, which the reference's filter uses.
   */
  readonly v4: boolean;
}

/**
 * Parses `address/bits` (IPv4 or IPv6) into a {@linkcode Prefix}; throws SyntaxError for
 * anything else (the flag parser has checked the syntax already). Takes what that check takes
 * (netaddr's syntax): leading zeros in IPv4 fields (decimal, `010` is 10) and in IPv6 groups
 * (`00001`), a zone (ignored), a signed prefix length (`+8`).
 */
export function parsePrefix(text: string): Prefix {
  const slash = text.lastIndexOf("/");
  const address = text.slice(0, slash).replace(/%.*$/, "").replace(
    /(^|[.:])0+(?=[0-9a-f])/gi,
    "$1",
  );
  const ip = slash < 0 ? undefined : parseIp(address);
  const bitsText = text.slice(slash + 1);
  const bits = /^[+-]?[0-9]+$/.test(bitsText) ? Number(bitsText) : NaN;
  if (ip === undefined || !Number.isInteger(bits)) {
    throw new SyntaxError(`Cannot parse network "${text}"`);
  }
  const v4 = !text.slice(0, slash).includes(":");
  if (bits < 0 || bits > (v4 ? 32 : 128)) throw new SyntaxError(`Bad prefix length in "${text}"`);
  return { ip, bits: v4 ? 96 + bits : bits, v4 };
}

/** Whether `ip` is inside `p` (an IPv4 prefix holds only IPv4 addresses, an IPv6 one only IPv6). */
export function prefixContains(p: Prefix, ip: Ip16): boolean {
  if (p.v4 !== isV4(ip)) return false;
  let bits = p.bits;
  for (let i = 0; i < 16 && bits > 0; i++, bits -= 8) {
    const mask = bits >= 8 ? 0xff : (0xff << (8 - bits)) & 0xff;
    if ((p.ip[i] & mask) !== (ip[i] & mask)) return false;
  }
  return true;
}

/** `ip:port` or `[ip]:port`, the reference's `net.JoinHostPort` form for label values. */
export function joinHostPort(ip: string, port: number): string {
  return ip.includes(":") ? `[${ip}]:${port}` : `${ip}:${port}`;
}
