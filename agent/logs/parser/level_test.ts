import { equal } from "node:assert/strict";
import { detectLevel, levelOfPriority } from "./level.ts";

Deno.test("detectLevel() reads glog, level words, level= and Redis markers like the reference", () => {
  const cases: [string, string][] = [
    ["I1130 09:00:00.000000 1 main.go:10] started", "info"],
    ["W1130 09:00:00.000000 1 main.go:10] slow", "warning"],
    ["E1130 x", "error"],
    ["F1130 x", "critical"],
    ["2024-01-01 12:00:00 [ERROR] boom", "error"],
    ["time=2024 level=warn msg=x", "warning"],
    ['{"level":"debug"}', "debug"], // `"debug"}` once `"` is trimmed
    ["<Notice> x", "info"],
    ["x | DBG | y", "debug"],
    ["2024 TRC y", "debug"],
    ["FATAL: out of memory", "critical"],
    ["emergency stop", "critical"],
    ["emer x", "unknown"],
    ["Errors: 0", "error"], // a prefix match, as the reference does
    ["a b c d e f g ERROR", "unknown"], // only the first 7 fields
    ["[4018] 14 Nov 07:01:22.119 * Background saving terminated", "warning"],
    ["1:S 12 Nov 07:52:11.999 - x y", "info"],
    ["1:S 12 Nov 2019 07:52:11.999 . x y", "debug"],
    ["plain text", "unknown"],
    ["", "unknown"],
    ["İNFO x", "info"], // Go lower-cases İ to i
  ];
  for (const [line, level] of cases) equal(detectLevel(line), level, line);
});

Deno.test("detectLevel() looks only at the first 255 bytes", () => {
  equal(detectLevel("x".repeat(252) + " error"), "unknown"); // cut to " er"
  equal(detectLevel("x".repeat(240) + " error"), "error");
  // 2-byte characters: 126 of them are 252 bytes, so "err" after a space is cut to "er"
  equal(detectLevel("é".repeat(126) + " err"), "unknown");
  equal(detectLevel("é".repeat(125) + " err"), "error");
});

Deno.test("levelOfPriority() maps syslog priorities", () => {
  const want = ["critical", "critical", "critical", "error", "warning", "info", "info", "debug"];
  for (let p = 0; p < 8; p++) equal(levelOfPriority(p), want[p]);
  equal(levelOfPriority("8"), "unknown");
});
