/**
 * The PostgreSQL frontend/backend protocol (v3) as the reference reads it (contract §2.4, §3.5):
 * which writes are requests (simple and extended protocol), which reads answer them and how,
 * and the query text traces carry, with prepared statements remembered per connection. Pure
 * code over captured payload prefixes; nothing here throws on bytes.
 *
 * @module
 */

import { indexOfByte, text, u32be } from "./_bytes.ts";
import type { QueryStatus } from "./status.ts";

/**
 * What a request write is, by its first message: `query` (`Q`, simple protocol), `prepare`
 * (`P` Parse, an extended-protocol batch that prepares a statement; counted), `execute` (any
 * other extended-protocol batch, typically `B` Bind of a prepared statement), `close` (`C`
 * Close; not counted, only used to forget a prepared statement).
 */
export type PostgresRequestKind = "query" | "prepare" | "execute" | "close";

const SYNC = [0x53, 0, 0, 0, 4]; // 'S', length 4

/** Message types a frontend sends in an extended-protocol batch. */
function isExtendedFrontend(t: number): boolean {
  // P Parse, B Bind, D Describe, E Execute, S Sync, H Flush, C Close
  return t === 0x50 || t === 0x42 || t === 0x44 || t === 0x45 || t === 0x53 || t === 0x48 ||
    t === 0x43;
}

/**
 * Classifies a write (client side) or read (server side) as a Postgres request, or null.
 *
 * As in the reference: a `Q` or `C` message whose length covers exactly the whole write, or a
 * write that ends in a Sync message (`S`, length 4). `totalLength` is the size of the whole write
 * (the capture may hold only its start). When the capture is cut before the end, the Sync cannot
 * be seen: the write is then taken as an extended-protocol batch when it starts with Parse or
 * Bind and every message header inside the capture is an extended-protocol message whose length
 * stays within the write (the reference's kernel test reads the last 5 bytes of the first
 * 1023 instead, and misses such batches).
 */
export function postgresRequestKind(
  buf: Uint8Array,
  totalLength: number = buf.length,
): PostgresRequestKind | null {
  if (totalLength < buf.length) totalLength = buf.length;
  if (buf.length < 5) return null;
  const cmd = buf[0];
  const length = u32be(buf, 1);
  if ((cmd === 0x51 || cmd === 0x43) && length + 1 === totalLength) {
    return cmd === 0x51 ? "query" : "close";
  }
  if (totalLength === buf.length) {
    const end = buf.length;
    for (let i = 0; i < 5; i++) if (buf[end - 5 + i] !== SYNC[i]) return null;
  } else if (!(cmd === 0x50 || cmd === 0x42) || !framesFit(buf, totalLength)) {
    return null;
  }
  return kindOf(cmd);
}

function kindOf(cmd: number): PostgresRequestKind {
  if (cmd === 0x51) return "query";
  if (cmd === 0x50) return "prepare";
  if (cmd === 0x43) return "close";
  return "execute";
}

/** Whether the message headers inside the capture are extended-protocol ones that fit the write. */
function framesFit(buf: Uint8Array, totalLength: number): boolean {
  let pos = 0;
  while (pos + 5 <= buf.length) {
    if (!isExtendedFrontend(buf[pos])) return false;
    const len = u32be(buf, pos + 1);
    if (len < 4) return false;
    pos += 1 + len;
    if (pos > totalLength) return false;
  }
  return true;
}

/**
 * The outcome of a read (client side) or write (server side) that answers a Postgres request,
 * or null when it does not look like an answer (then the reference drops the request uncounted).
 *
 * The first message's length must fit in the read (`totalLength`, the whole read). Leading
 * ParseComplete (`1`), BindComplete (`2`), CloseComplete (`3`) and NoData (`n`) messages of
 * length 4, and asynchronous NoticeResponse (`N`), ParameterStatus (`S`) and
 * NotificationResponse (`A`) messages, are skipped; then ErrorResponse (`E`) is `failed`, and
 * ParameterDescription (`t`), RowDescription (`T`), DataRow (`D`) and CommandComplete (`C`) are
 * `ok`. (The reference skips only one `1` or `2`, so it drops an extended-protocol statement
 * answered `1`, `2`, `n`, `C`, such as an INSERT, and an answer that starts with a notice;
 * Osprey counts them.)
 */
export function postgresResponseStatus(
  buf: Uint8Array,
  totalLength: number = buf.length,
): QueryStatus | null {
  if (totalLength < buf.length) totalLength = buf.length;
  if (buf.length < 5) return null;
  if (u32be(buf, 1) + 1 > totalLength) return null;
  let pos = 0;
  while (pos + 5 <= buf.length) {
    const cmd = buf[pos];
    if (cmd === 0x45) return "failed";
    if (cmd === 0x74 || cmd === 0x54 || cmd === 0x44 || cmd === 0x43) return "ok";
    const length = u32be(buf, pos + 1);
    const complete = cmd === 0x31 || cmd === 0x32 || cmd === 0x33 || cmd === 0x6e; // 1 2 3 n
    const async = cmd === 0x4e || cmd === 0x53 || cmd === 0x41; // N notice, S parameter, A notify
    if (complete ? length !== 4 : !async || length < 4) return null;
    pos += 1 + length;
  }
  return null;
}

/**
 * Whether a read (client side) or write (server side) answers an extended-protocol batch with
 * nothing to report: only ParseComplete (`1`), BindComplete (`2`), CloseComplete (`3`) and NoData
 * (`n`) of length 4, and asynchronous NoticeResponse, ParameterStatus and NotificationResponse
 * messages, ending in ReadyForQuery (`Z`, length 5). That is the whole answer to a batch such as
 * Parse + Sync (a statement prepared without Describe) or Close + Sync: the request is answered,
 * and the reference, which finds no status in it, drops it uncounted.
 * {@linkcode postgresResponseStatus} gives null for it.
 */
export function postgresAnsweredWithoutResult(
  buf: Uint8Array,
  totalLength: number = buf.length,
): boolean {
  if (totalLength < buf.length) totalLength = buf.length;
  let pos = 0;
  let completes = 0;
  while (pos + 5 <= buf.length) {
    const cmd = buf[pos];
    const length = u32be(buf, pos + 1);
    if (cmd === 0x5a) return length === 5 && completes > 0 && pos + 6 === totalLength; // Z
    const complete = cmd === 0x31 || cmd === 0x32 || cmd === 0x33 || cmd === 0x6e; // 1 2 3 n
    const async = cmd === 0x4e || cmd === 0x53 || cmd === 0x41; // N notice, S parameter, A notify
    if (complete ? length !== 4 : !async || length < 4) return false;
    if (complete) completes++;
    pos += 1 + length;
  }
  return false;
}

/** Default number of prepared statements remembered per connection. */
export const POSTGRES_MAX_STATEMENTS = 256;

/** Longest query text kept for a prepared statement, in characters. */
const MAX_QUERY_TEXT = 1024;

/**
 * One connection's prepared statements (name → query text), learnt from Parse messages and
 * forgotten on Close, so a Bind can be shown as its statement's text. Bounded: beyond `max`
 * statements the oldest is forgotten and counted in `evicted`.
 */
export class PostgresStatements {
  readonly #max: number;
  readonly #byName = new Map<string, string>();
  /** Statements forgotten because the map was full. */
  evicted = 0;

  /** @throws {RangeError} when `max` is not a positive integer */
  constructor(max: number = POSTGRES_MAX_STATEMENTS) {
    if (!Number.isInteger(max) || max < 1) {
      throw new RangeError(`The prepared statement cap must be a positive integer, got ${max}`);
    }
    this.#max = max;
  }

  /** How many statements are remembered. */
  get size(): number {
    return this.#byName.size;
  }

  /**
   * The query text a request's payload stands for, as the reference puts it in `db.statement`,
   * updating the statement map on the way:
   * - `Q`: the query (cut ones end in `...`);
   * - `P`: `PREPARE <name> AS <query>`, remembering the statement;
   * - `B`: the text of the statement it binds, or `EXECUTE <name> /* unknown *\/`;
   * - `C` of a statement: forgets it and returns `""`; anything else `""`.
   */
  summarize(payload: Uint8Array): string {
    if (payload.length < 5) return "";
    switch (payload[0]) {
      case 0x51: // Q
        return cString(payload, 5);
      case 0x42: { // B: portal name, statement name
        const portalEnd = indexOfByte(payload, 0, 5);
        if (portalEnd < 0) return "";
        const nameEnd = indexOfByte(payload, 0, portalEnd + 1);
        if (nameEnd < 0) return "";
        const name = text(payload, portalEnd + 1, nameEnd);
        return this.#byName.get(name) ?? `EXECUTE ${name} /* unknown */`;
      }
      case 0x50: { // P: statement name, query
        const nameEnd = indexOfByte(payload, 0, 5);
        if (nameEnd < 0) return "";
        const name = text(payload, 5, nameEnd);
        const query = cString(payload, nameEnd + 1);
        this.#remember(name, query);
        return `PREPARE ${name} AS ${query}`;
      }
      case 0x43: { // C: 'S' statement or 'P' portal, then its name
        if (payload.length < 7 || payload[5] !== 0x53) return "";
        const nameEnd = indexOfByte(payload, 0, 6);
        if (nameEnd < 0) return "";
        this.#byName.delete(text(payload, 6, nameEnd));
        return "";
      }
    }
    return "";
  }

  #remember(name: string, query: string): void {
    if (query.length > MAX_QUERY_TEXT) query = query.slice(0, MAX_QUERY_TEXT) + "...";
    this.#byName.delete(name);
    if (this.#byName.size >= this.#max) {
      const oldest = this.#byName.keys().next().value as string;
      this.#byName.delete(oldest);
      this.evicted++;
    }
    this.#byName.set(name, query);
  }
}

/** The NUL-terminated text at `from`, or what was captured of it plus `...`. */
function cString(buf: Uint8Array, from: number): string {
  const end = indexOfByte(buf, 0, from);
  return end < 0 ? text(buf, from, buf.length) + "..." : text(buf, from, end);
}
