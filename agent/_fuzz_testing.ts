/**
 * What the seeded fuzz tests share (test code only).
 *
 * @module
 */

/** Mulberry32: a small seeded PRNG, uniform in [0, 1), so a failing case reproduces. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Byte values that parsers treat specially. */
const INTERESTING = [
  0,
  1,
  4,
  9,
  0x0d,
  0x0a,
  0x20,
  0x2a,
  0x24,
  0x2d,
  0x3f,
  0x7f,
  0x80,
  0xbe,
  0xc0,
  0xff,
];

/**
 * One seeded input: random bytes (15%: up to 64, or up to 1,100), or a sample with one to three
 * mutations (bit flips, a telling byte, inserts, a deleted span, a cut, a repeated span, a splice
 * with another sample, a field set to 0xFF), at most 1,100 bytes.
 */
export function fuzzInput(samples: number[][], rnd: () => number): Uint8Array {
  const int = (n: number) => Math.floor(rnd() * n);
  if (rnd() < 0.15) {
    const out = new Uint8Array(int(rnd() < 0.8 ? 64 : 1100));
    for (let i = 0; i < out.length; i++) out[i] = int(256);
    return out;
  }
  let a = [...samples[int(samples.length)]];
  for (let k = 1 + int(3); k > 0; k--) {
    const at = int(a.length + 1);
    switch (int(9)) {
      case 0: // bit flips
        for (let j = 1 + int(4); j > 0 && a.length > 0; j--) a[int(a.length)] ^= 1 << int(8);
        break;
      case 1: // a telling byte
        if (a.length > 0) a[int(a.length)] = INTERESTING[int(INTERESTING.length)];
        break;
      case 2: { // inserted bytes
        const ins: number[] = [];
        for (let j = 1 + int(8); j > 0; j--) {
          ins.push(rnd() < 0.5 ? int(256) : INTERESTING[int(16)]);
        }
        a.splice(at, 0, ...ins);
        break;
      }
      case 3: // a span deleted
        a.splice(at, int(16));
        break;
      case 4: // cut
        a = a.slice(0, at);
        break;
      case 5: { // a span repeated
        const span = a.slice(at, at + 1 + int(24));
        a.splice(at, 0, ...span, ...span);
        break;
      }
      case 6: { // spliced with another sample
        const other = samples[int(samples.length)];
        a = [...a.slice(0, at), ...other.slice(int(other.length + 1))];
        break;
      }
      case 7: // a 16/24/32-bit field set large
        for (let j = 0; j < 3 && at + j < a.length; j++) a[at + j] = 0xff;
        break;
      default: // unchanged (the valid sample itself, or the other mutations alone)
        break;
    }
  }
  return new Uint8Array(a.slice(0, 1100));
}
