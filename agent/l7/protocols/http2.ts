/**
 * HTTP/2 and gRPC (contract §2.4, §3.5): a connection's frames, read from the payload prefixes
 * captured in each direction, reassembled across captures, with HPACK decoding per direction,
 * matched request to response by stream id. Pure code: the caller feeds captures in the order
 * each direction's syscalls happened, with their kernel timestamps.
 *
 * What is matched: a client HEADERS frame opens a stream (`:method`, `:path`, `:scheme`); the
 * server's first HEADERS with a final `:status` (not 1xx) answers it, and its time minus the
 * request's is the duration. The exchange is reported once its status is known: at that first
 * response HEADERS for plain HTTP/2; for gRPC (an `application/grpc` content type either way), at
 * the HEADERS that carry `grpc-status` (trailers, or a trailers-only answer), or at the end of the
 * server's stream (END_STREAM on DATA, RST_STREAM) without one. A stream reset before any answer
 * is dropped and counted.
 *
 * Connections opened before the capture began: {@linkcode recognizeHttp2} tells HTTP/2 frames
 * and who sent them from one capture (whole frames of the right shape, a header block with
 * request or response pseudo-header fields), and an {@linkcode Http2Connection} made with
 * `preface: false` starts there. Its HPACK decoders have not seen the entries added before, so
 * fields that refer to them are not known (see {@linkcode HpackDecoder.unresolved}). The status
 * of such a stream is read from what is known and is `unknown` where it may be hidden: a first
 * answer block with hidden fields and no `:status` read, or a stream that may be gRPC (not known
 * to be plain HTTP: POST or an unread method, no other content type read) whose last block hid
 * fields and gave no `grpc-status`. A stream that may be gRPC waits for the end of its answer.
 *
 * @module
 */

import { startsWithAscii } from "./_bytes.ts";
import { HpackDecoder, HpackError } from "./hpack.ts";
import { grpcStatusLabel, httpStatusClass } from "./status.ts";

/** Who sent the bytes: the connection's client (requests) or its server (responses). */
export type Http2Side = "client" | "server";

/** The 24-byte connection preface a client sends first (RFC 9113 §3.4). */
export const HTTP2_CLIENT_PREFACE = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

const PREFACE = new TextEncoder().encode(HTTP2_CLIENT_PREFACE);
const FRAME_HEADER = 9;
const DATA = 0, HEADERS = 1, PRIORITY_FRAME = 2, RST_STREAM = 3, SETTINGS = 4, PUSH_PROMISE = 5;
const PING = 6, GOAWAY = 7, CONTINUATION = 9;
const END_STREAM = 0x1, ACK = 0x1, END_HEADERS = 0x4, PADDED = 0x8, PRIORITY = 0x20;
/** The flags RFC 9113 §6 defines for each frame type 0 to 9 (senders leave the others unset). */
const DEFINED_FLAGS = [0x09, 0x2d, 0, 0, 0x01, 0x0c, 0x01, 0, 0, 0x04];
/**
 * The largest frame {@linkcode recognizeHttp2} takes: SETTINGS_MAX_FRAME_SIZE's default for
 * every type but DATA, which a peer may send up to what the receiver announced (1 MiB is Go's
 * server's default; larger DATA frames are left to later captures).
 */
const RECOGNIZE_MAX_FRAME = 16384;
const RECOGNIZE_MAX_DATA = 1 << 20;

/**
 * Whether a capture looks like HTTP/2 frames (the reference's kernel test): at least 9 bytes, the
 * first frame's length fits in the capture and its type is at most 9; or, for client bytes, the
 * client preface.
 */
export function looksLikeHttp2(buf: Uint8Array, side: Http2Side): boolean {
  const preface = side === "client" && buf.length >= 24 && startsWithAscii(buf, "PRI *");
  if (buf.length < FRAME_HEADER) return preface;
  const length = (buf[0] << 16) | (buf[1] << 8) | buf[2];
  if (length + FRAME_HEADER > buf.length || buf[3] > 9) return preface;
  return true;
}

/**
 * Whether a frame header's fields fit RFC 9113 §6 for its type: a known type (0 to 9), only the
 * flags it defines, a stream id where it needs one and none where it must not have one, the
 * length its type fixes, at most {@linkcode RECOGNIZE_MAX_FRAME} bytes (DATA: 1 MiB).
 */
function frameFits(type: number, flags: number, length: number, id: number): boolean {
  if (type > 9 || (flags & ~DEFINED_FLAGS[type]) !== 0) return false;
  if (length > (type === DATA ? RECOGNIZE_MAX_DATA : RECOGNIZE_MAX_FRAME)) return false;
  switch (type) {
    case DATA:
    case HEADERS:
    case PUSH_PROMISE:
    case CONTINUATION:
      return id !== 0;
    case PRIORITY_FRAME:
      return id !== 0 && length === 5;
    case RST_STREAM:
      return id !== 0 && length === 4;
    case SETTINGS:
      return id === 0 && length % 6 === 0 && ((flags & ACK) === 0 || length === 0);
    case PING:
      return id === 0 && length === 8;
    case GOAWAY:
      return id === 0 && length >= 8;
    default: // WINDOW_UPDATE, on a stream or the connection
      return length === 4;
  }
}

/** Request pseudo-header fields (RFC 9113 §8.3.1; `:protocol` from RFC 8441). */
const REQUEST_PSEUDO = new Set([":method", ":scheme", ":authority", ":path", ":protocol"]);

/**
 * Who sent a HEADERS frame's block, read with an empty HPACK table: `client` when it holds a
 * request pseudo-header field (on an odd stream), `server` when it holds `:status` (three digits,
 * 100 to 599), null when no pseudo-header field was readable (trailers, or all of them refer to
 * entries added earlier), false when it cannot be a header block (bad padding, HPACK that does
 * not decode, an upper-case or unknown pseudo name, a pseudo field after a regular one, request
 * and response fields together, a request on an even stream).
 */
function headerBlockSender(
  buf: Uint8Array,
  from: number,
  to: number,
  flags: number,
  id: number,
): Http2Side | null | false {
  if (flags & PADDED) {
    if (from >= to) return false;
    const pad = buf[from++];
    if (pad > to - from) return false;
    to -= pad;
  }
  if (flags & PRIORITY) {
    from += 5;
    if (from > to) return false;
  }
  let request = false, response = false, regular = false, bad = false;
  try {
    new HpackDecoder().decode(buf.subarray(from, to), (name, value) => {
      if (name !== name.toLowerCase()) bad = true;
      else if (name.startsWith(":")) {
        if (regular) bad = true;
        else if (name === ":status") {
          const code = value.length === 3 ? decimal(value) : -1;
          if (code < 100 || code > 599) bad = true;
          response = true;
        } else if (REQUEST_PSEUDO.has(name)) request = true;
        else bad = true;
      } else regular = true;
    });
  } catch (err) {
    if (err instanceof HpackError) return false;
    throw err;
  }
  if (bad || (request && response) || (request && (id & 1) === 0)) return false;
  return request ? "client" : response ? "server" : null;
}

/**
 * Whether a capture is HTTP/2 frames, and who sent them, without the client preface (a
 * connection opened before the capture began). The capture must be whole frames from its first
 * byte: every frame header in it fits RFC 9113 for its type (see `frameFits`), a CONTINUATION
 * comes exactly after a HEADERS or PUSH_PROMISE of the same stream that did not end its block,
 * and the frames end exactly at `totalLength` (when the capture holds it all; a cut capture's
 * frames must end within it). Who sent them comes from a header block held whole in the capture:
 * request pseudo-header fields on an odd stream (the client), `:status` (the server); captures
 * with no such block (SETTINGS, WINDOW_UPDATE, DATA, trailers, PUSH_PROMISE, a block split over
 * CONTINUATION frames or cut by the capture) give null.
 * TLS records, Postgres, MySQL and the other protocols' messages fail the frame shape or the
 * header block.
 *
 * @param buf the captured bytes (the start of the syscall's buffer)
 * @param totalLength the syscall's whole byte count (`buf.length` or more)
 * @returns `client` or `server`, or null when the capture is not recognised
 */
export function recognizeHttp2(
  buf: Uint8Array,
  totalLength: number = buf.length,
): Http2Side | null {
  let pos = 0;
  let side: Http2Side | null = null;
  let open = -1; // the stream whose header block waits for CONTINUATION
  while (pos + FRAME_HEADER <= buf.length) {
    const length = (buf[pos] << 16) | (buf[pos + 1] << 8) | buf[pos + 2];
    const type = buf[pos + 3], flags = buf[pos + 4];
    if ((buf[pos + 5] & 0x80) !== 0) return null;
    const id = (buf[pos + 5] << 24 | buf[pos + 6] << 16 | buf[pos + 7] << 8 | buf[pos + 8]) >>> 0;
    if (!frameFits(type, flags, length, id)) return null;
    const end = pos + FRAME_HEADER + length;
    if (end > totalLength) return null;
    if (open >= 0 ? type !== CONTINUATION || id !== open : type === CONTINUATION) return null;
    let who: Http2Side | null | false = null;
    if (type === HEADERS && (flags & END_HEADERS) && end <= buf.length) {
      who = headerBlockSender(buf, pos + FRAME_HEADER, end, flags, id);
    }
    if (who === false || (who !== null && side !== null && who !== side)) return null;
    if (who !== null) side = who;
    if (type === HEADERS || type === PUSH_PROMISE || type === CONTINUATION) {
      open = flags & END_HEADERS ? -1 : id;
    }
    pos = end;
  }
  if (buf.length === totalLength && pos !== totalLength) return null;
  return side;
}

/** One answered request. */
export interface Http2Exchange {
  streamId: number;
  /** `:method` when it is one of Go's nine method names, else `""`. */
  method: string;
  /** `:path` when it starts with `/` or is `*`, else `""`. */
  path: string;
  /** `:scheme` when `http` or `https`, else `""`. */
  scheme: string;
  /** The final `:status`, 0 when the stream ended without one (then `status` is `unknown`). */
  httpStatus: number;
  /** `grpc-status` as a number, -1 when absent (or not a decimal number). */
  grpcStatus: number;
  /** The `status` label: `grpc:<CODE>` when `grpc-status` was read, else the HTTP class. */
  status: string;
  /** Nanoseconds from the request's HEADERS to the response's first final HEADERS. */
  durationNs: number;
}

/** Loss and limit counters of one connection; each is a number of events since it was made. */
export interface Http2Counters {
  /** Streams forgotten because `maxStreams` were open (the oldest goes). */
  streamsEvicted: number;
  /** Streams forgotten by {@linkcode Http2Connection.expire}. */
  streamsExpired: number;
  /** Streams reset before any answer (not reported). */
  streamsReset: number;
  /** Header blocks that did not decode (HPACK errors); the direction's table may be off after. */
  hpackErrors: number;
  /** Header blocks lost whole or in part (not captured, or over `maxHeaderBlock`). */
  headerBlocksLost: number;
  /**
   * Header fields skipped because they refer to HPACK table entries added before the first
   * capture (a connection that was open before the agent started).
   */
  hpackUnresolved: number;
  /** Times the frame boundaries were lost (a capture cut inside a frame header); regained at the next capture. */
  framingLost: number;
}

/** Limits of one connection's state. */
export interface Http2Options {
  /** Open streams tracked; a new one beyond evicts the oldest. @default 1024 */
  maxStreams?: number;
  /** Largest header block (HEADERS plus CONTINUATION payloads) decoded. @default 16384 */
  maxHeaderBlock?: number;
  /** Largest HPACK dynamic table accepted per direction, in octets. @default 65536 */
  maxTableSize?: number;
  /**
   * Whether the client's bytes start with the connection preface: false for a connection
   * joined after it started (found by {@linkcode recognizeHttp2}). @default true
   */
  preface?: boolean;
}

interface Stream {
  startNs: number;
  method: string;
  path: string;
  scheme: string;
  grpc: boolean;
  httpStatus: number;
  grpcStatus: number;
  respondedNs: number;
  /** Some request or answer field could not be decoded (a connection joined late). */
  hidden: boolean;
  /** A content type that is not gRPC's was read, on either side. */
  notGrpc: boolean;
  /** The status may be among the fields not decoded: the label is `unknown`. */
  statusHidden: boolean;
}

const NO_EXCHANGES: readonly Http2Exchange[] = Object.freeze([]);

const METHODS = new Set([
  "GET",
  "HEAD",
  "POST",
  "PUT",
  "PATCH",
  "DELETE",
  "CONNECT",
  "OPTIONS",
  "TRACE",
]);

/** A decimal 0 to 999999 read strictly, or -1. */
function decimal(s: string): number {
  if (s.length === 0 || s.length > 6) return -1;
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i) - 48;
    if (c < 0 || c > 9) return -1;
    n = n * 10 + c;
  }
  return n;
}

/**
 * Whether a frame header read where framing was lost is believable: a type of RFC 9113 (0 to
 * 9), the reserved bit clear, a stream id where the type needs one (and none where it must not
 * have one), a length of at most 1 MiB.
 */
function plausible(h: Uint8Array): boolean {
  const length = (h[0] << 16) | (h[1] << 8) | h[2];
  const type = h[3];
  if (type > 9 || (h[5] & 0x80) !== 0 || length > 1 << 20) return false;
  const id = (h[5] << 24 | h[6] << 16 | h[7] << 8 | h[8]) >>> 0;
  const connectionLevel = type === 4 || type === 6 || type === 7; // SETTINGS, PING, GOAWAY
  return connectionLevel ? id === 0 : type === 8 || id !== 0; // WINDOW_UPDATE: either
}

/** One direction's frame reader: where it is in the byte stream and its HPACK context. */
class Direction {
  readonly decoder: HpackDecoder;
  /** Preface bytes matched so far (client side, from the first byte), -1 when none is expected. */
  preface: number;
  /** Bytes of the current frame's header collected so far (0 to 8), in `header`. */
  readonly header = new Uint8Array(FRAME_HEADER);
  headerLength = 0;
  /** Payload bytes of the current frame still to come. */
  remaining = 0;
  /** Whether the current frame's payload is collected (else skipped). */
  collecting = false;
  /** The current frame: type, flags, stream id, and its payload when collected. */
  type = 0;
  flags = 0;
  streamId = 0;
  frame: Uint8Array;
  frameLength = 0;
  /** A header block being assembled over HEADERS/PUSH_PROMISE and CONTINUATION frames. */
  block: Uint8Array;
  blockLength = 0;
  blockOpen = false;
  blockLost = false;
  blockType = 0;
  blockFlags = 0;
  blockStream = 0;
  blockStartNs = 0;
  /** When the current frame's first byte was captured. */
  frameStartNs = 0;
  /** Frame boundaries lost: the next capture is taken to start at one. */
  lost = false;

  constructor(side: Http2Side, options: Required<Http2Options>) {
    this.preface = side === "client" && options.preface ? 0 : -1;
    this.decoder = new HpackDecoder(options.maxTableSize);
    this.frame = new Uint8Array(0);
    this.block = new Uint8Array(0);
  }
}

/**
 * One connection's HTTP/2 state (both directions, the open streams). Memory is bounded by the
 * options: two header-block buffers and two frame buffers of at most `maxHeaderBlock` bytes each
 * (allocated when first needed), two HPACK tables, at most `maxStreams` streams.
 */
export class Http2Connection {
  readonly #options: Required<Http2Options>;
  readonly #client: Direction;
  readonly #server: Direction;
  readonly #streams = new Map<number, Stream>();
  #out: Http2Exchange[] | null = null;
  readonly #counters: Http2Counters = {
    streamsEvicted: 0,
    streamsExpired: 0,
    streamsReset: 0,
    hpackErrors: 0,
    hpackUnresolved: 0,
    headerBlocksLost: 0,
    framingLost: 0,
  };
  // The field sink's target: which side and stream the block being decoded belongs to.
  #sinkSide: Http2Side = "client";
  #sinkStream: Stream | null = null;
  #sinkFinal = false;
  readonly #sink = (name: string, value: string): void => this.#onField(name, value);

  /** @throws {RangeError} when an option is not a positive integer */
  constructor(options: Http2Options = {}) {
    const o = {
      maxStreams: options.maxStreams ?? 1024,
      maxHeaderBlock: options.maxHeaderBlock ?? 16384,
      maxTableSize: options.maxTableSize ?? 65536,
    };
    for (const [k, v] of Object.entries(o)) {
      if (!Number.isInteger(v) || v < 1) {
        throw new RangeError(`The HTTP/2 option ${k} must be a positive integer, got ${v}`);
      }
    }
    this.#options = { ...o, preface: options.preface ?? true };
    this.#client = new Direction("client", this.#options);
    this.#server = new Direction("server", this.#options);
  }

  /** Loss and limit counters (a copy). */
  get counters(): Readonly<Http2Counters> {
    return {
      ...this.#counters,
      hpackUnresolved: this.#client.decoder.unresolved + this.#server.decoder.unresolved,
    };
  }

  /** Header fields not decoded so far, both directions (see {@linkcode HpackDecoder.unresolved}). */
  get hpackUnresolved(): number {
    return this.#client.decoder.unresolved + this.#server.decoder.unresolved;
  }

  /** Streams waiting for an answer. */
  get openStreams(): number {
    return this.#streams.size;
  }

  /**
   * Reads one capture of bytes sent by `side`, and returns the exchanges it completed (often
   * none; the empty array is shared and frozen).
   *
   * @param side who sent the bytes
   * @param chunk the captured bytes (the start of the syscall's buffer)
   * @param totalLength the syscall's whole byte count (`chunk.length` or more); the bytes not
   *   captured are skipped by frame length, and a header block among them is lost
   * @param timeNs the syscall's time in nanoseconds (any clock, the same for both sides)
   */
  feed(
    side: Http2Side,
    chunk: Uint8Array,
    totalLength: number,
    timeNs: number,
  ): readonly Http2Exchange[] {
    const d = side === "client" ? this.#client : this.#server;
    this.#out = null;
    let pos = 0;
    // The client preface, matched byte by byte (it may be split over captures).
    while (d.preface >= 0 && d.preface < PREFACE.length && pos < chunk.length) {
      if (chunk[pos] !== PREFACE[d.preface]) {
        if (d.preface > 0) d.lost = true; // a broken preface: look for frames at the next capture
        d.preface = -1;
        break;
      }
      pos++;
      d.preface++;
    }
    if (d.preface > 0 && d.preface < PREFACE.length && pos === chunk.length) {
      const unseen = totalLength - chunk.length;
      if (unseen > 0) {
        const skip = Math.min(unseen, PREFACE.length - d.preface);
        d.preface += skip;
        if (unseen > skip) this.#lose(side, d, unseen - skip, timeNs);
      }
      return NO_EXCHANGES;
    }
    let resync = false;
    if (d.lost) {
      d.lost = false;
      d.headerLength = 0;
      d.remaining = 0;
      resync = true;
    }
    while (pos < chunk.length) {
      if (d.remaining > 0) { // inside a frame's payload
        const n = Math.min(d.remaining, chunk.length - pos);
        if (d.collecting) {
          d.frame.set(chunk.subarray(pos, pos + n), d.frameLength);
          d.frameLength += n;
        }
        pos += n;
        d.remaining -= n;
        if (d.remaining > 0) break;
        this.#frameDone(side, d, timeNs);
        continue;
      }
      // Collect the 9-byte frame header.
      if (d.headerLength === 0) d.frameStartNs = timeNs;
      while (d.headerLength < FRAME_HEADER && pos < chunk.length) {
        d.header[d.headerLength++] = chunk[pos++];
      }
      if (d.headerLength < FRAME_HEADER) break;
      if (resync) {
        resync = false;
        if (!plausible(d.header)) {
          // Not a frame boundary after all: wait for the next capture.
          d.headerLength = 0;
          d.lost = true;
          this.#counters.framingLost++;
          break;
        }
      }
      this.#frameStart(d);
      if (d.remaining === 0) this.#frameDone(side, d, timeNs);
    }
    const unseen = totalLength - chunk.length;
    if (unseen > 0) this.#lose(side, d, unseen, timeNs);
    const out = this.#out;
    this.#out = null;
    return out ?? NO_EXCHANGES;
  }

  /** Reads a complete frame header and decides whether its payload is collected. */
  #frameStart(d: Direction): void {
    const h = d.header;
    const length = (h[0] << 16) | (h[1] << 8) | h[2];
    d.type = h[3];
    d.flags = h[4];
    d.streamId = ((h[5] & 0x7f) << 24 | (h[6] << 16) | (h[7] << 8) | h[8]) >>> 0;
    d.remaining = length;
    d.frameLength = 0;
    const wanted = d.type === HEADERS || d.type === CONTINUATION || d.type === PUSH_PROMISE ||
      d.type === RST_STREAM;
    d.collecting = wanted && length <= this.#options.maxHeaderBlock;
    if (wanted && !d.collecting && d.type !== RST_STREAM) {
      // Too large to decode: its table updates are lost.
      if (d.type !== CONTINUATION || d.blockOpen) this.#counters.headerBlocksLost++;
      d.blockOpen = false;
      d.blockLength = 0;
    }
    if (d.collecting && d.frame.length < length) {
      d.frame = new Uint8Array(Math.min(this.#options.maxHeaderBlock, Math.max(length, 1024)));
    }
  }

  /** Handles a frame whose payload has been collected or skipped. */
  #frameDone(side: Http2Side, d: Direction, timeNs: number): void {
    d.headerLength = 0;
    const type = d.type, flags = d.flags, id = d.streamId;
    const collected = d.collecting;
    d.collecting = false;
    if (d.blockOpen && type !== CONTINUATION) this.#dropBlock(d); // CONTINUATION must follow
    if (type === DATA) {
      if (side === "server" && (flags & END_STREAM)) this.#serverEnded(id);
      return;
    }
    if (type === RST_STREAM) {
      if (collected) this.#reset(id);
      return;
    }
    if (type !== HEADERS && type !== CONTINUATION && type !== PUSH_PROMISE) return;
    if (!collected) return; // over the limit: already dropped
    let from = 0, to = d.frameLength;
    if (type === CONTINUATION) {
      if (!d.blockOpen || id !== d.blockStream) {
        this.#dropBlock(d);
        return;
      }
    } else {
      if (flags & PADDED) {
        if (to < 1) {
          this.#counters.headerBlocksLost++;
          return;
        }
        to -= d.frame[0];
        from = 1;
      }
      if (type === HEADERS && (flags & PRIORITY)) from += 5;
      if (type === PUSH_PROMISE) from += 4; // the promised stream id
      if (from > to) {
        this.#counters.headerBlocksLost++;
        return;
      }
      d.blockOpen = true;
      d.blockLost = false;
      d.blockLength = 0;
      d.blockType = type;
      d.blockFlags = flags;
      d.blockStream = id;
      d.blockStartNs = d.frameStartNs;
    }
    const n = to - from;
    if (d.blockLength + n > this.#options.maxHeaderBlock) {
      this.#dropBlock(d);
      return;
    }
    if (d.block.length < d.blockLength + n) {
      const grown = new Uint8Array(
        Math.min(
          this.#options.maxHeaderBlock,
          Math.max(2 * d.block.length, d.blockLength + n, 1024),
        ),
      );
      grown.set(d.block.subarray(0, d.blockLength));
      d.block = grown;
    }
    d.block.set(d.frame.subarray(from, to), d.blockLength);
    d.blockLength += n;
    if (flags & END_HEADERS) this.#blockDone(side, d, timeNs);
  }

  /** Forgets an unfinished header block (it will not be decoded: the table may be off). */
  #dropBlock(d: Direction): void {
    if (d.blockOpen) this.#counters.headerBlocksLost++;
    d.blockOpen = false;
    d.blockLength = 0;
  }

  /** Decodes a complete header block and applies it to its stream. */
  #blockDone(side: Http2Side, d: Direction, timeNs: number): void {
    d.blockOpen = false;
    const id = d.blockStream;
    let stream: Stream | null = null;
    if (d.blockType === HEADERS) {
      stream = this.#streams.get(id) ?? null;
      if (side === "client" && stream === null) stream = this.#open(id, d.blockStartNs);
      else if (side === "client") stream = null; // client trailers: nothing to read
    }
    this.#sinkSide = side;
    this.#sinkStream = stream;
    this.#sinkFinal = false;
    const unresolved = d.decoder.unresolved;
    try {
      d.decoder.decode(d.block.subarray(0, d.blockLength), this.#sink);
    } catch (err) {
      if (!(err instanceof HpackError)) throw err;
      this.#counters.hpackErrors++; // the fields before the fault still apply
    } finally {
      this.#sinkStream = null;
    }
    if (stream === null) return;
    const hidden = d.decoder.unresolved > unresolved;
    if (hidden) stream.hidden = true;
    if (side !== "server") return;
    if (hidden && stream.respondedNs < 0 && !this.#sinkFinal) {
      // An answer's first block carries :status: here it is among the fields not decoded.
      this.#sinkFinal = true;
    }
    if (this.#sinkFinal && stream.respondedNs < 0) stream.respondedNs = timeNs;
    if (stream.respondedNs < 0) return; // only 1xx so far
    const ended = (d.blockFlags & END_STREAM) !== 0;
    // gRPC, or maybe gRPC: its content type may be among the fields not decoded
    const grpc = stream.grpc ||
      (stream.hidden && !stream.notGrpc && (stream.method === "" || stream.method === "POST"));
    if (ended && hidden && grpc && stream.grpcStatus < 0) stream.statusHidden = true;
    if (stream.grpcStatus >= 0 || ended || !grpc) this.#complete(id, stream);
  }

  #onField(name: string, value: string): void {
    const s = this.#sinkStream;
    if (s === null) return;
    if (this.#sinkSide === "client") {
      if (name === ":method") {
        if (s.method === "" && METHODS.has(value)) s.method = value;
      } else if (name === ":path") {
        if (s.path === "" && (value.startsWith("/") || value === "*")) s.path = value;
      } else if (name === ":scheme") {
        if (s.scheme === "" && (value === "http" || value === "https")) s.scheme = value;
      } else if (name === "content-type") {
        if (value.startsWith("application/grpc")) s.grpc = true;
        else s.notGrpc = true;
      }
      return;
    }
    if (name === ":status") {
      const code = decimal(value); // -1 (not a number) counts as final, class unknown
      if (code < 100 || code >= 200) {
        if (s.httpStatus === 0 && code > 0) s.httpStatus = code;
        this.#sinkFinal = true;
      }
    } else if (name === "grpc-status") {
      s.grpcStatus = decimal(value);
      if (s.grpcStatus >= 0 && s.respondedNs < 0 && !this.#sinkFinal) this.#sinkFinal = true;
    } else if (name === "content-type") {
      if (value.startsWith("application/grpc")) s.grpc = true;
      else s.notGrpc = true;
    }
  }

  #open(id: number, startNs: number): Stream {
    if (this.#streams.size >= this.#options.maxStreams) {
      const oldest = this.#streams.keys().next().value as number;
      this.#streams.delete(oldest);
      this.#counters.streamsEvicted++;
    }
    const s: Stream = {
      startNs,
      method: "",
      path: "",
      scheme: "",
      grpc: false,
      httpStatus: 0,
      grpcStatus: -1,
      respondedNs: -1,
      hidden: false,
      notGrpc: false,
      statusHidden: false,
    };
    this.#streams.set(id, s);
    return s;
  }

  #serverEnded(id: number): void {
    const s = this.#streams.get(id);
    if (s === undefined) return;
    if (s.respondedNs >= 0) this.#complete(id, s);
  }

  #reset(id: number): void {
    const s = this.#streams.get(id);
    if (s === undefined) return;
    if (s.respondedNs >= 0) {
      this.#complete(id, s);
      return;
    }
    this.#streams.delete(id);
    this.#counters.streamsReset++;
  }

  #complete(id: number, s: Stream): void {
    this.#streams.delete(id);
    const status = s.grpcStatus >= 0
      ? grpcStatusLabel(s.grpcStatus)
      : s.statusHidden
      ? "unknown"
      : httpStatusClass(s.httpStatus);
    (this.#out ??= []).push({
      streamId: id,
      method: s.method,
      path: s.path,
      scheme: s.scheme,
      httpStatus: s.httpStatus,
      grpcStatus: s.grpcStatus,
      status,
      durationNs: Math.max(0, s.respondedNs - s.startNs),
    });
  }

  /** Accounts for `n` bytes of `d`'s stream that were not captured. */
  #lose(side: Http2Side, d: Direction, n: number, timeNs: number): void {
    if (d.headerLength === FRAME_HEADER || d.remaining > 0) {
      const skip = Math.min(n, d.remaining);
      d.remaining -= skip;
      n -= skip;
      if (d.collecting) {
        d.collecting = false;
        if (d.type === HEADERS || d.type === PUSH_PROMISE || d.type === CONTINUATION) {
          this.#counters.headerBlocksLost++;
          d.blockOpen = false;
        }
        d.type = DATA; // what is left of it is skipped; END_STREAM is not applied twice
        d.flags = 0;
      }
      if (d.remaining > 0) return;
      this.#frameDone(side, d, timeNs); // a DATA frame's END_STREAM still counts
    }
    if (n > 0) {
      // Whole frames (or their headers) went by unseen.
      if (d.blockOpen) {
        this.#counters.headerBlocksLost++;
        d.blockOpen = false;
      }
      d.lost = true;
      this.#counters.framingLost++;
    }
  }

  /**
   * Forgets streams opened more than `maxAgeNs` before `nowNs` without an answer (a response
   * lost in a capture, a peer that never answered), counting them in `streamsExpired`.
   */
  expire(nowNs: number, maxAgeNs: number): number {
    let n = 0;
    for (const [id, s] of this.#streams) {
      if (nowNs - s.startNs > maxAgeNs) {
        this.#streams.delete(id);
        n++;
      }
    }
    this.#counters.streamsExpired += n;
    return n;
  }
}
