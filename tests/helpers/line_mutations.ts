/**
 * Seeded line-level mutations of host files, for the parser fuzz tests: each mutation damages
 * one line the way real files have been seen damaged (a colon in a name, a lost space, a huge
 * number, a non-UTF-8 byte, CRLF, a cut line, a repeated line), or the file as a whole (no
 * trailing newline, empty). The result is produced as bytes and decoded like the agent decodes
 * host files (`TextDecoder`, invalid bytes become U+FFFD), and it remembers which lines of the
 * result are unchanged originals, so a test can demand their values come out exactly.
 *
 * @module
 */

export { prng } from "../../agent/_fuzz_testing.ts";

/** The line-level mutation kinds. */
export const LINE_MUTATIONS = [
  "colon",
  "missing_space",
  "extra_space",
  "huge_number",
  "u64_max",
  "non_utf8",
  "crlf",
  "truncated",
  "duplicated",
  "letter",
  "field_dropped",
] as const;

/** One of {@linkcode LINE_MUTATIONS}. */
export type LineMutation = typeof LINE_MUTATIONS[number];

/** A mutated file. */
export interface Mutated {
  /** The text as the agent would read it. */
  readonly text: string;
  /** For each line of `text` (0-based), the index of the original line it is an unchanged copy of, or -1. */
  readonly origin: readonly number[];
  /** What was done, for failure messages. */
  readonly done: readonly string[];
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Applies one mutation to a line; returns the new line(s) as bytes (an array for duplication). */
function mutateLine(line: string, kind: LineMutation, rnd: () => number): Uint8Array[] {
  const at = (n: number) => Math.floor(rnd() * (n + 1));
  const positions = (re: RegExp) => [...line.matchAll(re)].map((m) => m.index!);
  const pick = <T>(xs: T[]) => xs[Math.floor(rnd() * xs.length)];
  switch (kind) {
    case "colon": {
      const i = at(line.length);
      return [encoder.encode(line.slice(0, i) + ":" + line.slice(i))];
    }
    case "missing_space": {
      const sp = positions(/ /g);
      if (sp.length === 0) return [encoder.encode(line + "x")];
      const i = pick(sp);
      return [encoder.encode(line.slice(0, i) + line.slice(i + 1))];
    }
    case "extra_space": {
      const i = at(line.length);
      return [encoder.encode(line.slice(0, i) + " " + line.slice(i))];
    }
    case "huge_number":
    case "u64_max": {
      const runs = [...line.matchAll(/\d+/g)];
      const big = kind === "u64_max"
        ? pick(["18446744073709551615", "18446744073709551616", "9007199254740993"])
        : "9".repeat(21 + Math.floor(rnd() * 20));
      if (runs.length === 0) return [encoder.encode(line + " " + big)];
      const m = pick(runs);
      return [encoder.encode(line.slice(0, m.index!) + big + line.slice(m.index! + m[0].length))];
    }
    case "non_utf8": {
      const b = encoder.encode(line);
      const i = at(b.length);
      const out = new Uint8Array(b.length + 1);
      out.set(b.subarray(0, i));
      out[i] = pick([0xe9, 0xff, 0x80, 0xc3]);
      out.set(b.subarray(i), i + 1);
      return [out];
    }
    case "crlf":
      return [encoder.encode(line + "\r")];
    case "truncated":
      return [encoder.encode(line.slice(0, at(line.length - 1)))];
    case "duplicated":
      return [encoder.encode(line), encoder.encode(line)];
    case "letter": {
      const d = positions(/\d/g);
      if (d.length === 0) return [encoder.encode("x" + line)];
      const i = pick(d);
      return [encoder.encode(line.slice(0, i) + pick(["x", "e", "-", "."]) + line.slice(i + 1))];
    }
    case "field_dropped": {
      const f = line.split(" ");
      if (f.length < 2) return [encoder.encode("")];
      f.splice(Math.floor(rnd() * f.length), 1);
      return [encoder.encode(f.join(" "))];
    }
  }
}

/** Options of {@linkcode mutate}. */
export interface MutateOptions {
  /** Leading lines never mutated (a header). @default 0 */
  readonly header?: number;
  /** Most lines mutated. @default 3 */
  readonly maxLines?: number;
  /** Chance of a file-level mutation (no trailing newline, or empty). @default 0.1 */
  readonly fileLevel?: number;
}

/**
 * Mutates 1 to `maxLines` distinct lines of `text` (never a header line), each with one random
 * kind; now and then the file instead loses its trailing newline or all its text.
 */
export function mutate(text: string, rnd: () => number, opts: MutateOptions = {}): Mutated {
  const header = opts.header ?? 0;
  const ends = text.endsWith("\n");
  const lines = (ends ? text.slice(0, -1) : text).split("\n");
  const done: string[] = [];
  const r = rnd();
  if (r < (opts.fileLevel ?? 0.1) / 4) {
    return { text: "", origin: [], done: ["empty file"] };
  }
  const chosen = new Set<number>();
  if (r < (opts.fileLevel ?? 0.1)) done.push("no trailing newline");
  else {
    const n = 1 + Math.floor(rnd() * (opts.maxLines ?? 3));
    for (let k = 0; k < n && lines.length > header; k++) {
      chosen.add(header + Math.floor(rnd() * (lines.length - header)));
    }
  }
  const parts: Uint8Array[] = [];
  const origin: number[] = [];
  lines.forEach((line, i) => {
    if (!chosen.has(i)) {
      parts.push(encoder.encode(line));
      origin.push(i);
      return;
    }
    const kind = LINE_MUTATIONS[Math.floor(rnd() * LINE_MUTATIONS.length)];
    const out = mutateLine(line, kind, rnd);
    done.push(`line ${i + 1} ${kind}`);
    for (const b of out) {
      parts.push(b);
      origin.push(kind === "duplicated" && b === out[0] ? i : -1);
    }
  });
  const newline = encoder.encode("\n");
  const total = parts.reduce((n, p) => n + p.length + 1, 0);
  const bytes = new Uint8Array(total);
  let o = 0;
  for (const p of parts) {
    bytes.set(p, o);
    o += p.length;
    bytes.set(newline, o);
    o++;
  }
  let out = decoder.decode(bytes);
  if (!ends || done.includes("no trailing newline")) out = out.slice(0, -1);
  return { text: out, origin, done };
}
