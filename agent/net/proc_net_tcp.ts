/**
 * `/proc/<pid>/net/tcp` and `/proc/<pid>/net/tcp6`: the TCP sockets of one network namespace
 * (the namespace of the process whose directory is read), as the kernel prints them
 * (`tcp4_seq_show` / `get_tcp4_sock`, `get_timewait4_sock`, `get_openreq4` in
 * net/ipv4/tcp_ipv4.c; the `6` variants in net/ipv6/tcp_ipv6.c; proc(5)).
 *
 * A line after the header is
 *
 *     sl: local rem st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode [more...]
 *
 * - addresses are the in-memory 32-bit words of the address, each printed with `%08X`: on a
 *   little-endian host each group of 8 hex digits shows its 4 bytes reversed (`0100007F` is
 *   127.0.0.1); tcp6 prints its 16 bytes as four such words;
 * - ports are `%04X` in host order (already converted from network order);
 * - `st` is the kernel's `sk_state` in hex (`01` ESTABLISHED, `0A` LISTEN, see
 *   {@linkcode TCP_STATE}); request sockets print `03` (SYN_RECV), time-wait sockets their
 *   sub-state (`06`, or `05` when they stand in for a FIN_WAIT2);
 * - `uid` is decimal, mapped into the reader's user namespace (65534 when unmapped);
 * - `inode` is decimal, the socket's sockfs inode, the number in the `socket:[N]` link of every
 *   fd that holds it; 0 when no file holds the socket: time-wait and request sockets, orphans
 *   (closed by the application, still finishing), and connections waiting in a listener's
 *   accept queue.
 *
 * tcp lines are padded with spaces to 149 characters; tcp6 lines are not. Fields after `inode`
 * differ by socket kind and kernel version and are not read.
 *
 * @module
 */
import { TcpState } from "../../ffi/mod.ts";
import { FileFormatError, type SkipLine } from "../file_format_error.ts";
import { formatIpv6, numberToIpv4 } from "../ip_text.ts";

/** The kernel's TCP states (`include/net/tcp_states.h`), the decoders' table. */
export const TCP_STATE: typeof TcpState = TcpState;

const STATE_NAMES: readonly string[] = (() => {
  const out: string[] = [];
  for (const [name, n] of Object.entries(TCP_STATE)) out[n] = name;
  return out;
})();

/** The name of a kernel TCP state (`"LISTEN"` for 10), or undefined for a number it lacks. */
export function tcpStateName(state: number): string | undefined {
  return STATE_NAMES[state];
}

/** One socket of a `/proc/<pid>/net/tcp{,6}` table. */
export interface ProcNetTcpSocket {
  /**
   * 4 for a line with 8-digit addresses (the `tcp` file), 6 for 32-digit ones (`tcp6`). An
   * IPv4 connection on an IPv6 socket is family 6 with IPv4 addresses (see `localAddress`).
   */
  readonly family: 4 | 6;
  /** The kernel's state number ({@linkcode TCP_STATE}). */
  readonly state: number;
  /**
   * Dotted quad for IPv4; RFC 5952 text for IPv6 (lower case, the longest run of two or more
   * zero groups as `::`); an IPv4-mapped IPv6 address (`::ffff:a.b.c.d`) as the dotted IPv4
   * `a.b.c.d`, which is how the BPF side reports such connections. `0.0.0.0` and `::` are the
   * wildcard of a listener.
   */
  readonly localAddress: string;
  readonly localPort: number;
  /** As `localAddress`; `0.0.0.0` or `::` (port 0) for a listener. */
  readonly remoteAddress: string;
  readonly remotePort: number;
  /** The socket's owner uid in the reader's user namespace. */
  readonly uid: number;
  /** The sockfs inode (`socket:[inode]`), 0 when no file holds the socket. */
  readonly inode: number;
}

/** What {@linkcode parseProcNetTcp} returns. */
export interface ProcNetTcpTable {
  /** The sockets in file order. */
  readonly sockets: ProcNetTcpSocket[];
  /** Lines that do not have the kernel's shape: skipped, never a failed file. */
  readonly bad: number;
}

/** Options of {@linkcode parseProcNetTcp}. */
export interface ParseProcNetTcpOptions {
  /**
   * Byte order of the host that printed the file (the words of an address are printed as host
   * integers).
   * @default the byte order of this host
   */
  readonly littleEndian?: boolean;
  /** Gets each odd line (after it is counted in `bad`), named by `file` and its line number. */
  readonly skip?: SkipLine;
  /** The file the text comes from, for `skip`. @default "/proc/net/tcp" */
  readonly file?: string;
  /** The line number of the text's first line in `file` (the text may be a slice). @default 1 */
  readonly firstLine?: number;
}

/** The byte order of this host. */
export const HOST_LITTLE_ENDIAN: boolean = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

const HEX = /^[0-9A-Fa-f]+$/;
const HEADER = /^\s*sl\s+local_address\s/;
/**
 * One socket line up to its inode: `sl:`, local and remote `address:port` (8 or 32 hex digits,
 * 4 for the port), the state (2 hex digits), `tx_queue:rx_queue` and `tr:tm->when` (hex pairs),
 * `retrnsmt` (hex), uid (decimal), timeout (decimal, maybe negative), inode (decimal); what
 * follows the inode differs by socket kind and kernel and is not read.
 */
const LINE = new RegExp(
  "^\\s*\\d{1,10}:" +
    "\\s+([0-9A-Fa-f]{8}|[0-9A-Fa-f]{32}):([0-9A-Fa-f]{4})" +
    "\\s+([0-9A-Fa-f]{8}|[0-9A-Fa-f]{32}):([0-9A-Fa-f]{4})" +
    "\\s+([0-9A-Fa-f]{2})" +
    "\\s+[0-9A-Fa-f]{1,16}:[0-9A-Fa-f]{1,16}" +
    "\\s+[0-9A-Fa-f]{1,16}:[0-9A-Fa-f]{1,16}" +
    "\\s+[0-9A-Fa-f]{1,16}" +
    "\\s+(\\d{1,10})" +
    "\\s+-?\\d{1,10}" +
    "\\s+(\\d{1,15})(?:\\s|$)",
);

/**
 * Parses the text of `/proc/<pid>/net/tcp` or `/proc/<pid>/net/tcp6` (either, or both
 * concatenated). The header line (`sl local_address ...`) is skipped wherever it appears; a line
 * that does not have the kernel's shape (too few columns, an address that is not 8 or 32 hex
 * digits with a 4-digit port, local and remote of different widths, a state that is not 2 hex
 * digits, a uid or inode that is not decimal, a uid above 2^32 - 1) is skipped and counted in
 * `bad`. Never throws. Cost: about 2 µs a line (one regular expression; each distinct address
 * is decoded once per call).
 */
export function parseProcNetTcp(
  text: string,
  opts: ParseProcNetTcpOptions = {},
): ProcNetTcpTable {
  const littleEndian = opts.littleEndian ?? HOST_LITTLE_ENDIAN;
  const sockets: ProcNetTcpSocket[] = [];
  const addresses = new Map<string, string | undefined>();
  const address = (hex: string) => {
    let a = addresses.get(hex);
    if (a === undefined && !addresses.has(hex)) {
      a = decodeProcNetAddress(hex, littleEndian);
      addresses.set(hex, a);
    }
    return a;
  };
  let bad = 0;
  const lines = text.split("\n");
  const odd = (i: number, reason: string) => {
    bad++;
    const file = opts.file ?? "/proc/net/tcp";
    opts.skip?.(new FileFormatError(file, (opts.firstLine ?? 1) + i, reason));
  };
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    const m = LINE.exec(line);
    if (m === null) {
      if (line.trim() !== "" && !HEADER.test(line)) {
        odd(
          i,
          `not a socket line: ${
            JSON.stringify(line.length > 80 ? line.slice(0, 77) + "..." : line)
          }`,
        );
      }
      continue;
    }
    const uid = Number(m[6]);
    const localAddress = address(m[1]);
    const remoteAddress = address(m[3]);
    if (
      m[1].length !== m[3].length || uid > 0xffffffff || localAddress === undefined ||
      remoteAddress === undefined
    ) {
      odd(i, "local and remote addresses of different widths, or a uid above 2^32 - 1");
      continue;
    }
    sockets.push({
      family: m[1].length === 8 ? 4 : 6,
      state: parseInt(m[5], 16),
      localAddress,
      localPort: parseInt(m[2], 16),
      remoteAddress,
      remotePort: parseInt(m[4], 16),
      uid,
      inode: Number(m[7]),
    });
  }
  return { sockets, bad };
}

/** The 4 bytes of one `%08X` word, in memory order. */
function wordBytes(hex8: string, littleEndian: boolean, out: number[]): void {
  const v = parseInt(hex8, 16) >>> 0;
  if (littleEndian) out.push(v & 255, (v >>> 8) & 255, (v >>> 16) & 255, v >>> 24);
  else out.push(v >>> 24, (v >>> 16) & 255, (v >>> 8) & 255, v & 255);
}

/**
 * Turns the hex of an address column (8 digits for IPv4, 32 for IPv6, without the port) into
 * text: a dotted quad, RFC 5952 IPv6, and an IPv4-mapped IPv6 address as its dotted IPv4.
 * Undefined for any other length or a non-hex digit.
 */
export function decodeProcNetAddress(
  hex: string,
  littleEndian: boolean = HOST_LITTLE_ENDIAN,
): string | undefined {
  if ((hex.length !== 8 && hex.length !== 32) || !HEX.test(hex)) return undefined;
  const b: number[] = [];
  for (let i = 0; i < hex.length; i += 8) wordBytes(hex.slice(i, i + 8), littleEndian, b);
  if (b.length === 4 || isV4Mapped(b)) {
    const o = b.length - 4;
    return numberToIpv4(((b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3]) >>> 0);
  }
  let ordered = "";
  for (const x of b) ordered += x.toString(16).padStart(2, "0");
  return formatIpv6(ordered);
}

/** `::ffff:0:0/96`. */
function isV4Mapped(b: readonly number[]): boolean {
  for (let i = 0; i < 10; i++) if (b[i] !== 0) return false;
  return b[10] === 0xff && b[11] === 0xff;
}
