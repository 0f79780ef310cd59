/**
 * NAT: a DNAT rule maps a VIP to a backend in another namespace, the way kube-proxy maps a
 * Service: the rule is in the agent's own network namespace (the host's here, where the
 * agent watches conntrack), and a client "container" in its own namespace reaches the VIP
 * through it. `destination` must be the VIP, `actual_destination` the backend, exactly per
 * connection; a direct connection to the backend has both equal to the backend.
 *
 * The topology ({@linkcode NatTopology} in _lab.ts) keeps every address inside the machine.
 *
 * Needs root, iptables, iproute2, gcc and libc6-dev, and the built libosprey.
 */
import { equal } from "node:assert/strict";
import {
  agentSteps,
  bareServer,
  CgroupContainer,
  dest,
  iptablesIgnoreReason,
  NatTopology,
  netLabIgnoreReason,
  netLines,
  scrapeParsed,
  waitValue,
  waitVisible,
  withNetAgent,
} from "./_lab.ts";

const ignoreReason = netLabIgnoreReason() || iptablesIgnoreReason();
if (ignoreReason) console.warn(`tests/net/nat_test.ts ignored: ${ignoreReason}`);

Deno.test({
  name: "net: through a DNAT rule, destination is the VIP and actual_destination the backend",
  ignore: ignoreReason !== "",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn(t) {
    const topo = new NatTopology();
    let client: CgroupContainer | undefined;
    try {
      await topo.build();
      const backendServer = await bareServer(topo.backendNs, "0.0.0.0", 8080, ["drain"]);
      try {
        client = await CgroupContainer.create("nat-cli", topo.clientNs);
        const c = client;
        const vip = `${topo.vip}:80`;
        const backend = `${topo.backend}:8080`;
        await withNetAgent({}, async (agent) => {
          const step = agentSteps(t, agent);
          await waitVisible(agent.url, c.id);

          await step("10 connects to the VIP: destination VIP, actual the backend", async () => {
            const r = await c.probe(["connect", topo.vip, "80", "10", "100", "0"]);
            equal(r.connected, 10);
            const s = await waitValue(
              agent.url,
              c.id,
              "container_net_tcp_successful_connects_total",
              dest(vip, backend),
              10,
            );
            equal(
              s.value("container_net_tcp_bytes_sent_total", {
                container_id: c.id,
                ...dest(vip, backend),
              }),
              1000,
            );
            equal(
              s.find("container_net_tcp_successful_connects_total", {
                container_id: c.id,
                destination: vip,
              }).length,
              1,
              `one series for the VIP, with the backend:\n${netLines(s, c.id)}`,
            );
          });

          await step("connections held through the VIP are active there", async () => {
            const held = await c.start(["hold", topo.vip, "80", "2"]);
            for (let i = 0; i < 3; i++) await held.line();
            await waitValue(
              agent.url,
              c.id,
              "container_net_tcp_active_connections",
              dest(vip, backend),
              2,
            );
            await held.send("close");
            await held.line();
            await waitValue(
              agent.url,
              c.id,
              "container_net_tcp_active_connections",
              dest(vip, backend),
              0,
            );
            await held.closeStdin();
            await held.wait();
          });

          await step("a direct connection to the backend has no NAT", async () => {
            const r = await c.probe(["connect", topo.backend, "8080", "3", "0", "0"]);
            equal(r.connected, 3);
            await waitValue(
              agent.url,
              c.id,
              "container_net_tcp_successful_connects_total",
              dest(backend),
              3,
            );
            const s = await scrapeParsed(agent.url);
            equal(
              s.value("container_net_tcp_successful_connects_total", {
                container_id: c.id,
                ...dest(vip, backend),
              }),
              12,
              netLines(s, c.id),
            );
          });
        });
      } finally {
        await backendServer.kill();
      }
    } finally {
      await client?.remove();
      await topo.remove();
    }
  },
});
