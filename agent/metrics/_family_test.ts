import { deepEqual, notEqual } from "node:assert/strict";
import { keyValues, seriesKey } from "./_family.ts";

Deno.test("seriesKey() and keyValues() round-trip, NUL and U+0001 included", () => {
  const lists = [
    [],
    [""],
    ["a"],
    ["a", "b"],
    ["", ""],
    ["a\0b", "c"],
    ["a", "b\0c"],
    ["\u0001", "x"],
    ["\u0001\u0003", "\0"],
    ["x", "y", "z"],
  ];
  for (const values of lists) deepEqual(keyValues(seriesKey(values), values.length), values);
});

Deno.test("seriesKey() gives distinct keys to lists that a plain join would merge", () => {
  notEqual(seriesKey(["a\0b", "c"]), seriesKey(["a", "b\0c"]));
  notEqual(seriesKey(["\u0001\u0003", "x"]), seriesKey(["\0", "x"]));
  notEqual(seriesKey(["", "\u0001a"]), seriesKey(["\u0001", "a"]));
});
