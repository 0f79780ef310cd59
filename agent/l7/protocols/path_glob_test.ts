import { equal, ok, throws } from "node:assert/strict";
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
