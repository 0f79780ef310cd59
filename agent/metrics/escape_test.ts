import { equal } from "node:assert/strict";
import { escapeHelp, escapeLabelValue } from "./escape.ts";

Deno.test("escapeLabelValue() escapes backslash, double quote and line feed", () => {
  equal(escapeLabelValue('a\\b"c\nd'), 'a\\\\b\\"c\\nd');
});

Deno.test("escapeLabelValue() leaves other text alone, including UTF-8 and tabs", () => {
  const s = "plain / ünïcödé \t {x=y} 🦅";
  equal(escapeLabelValue(s), s);
});

Deno.test("escapeHelp() for text 0.0.4 escapes backslash and line feed but not quotes", () => {
  equal(escapeHelp('say "hi"\\now\nthen', false), 'say "hi"\\\\now\\nthen');
});

Deno.test("escapeHelp() for OpenMetrics also escapes double quotes", () => {
  equal(escapeHelp('say "hi"\\now\nthen', true), 'say \\"hi\\"\\\\now\\nthen');
});
