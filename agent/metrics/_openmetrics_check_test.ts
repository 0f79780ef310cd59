import { deepEqual, equal, match } from "node:assert/strict";
import { checkOpenMetrics, parseOpenMetricsNumber } from "./_openmetrics_check.ts";

const VALID = `# TYPE acme_requests counter
# HELP acme_requests Requests \\"served\\"\\n and \\\\ more
acme_requests_total{path="/a\\"b",code="200"} 3
acme_requests_total{path="/c",code="500"} 0
# TYPE temp gauge
temp 17.5
# TYPE lat_seconds histogram
# UNIT lat_seconds seconds
lat_seconds_bucket{le="0.5"} 1
lat_seconds_bucket{le="1.0"} 2
lat_seconds_bucket{le="+Inf"} 3
lat_seconds_sum 4.5
lat_seconds_count 3
# EOF
`;

function problemsOf(text: string): string {
  return checkOpenMetrics(text).join("\n");
}

Deno.test("checkOpenMetrics() accepts a valid exposition", () => {
  deepEqual(checkOpenMetrics(VALID), []);
});

Deno.test("checkOpenMetrics() requires # EOF at the end", () => {
  match(problemsOf(VALID.replace("# EOF\n", "")), /does not end with "# EOF"/);
  match(problemsOf(VALID.replace("# EOF\n", "# EOF\ntemp 1\n")), /"# EOF" is not the last line/);
});

Deno.test("checkOpenMetrics() rejects counter samples without _total", () => {
  match(
    problemsOf(VALID.replace('acme_requests_total{path="/c"', 'acme_requests{path="/c"')),
    /does not belong/,
  );
});

Deno.test("checkOpenMetrics() rejects a counter TYPE line carrying _total", () => {
  const text = "# TYPE x_total counter\nx_total 1\n# EOF\n";
  match(problemsOf(text), /sample x_total does not belong to family x_total/);
});

Deno.test("checkOpenMetrics() rejects bad escapes, raw quotes and unknown # lines", () => {
  match(problemsOf('# TYPE g gauge\ng{a="x\\qy"} 1\n# EOF\n'), /not a valid sample line/);
  match(problemsOf('# TYPE g gauge\n# HELP g say "hi"\ng 1\n# EOF\n'), /badly escaped HELP/);
  match(problemsOf("# TYPE g gauge\n# comment\ng 1\n# EOF\n"), /neither TYPE, HELP, UNIT nor EOF/);
});

Deno.test("checkOpenMetrics() rejects interleaved families and metrics, and duplicates", () => {
  match(
    problemsOf("# TYPE a gauge\na 1\n# TYPE b gauge\nb 1\n# TYPE a gauge\na 2\n# EOF\n"),
    /family a appears twice/,
  );
  match(
    problemsOf('# TYPE a gauge\na{x="1"} 1\na{x="1"} 2\n# EOF\n'),
    /duplicate sample/,
  );
  match(
    problemsOf(
      '# TYPE h histogram\nh_bucket{x="1",le="+Inf"} 1\nh_bucket{x="2",le="+Inf"} 1\nh_count{x="1"} 1\n# EOF\n',
    ),
    /interleaved/,
  );
});

Deno.test("checkOpenMetrics() checks histogram buckets", () => {
  const noInf = VALID.replace('lat_seconds_bucket{le="+Inf"} 3\n', "");
  match(problemsOf(noInf), /without a \+Inf bucket/);
  match(problemsOf(VALID.replace('le="1.0"} 2', 'le="1.0"} 0')), /not cumulative/);
  match(problemsOf(VALID.replace('le="1.0"} 2', 'le="0.1"} 2')), /not increasing/);
  match(problemsOf(VALID.replace("lat_seconds_count 3", "lat_seconds_count 4")), /differs/);
  match(problemsOf(VALID.replace('le="0.5"} 1', 'le="0.5"} 1.5')), /not a non-negative integer/);
});

Deno.test("checkOpenMetrics() rejects negative or NaN counter totals and a bad unit", () => {
  match(problemsOf("# TYPE c counter\nc_total -1\n# EOF\n"), /negative or NaN/);
  match(problemsOf("# TYPE c counter\nc_total NaN\n# EOF\n"), /negative or NaN/);
  match(
    problemsOf("# TYPE c_bytes gauge\n# UNIT c_bytes seconds\nc_bytes 1\n# EOF\n"),
    /not a suffix/,
  );
});

Deno.test("parseOpenMetricsNumber() reads the special values", () => {
  equal(parseOpenMetricsNumber("+Inf"), Infinity);
  equal(parseOpenMetricsNumber("-inf"), -Infinity);
  equal(parseOpenMetricsNumber("NaN"), NaN);
  equal(parseOpenMetricsNumber("1.5e-7"), 1.5e-7);
});
