/**
 * IP addresses as the C library's records carry them: 16 bytes, IPv6 as is and IPv4 as
 * IPv4-mapped IPv6 (`::ffff:a.b.c.d`), in network order. One parser and one formatter for
 * every record type (ping targets, NAT queries and results, TCP records).
 *
 * @module
 */

/** A parsed IP address. */
export interface IpAddress {
  /** 4 for IPv4 (including IPv4-mapped IPv6 text), 6 for IPv6. */
  family: 4 | 6;
  /** 16 bytes in network order; IPv4 as ::ffff:a.b.c.d. */
  bytes: Uint8Array;
  /** Interface index of an IPv6 zone ("fe80::1%3"), else 0. */
  scopeId: number;
}

const HEX_GROUP_RE = /^[0-9a-fA-F]{1,4}$/;

/**
 * Dotted-quad IPv4 ("10.0.0.1"): four decimal parts of one to three digits, each at most 255,
 * no leading zeros (some parsers read those as octal). A character scan, not a regular
 * expression: the network module parses an address per connection.
 */
function parseV4(text: string, out: Uint8Array, at: number): boolean {
  const n = text.length;
  if (n < 7 || n > 15) return false;
  let addr = 0, parts = 0, value = 0, digits = 0;
  for (let i = 0; i <= n; i++) {
    const c = i < n ? text.charCodeAt(i) : 0x2e; // the end closes the last part like a dot
    if (c >= 0x30 && c <= 0x39) {
      if (digits === 1 && value === 0) return false; // a leading zero
      if (++digits > 3) return false;
      value = value * 10 + (c - 0x30);
    } else if (c === 0x2e) {
      if (digits === 0 || value > 255 || parts === 4) return false;
      addr = addr * 256 + value;
      parts++;
      value = digits = 0;
    } else return false;
  }
  if (parts !== 4) return false;
  out[at] = addr >>> 24;
  out[at + 1] = (addr >>> 16) & 0xff;
  out[at + 2] = (addr >>> 8) & 0xff;
  out[at + 3] = addr & 0xff;
  return true;
}

/** Groups of one side of "::"; false when malformed. */
function parseGroups(text: string, out: number[], allowV4Tail: boolean): boolean {
  if (text === "") return true;
  const parts = text.split(":");
  for (let k = 0; k < parts.length; k++) {
    const part = parts[k];
    if (k === parts.length - 1 && allowV4Tail && part.includes(".")) {
      const v4 = new Uint8Array(4);
      if (!parseV4(part, v4, 0)) return false;
      out.push(v4[0] << 8 | v4[1], v4[2] << 8 | v4[3]);
      return true;
    }
    if (!HEX_GROUP_RE.test(part)) return false;
    out.push(parseInt(part, 16));
  }
  return true;
}

/**
 * Parse an IPv4 or IPv6 address literal ("10.0.0.1", "fd00::1",
 * "::ffff:10.0.0.1", "fe80::1%3"). IPv4-mapped IPv6 addresses count as IPv4.
 * A zone must be a numeric interface index: names mean nothing in another
 * network namespace.
 *
 * @param text the literal
 * @returns the address, or undefined when `text` is not one
 */
export function parseIpAddress(text: string): IpAddress | undefined {
  const bytes = new Uint8Array(16);
  if (parseV4(text, bytes, 12)) {
    bytes[10] = bytes[11] = 0xff;
    return { family: 4, bytes, scopeId: 0 };
  }
  let scopeId = 0;
  let addr = text;
  const pct = text.indexOf("%");
  if (pct >= 0) {
    const zone = text.slice(pct + 1);
    if (!/^\d{1,10}$/.test(zone) || Number(zone) > 0xffffffff) return undefined;
    scopeId = Number(zone);
    addr = text.slice(0, pct);
  }
  const halves = addr.split("::");
  if (halves.length > 2) return undefined;
  const head: number[] = [];
  const tail: number[] = [];
  if (!parseGroups(halves[0], head, halves.length === 1)) return undefined;
  if (halves.length === 2 && !parseGroups(halves[1], tail, true)) return undefined;
  const groups = head.length + tail.length;
  if (halves.length === 1 ? groups !== 8 : groups > 7) return undefined;
  for (let k = 0; k < head.length; k++) {
    bytes[2 * k] = head[k] >> 8;
    bytes[2 * k + 1] = head[k] & 0xff;
  }
  for (let k = 0; k < tail.length; k++) {
    const at = 16 - 2 * (tail.length - k);
    bytes[at] = tail[k] >> 8;
    bytes[at + 1] = tail[k] & 0xff;
  }
  const mapped = bytes.subarray(0, 10).every((b) => b === 0) && bytes[10] === 0xff &&
    bytes[11] === 0xff;
  if (mapped) return scopeId === 0 ? { family: 4, bytes, scopeId: 0 } : undefined;
  return { family: 6, bytes, scopeId };
}

/**
 * A textual IPv4 or IPv6 address as 16 bytes: IPv6 as is, IPv4 as IPv4-mapped IPv6.
 *
 * @param addr "10.0.0.1", "fd00::1", "::ffff:10.0.0.1"; no brackets, no zone
 * @param out 16 bytes to fill (default: a new array)
 * @returns out
 * @throws {TypeError} when addr is not an address (or carries a zone)
 */
export function addressBytes(addr: string, out: Uint8Array = new Uint8Array(16)): Uint8Array {
  const a = parseIpAddress(addr);
  if (a === undefined || a.scopeId !== 0) {
    throw new TypeError(`Cannot parse "${addr}" as an IP address`);
  }
  out.set(a.bytes);
  return out;
}

/**
 * IPv4 texts by address: records carry the same few addresses over and over, and one string
 * each (not a new one per record) spares the garbage collector and lets maps keyed by it reuse
 * its hash. Emptied when it reaches its bound.
 */
const v4Texts = new Map<number, string>();
const V4_TEXTS_MAX = 4096;

/**
 * 16 address bytes as text: IPv4-mapped addresses as dotted IPv4, others
 * as RFC 5952 IPv6 (lower case, the longest run of two or more zero groups
 * as `::`).
 *
 * @param bytes the buffer
 * @param offset where the 16 bytes start
 * @returns "10.0.0.1" or "fd00::1"
 */
export function formatAddress(bytes: Uint8Array, offset = 0): string {
  let mapped = bytes[offset + 10] === 0xff && bytes[offset + 11] === 0xff;
  for (let i = 0; mapped && i < 10; i++) mapped = bytes[offset + i] === 0;
  if (mapped) {
    const v4 = bytes[offset + 12] * 0x1000000 +
      ((bytes[offset + 13] << 16) | (bytes[offset + 14] << 8) | bytes[offset + 15]);
    let text = v4Texts.get(v4);
    if (text === undefined) {
      text = `${bytes[offset + 12]}.${bytes[offset + 13]}.${bytes[offset + 14]}.${
        bytes[offset + 15]
      }`;
      if (v4Texts.size >= V4_TEXTS_MAX) v4Texts.clear();
      v4Texts.set(v4, text);
    }
    return text;
  }
  const words: number[] = [];
  for (let i = 0; i < 8; i++) words.push((bytes[offset + 2 * i] << 8) | bytes[offset + 2 * i + 1]);
  let bestAt = -1, bestLen = 1;
  for (let i = 0; i < 8;) {
    if (words[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && words[j] === 0) j++;
    if (j - i > bestLen) [bestAt, bestLen] = [i, j - i];
    i = j;
  }
  const hex = (ws: number[]) => ws.map((w) => w.toString(16)).join(":");
  if (bestAt < 0) return hex(words);
  return `${hex(words.slice(0, bestAt))}::${hex(words.slice(bestAt + bestLen))}`;
}
