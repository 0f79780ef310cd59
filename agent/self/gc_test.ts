import { equal, ok } from "node:assert/strict";
import { exposedGc, GC_INTERVAL_MS, gcCollector } from "./gc.ts";

Deno.test("gcCollector() runs the collection once per round, every minute by default", async () => {
  let calls = 0;
  const c = gcCollector(() => calls++);
  equal(c.name, "gc");
  equal(c.intervalMs, GC_INTERVAL_MS);
  equal(GC_INTERVAL_MS, 60_000);
  await c.collect(new AbortController().signal);
  await c.collect(new AbortController().signal);
  equal(calls, 2);
  equal(gcCollector(() => {}, 5000).intervalMs, 5000);
});

Deno.test("exposedGc() is undefined without --expose-gc", () => {
  equal(exposedGc(), undefined);
});

Deno.test("with --expose-gc, a gc round frees the garbage the heap holds", async () => {
  // A child with the shipped V8 flags: 40 MB of garbage, then one round of the collector.
  const script = `
    import { exposedGc, gcCollector } from ${
    JSON.stringify(new URL("./gc.ts", import.meta.url).href)
  };
    const gc = exposedGc();
    if (gc === undefined) throw new Error("gc() not exposed");
    let keep = 0;
    for (let i = 0; i < 400; i++) keep += new Array(25_000).fill(i).length;
    const before = Deno.memoryUsage().heapUsed;
    await gcCollector(gc).collect(new AbortController().signal);
    console.log(JSON.stringify({ before, after: Deno.memoryUsage().heapUsed, keep }));
  `;
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["eval", "--v8-flags=--max-semi-space-size=1,--expose-gc", script],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const err = new TextDecoder().decode(out.stderr);
  equal(out.code, 0, err);
  const { before, after } = JSON.parse(new TextDecoder().decode(out.stdout));
  ok(before - after > 20 * 2 ** 20, `heap used ${before} -> ${after} bytes`);
});
