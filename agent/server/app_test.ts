import { deepEqual, equal, match } from "node:assert/strict";
import { gunzipSync } from "node:zlib";
import { Registry } from "../metrics/mod.ts";
import { createApp } from "./app.ts";

const TEXT_TYPE = "text/plain; version=0.0.4; charset=utf-8";
const OM_TYPE = "application/openmetrics-text; version=1.0.0; charset=utf-8";

function registry(): Registry {
  const reg = new Registry();
  reg.counter({ name: "osprey_test_total", help: "T", labelNames: ["k"] }).labels("v").inc(3);
  return reg;
}

const TEXT_BODY =
  '# HELP osprey_test_total T\n# TYPE osprey_test_total counter\nosprey_test_total{k="v"} 3\n';
const OM_BODY =
  '# TYPE osprey_test counter\n# HELP osprey_test T\nosprey_test_total{k="v"} 3\n# EOF\n';

Deno.test("GET /metrics without Accept answers text 0.0.4 with Vary", async () => {
  const res = await createApp({ registry: registry(), ready: () => true }).request("/metrics");
  equal(res.status, 200);
  equal(res.headers.get("Content-Type"), TEXT_TYPE);
  equal(res.headers.get("Vary"), "Accept-Encoding, Accept");
  equal(res.headers.get("Content-Encoding"), null);
  equal(await res.text(), TEXT_BODY);
});

Deno.test("GET /metrics answers OpenMetrics when Prometheus asks for it", async () => {
  const res = await createApp({ registry: registry(), ready: () => true }).request("/metrics", {
    headers: {
      Accept:
        "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1",
    },
  });
  equal(res.headers.get("Content-Type"), OM_TYPE);
  equal(await res.text(), OM_BODY);
});

Deno.test("GET /metrics keeps text when text has the higher q", async () => {
  const res = await createApp({ registry: registry(), ready: () => true }).request("/metrics", {
    headers: { Accept: "application/openmetrics-text;q=0.3,text/plain;q=0.9" },
  });
  equal(res.headers.get("Content-Type"), TEXT_TYPE);
  equal(await res.text(), TEXT_BODY);
});

Deno.test("GET /metrics gzips when asked and the body decompresses to the plain one", async () => {
  const app = createApp({ registry: registry(), ready: () => true });
  const res = await app.request("/metrics", {
    headers: { "Accept-Encoding": "gzip, deflate", Accept: "application/openmetrics-text" },
  });
  equal(res.headers.get("Content-Encoding"), "gzip");
  equal(res.headers.get("Content-Type"), OM_TYPE);
  const raw = new Uint8Array(await res.arrayBuffer());
  deepEqual([raw[0], raw[1]], [0x1f, 0x8b]);
  equal(new TextDecoder().decode(gunzipSync(raw)), OM_BODY);
  const plain = await app.request("/metrics", { headers: { "Accept-Encoding": "gzip;q=0" } });
  equal(plain.headers.get("Content-Encoding"), null);
  equal(await plain.text(), TEXT_BODY);
});

Deno.test("HEAD /metrics answers the headers without a body or a scrape", async () => {
  let scrapes = 0;
  const app = createApp({ registry: registry(), ready: () => true, onScrape: () => scrapes++ });
  const res = await app.request("/metrics", { method: "HEAD" });
  equal(res.status, 200);
  equal(res.headers.get("Content-Type"), TEXT_TYPE);
  equal(await res.text(), "");
  equal(scrapes, 0);
  await app.request("/metrics");
  equal(scrapes, 1);
});

Deno.test("GET /metrics shows the registry's state at request time", async () => {
  const reg = registry();
  const app = createApp({ registry: reg, ready: () => true });
  reg.gauge({ name: "late", help: "L" }).labels().set(7);
  match(
    await (await app.request("/metrics")).text(),
    /^# HELP late L\n# TYPE late gauge\nlate 7\n/,
  );
});

Deno.test("GET /metrics holds its scrape slot until the body was read, then 503 beyond", async () => {
  let refused = 0;
  const app = createApp({
    registry: registry(),
    ready: () => true,
    maxConcurrentScrapes: 1,
    onScrapeRefused: () => refused++,
  });
  const a = await app.request("/metrics");
  equal(a.status, 200);
  // a's body is not read yet: its scrape is still in flight
  const b = await app.request("/metrics");
  equal(b.status, 503);
  equal(b.headers.get("Retry-After"), "1");
  match(await b.text(), /too many concurrent scrapes \(limit 1\)/);
  equal(refused, 1);
  equal(await a.text(), TEXT_BODY);
  const c = await app.request("/metrics");
  equal(c.status, 200);
  // a cancelled body (a client gone) releases the slot too
  await c.body!.cancel();
  const d = await app.request("/metrics");
  equal(d.status, 200);
  await d.text();
  // HEAD holds nothing; other routes are not limited
  const heads = await Promise.all([1, 2, 3].map(() => app.request("/metrics", { method: "HEAD" })));
  deepEqual(heads.map((r) => r.status), [200, 200, 200]);
  const other = await Promise.all([app.request("/healthz"), app.request("/healthz")]);
  deepEqual(other.map((r) => r.status), [200, 200]);
  equal(refused, 1);
});

Deno.test("GET /metrics sends the Content-Length of the body it sends, gzipped or not", async () => {
  const app = createApp({ registry: registry(), ready: () => true });
  const plain = await app.request("/metrics");
  equal(plain.headers.get("Content-Length"), String(new TextEncoder().encode(TEXT_BODY).length));
  equal(await plain.text(), TEXT_BODY);
  const gz = await app.request("/metrics", { headers: { "Accept-Encoding": "gzip" } });
  const raw = new Uint8Array(await gz.arrayBuffer());
  equal(gz.headers.get("Content-Length"), String(raw.length));
});

Deno.test("Methods other than GET and HEAD get 405 with Allow on every route, 404 elsewhere", async () => {
  const app = createApp({ registry: registry(), ready: () => true });
  for (const path of ["/", "/metrics", "/healthz", "/readyz"]) {
    for (const method of ["POST", "PUT", "DELETE", "PATCH", "OPTIONS", "PROPFIND"]) {
      const res = await app.request(path, { method });
      equal(res.status, 405, `${method} ${path}`);
      equal(res.headers.get("Allow"), "GET, HEAD");
      equal(await res.text(), `method ${method} not allowed; use GET or HEAD\n`);
    }
  }
  const missing = await app.request("/nope", { method: "POST" });
  equal(missing.status, 404);
  equal(await missing.text(), "not found\n");
});

Deno.test("GET /healthz is 200 while alive and 503 with detail when the check fails", async () => {
  equal(
    await (await createApp({ registry: registry(), ready: () => false }).request("/healthz"))
      .text(),
    "ok\n",
  );
  let ok = true;
  const app = createApp({
    registry: registry(),
    ready: () => true,
    health: () => ({ ok, detail: { collectors: "stalled" } }),
  });
  equal((await app.request("/healthz")).status, 200);
  ok = false;
  const res = await app.request("/healthz");
  equal(res.status, 503);
  equal(await res.text(), 'unhealthy {"collectors":"stalled"}\n');
});

Deno.test("GET /readyz turns 200 once ready() does", async () => {
  let ready = false;
  const app = createApp({ registry: registry(), ready: () => ready });
  const before = await app.request("/readyz");
  equal(before.status, 503);
  match(await before.text(), /^not ready/);
  ready = true;
  const after = await app.request("/readyz");
  equal(after.status, 200);
  equal(await after.text(), "ready\n");
});

Deno.test("GET / lists the endpoints and unknown paths are 404", async () => {
  const app = createApp({ registry: registry(), ready: () => true });
  const index = await (await app.request("/")).text();
  for (const p of ["/metrics", "/healthz", "/readyz"]) match(index, new RegExp(p));
  const missing = await app.request("/nope");
  equal(missing.status, 404);
  equal(await missing.text(), "not found\n");
});

Deno.test("A failing handler becomes a logged plain 500", async () => {
  const logged: [string, Record<string, unknown> | undefined][] = [];
  const app = createApp({
    registry: registry(),
    ready: () => {
      throw new Error("boom");
    },
    log: { error: (msg, fields) => logged.push([msg, fields]) },
  });
  const res = await app.request("/readyz");
  equal(res.status, 500);
  equal(await res.text(), "internal server error\n");
  deepEqual(logged, [["request failed", { method: "GET", path: "/readyz", error: "boom" }]]);
});

Deno.test("A failing encode becomes a 500 and releases the scrape slot", async () => {
  const reg = registry();
  const app = createApp({ registry: reg, ready: () => true, maxConcurrentScrapes: 1 });
  const encode = reg.encode;
  reg.encode = () => {
    throw new Error("encode failed");
  };
  const failed = await app.request("/metrics");
  equal(failed.status, 500);
  equal(await failed.text(), "internal server error\n");
  reg.encode = encode;
  equal((await app.request("/metrics")).status, 200);
});
