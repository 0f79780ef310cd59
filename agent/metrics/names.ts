/**
 * Metric and label name rules of the Prometheus data model, checked once at registration so
 * the exposition never has to.
 *
 * @module
 */

/** Legal metric names: `[a-zA-Z_:][a-zA-Z0-9_:]*`. */
export const METRIC_NAME_REGEXP: RegExp = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;

/** Legal label names: `[a-zA-Z_][a-zA-Z0-9_]*`. */
export const LABEL_NAME_REGEXP: RegExp = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/**
 * Whether `name` is a legal metric name that is not reserved (names starting with `__` are
 * reserved for Prometheus itself).
 */
export function isValidMetricName(name: string): boolean {
  return typeof name === "string" && METRIC_NAME_REGEXP.test(name) && !name.startsWith("__");
}

/**
 * Whether `name` is a legal label name that is not reserved (names starting with `__` are
 * reserved for Prometheus itself).
 */
export function isValidLabelName(name: string): boolean {
  return typeof name === "string" && LABEL_NAME_REGEXP.test(name) && !name.startsWith("__");
}

/**
 * Throws a `TypeError` naming the bad metric name.
 *
 * @param name The candidate metric name.
 * @param action What was being done, e.g. `register counter`.
 */
export function assertMetricName(name: string, action: string): void {
  if (!isValidMetricName(name)) {
    throw new TypeError(
      `Cannot ${action} "${name}": a metric name must match ${METRIC_NAME_REGEXP.source} and must not start with "__"`,
    );
  }
}

/**
 * Throws a `TypeError` naming the bad label name.
 *
 * @param name The candidate label name.
 * @param context What the label belongs to, e.g. `metric "x_total"`.
 */
export function assertLabelName(name: string, context: string): void {
  if (!isValidLabelName(name)) {
    throw new TypeError(
      `Invalid label name "${name}" for ${context}: a label name must match ${LABEL_NAME_REGEXP.source} and must not start with "__"`,
    );
  }
}
