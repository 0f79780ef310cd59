/**
 * The MySQL/MariaDB client/server protocol as the reference reads it (contract §2.4, §3.5):
 * which packets are requests (`COM_QUERY`, `COM_STMT_PREPARE`, `COM_STMT_EXECUTE`,
 * `COM_STMT_CLOSE`), including a request whose 4-byte header arrives in a read of its own, which
 * packets answer them and how, and the query text traces carry, with prepared statements
 * remembered per connection. Pure code over captured payload prefixes; nothing here throws on
 * bytes.
 *
 * @module
 */

import { text, u24le, u32le } from "./_bytes.ts";
import type { QueryStatus } from "./status.ts";

/** The commands the reference follows (MySQL `enum_server_command`). */
export const MYSQL_COM_QUERY = 0x03;
/** `COM_STMT_PREPARE`. */
export const MYSQL_COM_STMT_PREPARE = 0x16;
/** `COM_STMT_EXECUTE`. */
export const MYSQL_COM_STMT_EXECUTE = 0x17;
/** `COM_STMT_CLOSE`. */
export const MYSQL_COM_STMT_CLOSE = 0x19;

/**
 * What a request is: `query` (`COM_QUERY`), `execute` (`COM_STMT_EXECUTE`), `prepare`
 * (`COM_STMT_PREPARE`; counted, and its answer carries the statement id), `close`
 * (`COM_STMT_CLOSE`; never answered, not counted, only forgets the statement).
 */
export type MysqlRequestKind = "query" | "execute" | "prepare" | "close";

function kindOf(command: number): MysqlRequestKind | null {
  switch (command) {
    case MYSQL_COM_QUERY:
      return "query";
    case MYSQL_COM_STMT_EXECUTE:
      return "execute";
    case MYSQL_COM_STMT_PREPARE:
      return "prepare";
    case MYSQL_COM_STMT_CLOSE:
      return "close";
  }
  return null;
}

/** A whole `COM_STMT_CLOSE` packet: 4-byte header (length 5, sequence 0), command, statement id. */
const CLOSE_PACKET = 9;

function isClosePacket(buf: Uint8Array, at: number): boolean {
  return buf.length >= at + 5 && buf[at] === 5 && buf[at + 1] === 0 && buf[at + 2] === 0 &&
    buf[at + 3] === 0 && buf[at + 4] === MYSQL_COM_STMT_CLOSE;
}

/**
 * Classifies a whole packet (header and body in one write or read of `totalLength` bytes) as a
 * request, or null: the 3-byte little-endian length plus 4 must equal `totalLength`, the sequence
 * id must be 0, and the command one of the four above.
 *
 * `COM_STMT_CLOSE` gets no answer, so a client may send the next command right behind it: when the
 * buffer starts with whole close packets and more follows, the close packets are skipped and the
 * packet after them is classified against the rest of `totalLength` (libmariadb does this: a
 * close and the next prepare in one write; the matcher also joins a short close with the write
 * after it). A buffer of close packets only is `close`.
 */
export function mysqlRequestKind(
  buf: Uint8Array,
  totalLength: number = buf.length,
): MysqlRequestKind | null {
  if (buf.length < 5) return null;
  if (totalLength < buf.length) totalLength = buf.length;
  let at = 0;
  while (totalLength - at > CLOSE_PACKET && isClosePacket(buf, at)) at += CLOSE_PACKET;
  if (buf.length - at < 5) return null;
  if (u24le(buf, at) + 4 !== totalLength - at || buf[at + 3] !== 0) return null;
  return kindOf(buf[at + 4]);
}

/**
 * When a read of exactly 4 bytes is a packet header with sequence id 0 and a non-zero length
 * (a server reading the header first), that length, else -1. The next read on the socket is then
 * the body: {@linkcode mysqlRequestKindOfBody} classifies it.
 */
export function mysqlHeaderOnly(buf: Uint8Array, totalLength: number = buf.length): number {
  if (buf.length !== 4 || totalLength !== 4 || buf[3] !== 0) return -1;
  const length = u24le(buf, 0);
  return length >= 1 ? length : -1;
}

/**
 * Classifies the body read after a lone header ({@linkcode mysqlHeaderOnly}) that announced
 * `expectedLength` bytes: the read must be exactly that long and start with one of the four
 * commands.
 */
export function mysqlRequestKindOfBody(
  buf: Uint8Array,
  totalLength: number,
  expectedLength: number,
): MysqlRequestKind | null {
  if (buf.length < 1 || totalLength !== expectedLength) return null;
  return kindOf(buf[0]);
}

/** How a request was answered. */
export interface MysqlResponse {
  status: QueryStatus;
  /** For a `prepare` answered OK with at least 9 bytes: the new statement id, else 0. */
  statementId: number;
}

/**
 * Size in bytes of the length-encoded integer whose first byte is `first` when it can be a result
 * set's column count (1 to 250 in one byte, `0xFC` + 2 bytes, `0xFD` + 3 bytes), else 0 (`0x00` is
 * OK, `0xFB` is NULL / LOCAL INFILE, `0xFE` is EOF or OK, `0xFF` is ERR).
 */
function columnCountSize(first: number): number {
  if (first >= 0x01 && first <= 0xfa) return 1;
  if (first === 0xfc) return 3;
  if (first === 0xfd) return 4;
  return 0;
}

/**
 * The answer to a request of `kind`, or null when the packet does not look like one (then the
 * request keeps waiting): a header with sequence id > 0 and length > 0 (the server's greeting,
 * sequence 0, is never an answer), then
 * - a read of only the header, or a 1-byte packet: `ok` (the reference's rule);
 * - `0x00` (OK; for a `prepare`, `COM_STMT_PREPARE_OK` with the statement id in bytes 5..8): `ok`;
 * - `0xFE` (EOF, or the OK packet of clients with `CLIENT_DEPRECATE_EOF`): `ok`;
 * - `0xFF` (ERR): `failed`;
 * - a result set's first packet, the column count as a length-encoded integer (1, 3 or 4 bytes),
 *   alone or followed by one flag byte 0 or 1 (MariaDB's `MARIADB_CLIENT_CACHE_METADATA` "metadata
 *   follows", MySQL 8's `CLIENT_OPTIONAL_RESULTSET_METADATA`): `ok`. MariaDB 10.11 with libmariadb
 *   sends `01 01` for one column, `FC 2C 01 01` for 300; the reference takes only 1-byte packets.
 *
 * Anything else (a `0xFB` LOCAL INFILE request, whose OK or ERR comes after the client's file,
 * rows, column definitions) is null.
 */
export function mysqlResponse(buf: Uint8Array, kind: MysqlRequestKind): MysqlResponse | null {
  if (buf.length < 4 || buf[3] < 1) return null;
  const length = u24le(buf, 0);
  if (length < 1) return null;
  if (buf.length < 5) return { status: "ok", statementId: 0 };
  const type = buf[4];
  if (length === 1 || type === 0xfe) return { status: "ok", statementId: 0 };
  if (type === 0x00) {
    const statementId = kind === "prepare" && buf.length >= 9 ? u32le(buf, 5) : 0;
    return { status: "ok", statementId };
  }
  if (type === 0xff) return { status: "failed", statementId: 0 };
  const n = columnCountSize(type);
  if (n === 0) return null;
  if (length === n) return { status: "ok", statementId: 0 };
  // the flag byte after the count, when captured, must be 0 or 1
  if (length === n + 1 && (buf.length <= 4 + n || buf[4 + n] <= 1)) {
    return { status: "ok", statementId: 0 };
  }
  return null;
}

/** Default number of prepared statements remembered per connection. */
export const MYSQL_MAX_STATEMENTS = 256;

const MAX_QUERY_TEXT = 1024;

/**
 * One connection's prepared statements (statement id → query text), learnt from
 * `COM_STMT_PREPARE` and its OK answer and forgotten on `COM_STMT_CLOSE`. Bounded: beyond `max`
 * the oldest is forgotten and counted in `evicted`.
 */
export class MysqlStatements {
  readonly #max: number;
  readonly #byId = new Map<number, string>();
  /** Statements forgotten because the map was full. */
  evicted = 0;

  /** @throws {RangeError} when `max` is not a positive integer */
  constructor(max: number = MYSQL_MAX_STATEMENTS) {
    if (!Number.isInteger(max) || max < 1) {
      throw new RangeError(`The prepared statement cap must be a positive integer, got ${max}`);
    }
    this.#max = max;
  }

  /** How many statements are remembered. */
  get size(): number {
    return this.#byId.size;
  }

  /**
   * The query text a request packet (`payload` with its 4-byte header) stands for, as the
   * reference puts it in `db.statement`, updating the statement map on the way:
   * - `COM_QUERY`: the query (cut ones end in `...`);
   * - `COM_STMT_PREPARE`: `PREPARE <id> FROM <query>`, remembering it under `statementId` (from
   *   the answer, {@linkcode MysqlResponse.statementId});
   * - `COM_STMT_EXECUTE`: the statement's text, or `EXECUTE <id> /* unknown *\/`;
   * - `COM_STMT_CLOSE`: forgets the statement, `""`. Shorter than 9 bytes: `""`.
   *
   * Whole `COM_STMT_CLOSE` packets in front of another packet (one write, as
   * {@linkcode mysqlRequestKind} reads it) are applied first, then the packet after them is read.
   */
  summarize(payload: Uint8Array, statementId = 0): string {
    while (payload.length > CLOSE_PACKET && isClosePacket(payload, 0)) {
      this.#byId.delete(u32le(payload, 5));
      payload = payload.subarray(CLOSE_PACKET);
    }
    if (payload.length < 9) return "";
    const size = u24le(payload, 0);
    switch (payload[4]) {
      case MYSQL_COM_QUERY:
        return query(payload, size);
      case MYSQL_COM_STMT_EXECUTE: {
        const id = u32le(payload, 5);
        return this.#byId.get(id) ?? `EXECUTE ${id} /* unknown */`;
      }
      case MYSQL_COM_STMT_PREPARE: {
        const q = query(payload, size);
        this.#remember(statementId >>> 0, q);
        return `PREPARE ${statementId >>> 0} FROM ${q}`;
      }
      case MYSQL_COM_STMT_CLOSE:
        this.#byId.delete(u32le(payload, 5));
        return "";
    }
    return "";
  }

  #remember(id: number, q: string): void {
    if (q.length > MAX_QUERY_TEXT) q = q.slice(0, MAX_QUERY_TEXT) + "...";
    this.#byId.delete(id);
    if (this.#byId.size >= this.#max) {
      const oldest = this.#byId.keys().next().value as number;
      this.#byId.delete(oldest);
      this.evicted++;
    }
    this.#byId.set(id, q);
  }
}

function query(payload: Uint8Array, size: number): string {
  const to = 4 + size;
  return to > payload.length ? text(payload, 5, payload.length) + "..." : text(payload, 5, to);
}
