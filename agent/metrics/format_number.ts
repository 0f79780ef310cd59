/**
 * Number rendering for the exposition formats.
 *
 * Sample values use JavaScript's shortest round-trip representation, which both the
 * Prometheus text 0.0.4 and the OpenMetrics 1.0 grammars accept: integers print without an
 * exponent or decimal point below 1e21, other values as `String(v)` (`0.1`, `1.5e-7`), and the
 * non-finite values as `NaN`, `+Inf`, `-Inf`.
 *
 * Histogram `le` label values use Go's `%g` shortest rendering, the rendering
 * client_golang (and so coroot-node-agent) produces: `0.005`, `1`, `2.5`, `1e+06`. OpenMetrics
 * asks for the canonical form, which appends `.0` when there is neither a decimal point nor an
 * exponent: `1.0`, `10.0`, `1e+06`.
 *
 * @module
 */

/**
 * Renders a sample value.
 *
 * @example
 * ```ts
 * formatValue(42); // "42"
 * formatValue(Infinity); // "+Inf"
 * ```
 */
export function formatValue(v: number): string {
  if (v === Infinity) return "+Inf";
  if (v === -Infinity) return "-Inf";
  return String(v);
}

/** Renders `v` the way Go's `strconv.FormatFloat(v, 'g', -1, 64)` does. */
export function formatGoFloat(v: number): string {
  if (Number.isNaN(v)) return "NaN";
  if (v === Infinity) return "+Inf";
  if (v === -Infinity) return "-Inf";
  if (v === 0) return Object.is(v, -0) ? "-0" : "0";
  const sign = v < 0 ? "-" : "";
  // toExponential() without an argument gives the shortest round-trip digits, like Go.
  const [mantissa, expText] = Math.abs(v).toExponential().split("e");
  const digits = mantissa.replace(".", "");
  const exp = Number(expText);
  if (exp < -4 || exp >= 6) {
    const frac = digits.length > 1 ? "." + digits.slice(1) : "";
    const expAbs = Math.abs(exp);
    return `${sign}${digits[0]}${frac}e${exp < 0 ? "-" : "+"}${expAbs < 10 ? "0" : ""}${expAbs}`;
  }
  if (exp < 0) return `${sign}0.${"0".repeat(-exp - 1)}${digits}`;
  if (digits.length <= exp + 1) return sign + digits + "0".repeat(exp + 1 - digits.length);
  return `${sign}${digits.slice(0, exp + 1)}.${digits.slice(exp + 1)}`;
}

/**
 * Renders a histogram bucket bound for the `le` label.
 *
 * @param v The bucket's upper bound.
 * @param openMetrics Whether to use the OpenMetrics canonical form (`1.0` rather than `1`).
 */
export function formatLe(v: number, openMetrics: boolean): string {
  const s = formatGoFloat(v);
  if (!openMetrics || !Number.isFinite(v) || s.includes(".") || s.includes("e")) return s;
  return s + ".0";
}
