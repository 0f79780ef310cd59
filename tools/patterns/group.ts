/**
 * The grouping `deno task patterns` prints: every line goes through the agent's pattern
 * classifier as one message (whatever its level), with no pattern cap unless one is given.
 *
 * @module
 */
import { type GroupingTunables, PatternClassifier } from "../../agent/logs/parser/classifier.ts";

/**
 * The pattern id of each line, in order: the index of its pattern (the order patterns were
 * made in; two patterns may share a `pattern_hash`).
 *
 * @param lines one message per line
 * @param maxPatterns the pattern cap (the agent's is `--log-patterns-per-container`)
 */
export function groupLines(
  lines: readonly string[],
  maxPatterns = Infinity,
  tunables?: GroupingTunables,
): string[] {
  const c = new PatternClassifier({ maxPatterns, tunables });
  const ids = new Map<object, number>();
  return lines.map((l) => {
    const p = c.classify(l);
    let id = ids.get(p);
    if (id === undefined) ids.set(p, id = ids.size);
    return String(id);
  });
}
