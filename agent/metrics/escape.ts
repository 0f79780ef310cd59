/**
 * Escaping of label values and HELP text for the two text formats.
 *
 * - Label values, both formats: `\` → `\\`, `"` → `\"`, line feed → `\n`.
 * - HELP text, Prometheus text 0.0.4: `\` → `\\`, line feed → `\n` (a `"` stays as is).
 * - HELP text, OpenMetrics 1.0: as label values, so `"` → `\"` too.
 *
 * @module
 */

const LABEL_VALUE_SPECIAL_REGEXP = /[\\"\n]/;
const LABEL_VALUE_SPECIAL_GLOBAL_REGEXP = /[\\"\n]/g;
const HELP_TEXT_SPECIAL_GLOBAL_REGEXP = /[\\\n]/g;

function replaceSpecial(c: string): string {
  return c === "\n" ? "\\n" : "\\" + c;
}

/** Escapes a label value for either text format. */
export function escapeLabelValue(value: string): string {
  return LABEL_VALUE_SPECIAL_REGEXP.test(value)
    ? value.replace(LABEL_VALUE_SPECIAL_GLOBAL_REGEXP, replaceSpecial)
    : value;
}

/**
 * Escapes HELP text.
 *
 * @param help The docstring.
 * @param openMetrics Whether to escape for OpenMetrics (which also escapes `"`).
 */
export function escapeHelp(help: string, openMetrics: boolean): string {
  return openMetrics
    ? help.replace(LABEL_VALUE_SPECIAL_GLOBAL_REGEXP, replaceSpecial)
    : help.replace(HELP_TEXT_SPECIAL_GLOBAL_REGEXP, replaceSpecial);
}
