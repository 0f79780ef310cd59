import { deepEqual, equal } from "node:assert/strict";
import { Backoff, parseRetryAfter, post, pushHttpClient } from "./http.ts";

Deno.test("parseRetryAfter(): seconds or an HTTP date", () => {
  equal(parseRetryAfter(null), undefined);
  equal(parseRetryAfter("7"), 7000);
  equal(parseRetryAfter("Thu, 01 Jan 1970 00:00:10 GMT", 4000), 6000);
  equal(parseRetryAfter("soon"), undefined);
});

Deno.test("Backoff: doubles up to the cap, reset starts over", () => {
  const b = new Backoff(5000, 30000);
  deepEqual([b.next(), b.next(), b.next(), b.next()], [5000, 10000, 20000, 30000]);
  b.reset();
  equal(b.next(), 5000);
});

Deno.test("post(): 2xx ok, 429/5xx retried, other 4xx rejected, a closed port is a network failure", async () => {
  const statuses = [204, 429, 503, 400];
  const seen: Headers[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) => {
    seen.push(req.headers);
    const status = statuses.shift()!;
    return new Response(status === 204 ? null : "no", {
      status,
      headers: status === 429 ? { "Retry-After": "3" } : {},
    });
  });
  const client = pushHttpClient("");
  try {
    const url = new URL(`http://127.0.0.1:${server.addr.port}/w`);
    const o = { client, headers: { "X-Api-Key": "k" }, timeoutMs: 5000 };
    const body = new Uint8Array([1, 2, 3]);
    deepEqual(await post(url, body, o), { kind: "ok", status: 204 });
    const r429 = await post(url, body, o);
    equal(r429.kind === "retry" && r429.reason, "http_429");
    equal(r429.kind === "retry" && r429.retryAfterMs, 3000);
    const r503 = await post(url, body, o);
    equal(r503.kind === "retry" && r503.reason, "http_5xx");
    const r400 = await post(url, body, o);
    equal(r400.kind, "reject");
    equal(seen[0].get("x-api-key"), "k");
    equal(seen[0].get("content-length"), "3");
    const closed = await post(new URL("http://127.0.0.1:1/w"), body, o);
    equal(closed.kind === "retry" && closed.reason, "network");
  } finally {
    client.close();
    await server.shutdown();
  }
});
