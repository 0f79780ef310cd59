/**
 * The grouping `deno task patterns` prints: every line goes through the agent's pattern
 * classifier as one message (whatever its level), with no pattern cap unless one is given.
 *
 * @module
 */
import { PatternClassifier } from "../../agent/logs/parser/classifier.ts";

/**
 * The pattern id (the pattern's hash) of each line, in order.
 *
 * @param lines one message per line
 * @param maxPatterns the pattern cap (the agent's is `--log-patterns-per-container`)
 */
export function groupLines(lines: readonly string[], maxPatterns = Infinity): string[] {
  const c = new PatternClassifier({ maxPatterns });
  return lines.map((l) => c.classify(l).hash);
}
