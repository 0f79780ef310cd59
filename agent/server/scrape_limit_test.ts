import { equal, throws } from "node:assert/strict";
import { Hono } from "hono";
import { scrapeLimit } from "./scrape_limit.ts";

function gatedApp(max: number) {
  const gates: PromiseWithResolvers<void>[] = [];
  let refused = 0;
  const app = new Hono();
  app.get("/x", scrapeLimit({ max, onRefused: () => refused++ }), async (c) => {
    const g = Promise.withResolvers<void>();
    gates.push(g);
    await g.promise;
    return c.text("done");
  });
  return { app, gates, refused: () => refused };
}

Deno.test("scrapeLimit() lets max requests through and refuses the next with 503", async () => {
  const { app, gates, refused } = gatedApp(2);
  const a = app.request("/x");
  const b = app.request("/x");
  await Promise.resolve();
  const r = await app.request("/x");
  equal(r.status, 503);
  equal(r.headers.get("Retry-After"), "1");
  equal(refused(), 1);
  for (const g of gates) g.resolve();
  equal(await (await a).text(), "done");
  equal(await (await b).text(), "done");
  const again = app.request("/x");
  await Promise.resolve();
  gates.at(-1)!.resolve();
  equal((await again).status, 200);
});

Deno.test("scrapeLimit() holds a slot until the body is read to its end or cancelled", async () => {
  const { app, gates } = gatedApp(1);
  const first = app.request("/x");
  await Promise.resolve();
  gates[0].resolve();
  const res = await first;
  equal(res.status, 200);
  // the handler returned, but nobody read the body yet
  equal((await app.request("/x")).status, 503);
  const reader = res.body!.getReader();
  equal(new TextDecoder().decode((await reader.read()).value), "done");
  // the last chunk was taken, but the end not seen yet: still held
  equal((await app.request("/x")).status, 503);
  equal((await reader.read()).done, true);
  const second = app.request("/x");
  await Promise.resolve();
  gates[1].resolve();
  const res2 = await second;
  equal(res2.status, 200);
  await res2.body!.cancel();
  const third = app.request("/x");
  await Promise.resolve();
  gates[2].resolve();
  equal(await (await third).text(), "done");
});

Deno.test("scrapeLimit() lets HEAD requests through without a slot", async () => {
  const { app, gates } = gatedApp(1);
  const get = app.request("/x");
  await Promise.resolve();
  const head = app.request("/x", { method: "HEAD" });
  await Promise.resolve();
  for (const g of gates) g.resolve();
  equal((await head).status, 200);
  equal(await (await get).text(), "done");
});

Deno.test("scrapeLimit() is a named function and rejects a bad limit", () => {
  equal(scrapeLimit().name, "scrapeLimit");
  throws(() => scrapeLimit({ max: 0 }), {
    name: "RangeError",
    message: /Cannot limit scrapes to 0/,
  });
  throws(() => scrapeLimit({ max: 1.5 }), RangeError);
});
