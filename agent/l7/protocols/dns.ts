/**
 * DNS (RFC 1035 §4) as the reference reads it (contract §2.4, §2.6, §3.5): which datagrams or TCP
 * messages are queries and responses, the response's question and A/AAAA answers, the
 * `request_type`, `domain` and `status` label values, and the rule that drops empty AAAA
 * answers. Pure functions over captured bytes; none throws, whatever the bytes.
 *
 * @module
 */

import { formatIpv6 } from "../../ip_text.ts";
import { text, u16be } from "./_bytes.ts";

/** How a message travels: UDP datagrams hold one message; TCP puts a 2-byte length before each. */
export type DnsTransport = "udp" | "tcp";

const HEADER = 12;

function base(transport: DnsTransport): number {
  return transport === "tcp" ? 2 : 0;
}

/**
 * The ID of the DNS query at the start of `buf` (0 to 65535), or -1 when `buf` is not one: the
 * header must be complete, QR = 0 (a query), OPCODE = 0 (a standard query) and QDCOUNT = 1, the
 * reference's test. The ID is what a response is matched by on the same socket.
 */
export function dnsQueryId(buf: Uint8Array, transport: DnsTransport = "udp"): number {
  const b = base(transport);
  if (buf.length < b + 6) return -1;
  const flags = buf[b + 2];
  if ((flags & 0x80) !== 0 || (flags & 0x78) !== 0) return -1;
  if (u16be(buf, b + 4) !== 1) return -1;
  return u16be(buf, b);
}

/** What the header of a response says: its ID (to match the query) and its RCODE. */
export interface DnsResponseHeader {
  id: number;
  /** RFC 1035 RCODE, 0 to 15; {@linkcode dnsStatusLabel} names 0 to 5. */
  rcode: number;
}

/**
 * The header of the DNS response at the start of `buf`, or null when `buf` is not one: QR = 1,
 * OPCODE = 0 and QDCOUNT = 1, as the reference tests it.
 */
export function dnsResponseHeader(
  buf: Uint8Array,
  transport: DnsTransport = "udp",
): DnsResponseHeader | null {
  const b = base(transport);
  if (buf.length < b + 6) return null;
  const flags = buf[b + 2];
  if ((flags & 0x80) === 0 || (flags & 0x78) !== 0) return null;
  if (u16be(buf, b + 4) !== 1) return null;
  return { id: u16be(buf, b), rcode: buf[b + 3] & 0x0f };
}

const STATUS = ["ok", "format_error", "servfail", "nxdomain", "not_implemented", "refused"];

/**
 * The `status` label of a response's RCODE: `ok` (0), `format_error`, `servfail`, `nxdomain`,
 * `not_implemented`, `refused` (5), or `""` for any other RCODE, which the reference does not
 * count.
 */
export function dnsStatusLabel(rcode: number): string {
  return STATUS[rcode] ?? "";
}

const TYPE_NAMES: Record<number, string> = {
  1: "TypeA",
  2: "TypeNS",
  5: "TypeCNAME",
  6: "TypeSOA",
  11: "TypeWKS",
  12: "TypePTR",
  13: "TypeHINFO",
  14: "TypeMINFO",
  15: "TypeMX",
  16: "TypeTXT",
  28: "TypeAAAA",
  33: "TypeSRV",
  41: "TypeOPT",
  64: "TypeSVCB",
  65: "TypeHTTPS",
  252: "TypeAXFR",
  255: "TypeALL",
};

/**
 * The `request_type` label of a question type: the reference's names (`TypeA`, `TypeAAAA`,
 * `TypePTR`, `TypeSRV`, `TypeHTTPS`, ...; Go's `dnsmessage.Type` names) and the decimal number
 * for any other type (`"99"`).
 */
export function dnsTypeName(qtype: number): string {
  return TYPE_NAMES[qtype] ?? String(qtype);
}

/** The question and answers of a response, as `container_dns_requests_total` and `ip_to_fqdn` use them. */
export interface DnsResponse {
  id: number;
  rcode: number;
  /** The `request_type` label ({@linkcode dnsTypeName} of the question type). */
  requestType: string;
  /** The question name without its final dot (`example.com`; `""` for the root). */
  name: string;
  /**
   * The addresses of every A and AAAA answer, in order (dotted quads; IPv6 as RFC 5952 text,
   * `::ffff:a.b.c.d` for v4-mapped ones), whatever name the record is for (CNAME chains).
   */
  ips: string[];
  /** Whether the answer section ended before ANCOUNT records (a cut capture); `ips` has those read. */
  truncated: boolean;
}

/** Most compression pointers followed in one name (Go's `dnsmessage` gives up after 10). */
const MAX_POINTERS = 10;
/** Longest name in wire form (RFC 1035 §3.1). */
const MAX_NAME = 255;

/**
 * Reads the name at `at` of the message that starts at `msg`. Returns the offset after the name
 * in the record (after its first pointer, if any), or -1 when the name is cut, loops, points
 * forward past the end, uses the reserved label types or is longer than 255 bytes. With `labels`,
 * the labels are pushed onto it.
 */
function readName(buf: Uint8Array, msg: number, at: number, labels: string[] | null): number {
  let pos = at;
  let end = -1;
  let pointers = 0;
  let length = 0;
  for (;;) {
    if (pos >= buf.length) return -1;
    const c = buf[pos];
    if (c === 0) {
      if (end < 0) end = pos + 1;
      return length + 1 > MAX_NAME ? -1 : end;
    }
    const kind = c & 0xc0;
    if (kind === 0xc0) {
      if (pos + 1 >= buf.length) return -1;
      if (++pointers > MAX_POINTERS) return -1;
      if (end < 0) end = pos + 2;
      pos = msg + (((c & 0x3f) << 8) | buf[pos + 1]);
      continue;
    }
    if (kind !== 0) return -1;
    length += c + 1;
    if (length > MAX_NAME) return -1;
    if (pos + 1 + c > buf.length) return -1;
    if (labels) labels.push(text(buf, pos + 1, pos + 1 + c));
    pos += 1 + c;
  }
}

/**
 * Parses a DNS response (`buf` as captured, from its first byte; for TCP from the length prefix)
 * into its first question and its A/AAAA answers. Returns null when `buf` is not a response
 * ({@linkcode dnsResponseHeader}) or the question is cut or malformed. An answer section cut short
 * gives the answers read so far and `truncated: true`; a malformed answer ends the section the
 * same way.
 *
 * Unlike the reference, which unpacks the whole message with Go's `dnsmessage` and ignores a
 * response that does not unpack (a cut capture of a long answer, a malformed authority record),
 * the authority and additional sections are not read, so such responses still count.
 */
export function parseDnsResponse(
  buf: Uint8Array,
  transport: DnsTransport = "udp",
): DnsResponse | null {
  const h = dnsResponseHeader(buf, transport);
  if (h === null) return null;
  const msg = base(transport);
  if (buf.length < msg + HEADER) return null;
  const ancount = u16be(buf, msg + 6);
  const labels: string[] = [];
  let pos = readName(buf, msg, msg + HEADER, labels);
  if (pos < 0 || pos + 4 > buf.length) return null;
  const qtype = u16be(buf, pos);
  pos += 4;
  const ips: string[] = [];
  let truncated = false;
  for (let n = 0; n < ancount; n++) {
    pos = readName(buf, msg, pos, null);
    if (pos < 0 || pos + 10 > buf.length) {
      truncated = true;
      break;
    }
    const type = u16be(buf, pos);
    const rdlength = u16be(buf, pos + 8);
    pos += 10;
    if (pos + rdlength > buf.length) {
      truncated = true;
      break;
    }
    if (type === 1 && rdlength === 4) {
      ips.push(`${buf[pos]}.${buf[pos + 1]}.${buf[pos + 2]}.${buf[pos + 3]}`);
    } else if (type === 28 && rdlength === 16) {
      ips.push(ipv6Text(buf, pos));
    }
    pos += rdlength;
  }
  return {
    id: h.id,
    rcode: h.rcode,
    requestType: dnsTypeName(qtype),
    name: labels.join("."),
    ips,
    truncated,
  };
}

function ipv6Text(buf: Uint8Array, at: number): string {
  let mapped = buf[at + 10] === 0xff && buf[at + 11] === 0xff;
  for (let i = 0; mapped && i < 10; i++) if (buf[at + i] !== 0) mapped = false;
  if (mapped) return `::ffff:${buf[at + 12]}.${buf[at + 13]}.${buf[at + 14]}.${buf[at + 15]}`;
  let hex = "";
  for (let i = 0; i < 16; i++) hex += (buf[at + i] < 16 ? "0" : "") + buf[at + i].toString(16);
  return formatIpv6(hex);
}

/**
 * Whether a response is left out of `container_dns_requests_total` and its histogram: an AAAA
 * question answered `ok` with no address (the reference drops these, as they usually run beside
 * an A lookup and add no latency of their own).
 */
export function isDroppedDnsResponse(
  r: Pick<DnsResponse, "requestType" | "rcode" | "ips">,
): boolean {
  return r.requestType === "TypeAAAA" && r.rcode === 0 && r.ips.length === 0;
}

const SEARCH_TLDS = new Set(["com", "net", "org", "io"]);

/**
 * The `domain` label of a question name (contract §2.4): every PTR question is
 * `IP.in-addr.arpa`; `ip-<anything>.ec2<rest>` becomes `IP.ec2<rest>`; a name with a `com`,
 * `net`, `org` or `io` label that is neither its first nor its last is cut after that label and
 * gets `.search_path_suffix` (`example.com.svc.cluster.local` →
 * `example.com.search_path_suffix`); any other name is kept.
 */
export function normalizeDomain(name: string, requestType: string): string {
  if (requestType === "TypePTR") return "IP.in-addr.arpa";
  if (name.startsWith("ip-")) {
    const dot = name.indexOf(".");
    if (dot > 0 && name.startsWith("ec2", dot + 1)) return "IP.ec2" + name.slice(dot + 4);
  }
  let labelStart = 0;
  let labels = 0;
  for (let i = 0; i < name.length; i++) {
    if (name.charCodeAt(i) !== 0x2e) continue;
    if (labels > 0 && SEARCH_TLDS.has(name.slice(labelStart, i))) {
      return name.slice(0, i) + ".search_path_suffix";
    }
    labelStart = i + 1;
    labels++;
  }
  return name;
}

/** The `domain` value that stands for every name beyond a container's cap. */
export const OTHER_DOMAIN = "~other";

/**
 * A container's `--max-fqdns-per-container` cap on distinct `domain` values: the first `max`
 * names keep their label, later new ones read `~other`. The empty name never counts against
 * the cap. Memory: at most `max` names.
 */
export class DomainCap {
  readonly #max: number;
  readonly #seen = new Set<string>();
  /** How many lookups were labelled `~other`. */
  overflowed = 0;

  /**
   * @param max distinct names kept (0 puts every non-empty name under `~other`)
   * @throws {RangeError} when `max` is not a non-negative integer
   */
  constructor(max: number) {
    if (!Number.isInteger(max) || max < 0) {
      throw new RangeError(`The FQDN cap must be a non-negative integer, got ${max}`);
    }
    this.#max = max;
  }

  /** The label for `domain` (already normalised): itself, or `~other` once the cap is full. */
  label(domain: string): string {
    if (domain === "" || this.#seen.has(domain)) return domain;
    if (this.#seen.size < this.#max) {
      this.#seen.add(domain);
      return domain;
    }
    this.overflowed++;
    return OTHER_DOMAIN;
  }

  /** How many distinct names hold their own label. */
  get size(): number {
    return this.#seen.size;
  }
}
