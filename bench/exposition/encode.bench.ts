/**
 * `deno bench` companion of exposition_bench.ts on a smaller data set (10 families × 1,000
 * label sets), for quick comparisons: `deno bench -A bench/exposition/encode.bench.ts`.
 *
 * @module
 */
import { gzipSync } from "node:zlib";
import { buildOsprey, buildPromClient } from "./_dataset.ts";

const ours = buildOsprey(10, 1_000);
const theirs = buildPromClient(10, 1_000);
const body = ours.encode("text");

Deno.bench("osprey encode text", { group: "encode", baseline: true }, () => {
  ours.encode("text");
});

Deno.bench("osprey encode openmetrics", { group: "encode" }, () => {
  ours.encode("openmetrics");
});

Deno.bench("prom-client metrics()", { group: "encode" }, async () => {
  await theirs.metrics();
});

Deno.bench("gzip level 1", { group: "gzip", baseline: true }, () => {
  gzipSync(body, { level: 1 });
});

Deno.bench("gzip level 6", { group: "gzip" }, () => {
  gzipSync(body, { level: 6 });
});
