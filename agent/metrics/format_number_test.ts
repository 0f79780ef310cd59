import { equal } from "node:assert/strict";
import { formatGoFloat, formatLe, formatValue } from "./format_number.ts";

Deno.test("formatValue() writes integers without exponent or decimal point", () => {
  equal(formatValue(0), "0");
  equal(formatValue(-0), "0");
  equal(formatValue(42), "42");
  equal(formatValue(-7), "-7");
  equal(formatValue(2 ** 53), "9007199254740992");
  equal(formatValue(1e20), "100000000000000000000");
});

Deno.test("formatValue() writes the non-finite values the way both formats spell them", () => {
  equal(formatValue(Infinity), "+Inf");
  equal(formatValue(-Infinity), "-Inf");
  equal(formatValue(NaN), "NaN");
});

Deno.test("formatValue() writes floats in their shortest round-trip form", () => {
  equal(formatValue(0.1), "0.1");
  equal(formatValue(0.1 + 0.2), "0.30000000000000004");
  equal(formatValue(1.5e-7), "1.5e-7");
  equal(formatValue(1e21), "1e+21");
  for (const v of [Math.PI, 1 / 3, 123456.789, 5e-324, Number.MAX_VALUE]) {
    equal(Number(formatValue(v)), v);
  }
});

Deno.test("formatGoFloat() matches Go's strconv.FormatFloat(v, 'g', -1, 64)", () => {
  const cases: [number, string][] = [
    [0.005, "0.005"],
    [0.01, "0.01"],
    [0.25, "0.25"],
    [1, "1"],
    [2.5, "2.5"],
    [10, "10"],
    [100000, "100000"],
    [1000000, "1e+06"],
    [1234567, "1.234567e+06"],
    [0.0001, "0.0001"],
    [0.00001, "1e-05"],
    [1.5e-10, "1.5e-10"],
    [1e100, "1e+100"],
    [-2.5, "-2.5"],
    [0, "0"],
    [-0, "-0"],
    [Infinity, "+Inf"],
    [-Infinity, "-Inf"],
    [NaN, "NaN"],
  ];
  for (const [v, want] of cases) equal(formatGoFloat(v), want, String(v));
});

Deno.test("formatLe() uses the OpenMetrics canonical form only for OpenMetrics", () => {
  const om = [0, 0.001, 0.01, 0.1, 0.9, 0.95, 1, 1.7, 10, 1e-10, 1e-5, 0.0001, 100000, 1e6, 1e10]
    .map((v) => formatLe(v, true));
  equal(
    om.join(" "),
    "0.0 0.001 0.01 0.1 0.9 0.95 1.0 1.7 10.0 1e-10 1e-05 0.0001 100000.0 1e+06 1e+10",
  );
  equal(formatLe(1, false), "1");
  equal(formatLe(Infinity, true), "+Inf");
  equal(formatLe(Infinity, false), "+Inf");
});
