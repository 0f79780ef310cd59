import { equal, throws } from "node:assert/strict";
import { Hono } from "hono";
import { scrapeLimit } from "./scrape_limit.ts";

Deno.test("scrapeLimit() lets max requests through and refuses the next with 503", async () => {
  const gates: PromiseWithResolvers<void>[] = [];
  const app = new Hono();
  app.use("/x", scrapeLimit({ max: 2 }));
  app.get("/x", async (c) => {
    const g = Promise.withResolvers<void>();
    gates.push(g);
    await g.promise;
    return c.text("done");
  });
  const a = app.request("/x");
  const b = app.request("/x");
  await Promise.resolve();
  const refused = await app.request("/x");
  equal(refused.status, 503);
  equal(refused.headers.get("Retry-After"), "1");
  for (const g of gates) g.resolve();
  equal((await a).status, 200);
  equal((await b).status, 200);
  const again = app.request("/x");
  await Promise.resolve();
  gates.at(-1)!.resolve();
  equal((await again).status, 200);
});

Deno.test("scrapeLimit() is a named function and rejects a bad limit", () => {
  equal(scrapeLimit().name, "scrapeLimit");
  throws(() => scrapeLimit({ max: 0 }), {
    name: "RangeError",
    message: /Cannot limit scrapes to 0/,
  });
  throws(() => scrapeLimit({ max: 1.5 }), RangeError);
});
