/**
 * Child process of the exposition benchmark: builds one implementation's data set, encodes
 * it a few times, and prints its memory as JSON, so implementations never share a heap.
 *
 * Usage: `deno run -A bench/exposition/rss_child.ts osprey|prom-client|baseline [scalar|histogram]`
 *
 * @module
 */
import {
  buildOsprey,
  buildOspreyHistograms,
  buildPromClient,
  buildPromClientHistograms,
} from "./_dataset.ts";

const ENCODES = 5;

function statusKb(field: string): number {
  const m = Deno.readTextFileSync("/proc/self/status").match(
    new RegExp(`^${field}:\\s+(\\d+)`, "m"),
  );
  return m ? Number(m[1]) : NaN;
}

async function main(): Promise<void> {
  const [impl, dataset = "scalar"] = Deno.args;
  const rssStart = Deno.memoryUsage().rss;
  let bytes = 0;
  const keep: unknown[] = [];
  if (impl === "osprey") {
    const reg = dataset === "histogram" ? buildOspreyHistograms() : buildOsprey();
    for (let i = 0; i < ENCODES; i++) {
      const out = reg.encode("text");
      bytes = out.length;
      keep[0] = out;
    }
    keep.push(reg);
  } else if (impl === "prom-client") {
    const reg = dataset === "histogram" ? buildPromClientHistograms() : buildPromClient();
    for (let i = 0; i < ENCODES; i++) {
      const out = new TextEncoder().encode(await reg.metrics());
      bytes = out.length;
      keep[0] = out;
    }
    keep.push(reg);
  } else if (impl !== "baseline") {
    throw new TypeError(`Unknown implementation "${impl}"`);
  }
  const mem = Deno.memoryUsage();
  console.log(JSON.stringify({
    impl,
    dataset,
    bytes,
    rssStartMb: rssStart / 2 ** 20,
    rssMb: mem.rss / 2 ** 20,
    peakRssMb: statusKb("VmHWM") / 1024,
    heapUsedMb: mem.heapUsed / 2 ** 20,
    externalMb: mem.external / 2 ** 20,
    kept: keep.length,
  }));
}

if (import.meta.main) await main();
