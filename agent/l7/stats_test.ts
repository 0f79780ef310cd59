import { deepEqual, equal } from "node:assert/strict";
import { L7Tables } from "./stats.ts";

Deno.test("L7Tables caps a container's DNS domains at maxFqdns; the rest count as ~other", () => {
  const t = new L7Tables({ maxFqdns: 2 });
  for (const domain of ["a.test", "b.test", "c.test", "a.test", "d.test"]) {
    t.addDns("/c", { inbound: false, status: "ok", seconds: 0.001, requestType: "TypeA", domain });
  }
  deepEqual([...t.get("/c")!.dns], [
    ["TypeA\0a.test\0ok", 2],
    ["TypeA\0b.test\0ok", 1],
    ["TypeA\0~other\0ok", 2],
  ]);
  equal(t.get("/c")!.dnsHist.counts[0], 5); // all in the 5 ms bucket
});

Deno.test("L7Tables counts outbound requests per destination and drops beyond the cap, counted", () => {
  const t = new L7Tables({ maxFqdns: 50, maxDestinations: 1 });
  const r = { protocol: "http" as const, inbound: false, status: "2xx", seconds: 0.2 };
  t.add("/c", r, { destination: "10.0.0.1:80", actualDestination: "10.0.0.9:8080" });
  t.add("/c", r, { destination: "10.0.0.1:80", actualDestination: "10.0.0.9:8080" });
  t.add("/c", r, { destination: "10.0.0.2:80", actualDestination: "10.0.0.2:80" });
  const o = [...t.get("/c")!.outbound.values()];
  equal(o.length, 1);
  deepEqual(o[0].labels, ["10.0.0.1:80", "10.0.0.9:8080"]);
  equal(o[0].statuses.get("2xx"), 2);
  equal(o[0].hist.counts[5], 2); // le=0.25
  equal(t.destinationsOverflow, 1);
});
