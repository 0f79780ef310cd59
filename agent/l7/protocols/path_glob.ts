/**
 * `--exclude-http-requests-by-path` globs, with the semantics of the reference's matcher
 * (`gobwas/glob` compiled without separators): the whole path must match; `*` and `**` match any
 * run of characters, `/` included; `?` one character; `[abc]`, `[a-z]` one character of a set or
 * range, `[!abc]`, `[!a-z]` one character outside it; `{a,b,...}` any one of the alternatives
 * (each itself a glob, nesting allowed; an unclosed `{` still takes the alternatives written);
 * `\` makes the next character plain (a trailing `\` is dropped). `]`, `}` and `,` outside their
 * constructs are plain text. Characters are Unicode code points.
 *
 * A pattern is compiled once into an anchored regular expression; matching is one
 * `RegExp.test` per path.
 *
 * @module
 */

/** A glob the reference's matcher would refuse (an unclosed or empty `[...]`, a backward range). */
export class GlobSyntaxError extends SyntaxError {
  /** The pattern as given. */
  readonly pattern: string;
  constructor(pattern: string, reason: string) {
    super(`Cannot compile the path glob "${pattern}": ${reason}`);
    this.name = "GlobSyntaxError";
    this.pattern = pattern;
  }
}

const SYNTAX_CHARS = "^$\\.*+?()[]{}|/";
const CLASS_CHARS = "\\]-[^";

/** `c` as literal text outside a class (a `u`-mode regex escapes only syntax characters). */
function escapeChar(c: string): string {
  return SYNTAX_CHARS.includes(c) ? "\\" + c : c;
}

/** `c` as a literal inside `[...]`. */
function escapeClassChar(c: string): string {
  return CLASS_CHARS.includes(c) ? "\\" + c : c;
}

/**
 * Compiles one glob into an anchored regular expression.
 *
 * @throws {GlobSyntaxError} when `[` is not closed, a `[...]` is empty, or a range runs backwards
 */
export function compileGlob(pattern: string): RegExp {
  const cs = [...pattern];
  let i = 0;
  let depth = 0; // open `{` groups
  let out = "";
  while (i < cs.length) {
    const c = cs[i];
    if (c === "\\") {
      i++;
      if (i < cs.length) out += escapeChar(cs[i]);
      i++;
    } else if (c === "*") {
      out += "[^]*";
      i++;
      if (cs[i] === "*") i++;
    } else if (c === "?") {
      out += "[^]";
      i++;
    } else if (c === "[") {
      const [cls, next] = charClass(pattern, cs, i + 1);
      out += cls;
      i = next;
    } else if (c === "{") {
      depth++;
      out += "(?:";
      i++;
    } else if (c === "," && depth > 0) {
      out += "|";
      i++;
    } else if (c === "}" && depth > 0) {
      depth--;
      out += ")";
      i++;
    } else {
      out += escapeChar(c);
      i++;
    }
  }
  out += ")".repeat(depth);
  return new RegExp(`^(?:${out})$`, "u");
}

/** Reads a `[...]` whose content starts at `i`; returns the regex class and the index after `]`. */
function charClass(pattern: string, cs: string[], i: number): [string, number] {
  let not = false;
  if (cs[i] === "!") {
    not = true;
    i++;
  }
  if (i >= cs.length) throw new GlobSyntaxError(pattern, "unclosed [");
  if (cs[i + 1] === "-") {
    const lo = cs[i], hi = cs[i + 2];
    if (hi === undefined) throw new GlobSyntaxError(pattern, "unclosed [");
    if (cs[i + 3] === undefined) throw new GlobSyntaxError(pattern, "unclosed [");
    if (cs[i + 3] !== "]") {
      throw new GlobSyntaxError(pattern, "a range is not closed after its end");
    }
    if (hi.codePointAt(0)! < lo.codePointAt(0)!) {
      throw new GlobSyntaxError(pattern, `backward range ${lo}-${hi}`);
    }
    return [`[${not ? "^" : ""}${escapeClassChar(lo)}-${escapeClassChar(hi)}]`, i + 4];
  }
  let chars = "";
  while (i < cs.length && cs[i] !== "]") {
    if (cs[i] === "\\") {
      i++;
      if (i >= cs.length) break;
    }
    chars += escapeClassChar(cs[i]);
    i++;
  }
  if (i >= cs.length) throw new GlobSyntaxError(pattern, "unclosed [");
  if (chars === "") throw new GlobSyntaxError(pattern, "empty []");
  return [`[${not ? "^" : ""}${chars}]`, i + 1];
}

/** A set of path globs; a path is excluded when any of them matches it. */
export class PathFilter {
  readonly #globs: RegExp[];

  /**
   * @param patterns the `--exclude-http-requests-by-path` values, in order
   * @throws {GlobSyntaxError} for the first pattern that does not compile
   */
  constructor(patterns: readonly string[]) {
    this.#globs = patterns.map(compileGlob);
  }

  /** Whether there are no patterns (every path is kept). */
  get empty(): boolean {
    return this.#globs.length === 0;
  }

  /** Whether `path` matches one of the patterns, so its request is neither counted nor traced. */
  excludes(path: string): boolean {
    for (const g of this.#globs) if (g.test(path)) return true;
    return false;
  }
}
