import { equal } from "node:assert/strict";
import { acceptsGzip, negotiateFormat } from "./negotiate.ts";

Deno.test("negotiateFormat() gives text 0.0.4 without an Accept header or for */*", () => {
  equal(negotiateFormat(null), "text");
  equal(negotiateFormat(""), "text");
  equal(negotiateFormat("*/*"), "text");
  equal(negotiateFormat("text/plain"), "text");
  equal(negotiateFormat("application/json"), "text");
});

Deno.test("negotiateFormat() picks OpenMetrics when asked for it with any or no version 1.0.0", () => {
  equal(negotiateFormat("application/openmetrics-text"), "openmetrics");
  equal(negotiateFormat("application/openmetrics-text; version=1.0.0"), "openmetrics");
  equal(
    negotiateFormat('application/openmetrics-text;version="1.0.0";charset=utf-8'),
    "openmetrics",
  );
  equal(negotiateFormat("APPLICATION/OpenMetrics-Text"), "openmetrics");
});

Deno.test("negotiateFormat() ignores OpenMetrics versions it cannot write", () => {
  equal(negotiateFormat("application/openmetrics-text;version=0.0.1"), "text");
  equal(negotiateFormat("application/openmetrics-text;version=2.0.0,text/plain;q=0.1"), "text");
});

Deno.test("negotiateFormat() respects q-values", () => {
  equal(negotiateFormat("application/openmetrics-text;q=0.4,text/plain;q=0.5"), "text");
  equal(negotiateFormat("application/openmetrics-text;q=0.5,text/plain;q=0.5"), "openmetrics");
  equal(negotiateFormat("application/openmetrics-text;q=0,*/*"), "text");
  equal(negotiateFormat("application/openmetrics-text;q=0.2,*/*;q=0.1"), "openmetrics");
  equal(negotiateFormat("application/openmetrics-text;q=banana,text/plain;q=0.1"), "text");
});

Deno.test("negotiateFormat() picks OpenMetrics for the Accept headers Prometheus 2 and 3 send", () => {
  equal(
    negotiateFormat(
      "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1",
    ),
    "openmetrics",
  );
  equal(
    negotiateFormat(
      "application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.5,application/openmetrics-text;version=0.0.1;q=0.4,text/plain;version=1.0.0;escaping=allow-utf-8;q=0.3,text/plain;version=0.0.4;q=0.2,*/*;q=0.1",
    ),
    "openmetrics",
  );
  equal(negotiateFormat("text/plain;version=0.0.4;q=1,*/*;q=0.1"), "text");
});

Deno.test("acceptsGzip() honours gzip, * and q=0", () => {
  equal(acceptsGzip(null), false);
  equal(acceptsGzip("gzip"), true);
  equal(acceptsGzip("deflate, gzip;q=0.5"), true);
  equal(acceptsGzip("gzip;q=0"), false);
  equal(acceptsGzip("identity"), false);
  equal(acceptsGzip("*"), true);
  equal(acceptsGzip("*, gzip;q=0"), false);
  equal(acceptsGzip("br, *;q=0"), false);
});
