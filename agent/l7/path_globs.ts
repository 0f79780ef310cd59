/**
 * `--exclude-http-requests-by-path` globs as regular expressions, matched against the whole
 * request path. As in the reference (gobwas/glob without separators), `*` and `**` match any
 * run of characters, `/` included; `?` one character; `[a-z]`, `[!a-z]` a class; `{a,b}`
 * alternatives; `\` escapes. The flag's syntax is checked at start (`checkGlob`).
 *
 * @module
 */

function escape(ch: string): string {
  return /[\\^$.*+?()[\]{}|/-]/.test(ch) ? "\\" + ch : ch;
}

/** One glob as an anchored RegExp. */
export function compilePathGlob(glob: string): RegExp {
  const cs = [...glob];
  let re = "";
  let depth = 0;
  for (let i = 0; i < cs.length; i++) {
    const ch = cs[i];
    if (ch === "\\" && i + 1 < cs.length) re += escape(cs[++i]);
    else if (ch === "*") {
      while (cs[i + 1] === "*") i++;
      re += "[\\s\\S]*";
    } else if (ch === "?") re += "[\\s\\S]";
    else if (ch === "[") {
      let j = i + 1;
      let cls = "[";
      if (cs[j] === "!") {
        cls += "^";
        j++;
      }
      for (; j < cs.length && cs[j] !== "]"; j++) {
        if (cs[j] === "\\" && j + 1 < cs.length) cls += escape(cs[++j]);
        else cls += cs[j] === "-" ? "-" : escape(cs[j]);
      }
      re += cls + "]";
      i = j;
    } else if (ch === "{") {
      depth++;
      re += "(?:";
    } else if (ch === "}" && depth > 0) {
      depth--;
      re += ")";
    } else if (ch === "," && depth > 0) re += "|";
    else re += escape(ch);
  }
  while (depth-- > 0) re += ")";
  return new RegExp("^" + re + "$");
}

/** Every glob of the flag, compiled. */
export function compilePathGlobs(globs: readonly string[]): RegExp[] {
  return globs.map(compilePathGlob);
}
