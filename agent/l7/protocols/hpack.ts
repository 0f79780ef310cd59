/**
 * An HPACK decoder (RFC 7541), one per connection and direction: the static table, a dynamic
 * table kept across header blocks (bounded), integer and string literals with Huffman coding.
 * Decoding only: Osprey reads the headers applications exchange and never encodes any.
 *
 * Written here rather than taken from npm: the npm HPACK packages found are stream-based and
 * unmaintained, and this one decodes into a caller's callback with no per-field objects.
 *
 * @module
 */

import { HUFFMAN_CODES, HUFFMAN_LENGTHS } from "./_hpack_huffman.ts";
import { text } from "./_bytes.ts";

/** A header block that does not decode: bad index, bad integer, bad Huffman code, cut block. */
export class HpackError extends SyntaxError {
  constructor(reason: string) {
    super(`Cannot decode an HPACK header block: ${reason}`);
    this.name = "HpackError";
  }
}

/** Receives each decoded header field, in order. */
export type HeaderSink = (name: string, value: string) => void;

/** RFC 7541 Appendix A. */
const STATIC_TABLE: readonly (readonly [string, string])[] = [
  [":authority", ""],
  [":method", "GET"],
  [":method", "POST"],
  [":path", "/"],
  [":path", "/index.html"],
  [":scheme", "http"],
  [":scheme", "https"],
  [":status", "200"],
  [":status", "204"],
  [":status", "206"],
  [":status", "304"],
  [":status", "400"],
  [":status", "404"],
  [":status", "500"],
  ["accept-charset", ""],
  ["accept-encoding", "gzip, deflate"],
  ["accept-language", ""],
  ["accept-ranges", ""],
  ["accept", ""],
  ["access-control-allow-origin", ""],
  ["age", ""],
  ["allow", ""],
  ["authorization", ""],
  ["cache-control", ""],
  ["content-disposition", ""],
  ["content-encoding", ""],
  ["content-language", ""],
  ["content-length", ""],
  ["content-location", ""],
  ["content-range", ""],
  ["content-type", ""],
  ["cookie", ""],
  ["date", ""],
  ["etag", ""],
  ["expect", ""],
  ["expires", ""],
  ["from", ""],
  ["host", ""],
  ["if-match", ""],
  ["if-modified-since", ""],
  ["if-none-match", ""],
  ["if-range", ""],
  ["if-unmodified-since", ""],
  ["last-modified", ""],
  ["link", ""],
  ["location", ""],
  ["max-forwards", ""],
  ["proxy-authenticate", ""],
  ["proxy-authorization", ""],
  ["range", ""],
  ["referer", ""],
  ["refresh", ""],
  ["retry-after", ""],
  ["server", ""],
  ["set-cookie", ""],
  ["strict-transport-security", ""],
  ["transfer-encoding", ""],
  ["user-agent", ""],
  ["vary", ""],
  ["via", ""],
  ["www-authenticate", ""],
];
const STATIC_LENGTH = STATIC_TABLE.length; // 61

// ---- Huffman: a 4-bit-at-a-time state machine over the code tree ---------------------------

const EOS = 256;
/** For each state (internal tree node) and nibble: the next state. */
const H_NEXT = new Uint16Array(256 * 16);
/** ... the symbol completed within the nibble, or -1 (codes are at least 5 bits: one at most). */
const H_EMIT = new Int16Array(256 * 16);
/** ... 1 when the nibble runs into EOS. */
const H_FAIL = new Uint8Array(256 * 16);
/** Per state: 1 when ending there is valid padding (at most 7 bits, all ones). */
const H_ACCEPT = new Uint8Array(256);

(function buildHuffman(): void {
  // Tree: node 0 is the root; child0/child1 give node ids; leaves carry a symbol.
  const child0: number[] = [-1], child1: number[] = [-1], symbol: number[] = [-1];
  const add = (code: number, len: number, sym: number) => {
    let n = 0;
    for (let b = len - 1; b >= 0; b--) {
      const bit = (code >>> b) & 1;
      const arr = bit ? child1 : child0;
      if (arr[n] === -1) {
        arr[n] = symbol.length;
        child0.push(-1);
        child1.push(-1);
        symbol.push(-1);
      }
      n = arr[n];
    }
    symbol[n] = sym;
  };
  for (let s = 0; s < 256; s++) add(HUFFMAN_CODES[s], HUFFMAN_LENGTHS[s], s);
  add(0x3fffffff, 30, EOS);
  // Number the internal nodes 0..255 as states (the root is state 0).
  const stateOf = new Map<number, number>();
  const nodeOf: number[] = [];
  const depth: number[] = [];
  const ones: boolean[] = [];
  const walk = (n: number, d: number, allOnes: boolean) => {
    if (symbol[n] !== -1) return;
    stateOf.set(n, nodeOf.length);
    nodeOf.push(n);
    depth.push(d);
    ones.push(allOnes);
    walk(child0[n], d + 1, false);
    walk(child1[n], d + 1, allOnes);
  };
  walk(0, 0, true);
  for (let s = 0; s < nodeOf.length; s++) {
    H_ACCEPT[s] = depth[s] === 0 || (ones[s] && depth[s] <= 7) ? 1 : 0;
    for (let v = 0; v < 16; v++) {
      let n = nodeOf[s];
      let emit = -1;
      let fail = 0;
      for (let b = 3; b >= 0; b--) {
        n = (v >>> b) & 1 ? child1[n] : child0[n];
        if (symbol[n] !== -1) {
          if (symbol[n] === EOS) fail = 1;
          emit = symbol[n];
          n = 0;
        }
      }
      const i = s * 16 + v;
      H_NEXT[i] = stateOf.get(n)!;
      H_EMIT[i] = fail ? -1 : emit;
      H_FAIL[i] = fail;
    }
  }
})();

/** Decoded Huffman strings land here (a header block is bounded, so this is enough). */
let scratch = new Uint8Array(4096);

/**
 * Decodes the Huffman-coded `buf[from, to)`; returns the decoded length in {@link scratch}.
 *
 * @throws {HpackError} on EOS inside the string or padding that is not 0 to 7 one bits
 */
function huffmanDecode(buf: Uint8Array, from: number, to: number): number {
  const max = (to - from) * 2; // at least 5 bits per symbol: at most 1.6 symbols per byte
  if (scratch.length < max) scratch = new Uint8Array(Math.max(max, scratch.length * 2));
  let state = 0;
  let n = 0;
  for (let i = from; i < to; i++) {
    const byte = buf[i];
    let t = state * 16 + (byte >>> 4);
    if (H_FAIL[t]) throw new HpackError("EOS inside a Huffman string");
    if (H_EMIT[t] >= 0) scratch[n++] = H_EMIT[t];
    state = H_NEXT[t];
    t = state * 16 + (byte & 15);
    if (H_FAIL[t]) throw new HpackError("EOS inside a Huffman string");
    if (H_EMIT[t] >= 0) scratch[n++] = H_EMIT[t];
    state = H_NEXT[t];
  }
  if (!H_ACCEPT[state]) throw new HpackError("bad Huffman padding");
  return n;
}

const UNRESOLVED = -1;

// ---- the decoder --------------------------------------------------------------------------

/** The dynamic table size a decoder starts with (SETTINGS_HEADER_TABLE_SIZE's default). */
export const HPACK_DEFAULT_TABLE_SIZE = 4096;

/**
 * One direction's HPACK decoding context.
 *
 * Memory: the dynamic table holds at most `maxTableSize` octets (RFC 7541 §4.1 sizes: name and
 * value octets plus 32 per entry), as JS strings.
 */
export class HpackDecoder {
  readonly #limit: number;
  #maxSize = HPACK_DEFAULT_TABLE_SIZE;
  #size = 0;
  // Entries oldest first from #start; the newest is the last. A null name is one this decoder
  // could not know: the entry was added by a literal whose name referred to an unseen entry.
  #names: (string | null)[] = [];
  #nameLengths: number[] = [];
  #values: string[] = [];
  #sizes: number[] = [];
  #start = 0;
  #buf: Uint8Array = new Uint8Array(0);
  #pos = 0;
  #end = 0;
  #lastLength = 0;
  /**
   * Fields skipped because they refer to a dynamic table entry this decoder never saw: entries
   * added before the first block it decoded (a connection joined after it started), or entries
   * added since whose name came from such an entry (their value is known, their name not).
   * Entries added since are exactly the encoder's newest ones, so every later index that this
   * decoder holds refers to the right entry; a skipped field is never passed on under a wrong
   * name or value.
   */
  unresolved = 0;

  /**
   * @param maxTableSize the largest dynamic table size update accepted (the peer may raise the
   *   size from 4096 with SETTINGS, which Osprey does not read)
   * @throws {RangeError} when `maxTableSize` is not a non-negative integer
   */
  constructor(maxTableSize = 65536) {
    if (!Number.isInteger(maxTableSize) || maxTableSize < 0) {
      throw new RangeError(
        `The HPACK table limit must be a non-negative integer, got ${maxTableSize}`,
      );
    }
    this.#limit = maxTableSize;
  }

  /**
   * Sets the maximum dynamic table size, as a SETTINGS_HEADER_TABLE_SIZE acknowledged by the
   * encoder's peer would; entries that no longer fit are evicted.
   *
   * @throws {RangeError} when `size` is over the limit given to the constructor
   */
  setMaxTableSize(size: number): void {
    if (!Number.isInteger(size) || size < 0 || size > this.#limit) {
      throw new RangeError(`The HPACK table size must be 0 to ${this.#limit}, got ${size}`);
    }
    this.#maxSize = size;
    this.#evict(0);
  }

  /** Octets in the dynamic table (RFC 7541 §4.1). */
  get tableSize(): number {
    return this.#size;
  }

  /** Entries in the dynamic table. */
  get tableLength(): number {
    return this.#names.length - this.#start;
  }

  /**
   * Decodes one complete header block, calling `sink` for each field and updating the dynamic
   * table.
   *
   * @throws {HpackError} when the block does not decode; the table then holds what the fields
   *   before the fault added
   */
  decode(block: Uint8Array, sink: HeaderSink): void {
    this.#buf = block;
    this.#pos = 0;
    this.#end = block.length;
    try {
      while (this.#pos < this.#end) {
        const b = block[this.#pos];
        if (b & 0x80) { // indexed field
          const idx = this.#int(7);
          if (idx === 0) throw new HpackError("index 0");
          const at = this.#resolve(idx);
          if (at === UNRESOLVED) continue;
          const name = this.#name(idx, at);
          if (name === null) {
            this.unresolved++;
            continue;
          }
          sink(name, this.#value(idx, at));
        } else if (b & 0x40) { // literal with incremental indexing
          const idx = this.#int(6);
          const at = idx === 0 ? 0 : this.#resolve(idx);
          const name = idx === 0 ? this.#string() : this.#name(idx, at);
          const nameLength = this.#lastLength;
          const value = this.#string();
          const valueLength = this.#lastLength;
          this.#add(name, value, nameLength, nameLength + valueLength + 32);
          if (name !== null) sink(name, value);
          else if (at !== UNRESOLVED) this.unresolved++;
        } else if (b & 0x20) { // dynamic table size update
          const size = this.#int(5);
          if (size > this.#limit) throw new HpackError(`table size ${size} over ${this.#limit}`);
          this.#maxSize = size;
          this.#evict(0);
        } else { // literal without indexing / never indexed
          const idx = this.#int(4);
          const at = idx === 0 ? 0 : this.#resolve(idx);
          const name = idx === 0 ? this.#string() : this.#name(idx, at);
          const value = this.#string();
          if (name !== null) sink(name, value);
          else if (at !== UNRESOLVED) this.unresolved++;
        }
      }
    } finally {
      this.#buf = new Uint8Array(0);
    }
  }

  /** Reads an integer with an `n`-bit prefix (RFC 7541 §5.1), at most 2^28. */
  #int(n: number): number {
    const mask = (1 << n) - 1;
    let v = this.#buf[this.#pos++] & mask;
    if (v < mask) return v;
    let shift = 0;
    for (;;) {
      if (this.#pos >= this.#end) throw new HpackError("integer cut");
      const b = this.#buf[this.#pos++];
      v += (b & 0x7f) * 2 ** shift;
      if ((b & 0x80) === 0) return v;
      shift += 7;
      if (shift > 21) throw new HpackError("integer too large");
    }
  }

  /** Reads a string literal (RFC 7541 §5.2); its octet length goes to #lastLength. */
  #string(): string {
    if (this.#pos >= this.#end) throw new HpackError("string cut");
    const huffman = (this.#buf[this.#pos] & 0x80) !== 0;
    const len = this.#int(7);
    if (len > this.#end - this.#pos) throw new HpackError("string longer than the block");
    const from = this.#pos;
    this.#pos += len;
    if (!huffman) {
      this.#lastLength = len;
      return text(this.#buf, from, from + len);
    }
    const n = huffmanDecode(this.#buf, from, from + len);
    this.#lastLength = n;
    return text(scratch, 0, n);
  }

  /**
   * Where index `idx` is: 0 for the static table, the entry's position for the dynamic table,
   * or UNRESOLVED for a dynamic index past the entries this decoder holds (counted).
   *
   * @throws {HpackError} for an index past the largest table the limit allows
   */
  #resolve(idx: number): number {
    if (idx <= STATIC_LENGTH) return 0;
    const d = idx - STATIC_LENGTH - 1; // 0 = newest
    const at = this.#names.length - 1 - d;
    if (at >= this.#start) return at;
    if (d >= this.#limit / 32) throw new HpackError(`index ${idx} past any table`);
    this.unresolved++;
    return UNRESOLVED;
  }

  /**
   * The name at `idx` (resolved to `at`), null when it is not known; its octet length goes to
   * #lastLength (0 when not known: the table's size is then undercounted, so this decoder
   * evicts later than the encoder and only ever holds more of the oldest entries, which the
   * encoder no longer refers to).
   */
  #name(idx: number, at: number): string | null {
    if (idx <= STATIC_LENGTH) {
      const name = STATIC_TABLE[idx - 1][0];
      this.#lastLength = name.length; // ASCII
      return name;
    }
    if (at === UNRESOLVED) {
      this.#lastLength = 0;
      return null;
    }
    this.#lastLength = this.#nameLengths[at];
    return this.#names[at];
  }

  #value(idx: number, at: number): string {
    return idx <= STATIC_LENGTH ? STATIC_TABLE[idx - 1][1] : this.#values[at];
  }

  #add(name: string | null, value: string, nameLength: number, size: number): void {
    if (size > this.#maxSize) {
      this.#evict(this.#maxSize + 1); // an entry larger than the table empties it
      return;
    }
    this.#evict(size);
    this.#names.push(name);
    this.#nameLengths.push(nameLength);
    this.#values.push(value);
    this.#sizes.push(size);
    this.#size += size;
  }

  /** Evicts the oldest entries until `room` more octets fit within the maximum size. */
  #evict(room: number): void {
    while (this.#size + room > this.#maxSize && this.#start < this.#names.length) {
      this.#size -= this.#sizes[this.#start];
      this.#start++;
    }
    if (this.#start > 32 && this.#start * 2 > this.#names.length) {
      this.#names = this.#names.slice(this.#start);
      this.#nameLengths = this.#nameLengths.slice(this.#start);
      this.#values = this.#values.slice(this.#start);
      this.#sizes = this.#sizes.slice(this.#start);
      this.#start = 0;
    }
  }
}
