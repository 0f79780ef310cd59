/**
 * What an executable's ELF headers say about the runtime it was built with, read with a small
 * bounded reader: the file header, the section header table (at most 1 MiB), the section name
 * table (1 MiB) and a few small sections (`.go.buildinfo`'s first 64 KiB, `.comment`'s first
 * MiB, `.dynamic` up to 64 KiB and one string of its string table). The program's code and
 * data are never read.
 *
 * | fact            | evidence (as the reference decides it)                                              |
 * |-----------------|-------------------------------------------------------------------------------------|
 * | `go`            | a `.go.buildinfo` section holding Go's build-info magic (`\xff Go buildinf:`) at a 16-byte boundary in its first 64 KiB, and, in the Go 1.18+ layout, a non-empty version string after it |
 * | `rust`          | `.comment` contains `rustc version` (recent rustc writes it; Debian 12's 1.63 does not) |
 * | `dotnetApphost` | the first `SHT_DYNAMIC` section's `DT_RPATH` strings (else its `DT_RUNPATH` ones) are exactly one, `$ORIGIN/netcoredeps`: .NET's application host |
 *
 * Not read, so not seen: Go binaries whose section headers were stripped (the reference then
 * searches the first writable segment for the magic) and compressed `.comment` sections.
 *
 * Both ELF classes (32/64-bit) and byte orders are read, with extended section numbering
 * (`e_shnum` 0 or `e_shstrndx` `SHN_XINDEX`). A file that is not ELF, ends before what its
 * headers promise, or has headers that contradict each other is an {@linkcode ElfError}.
 *
 * @module
 */

/** Reads `buf.length` bytes at `offset` or fewer at the end of the file; resolves the count. */
export type ReadAt = (buf: Uint8Array, offset: number) => Promise<number>;

/** The runtime facts {@linkcode readElfFacts} finds. */
export interface ElfFacts {
  /** Go: a `.go.buildinfo` section with Go's build-info magic. */
  readonly go: boolean;
  /** Rust: `.comment` mentions `rustc version`. */
  readonly rust: boolean;
  /** .NET application host: RPATH (or RUNPATH) `$ORIGIN/netcoredeps`. */
  readonly dotnetApphost: boolean;
}

/** Why a file's ELF headers could not be used. */
export type ElfProblem = "not_elf" | "truncated" | "malformed" | "too_large";

/** A file that is not a usable ELF file; `problem` says which way. */
export class ElfError extends Error {
  readonly problem: ElfProblem;
  constructor(problem: ElfProblem, message: string) {
    super(message);
    this.name = "ElfError";
    this.problem = problem;
  }
}

/** Most section headers read (a linked executable has a few dozen). */
export const MAX_SECTIONS = 8192;
/** Most bytes of the section header table read. */
export const MAX_SECTION_TABLE_BYTES = 1 << 20;
/** Most bytes of the section name table read. */
export const MAX_SHSTRTAB_BYTES = 1 << 20;
/** Most bytes of `.comment` searched. */
export const MAX_COMMENT_BYTES = 1 << 20;
/** Most bytes of `.go.buildinfo` searched for the magic (as Go's reader: 64 KiB). */
export const MAX_BUILDINFO_BYTES = 64 * 1024;
/** Most bytes of `.dynamic` read (4096 entries of an ELF64 file). */
export const MAX_DYNAMIC_BYTES = 64 * 1024;

/** Go's build-info magic: the byte 0xff, then " Go buildinf:". */
const GO_MAGIC = Uint8Array.from([0xff, ...new TextEncoder().encode(" Go buildinf:")]);
const RUSTC = new TextEncoder().encode("rustc version");
const NETCOREDEPS = new TextEncoder().encode("$ORIGIN/netcoredeps\0");

const SHT_NOBITS = 8;
const SHT_DYNAMIC = 6;
const SHF_COMPRESSED = 0x800;
const SHN_XINDEX = 0xffff;
const DT_RPATH = 15;
const DT_RUNPATH = 29;

interface Section {
  readonly nameOff: number;
  readonly type: number;
  readonly flags: number;
  readonly offset: number;
  readonly size: number;
  readonly link: number;
  name: string;
}

/** Reads exactly `len` bytes at `offset`, or throws "truncated". */
async function readExact(read: ReadAt, offset: number, len: number, what: string) {
  const buf = new Uint8Array(len);
  let got = 0;
  while (got < len) {
    const n = await read(buf.subarray(got), offset + got);
    if (n <= 0) {
      throw new ElfError("truncated", `file ends at byte ${offset + got}, inside the ${what}`);
    }
    got += n;
  }
  return buf;
}

function indexOf(hay: Uint8Array, needle: Uint8Array, from = 0): number {
  const first = needle[0];
  outer: for (let i = hay.indexOf(first, from); i >= 0; i = hay.indexOf(first, i + 1)) {
    if (i + needle.length > hay.length) return -1;
    for (let j = 1; j < needle.length; j++) if (hay[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}

/** A 64-bit field as a safe integer, or "malformed". */
function big(v: bigint, what: string): number {
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new ElfError("malformed", `${what} ${v} is beyond any file`);
  }
  return Number(v);
}

/** Go's unsigned varint: [value, bytes used], bytes 0 when it does not end in `b`. */
function uvarint(b: Uint8Array, at: number): [number, number] {
  let x = 0, s = 1;
  for (let i = 0; i < 10 && at + i < b.length; i++) {
    const c = b[at + i];
    x += (c & 0x7f) * s;
    if (c < 0x80) return [x, i + 1];
    s *= 128;
  }
  return [0, 0];
}

/** Whether a `.go.buildinfo` section's bytes hold Go's build info, as Go's reader decides. */
function isGoBuildInfo(data: Uint8Array): boolean {
  for (let i = indexOf(data, GO_MAGIC); i >= 0; i = indexOf(data, GO_MAGIC, i + 1)) {
    if (i % 16 !== 0) continue;
    if (data.length - i < 32) return false;
    const flags = data[i + 15];
    if ((flags & 2) === 0) return true; // Go 1.13-1.17: the version is behind a pointer
    const [len, n] = uvarint(data, i + 32);
    // Go's reader takes an empty or overlong version for "not Go"
    return n > 0 && len > 0 && len < data.length - (i + 32) - n;
  }
  return false;
}

/**
 * Reads the runtime facts of an ELF file.
 *
 * @param read positional reads of the file
 * @param size the file's size in bytes (from fstat)
 * @throws {ElfError} not ELF, truncated, inconsistent or too large to read within the bounds
 */
export async function readElfFacts(read: ReadAt, size: number): Promise<ElfFacts> {
  const head = await readExact(read, 0, Math.min(size, 16), "ELF identification");
  if (
    size < 4 || head[0] !== 0x7f || head[1] !== 0x45 || head[2] !== 0x4c || head[3] !== 0x46
  ) {
    throw new ElfError("not_elf", "no ELF magic");
  }
  if (size < 16) throw new ElfError("truncated", `${size} bytes: the ELF header is cut short`);
  const ident = head;
  const cls = ident[4], data = ident[5];
  if ((cls !== 1 && cls !== 2) || (data !== 1 && data !== 2)) {
    throw new ElfError("malformed", `unknown ELF class ${cls} or byte order ${data}`);
  }
  if (ident[6] !== 1) throw new ElfError("malformed", `ELF version ${ident[6]}`);
  const is64 = cls === 2, le = data === 1;
  const hdr = await readExact(read, 0, is64 ? 64 : 52, "ELF header");
  const h = new DataView(hdr.buffer);
  const shoff = is64 ? big(h.getBigUint64(0x28, le), "e_shoff") : h.getUint32(0x20, le);
  const shentsize = h.getUint16(is64 ? 0x3a : 0x2e, le);
  let shnum = h.getUint16(is64 ? 0x3c : 0x30, le);
  let shstrndx = h.getUint16(is64 ? 0x3e : 0x32, le);
  const want = is64 ? 64 : 40;
  const none: ElfFacts = { go: false, rust: false, dotnetApphost: false };
  if (shoff === 0) {
    if (shnum !== 0) throw new ElfError("malformed", `${shnum} sections at offset 0`);
    return none;
  }
  if (shentsize < want) throw new ElfError("malformed", `section header size ${shentsize}`);

  const parse = (b: Uint8Array): Section => {
    const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
    return is64
      ? {
        nameOff: v.getUint32(0, le),
        type: v.getUint32(4, le),
        flags: big(v.getBigUint64(8, le), "sh_flags"),
        offset: big(v.getBigUint64(24, le), "sh_offset"),
        size: big(v.getBigUint64(32, le), "sh_size"),
        link: v.getUint32(40, le),
        name: "",
      }
      : {
        nameOff: v.getUint32(0, le),
        type: v.getUint32(4, le),
        flags: v.getUint32(8, le),
        offset: v.getUint32(16, le),
        size: v.getUint32(20, le),
        link: v.getUint32(24, le),
        name: "",
      };
  };
  // extended numbering: the real counts live in section 0
  if (shnum === 0 || shstrndx === SHN_XINDEX) {
    const s0 = parse(await readExact(read, shoff, want, "section header 0"));
    if (shnum === 0) shnum = s0.size;
    if (shstrndx === SHN_XINDEX) shstrndx = s0.link;
  }
  if (shnum > MAX_SECTIONS || shnum * shentsize > MAX_SECTION_TABLE_BYTES) {
    throw new ElfError("too_large", `${shnum} sections of ${shentsize} bytes`);
  }
  if (shstrndx >= shnum) {
    throw new ElfError("malformed", `name table index ${shstrndx} of ${shnum} sections`);
  }
  if (shoff + shnum * shentsize > size) {
    throw new ElfError("truncated", `section headers end past the file's ${size} bytes`);
  }
  const table = await readExact(read, shoff, shnum * shentsize, "section headers");
  const sections: Section[] = [];
  for (let i = 0; i < shnum; i++) {
    sections.push(parse(table.subarray(i * shentsize, i * shentsize + want)));
  }

  const contents = async (s: Section, max: number, what: string): Promise<Uint8Array> => {
    if (s.type === SHT_NOBITS) return new Uint8Array(Math.min(s.size, max));
    const len = Math.min(s.size, max);
    if (s.offset + len > size) {
      throw new ElfError("truncated", `${what} ends past the file's ${size} bytes`);
    }
    return await readExact(read, s.offset, len, what);
  };

  const names = sections[shstrndx];
  if (names.size > MAX_SHSTRTAB_BYTES) {
    throw new ElfError("too_large", `section name table of ${names.size} bytes`);
  }
  const strtab = await contents(names, names.size, "section name table");
  const dec = new TextDecoder();
  for (const s of sections) {
    const end = strtab.indexOf(0, s.nameOff);
    if (s.nameOff >= strtab.length || end < 0) {
      throw new ElfError("malformed", `section name offset ${s.nameOff} outside the name table`);
    }
    s.name = dec.decode(strtab.subarray(s.nameOff, end));
  }

  let go = false, rust = false, dotnetApphost = false;
  const buildinfo = sections.find((s) => s.name === ".go.buildinfo");
  if (buildinfo !== undefined) {
    go = isGoBuildInfo(await contents(buildinfo, MAX_BUILDINFO_BYTES, ".go.buildinfo"));
  }
  const comment = sections.find((s) => s.name === ".comment");
  if (comment !== undefined && (comment.flags & SHF_COMPRESSED) === 0) {
    rust = indexOf(await contents(comment, MAX_COMMENT_BYTES, ".comment"), RUSTC) >= 0;
  }
  const dynamic = sections.find((s) => s.type === SHT_DYNAMIC);
  if (dynamic !== undefined && dynamic.link > 0 && dynamic.link < shnum) {
    if (dynamic.size > MAX_DYNAMIC_BYTES) {
      throw new ElfError("too_large", `.dynamic of ${dynamic.size} bytes`);
    }
    const dyn = await contents(dynamic, dynamic.size, ".dynamic");
    const dv = new DataView(dyn.buffer, dyn.byteOffset, dyn.byteLength);
    const entry = is64 ? 16 : 8;
    const rpath: number[] = [], runpath: number[] = [];
    for (let at = 0; at + entry <= dyn.length; at += entry) {
      const tag = is64 ? big(dv.getBigUint64(at, le), "d_tag") : dv.getUint32(at, le);
      const val = is64 ? big(dv.getBigUint64(at + 8, le), "d_val") : dv.getUint32(at + 4, le);
      if (tag === DT_RPATH) rpath.push(val);
      else if (tag === DT_RUNPATH) runpath.push(val);
    }
    const strs = sections[dynamic.link];
    const inTable = (off: number) => off < strs.size;
    const paths = rpath.filter(inTable).length > 0
      ? rpath.filter(inTable)
      : runpath.filter(inTable);
    if (paths.length === 1) {
      const len = Math.min(NETCOREDEPS.length, strs.size - paths[0]);
      if (len === NETCOREDEPS.length && strs.type !== SHT_NOBITS) {
        if (strs.offset + paths[0] + len > size) {
          throw new ElfError("truncated", `dynamic string table ends past the file`);
        }
        const s = await readExact(read, strs.offset + paths[0], len, "dynamic string");
        dotnetApphost = s.every((b, i) => b === NETCOREDEPS[i]);
      }
    }
  }
  return { go, rust, dotnetApphost };
}
