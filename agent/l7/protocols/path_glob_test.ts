import { equal, ok, throws } from "node:assert/strict";
import { prng } from "../../_fuzz_testing.ts";
import { compileGlobRegExp } from "./_path_glob_regexp_testing.ts";
import { compileGlob, GlobSyntaxError, PathFilter } from "./path_glob.ts";

function matches(pattern: string, path: string): boolean {
  return compileGlob(pattern).test(path);
}

Deno.test("compileGlob() matches whole paths, * and ** crossing /", () => {
  ok(matches("/health*", "/healthz"));
  ok(matches("/health*", "/health/live/deep"));
  ok(!matches("/health*", "/api/health"));
  ok(matches("/api/**", "/api/v1/users"));
  ok(matches("*/metrics", "/a/b/metrics"));
  ok(matches("/a?c", "/abc"));
  ok(!matches("/a?c", "/ac"));
  ok(matches("/a?c", "/a\u00e9c"), "? is one code point");
  ok(matches("", ""));
  ok(!matches("", "/"));
  ok(matches("/a.b", "/a.b"));
  ok(!matches("/a.b", "/axb"), ". is plain text");
  ok(matches("/a+(b)|$^", "/a+(b)|$^"));
});

Deno.test("compileGlob() character sets, ranges and negations", () => {
  ok(matches("/x[abc]", "/xb"));
  ok(!matches("/x[abc]", "/xd"));
  ok(matches("/x[a-z]", "/xq"));
  ok(!matches("/x[a-z]", "/xQ"));
  ok(matches("/x[!a-z]", "/xQ"));
  ok(!matches("/x[!a-z]", "/xq"));
  ok(matches("/x[!!]", "/xa"));
  ok(!matches("/x[!!]", "/x!"));
  ok(matches("/x[\\]]", "/x]"));
  ok(matches("/x[-^]", "/x^"));
  ok(matches("/x[-^]", "/x-"));
});

Deno.test("compileGlob() alternatives, escapes and plain ] } ,", () => {
  ok(matches("/{a,b}", "/a"));
  ok(matches("/{a,b}", "/b"));
  ok(!matches("/{a,b}", "/c"));
  ok(matches("/{a,}x", "/x"), "an empty alternative");
  ok(matches("/{a,{b,c}d}", "/cd"), "nested");
  ok(matches("{unclosed", "unclosed"));
  ok(matches("{a,b", "b"), "an unclosed { keeps its alternatives");
  ok(matches("/a]", "/a]"));
  ok(matches("/a,b}", "/a,b}"));
  ok(matches("\\[", "["));
  ok(matches("\\*", "*"));
  ok(!matches("\\*", "x"));
  ok(matches("/x\\", "/x"), "a trailing \\ is dropped");
  ok(matches("/{*.css,*.js}", "/static/app.js"));
});

Deno.test("compileGlob() refuses what the reference cannot compile", () => {
  for (const bad of ["/x[", "/x[]", "/x[z-a]", "/x[a-", "/x[a-zz]", "/x[!]", "/x[ab", "[\\"]) {
    throws(() => compileGlob(bad), GlobSyntaxError, bad);
  }
});

Deno.test("PathFilter excludes a path any glob matches", () => {
  const f = new PathFilter(["/healthz", "/static/*"]);
  equal(f.excludes("/healthz"), true);
  equal(f.excludes("/static/a.png"), true);
  equal(f.excludes("/api"), false);
  equal(new PathFilter([]).empty, true);
  equal(new PathFilter([]).excludes("/x"), false);
});

/** The documented bound on `PathGlob.steps`: 4 × (pattern code points + 1) × (path code points + 1). */
function stepBound(pattern: string, path: string): number {
  return 4 * ([...pattern].length + 1) * ([...path].length + 1);
}

/** Matches, checks the result and that the work stayed within the bound; returns the steps. */
function boundedMatch(pattern: string, path: string, expected: boolean): number {
  const g = compileGlob(pattern);
  equal(g.test(path), expected, `${pattern} on a ${path.length}-character path`);
  ok(
    g.steps <= stepBound(pattern, path),
    `${pattern} on a ${path.length}-character path: ${g.steps} steps > ${stepBound(pattern, path)}`,
  );
  return g.steps;
}

Deno.test("compileGlob() stays within pattern × path steps where a backtracking regex blows up", () => {
  const slashes = "/".repeat(999) + "x"; // 1,000 characters, no ".js" at the end
  const segments = "/a".repeat(499) + ".j"; // 1,000 characters
  const jsAlmost = "/abc".repeat(249) + "/x.jsx"; // 1,002 characters, ".js" inside, not at the end
  for (
    const pattern of ["*/*/*/*.js", "*/*/*/*/*.js", "*/*/*/*/*/*/*/*/*/*.js", "**/**/**/**/*.js"]
  ) {
    for (const path of [slashes, segments, jsAlmost]) {
      const steps = boundedMatch(pattern, path, false);
      ok(steps >= path.length, `${pattern}: ${steps} steps cannot have read the whole path`);
    }
    boundedMatch(pattern, "/a".repeat(499) + ".js", true);
  }
  // `*a` repeated against a run of a's that ends wrong: every star can end anywhere.
  boundedMatch("*a".repeat(20) + "b", "a".repeat(1000), false);
  boundedMatch("*a".repeat(20) + "b", "a".repeat(1000) + "b", true);
  // `**` runs and `*` runs: one node, the same answer as a single `*`.
  boundedMatch("*".repeat(200) + "x", "y".repeat(1000), false);
  boundedMatch("/" + "**/".repeat(50) + "z", "/q".repeat(500), false);
  boundedMatch("/" + "**/".repeat(50) + "z", "/q".repeat(60) + "/z", true);
  // Many `{a,b}` groups, with stars inside and nested.
  boundedMatch("{a,b}".repeat(100), "ab".repeat(50), true);
  boundedMatch("{a,b}".repeat(100), "ab".repeat(49) + "ac", false);
  boundedMatch("{*a,*b}".repeat(30) + "c", "ab".repeat(500), false);
  boundedMatch("{*a,*b}".repeat(30) + "c", "ab".repeat(500) + "c", true);
  boundedMatch("{{*,*/},{*.,*}}".repeat(20) + "!", "/a.".repeat(333) + "?", false);
  boundedMatch("{".repeat(50) + "*/x," + "*/y,".repeat(50) + "z", "/".repeat(1000), false);
  boundedMatch("{*/x,".repeat(50) + "z" + "}".repeat(50), "/".repeat(1000), false);
  boundedMatch("[!/]*/?[a-z]*{x,y,*z}".repeat(10), "/b".repeat(500), false);
});

Deno.test("compileGlob() compiles deep nesting and long patterns, and matches them in bounds", () => {
  boundedMatch("{".repeat(100_000) + "a", "a", true);
  boundedMatch("{".repeat(100_000) + "a", "b", false);
  boundedMatch("{a,".repeat(50_000) + "z", "z", true);
  boundedMatch("{a,".repeat(50_000) + "z", "aa", false);
  boundedMatch("{a,".repeat(50_000) + "z" + "}".repeat(50_000) + "!", "a!", true);
  boundedMatch("{a,".repeat(50_000) + "z" + "}".repeat(50_000) + "!", "z", false);
});

/** One code point from `alphabet`. */
function pick(rnd: () => number, alphabet: readonly string[]): string {
  return alphabet[Math.floor(rnd() * alphabet.length)];
}

Deno.test("compileGlob() agrees with the regex compiler it replaced on 100,000 short patterns and paths", () => {
  const rnd = prng(Number(Deno.env.get("FUZZ_SEED") ?? 0x9_61_0b));
  const patternChars = [..."ab/*?[]{},!-\\.\u00e9\u{1f600}", "**", "[a-b]", "[!a]", "{a,b}"];
  const pathChars = [..."ab/.-!]},*?\\[{\u00e9\u{1f600}"];
  let cases = 0, matched = 0, refused = 0;
  for (let i = 0; cases < 100_000; i++) {
    let pattern = "";
    for (let n = Math.floor(rnd() * 9); n > 0; n--) pattern += pick(rnd, patternChars);
    let oracle: RegExp | undefined, oracleError: unknown, glob, error: unknown;
    try {
      oracle = compileGlobRegExp(pattern);
    } catch (err) {
      oracleError = err;
    }
    try {
      glob = compileGlob(pattern);
    } catch (err) {
      error = err;
    }
    const where = `case ${i}, pattern ${JSON.stringify(pattern)}`;
    if (oracleError !== undefined || error !== undefined) {
      ok(
        oracleError instanceof GlobSyntaxError,
        `${where}: the regex compiler threw ${oracleError}`,
      );
      ok(error instanceof GlobSyntaxError, `${where}: compileGlob threw ${error}`);
      equal(error.message, oracleError.message, where);
      refused++;
      cases++;
      continue;
    }
    for (let k = 0; k < 4; k++, cases++) {
      // Half the paths are the pattern with its syntax characters swapped out, so many match.
      let path = "";
      if (rnd() < 0.5) {
        for (const c of pattern) {
          if ("*?[]{},\\".includes(c)) {
            for (let n = Math.floor(rnd() * 3); n > 0; n--) path += pick(rnd, pathChars);
          } else if (rnd() < 0.9) path += c;
        }
      } else {
        for (let n = Math.floor(rnd() * 9); n > 0; n--) path += pick(rnd, pathChars);
      }
      const expected = oracle!.test(path);
      equal(glob!.test(path), expected, `${where}, path ${JSON.stringify(path)}`);
      ok(glob!.steps <= stepBound(pattern, path), `${where}, path ${JSON.stringify(path)}: steps`);
      if (expected) matched++;
    }
  }
  // Both answers and refusals are common, so the comparison is not one-sided.
  ok(matched > cases / 10, `only ${matched} of ${cases} cases matched`);
  ok(matched < cases * 0.9, `${matched} of ${cases} cases matched`);
  ok(refused > cases / 100, `only ${refused} of ${cases} patterns were refused`);
});
