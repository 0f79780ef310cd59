/**
 * A minimal HTTP server for the benchmark: every GET of /metrics runs one round of the node
 * collectors on the real host and answers with the encoded text, as node_exporter collects on
 * each scrape; GET /empty answers an empty body, to measure the HTTP cost alone. Prints its
 * port on stdout once listening.
 *
 * @module
 */
import { Registry } from "../../agent/metrics/mod.ts";
import { identityLabels, nodeCollectors } from "../../agent/node/mod.ts";
import { hostPaths } from "../../agent/paths.ts";

const paths = hostPaths();
const reg = new Registry();
reg.setConstLabels(await identityLabels(paths));
const { collectors } = await nodeCollectors(reg, paths);
const signal = new AbortController().signal;

const server = Deno.serve({
  hostname: "127.0.0.1",
  port: 0,
  onListen: ({ port }) => console.log(port),
}, async (req) => {
  if (new URL(req.url).pathname === "/empty") return new Response("");
  for (const c of collectors) await c.collect(signal);
  return new Response(reg.encode("text"), {
    headers: { "content-type": "text/plain; version=0.0.4; charset=utf-8" },
  });
});
await server.finished;
