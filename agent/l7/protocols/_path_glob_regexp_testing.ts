/**
 * The path glob compiler Osprey used before `path_glob.ts` became an automaton (test code only):
 * each glob became an anchored `u`-mode RegExp, `*` a `[^]*`. It is kept as the oracle for the
 * differential fuzz in `path_glob_test.ts`, on short patterns and paths where V8's backtracking
 * stays cheap; on long paths that do not match it takes exponential time.
 *
 * @module
 */
import { GlobSyntaxError } from "./path_glob.ts";

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
 * Compiles one glob into an anchored regular expression, the way `compileGlob` did before it
 * became an automaton.
 *
 * @throws {GlobSyntaxError} when `[` is not closed, a `[...]` is empty, or a range runs backwards
 */
export function compileGlobRegExp(pattern: string): RegExp {
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
