import { deepEqual, equal } from "node:assert/strict";
import {
  type CollectedMessage,
  collectInto,
  containsTimestamp,
  MULTILINE_LIMIT_BYTES,
  MultilineCollector,
} from "./multiline.ts";

function collect(lines: string[], limitBytes?: number): CollectedMessage[] {
  const out: CollectedMessage[] = [];
  const m = new MultilineCollector({ onMessage: collectInto(out), limitBytes, clock: () => 0 });
  lines.forEach((l, i) => m.add(l, 1000 + i));
  m.stop();
  return out;
}

Deno.test("MultilineCollector joins a Java stack trace with its Caused by", () => {
  const out = collect([
    "ERROR something failed",
    "java.lang.RuntimeException: x",
    "\tat a.b.C.d(C.java:1)",
    "Caused by: java.io.IOException: y",
    "\t... 3 more",
    "INFO next",
  ]);
  equal(out.length, 3); // "java.lang..." starts a message: the first line holds no time
  equal(out[0].content, "ERROR something failed");
  equal(out[0].level, "error");
  equal(
    out[1].content,
    "java.lang.RuntimeException: x\n\tat a.b.C.d(C.java:1)\nCaused by: java.io.IOException: y\n\t... 3 more",
  );
  equal(out[1].timestampMs, 1001);
  equal(out[2].content, "INFO next");
});

Deno.test("MultilineCollector: after a first line with a time, only lines with a time start a message", () => {
  const out = collect([
    "2024-01-01 10:00:00 ERROR failed",
    "java.lang.RuntimeException: x",
    "more text",
    "2024-01-01 10:00:01 INFO ok",
  ]);
  deepEqual(out.map((m) => m.content), [
    "2024-01-01 10:00:00 ERROR failed\njava.lang.RuntimeException: x\nmore text",
    "2024-01-01 10:00:01 INFO ok",
  ]);
  deepEqual(out.map((m) => m.level), ["error", "info"]);
});

Deno.test("MultilineCollector keeps a Python traceback with its chained exceptions", () => {
  const out = collect([
    "Traceback (most recent call last):",
    '  File "a.py", line 1, in <module>',
    "ValueError: x",
    "",
    "During handling of the above exception, another exception occurred:",
    "",
    "Traceback (most recent call last):",
    '  File "a.py", line 3, in <module>',
    "KeyError: y",
    "next message",
  ]);
  equal(out.length, 2);
  equal(out[0].content.split("\n").length, 9);
  equal(out[1].content, "next message");
});

Deno.test("MultilineCollector joins pretty-printed JSON closing braces and blank lines", () => {
  const out = collect(["{", '  "a": 1', "}", "", "x"]);
  deepEqual(out.map((m) => m.content), ['{\n  "a": 1\n}', "x"]);
});

Deno.test("MultilineCollector drops a leading blank line and trims the message", () => {
  deepEqual(collect(["", "  x  "]).map((m) => m.content), ["x"]);
});

Deno.test("MultilineCollector cuts a message at 64 KiB without splitting a character", () => {
  const big = "é".repeat(MULTILINE_LIMIT_BYTES); // 2 bytes each
  const out: CollectedMessage[] = [];
  const m = new MultilineCollector({ onMessage: collectInto(out), clock: () => 0 });
  m.add("x " + big, 0);
  m.add("\tmore", 0);
  m.stop();
  equal(out.length, 1);
  const bytes = new TextEncoder().encode(out[0].content).length;
  equal(bytes, MULTILINE_LIMIT_BYTES); // "x " (2) + 32767 × "é" (65534) = 65536
  equal(out[0].content.endsWith("é"), true);
  equal(m.cut, 2); // the cut line and the dropped continuation
});

Deno.test("MultilineCollector.flush() emits only after the timeout", () => {
  let now = 0;
  const out: CollectedMessage[] = [];
  const m = new MultilineCollector({ onMessage: collectInto(out), clock: () => now });
  m.add("a", 0);
  m.flush(999);
  equal(out.length, 0);
  m.flush(1000);
  equal(out.length, 1);
  now = 5000;
  m.add("b", 0);
  m.flush(5500);
  equal(out.length, 1);
  m.flush(6000);
  equal(out.length, 2);
});

Deno.test("containsTimestamp() finds dd:dd:dd in the first 100 bytes only", () => {
  equal(containsTimestamp("at 12:34:56 x"), true);
  equal(containsTimestamp("at 1:34:56"), false); // "1:" does not count as a pair
  equal(containsTimestamp("at 123:45:67"), false);
  equal(containsTimestamp("12:34"), false);
  equal(containsTimestamp("x".repeat(95) + " 12:34:56"), false);
  equal(containsTimestamp("x".repeat(90) + " 12:34:56"), true);
  // the window is 100 bytes, not characters
  equal(containsTimestamp("é".repeat(46) + " 12:34:56"), false); // 92 + 9 bytes
  equal(containsTimestamp("é".repeat(45) + " 12:34:56"), true); // 90 + 9 bytes
  equal(containsTimestamp("中".repeat(30) + " 12:34:56"), true); // 90 + 9 bytes
  equal(containsTimestamp("中".repeat(31) + " 12:34:56"), false);
});
