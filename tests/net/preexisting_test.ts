/**
 * Connections and a listener that exist before the agent starts: found at start (in
 * `/proc/<pid>/net/tcp{,6}`), so the first scrape after `/readyz` answers 200 already shows the
 * server container's listen and the client container's connection as active (not as a connect:
 * it was not seen connecting); bytes sent after the start are counted exactly; the connection's
 * close takes `active_connections` back to 0. A connection opened through a DNAT rule before
 * the start has the backend as its actual destination (the NAT watcher's conntrack dump).
 *
 * Needs root, iptables, gcc and libc6-dev, and the built libosprey.
 */
import { equal } from "node:assert/strict";
import { createNetnsPair } from "../helpers/netns.ts";
import {
  agentSteps,
  bareServer,
  CgroupContainer,
  dest,
  iptablesIgnoreReason,
  NatTopology,
  netLabIgnoreReason,
  netLines,
  type Proc,
  scrapeParsed,
  startNetAgent,
  waitValue,
} from "./_lab.ts";

const ignoreReason = netLabIgnoreReason() || iptablesIgnoreReason();
if (ignoreReason) console.warn(`tests/net/preexisting_test.ts ignored: ${ignoreReason}`);

const PORT = 8080;

Deno.test({
  name: "net: connections and a listener opened before the agent are in the series after its " +
    "first round; the connection's close takes active back to 0",
  ignore: ignoreReason !== "",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn(t) {
    const pair = await createNetnsPair("netp");
    const topo = new NatTopology();
    const made: CgroupContainer[] = [];
    const procs: Proc[] = [];
    try {
      await topo.build();
      procs.push(await bareServer(topo.backendNs, "0.0.0.0", 8080, ["drain"]));
      const server = await CgroupContainer.create("pre-srv", pair.b.name);
      made.push(server);
      const client = await CgroupContainer.create("pre-cli", pair.a.name);
      made.push(client);
      const natClient = await CgroupContainer.create("pre-nat", topo.clientNs);
      made.push(natClient);
      procs.push(await server.server("::", PORT, ["drain"]));
      // opened, and used, before the agent starts
      const session = await client.start(["session", pair.b.v4, String(PORT)]);
      procs.push(session);
      await session.line();
      await session.send("send 500");
      await session.line();
      const natSession = await natClient.start(["session", topo.vip, "80"]);
      procs.push(natSession);
      await natSession.line();

      const to = dest(`${pair.b.v4}:${PORT}`);
      const agent = await startNetAgent();
      const step = agentSteps(t, agent);
      try {
        await step(
          "the first scrape after /readyz shows the listen and the connection",
          async () => {
            const s = await scrapeParsed(agent.url);
            const v = (id: string, m: string, l: Record<string, string>) =>
              s.value(`container_net_tcp_${m}`, { container_id: id, ...l });
            equal(
              v(server.id, "listen_info", { listen_addr: `${pair.b.v4}:${PORT}` }),
              1,
              netLines(s, server.id),
            );
            equal(v(client.id, "active_connections", to), 1, netLines(s, client.id));
            equal(v(client.id, "successful_connects_total", to), 0, "not seen connecting");
            equal(v(client.id, "bytes_sent_total", to), 0, "what was sent before the start");
          },
        );

        await step(
          "a connection through DNAT opened before the start has the backend",
          async () => {
            await waitValue(
              agent.url,
              natClient.id,
              "container_net_tcp_active_connections",
              dest(`${topo.vip}:80`, `${topo.backend}:8080`),
              1,
            );
          },
        );

        await step("bytes sent after the start are counted exactly", async () => {
          await session.send("send 3000");
          equal((await session.line()).sent, 3000);
          await waitValue(agent.url, client.id, "container_net_tcp_bytes_sent_total", to, 3000);
        });

        await step("its close takes active_connections back to 0", async () => {
          await session.send("close");
          await session.line();
          await waitValue(agent.url, client.id, "container_net_tcp_active_connections", to, 0);
          await waitValue(agent.url, client.id, "container_net_tcp_bytes_sent_total", to, 3000);
        });
      } finally {
        await agent.stop();
      }
    } finally {
      for (const p of procs) await p.kill();
      for (const c of made) await c.remove();
      await topo.remove();
      await pair.remove();
    }
  },
});
