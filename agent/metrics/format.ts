/**
 * The exposition formats a {@linkcode Registry} can write, and their HTTP content types.
 *
 * @module
 */

/** `text`: Prometheus text format 0.0.4. `openmetrics`: OpenMetrics 1.0 text format. */
export type ExpositionFormat = "text" | "openmetrics";

/** Content type of the Prometheus text format 0.0.4. */
export const TEXT_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

/** Content type of the OpenMetrics 1.0 text format. */
export const OPENMETRICS_CONTENT_TYPE =
  "application/openmetrics-text; version=1.0.0; charset=utf-8";

/** The content type to send with an exposition in `format`. */
export function contentType(format: ExpositionFormat): string {
  return format === "openmetrics" ? OPENMETRICS_CONTENT_TYPE : TEXT_CONTENT_TYPE;
}
