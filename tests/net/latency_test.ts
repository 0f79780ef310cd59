/**
 * The pinger: `container_net_latency_seconds{destination_ip}` for a peer namespace, IPv4 and
 * IPv6, measured from inside the client container's namespace, is > 0 and < 1 s; with
 * `--disable-pinger` the family is absent while the connections are reported. The client holds
 * one connection per family to a server in namespace b (the pinger pings the actual destinations
 * of each container); every address is on the veth between the test's two namespaces.
 *
 * Needs root, gcc and libc6-dev, and the built libosprey.
 */
import { equal, ok } from "node:assert/strict";
import { createNetnsPair } from "../helpers/netns.ts";
import {
  CgroupContainer,
  dest,
  INTERVAL_MS,
  netLabIgnoreReason,
  netLines,
  type Proc,
  scrapeParsed,
  sleep,
  waitFor,
  waitValue,
  withNetAgent,
} from "./_lab.ts";

const ignoreReason = netLabIgnoreReason();
if (ignoreReason) console.warn(`tests/net/latency_test.ts ignored: ${ignoreReason}`);

const PORT = 8080;

Deno.test({
  name: "net: container_net_latency_seconds to a peer namespace is > 0 and < 1 s, IPv4 and " +
    "IPv6; absent with --disable-pinger",
  ignore: ignoreReason !== "",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn(t) {
    const pair = await createNetnsPair("netl");
    const made: CgroupContainer[] = [];
    const procs: Proc[] = [];
    try {
      const server = await CgroupContainer.create("lat-srv", pair.b.name);
      made.push(server);
      const client = await CgroupContainer.create("lat-cli", pair.a.name);
      made.push(client);
      procs.push(await server.server("::", PORT, ["drain"]));
      for (const host of [pair.b.v4, pair.b.v6]) {
        const held = await client.start(["hold", host, String(PORT), "1"]);
        procs.push(held);
        await held.line();
        await held.line();
      }
      const v4 = dest(`${pair.b.v4}:${PORT}`);
      const v6 = dest(`[${pair.b.v6}]:${PORT}`);

      await t.step("the pinger measures both addresses: 0 < rtt < 1 s", async () => {
        await withNetAgent({}, async (agent) => {
          await waitValue(agent.url, client.id, "container_net_tcp_active_connections", v4, 1);
          await waitValue(agent.url, client.id, "container_net_tcp_active_connections", v6, 1);
          for (const ip of [pair.b.v4, pair.b.v6]) {
            let last = "";
            const rtt = await waitFor(`latency to ${ip}`, async () => {
              const s = await scrapeParsed(agent.url);
              last = netLines(s, client.id);
              return s.value("container_net_latency_seconds", {
                container_id: client.id,
                destination_ip: ip,
              });
            }, { describe: () => last });
            ok(rtt > 0 && rtt < 1, `rtt to ${ip}: ${rtt} s`);
            console.log(`container_net_latency_seconds{destination_ip="${ip}"} ${rtt}`);
          }
        });
      });

      await t.step(
        "--disable-pinger: no latency series, the connections still reported",
        async () => {
          await withNetAgent({ args: ["--disable-pinger"] }, async (agent) => {
            await waitValue(agent.url, client.id, "container_net_tcp_active_connections", v4, 1);
            await waitValue(agent.url, client.id, "container_net_tcp_active_connections", v6, 1);
            await sleep(4 * INTERVAL_MS);
            const s = await scrapeParsed(agent.url);
            equal(s.find("container_net_latency_seconds").length, 0, netLines(s, client.id));
            equal(s.find("osprey_net_pings_total").length, 0);
          });
        },
      );
    } finally {
      for (const p of procs) await p.kill();
      for (const c of made) await c.remove();
      await pair.remove();
    }
  },
});
