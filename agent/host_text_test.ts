import { deepEqual, equal } from "node:assert/strict";
import { contentEnd, lineEnd, parseU64, parseU64Text, textLines } from "./host_text.ts";

Deno.test("parseU64Text takes 1 to 20 digits up to 2^64 - 1, and nothing else", () => {
  deepEqual(
    ["0", "7", "000042", "123456789012345", "9007199254740993", "18446744073709551615"].map(
      parseU64Text,
    ),
    [0, 7, 42, 123456789012345, 9007199254740992, 18446744073709551616],
  );
  const bad = [
    "",
    "-1",
    "+1",
    "1.5",
    "1e3",
    " 1",
    "1 ",
    "0x10",
    "18446744073709551616",
    "1".repeat(21),
  ];
  deepEqual(bad.map(parseU64Text).filter((v) => !Number.isNaN(v)), []);
  equal(parseU64Text("0".repeat(30) + "5"), 5); // leading zeros do not count as digits
  equal(parseU64("ab123cd", 2, 5), 123);
});

Deno.test("parseU64Text returns the nearest double above 2^53", () => {
  equal(parseU64Text("18014398503714728"), 18014398503714728); // even, exact
  equal(parseU64Text("9007199254740995"), 9007199254740996); // odd: rounds half to even
});

Deno.test("line helpers drop a carriage return before the newline", () => {
  deepEqual(textLines("a\r\nb\nc\r"), ["a", "b", "c"]);
  const t = "ab\r\ncd";
  equal(lineEnd(t, 0), 3);
  equal(contentEnd(t, 0, 3), 2);
  equal(lineEnd(t, 4), 6);
  equal(contentEnd(t, 4, 6), 6);
});
