/**
 * The DNS messages the L7 module needs (RFC 1035): header, the one question, and the A/AAAA
 * answers (for `ip_to_fqdn`), plus the contract's label values (reference §2.4): the
 * `request_type` (`TypeA`, ...), the `status` from the response code, and the normalised
 * `domain`. Pure; a malformed message gives undefined.
 *
 * @module
 */

/** A parsed DNS message. */
export interface DnsMessage {
  id: number;
  response: boolean;
  rcode: number;
  /** Question type number (1 A, 28 AAAA, 12 PTR, ...). */
  qtype: number;
  /** Question name without the trailing dot, lower case. */
  name: string;
  /** A and AAAA answers: address text. */
  addresses: string[];
  /** Number of answer records of any type. */
  answerCount: number;
}

const TYPE_NAMES: Record<number, string> = {
  1: "TypeA",
  2: "TypeNS",
  5: "TypeCNAME",
  6: "TypeSOA",
  12: "TypePTR",
  15: "TypeMX",
  16: "TypeTXT",
  28: "TypeAAAA",
  33: "TypeSRV",
  35: "TypeNAPTR",
  64: "TypeSVCB",
  65: "TypeHTTPS",
  255: "TypeANY",
};

/** The contract's `request_type` value of a question type. */
export function dnsRequestType(qtype: number): string {
  return TYPE_NAMES[qtype] ?? `Type${qtype}`;
}

const RCODES = ["ok", "format_error", "servfail", "nxdomain", "not_implemented", "refused"];

/** The contract's `status` value of a response code. */
export function dnsStatus(rcode: number): string {
  return RCODES[rcode] ?? "unknown";
}

/** Reads a (possibly compressed) name at `at`: [name, offset past it] or undefined. */
function readName(b: Uint8Array, at: number): [string, number] | undefined {
  const labels: string[] = [];
  let p = at;
  let end = -1;
  for (let jumps = 0; jumps < 16;) {
    if (p >= b.length) return undefined;
    const len = b[p];
    if (len === 0) {
      if (end < 0) end = p + 1;
      return [labels.join(".").toLowerCase(), end];
    }
    if ((len & 0xc0) === 0xc0) {
      if (p + 1 >= b.length) return undefined;
      if (end < 0) end = p + 2;
      p = ((len & 0x3f) << 8) | b[p + 1];
      jumps++;
      continue;
    }
    if ((len & 0xc0) !== 0 || p + 1 + len > b.length) return undefined;
    let s = "";
    for (let i = p + 1; i <= p + len; i++) s += String.fromCharCode(b[i]);
    labels.push(s);
    if (labels.length > 127) return undefined;
    p += 1 + len;
  }
  return undefined;
}

function v6Text(b: Uint8Array, at: number): string {
  const parts: string[] = [];
  for (let i = 0; i < 16; i += 2) parts.push(((b[at + i] << 8) | b[at + i + 1]).toString(16));
  // RFC 5952: the longest run of two or more zero groups becomes ::
  let best = -1, bestLen = 0;
  for (let i = 0; i < 8;) {
    if (parts[i] !== "0") {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && parts[j] === "0") j++;
    if (j - i > bestLen && j - i >= 2) [best, bestLen] = [i, j - i];
    i = j;
  }
  if (best < 0) return parts.join(":");
  return parts.slice(0, best).join(":") + "::" + parts.slice(best + bestLen).join(":");
}

/**
 * Parses a DNS message (UDP payload, or a TCP one without its 2-byte length). Answers cut off
 * by the end of the capture are left out.
 */
export function parseDns(b: Uint8Array): DnsMessage | undefined {
  if (b.length < 12) return undefined;
  const flags = (b[2] << 8) | b[3];
  const qd = (b[4] << 8) | b[5];
  const an = (b[6] << 8) | b[7];
  if (qd !== 1 || ((flags >> 11) & 0xf) !== 0) return undefined;
  const q = readName(b, 12);
  if (q === undefined || q[1] + 4 > b.length) return undefined;
  const [name, qEnd] = q;
  const msg: DnsMessage = {
    id: (b[0] << 8) | b[1],
    response: (flags & 0x8000) !== 0,
    rcode: flags & 0xf,
    qtype: (b[qEnd] << 8) | b[qEnd + 1],
    name,
    addresses: [],
    answerCount: an,
  };
  let p = qEnd + 4;
  for (let i = 0; i < an && msg.response; i++) {
    const r = readName(b, p);
    if (r === undefined || r[1] + 10 > b.length) break;
    p = r[1];
    const type = (b[p] << 8) | b[p + 1];
    const rdlen = (b[p + 8] << 8) | b[p + 9];
    p += 10;
    if (p + rdlen > b.length) break;
    if (type === 1 && rdlen === 4) {
      msg.addresses.push(`${b[p]}.${b[p + 1]}.${b[p + 2]}.${b[p + 3]}`);
    }
    if (type === 28 && rdlen === 16) msg.addresses.push(v6Text(b, p));
    p += rdlen;
  }
  return msg;
}

const SEARCH_TLDS = new Set(["com", "net", "org", "io"]);

/**
 * The contract's `domain` label value: PTR names of reverse zones become `IP.in-addr.arpa` /
 * `IP.ip6.arpa`; EC2 host names `ip-….ec2…` become `IP.ec2…`; a name with a `com`, `net`, `org`
 * or `io` label followed by more labels (a search-path expansion) is cut after that label and
 * given `.search_path_suffix`.
 */
export function normalizeDomain(name: string, qtype: number): string {
  if (qtype === 12) {
    if (name.endsWith(".in-addr.arpa")) return "IP.in-addr.arpa";
    if (name.endsWith(".ip6.arpa")) return "IP.ip6.arpa";
  }
  const labels = name.split(".");
  if (labels.length > 1 && labels[0].startsWith("ip-") && labels[1].startsWith("ec2")) {
    return "IP." + labels.slice(1).join(".");
  }
  for (let i = 1; i < labels.length - 1; i++) {
    if (SEARCH_TLDS.has(labels[i])) {
      return labels.slice(0, i + 1).join(".") + ".search_path_suffix";
    }
  }
  return name;
}
