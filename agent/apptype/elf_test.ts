import { deepEqual, equal, ok, rejects } from "node:assert/strict";
import { buildTestBinaries, goInstalled, type TestBinaries } from "./_testing.ts";
import { ElfError, type ElfFacts, MAX_SECTIONS, type ReadAt, readElfFacts } from "./elf.ts";

const NONE: ElfFacts = { go: false, rust: false, dotnetApphost: false };
const GO: ElfFacts = { go: true, rust: false, dotnetApphost: false };
const RUST: ElfFacts = { go: false, rust: true, dotnetApphost: false };
const APPHOST: ElfFacts = { go: false, rust: false, dotnetApphost: true };

/** The facts of a file, with the bytes and reads it took. */
async function factsOf(path: string) {
  using file = await Deno.open(path);
  const size = (await file.stat()).size;
  let bytes = 0, reads = 0;
  const read: ReadAt = async (buf, offset) => {
    await file.seek(offset, Deno.SeekMode.Start);
    const n = (await file.read(buf)) ?? 0;
    bytes += n;
    reads++;
    return n;
  };
  return { facts: await readElfFacts(read, size), bytes, reads, size };
}

/** readElfFacts over bytes in memory. */
function ofBytes(b: Uint8Array): Promise<ElfFacts> {
  return readElfFacts((buf, offset) => {
    const part = b.subarray(offset, offset + buf.length);
    buf.set(part);
    return Promise.resolve(part.length);
  }, b.length);
}

async function problemOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    if (err instanceof ElfError) return err.problem;
    throw err;
  }
  return "(no error)";
}

let bins: TestBinaries | undefined;
async function binaries(): Promise<TestBinaries> {
  return bins ??= await buildTestBinaries();
}

Deno.test({
  name: "readElfFacts: real binaries: Go, Rust (the deno binary), C, .NET apphost run paths",
  async fn(t) {
    const b = await binaries();
    try {
      await t.step("the deno binary is Rust, read in a few KiB of its ~100 MB", async () => {
        const r = await factsOf(b.rust);
        deepEqual(r.facts, RUST);
        ok(r.size > 10_000_000, `${r.size} bytes`);
        ok(r.bytes < 64 * 1024, `read ${r.bytes} bytes in ${r.reads} reads`);
      });
      await t.step("C programs have no facts, dynamic or static", async () => {
        deepEqual((await factsOf(b.c)).facts, NONE);
        deepEqual((await factsOf(b.cStatic)).facts, NONE);
      });
      await t.step(".NET application host: exactly one run path $ORIGIN/netcoredeps", async () => {
        deepEqual((await factsOf(b.apphost)).facts, APPHOST);
        deepEqual((await factsOf(b.apphostRpath)).facts, APPHOST);
        deepEqual((await factsOf(b.notApphost)).facts, NONE);
      });
      await t.step({
        name: "Go programs, also stripped (-s -w)",
        ignore: !goInstalled(),
        async fn() {
          const r = await factsOf(b.go!);
          deepEqual(r.facts, GO);
          ok(r.bytes < 16 * 1024, `read ${r.bytes} bytes of ${r.size}`);
          deepEqual((await factsOf(b.goStripped!)).facts, GO);
        },
      });
      await t.step("not ELF, truncated: an ElfError with its problem", async () => {
        const script = `${b.dir}/script.sh`;
        Deno.writeTextFileSync(script, "#!/bin/sh\nsleep 1\n");
        equal(await problemOf(factsOf(script)), "not_elf");
        Deno.writeTextFileSync(`${b.dir}/empty`, "");
        equal(await problemOf(factsOf(`${b.dir}/empty`)), "not_elf");
        const whole = Deno.readFileSync(b.go ?? b.c);
        for (const [len, problem] of [[10, "truncated"], [64, "truncated"], [4096, "truncated"]]) {
          const cut = `${b.dir}/cut-${len}`;
          Deno.writeFileSync(cut, whole.subarray(0, len as number));
          equal(await problemOf(factsOf(cut)), problem, `${len} bytes`);
        }
        // gcc's linker puts the section headers last: one byte short is enough
        const c = Deno.readFileSync(b.c);
        const short = `${b.dir}/short`;
        Deno.writeFileSync(short, c.subarray(0, c.length - 1));
        equal(await problemOf(factsOf(short)), "truncated");
        if (b.go !== undefined) {
          // Go's puts them first and its symbol names last, which are never read (nor by
          // Go's own reader): the facts are still there
          Deno.writeFileSync(short, whole.subarray(0, whole.length - 1));
          deepEqual((await factsOf(short)).facts, GO);
        }
      });
    } finally {
      b.cleanup();
      bins = undefined;
    }
  },
});

// ---- synthesized files for the corners real toolchains do not produce ---------------------

interface Sec {
  name: string;
  type?: number;
  data?: Uint8Array;
  flags?: number;
  link?: number;
}

interface Shape {
  is64?: boolean;
  le?: boolean;
  /** Write e_shnum 0 and the count in section 0's sh_size. */
  extendedCount?: boolean;
  /** Write e_shstrndx SHN_XINDEX and the index in section 0's sh_link. */
  extendedIndex?: boolean;
  /** Overrides of header fields after layout. */
  shstrndx?: number;
  shnum?: number;
  nameOffset?: number;
}

const enc = new TextEncoder();
const bytes = (s: string) => enc.encode(s);
const cat = (...parts: Uint8Array[]) => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
};

/** An ELF file with the given sections (after the null section) and a name table last. */
function elf(sections: Sec[], shape: Shape = {}): Uint8Array {
  const is64 = shape.is64 ?? true, le = shape.le ?? true;
  const ehsize = is64 ? 64 : 52, shentsize = is64 ? 64 : 40;
  const all: Sec[] = [{ name: "", type: 0 }, ...sections, { name: ".shstrtab", type: 3 }];
  const names: number[] = [];
  let strtab = new Uint8Array([0]);
  for (const s of all) {
    if (s.name === "") {
      names.push(0);
      continue;
    }
    names.push(strtab.length);
    strtab = cat(strtab, bytes(s.name + "\0"));
  }
  all[all.length - 1].data = strtab;
  const offsets: number[] = [];
  let at = ehsize;
  for (const s of all) {
    offsets.push(at);
    at += s.data?.length ?? 0;
  }
  const shoff = (at + 7) & ~7;
  const file = new Uint8Array(shoff + all.length * shentsize);
  const v = new DataView(file.buffer);
  file.set([0x7f, 0x45, 0x4c, 0x46, is64 ? 2 : 1, le ? 1 : 2, 1], 0);
  const shnum = shape.shnum ?? (shape.extendedCount ? 0 : all.length);
  const shstrndx = shape.shstrndx ?? (shape.extendedIndex ? 0xffff : all.length - 1);
  if (is64) {
    v.setBigUint64(0x28, BigInt(shoff), le);
    v.setUint16(0x3a, shentsize, le);
    v.setUint16(0x3c, shnum, le);
    v.setUint16(0x3e, shstrndx, le);
  } else {
    v.setUint32(0x20, shoff, le);
    v.setUint16(0x2e, shentsize, le);
    v.setUint16(0x30, shnum, le);
    v.setUint16(0x32, shstrndx, le);
  }
  all.forEach((s, i) => {
    if (s.data) file.set(s.data, offsets[i]);
    const h = shoff + i * shentsize;
    const size = i === 0 && shape.extendedCount ? all.length : s.data?.length ?? 0;
    const link = i === 0 && shape.extendedIndex ? all.length - 1 : s.link ?? 0;
    const name = i === 1 && shape.nameOffset !== undefined ? shape.nameOffset : names[i];
    v.setUint32(h, name, le);
    v.setUint32(h + 4, s.type ?? 1, le);
    if (is64) {
      v.setBigUint64(h + 8, BigInt(s.flags ?? 0), le);
      v.setBigUint64(h + 24, BigInt(offsets[i]), le);
      v.setBigUint64(h + 32, BigInt(size), le);
      v.setUint32(h + 40, link, le);
    } else {
      v.setUint32(h + 8, s.flags ?? 0, le);
      v.setUint32(h + 16, offsets[i], le);
      v.setUint32(h + 20, size, le);
      v.setUint32(h + 24, link, le);
    }
  });
  return file;
}

/** A `.go.buildinfo` body: the magic, pointer size 8, flags, padding, then the version. */
function buildinfo(version: string, opts: { inline?: boolean; at?: number } = {}): Uint8Array {
  const head = new Uint8Array(32);
  head.set([0xff, ...bytes(" Go buildinf:")], 0);
  head[14] = 8;
  head[15] = (opts.inline ?? true) ? 2 : 0;
  const body = cat(head, new Uint8Array([version.length]), bytes(version), new Uint8Array(16));
  return cat(new Uint8Array(opts.at ?? 0), body);
}

Deno.test("readElfFacts: Go build info as Go's reader takes it", async () => {
  const go = (data: Uint8Array) => ofBytes(elf([{ name: ".go.buildinfo", data }]));
  deepEqual(await go(buildinfo("go1.22.1")), GO);
  deepEqual(await go(buildinfo("go1.16", { inline: false })), GO); // pointer layout
  deepEqual(await go(buildinfo("go1.22.1", { at: 32 })), GO); // later, but 16-aligned
  deepEqual(await go(buildinfo("go1.22.1", { at: 8 })), NONE); // not 16-aligned
  deepEqual(await go(buildinfo("")), NONE); // an empty version is "not Go"
  deepEqual(await go(bytes("no magic here, just data padding it out to 64 bytes......")), NONE);
  // the section must be called .go.buildinfo
  deepEqual(await ofBytes(elf([{ name: ".data", data: buildinfo("go1.22") }])), NONE);
  // in the other classes and byte orders
  for (const [is64, le] of [[false, true], [false, false], [true, false]]) {
    const f = elf([{ name: ".go.buildinfo", data: buildinfo("go1.21.0") }], { is64, le });
    deepEqual(await ofBytes(f), GO, `is64=${is64} le=${le}`);
  }
});

Deno.test("readElfFacts: rustc's note in .comment, not in other sections", async () => {
  const note = bytes("GCC: (Debian 12.2.0) 12.2.0\0rustc version 1.95.0 (59807616e)\0");
  deepEqual(await ofBytes(elf([{ name: ".comment", data: note }])), RUST);
  deepEqual(await ofBytes(elf([{ name: ".note", data: note }])), NONE);
  deepEqual(await ofBytes(elf([{ name: ".comment", data: bytes("rustc 1.63\0") }])), NONE);
  // a compressed .comment is not decompressed
  deepEqual(await ofBytes(elf([{ name: ".comment", data: note, flags: 0x800 }])), NONE);
  // both runtimes in one binary (a Go program linking a Rust library)
  deepEqual(
    await ofBytes(elf([
      { name: ".go.buildinfo", data: buildinfo("go1.22") },
      { name: ".comment", data: note },
    ])),
    { go: true, rust: true, dotnetApphost: false },
  );
});

Deno.test("readElfFacts: extended section numbering", async () => {
  const secs = [{ name: ".comment", data: bytes("rustc version 1.80\0") }];
  deepEqual(await ofBytes(elf(secs, { extendedCount: true })), RUST);
  deepEqual(await ofBytes(elf(secs, { extendedIndex: true })), RUST);
  deepEqual(await ofBytes(elf(secs, { extendedCount: true, extendedIndex: true })), RUST);
});

Deno.test("readElfFacts: inconsistent headers are malformed; huge tables too large", async () => {
  const secs = [{ name: ".comment", data: bytes("x\0") }];
  equal(await problemOf(ofBytes(elf(secs, { shstrndx: 7 }))), "malformed");
  equal(await problemOf(ofBytes(elf(secs, { nameOffset: 9999 }))), "malformed");
  equal(await problemOf(ofBytes(elf(secs, { shnum: 200 }))), "truncated");
  equal(await problemOf(ofBytes(elf(secs, { shnum: MAX_SECTIONS + 1 }))), "too_large");
  const bad = elf(secs);
  bad[4] = 3; // class
  equal(await problemOf(ofBytes(bad)), "malformed");
  const v2 = elf(secs);
  v2[6] = 2; // version
  equal(await problemOf(ofBytes(v2)), "malformed");
  // no section headers at all: nothing to see, no error
  const none = elf([]);
  new DataView(none.buffer).setBigUint64(0x28, 0n, true);
  new DataView(none.buffer).setUint16(0x3c, 0, true);
  deepEqual(await ofBytes(none), NONE);
  await rejects(ofBytes(new Uint8Array([0x7f, 0x45, 0x4c])), ElfError);
});

Deno.test("readElfFacts: mutated headers give facts or an ElfError, never another error, and stay bounded", async () => {
  // a small deterministic generator (xorshift32), so a failure can be replayed
  let seed = 0x1234abcd;
  const rand = (n: number) => {
    seed ^= seed << 13;
    seed ^= seed >>> 17;
    seed ^= seed << 5;
    return (seed >>> 0) % n;
  };
  const b = await binaries();
  const originals = [Deno.readFileSync(b.c), Deno.readFileSync(b.apphost)];
  if (b.go !== undefined) originals.push(Deno.readFileSync(b.go));
  const problems: Record<string, number> = {};
  for (let round = 0; round < 600; round++) {
    const file = originals[round % originals.length].slice();
    const v = new DataView(file.buffer);
    const shoff = Number(v.getBigUint64(0x28, true));
    // flip bytes in the ELF header, the section header table or anywhere
    for (let k = 1 + rand(6); k > 0; k--) {
      const where = rand(3);
      const at = where === 0
        ? rand(64)
        : where === 1
        ? shoff + rand(Math.max(1, file.length - shoff))
        : rand(file.length);
      if (at < file.length) file[at] = rand(256);
    }
    const cut = rand(4) === 0 ? file.subarray(0, rand(file.length)) : file;
    let bytes = 0;
    try {
      await readElfFacts((buf, offset) => {
        const part = cut.subarray(offset, offset + buf.length);
        buf.set(part);
        bytes += part.length;
        return Promise.resolve(part.length);
      }, cut.length);
      problems.ok = (problems.ok ?? 0) + 1;
    } catch (err) {
      if (!(err instanceof ElfError)) throw new Error(`round ${round}: ${err}`, { cause: err });
      problems[err.problem] = (problems[err.problem] ?? 0) + 1;
    }
    ok(bytes <= 4 * 1024 * 1024 + 64 * 1024, `round ${round} read ${bytes} bytes`);
  }
  ok((problems.ok ?? 0) > 0 && Object.keys(problems).length > 2, JSON.stringify(problems));
});
