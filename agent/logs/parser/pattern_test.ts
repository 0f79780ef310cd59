import { deepEqual, equal } from "node:assert/strict";
import { hashWords, patternHash, patternWords, removeQuotedAndBrackets } from "./pattern.ts";

// Worked examples: the words and hash of each message as contract §5.2's algorithm gives them.
// Each expected hash was computed with `printf '%s' '<words>' | md5sum` and agrees with the
// reference (coroot/logparser's NewPattern, built and run on these lines outside the repo).
const EXAMPLES: [message: string, words: string, hash: string][] = [
  [
    "ERROR: Found child 6725 in scoreboard slot 10",
    "ERROR Found child in scoreboard slot",
    "49906679618f80d64b08ddbf6f6fb950",
  ],
  [
    'failed to connect to "db-1.internal" (attempt 3): connection refused [retry in 5s]',
    "failed to connect to connection refused",
    "95c341652cc00ba7525697b1b5d3f896",
  ],
  [
    "user 0x7f3a deadbeef 123e4567-e89b-12d3-a456-426614174000 not found",
    "user not found",
    "fa8ad601279d644f812bc36f2b3b67ab",
  ],
  ["Error: value=42, key: abc_1x; done.", "Error key abc_x", "f393bb384f027f68bc536ef5ed328067"],
  ["a b cd e1f 9z z9 x.y. -ab ab-", "cd ef", "67b684cc4a0adfad46cd143ead613e1e"],
  ["", "", "d41d8cd98f00b204e9800998ecf8427e"],
  ["café naïve ok", "ok", "444bcb3a3fcf8389296c49467f27e1d6"],
];

Deno.test("patternWords() and patternHash() give the reference's words and hash", () => {
  for (const [m, words, hash] of EXAMPLES) {
    equal(patternWords(m).join(" "), words, m);
    equal(patternHash(m), hash, m);
    equal(hashWords(words === "" ? [] : words.split(" ")), hash, m);
  }
});

Deno.test("removeQuotedAndBrackets() keeps unmatched closers and ignores escaped quotes", () => {
  equal(removeQuotedAndBrackets("a ] b ) c } d"), "a ] b ) c } d");
  equal(removeQuotedAndBrackets('x "a \\" b" y'), "x  y");
  equal(removeQuotedAndBrackets("f(a[b]c) g {h} i"), "f g  i");
  // a bracket inside quotes is not opened
  equal(removeQuotedAndBrackets('k "[" v'), "k  v");
});

Deno.test("patternWords() keeps at most 100 words", () => {
  const m = Array.from({ length: 150 }, (_, i) => `w${String.fromCharCode(97 + (i % 26))}x`).join(
    " ",
  );
  equal(patternWords(m).length, 100);
});

Deno.test("patternWords() drops hex runs of 4 or more, even when they spell words", () => {
  deepEqual(patternWords("cafe added face bead fed ok"), ["fed", "ok"]);
});

Deno.test("patternWords() splits on Unicode white space as Go's strings.Fields does", () => {
  deepEqual(patternWords("ab\u00a0cd\u2003ef\u0085gh"), ["ab", "cd", "ef", "gh"]);
});
