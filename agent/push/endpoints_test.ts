import { deepEqual, equal } from "node:assert/strict";
import {
  effectiveListen,
  joinSignalPath,
  netHost,
  printableUrl,
  pushEndpoints,
} from "./endpoints.ts";

Deno.test("pushEndpoints(): --collector-endpoint derives each signal, a signal's flag wins", () => {
  const e = pushEndpoints({
    "collector-endpoint": "https://coroot.example:8443/base/?tenant=a",
    "logs-endpoint": "http://logs.example/otlp",
    listen: "0.0.0.0:80",
  });
  equal(e.metrics?.href, "https://coroot.example:8443/base/v1/metrics?tenant=a");
  equal(e.traces?.href, "https://coroot.example:8443/base/v1/traces?tenant=a");
  equal(e.profiles?.href, "https://coroot.example:8443/base/v1/profiles?tenant=a");
  equal(e.logs?.href, "http://logs.example/otlp");
  deepEqual(pushEndpoints({}), {
    metrics: undefined,
    logs: undefined,
    traces: undefined,
    profiles: undefined,
  });
});

Deno.test("joinSignalPath(): one slash between the parts, dot segments resolved", () => {
  equal(joinSignalPath(new URL("http://c:8080"), "logs").href, "http://c:8080/v1/logs");
  equal(joinSignalPath(new URL("http://c//a/./b/../"), "metrics").href, "http://c/a/v1/metrics");
});

Deno.test("effectiveListen(): a metrics endpoint forces 127.0.0.1:10300, logs or traces do not", () => {
  deepEqual(effectiveListen({ listen: ":9100", "metrics-endpoint": "http://c/w" }), {
    listen: "127.0.0.1:10300",
    pushing: true,
    forced: true,
  });
  deepEqual(effectiveListen({ listen: "127.0.0.1:10300", "collector-endpoint": "http://c" }), {
    listen: "127.0.0.1:10300",
    pushing: true,
    forced: false,
  });
  deepEqual(effectiveListen({ listen: ":9100", "traces-endpoint": "http://c/t" }), {
    listen: ":9100",
    pushing: false,
    forced: false,
  });
  equal(netHost(new URL("https://c/x")), "c:443");
  equal(netHost(new URL("http://[::1]:9/x")), "[::1]:9");
});

Deno.test("printableUrl(): credentials in an endpoint never reach a log line", () => {
  equal(
    printableUrl(new URL("http://user:pass@127.0.0.1:18555/v1/metrics")),
    "http://***@127.0.0.1:18555/v1/metrics",
  );
  equal(printableUrl(new URL("https://c.example/v1/logs")), "https://c.example/v1/logs");
});
