/**
 * The contract's filters, on real connections from a client "container" in namespace a, next to
 * a control destination that is reported (5 connects):
 *
 * - a destination port in the ephemeral range (10.201.0.2:40000, default range 32768-60999);
 * - a link-local destination: 169.254.77.1, an address the test put on the veth of namespace
 *   b (a has 169.254.77.2), so nothing leaves the machine;
 * - a loopback destination from a container that is not in the host's namespace (127.0.0.1
 *   in namespace a, served by a listener of the client container itself);
 *
 * each give no series of any `container_net_*` family, for connects and for failed connects
 * alike, and no latency series; listens on an ephemeral port or on loopback (outside the host
 * namespace) give no `listen_info`. Each is counted in `osprey_net_filtered_total{reason}`.
 *
 * Needs root, gcc and libc6-dev, and the built libosprey.
 */
import { deepEqual, equal, ok } from "node:assert/strict";
import { createNetnsPair } from "../helpers/netns.ts";
import {
  CgroupContainer,
  dest,
  INTERVAL_MS,
  netLabIgnoreReason,
  netLines,
  type Proc,
  scrapeParsed,
  selfValue,
  sleep,
  waitValue,
  waitVisible,
  withNetAgent,
} from "./_lab.ts";

const ignoreReason = netLabIgnoreReason();
if (ignoreReason) console.warn(`tests/net/filters_test.ts ignored: ${ignoreReason}`);

const LINK_LOCAL = "169.254.77.1";
const COUNT = 5;

Deno.test({
  name: "net: ephemeral-port, link-local and loopback (outside the host netns) destinations " +
    "give no series",
  ignore: ignoreReason !== "",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const pair = await createNetnsPair("netf");
    const made: CgroupContainer[] = [];
    const procs: Proc[] = [];
    try {
      await pair.b.ip("addr", "add", `${LINK_LOCAL}/16`, "dev", "veth0");
      await pair.a.ip("addr", "add", "169.254.77.2/16", "dev", "veth0");
      const server = await CgroupContainer.create("filt-srv", pair.b.name);
      made.push(server);
      const client = await CgroupContainer.create("filt-cli", pair.a.name);
      made.push(client);
      procs.push(await server.server("::", 8080, ["drain"]));
      procs.push(await server.server("::", 40000, ["drain"]));
      procs.push(await client.server("127.0.0.1", 8082, ["drain"]));

      await withNetAgent({}, async (agent) => {
        await waitVisible(agent.url, client.id);
        const before = await scrapeParsed(agent.url);
        const filtered = (s: typeof before, reason: string) =>
          selfValue(s, "osprey_net_filtered_total", { reason });

        const runs: [string, string, number, number][] = [
          // host, port, connected, failed
          [pair.b.v4, "8080", COUNT, 0],
          [pair.b.v4, "40000", COUNT, 0],
          [pair.b.v4, "40001", 0, COUNT],
          [LINK_LOCAL, "8080", COUNT, 0],
          [LINK_LOCAL, "8081", 0, COUNT],
          ["127.0.0.1", "8082", COUNT, 0],
          ["127.0.0.1", "8083", 0, COUNT],
        ];
        for (const [host, port, connected, failed] of runs) {
          const r = await client.probe(["connect", host, port, String(COUNT), "10", "0"]);
          deepEqual([r.connected, r.failed], [connected, failed], `${host}:${port}`);
        }
        await waitValue(
          agent.url,
          client.id,
          "container_net_tcp_successful_connects_total",
          dest(`${pair.b.v4}:8080`),
          COUNT,
        );
        await sleep(4 * INTERVAL_MS); // the pinger's rounds too
        const s = await scrapeParsed(agent.url);
        const lines = netLines(s, client.id);
        const destinations = new Set(
          s.samples.filter((x) =>
            x.name.startsWith("container_net_") && x.labels.container_id === client.id
          ).map((x) => x.labels.destination ?? `ip ${x.labels.destination_ip}`),
        );
        deepEqual(
          [...destinations].sort(),
          [`${pair.b.v4}:8080`, `ip ${pair.b.v4}`].sort(),
          `only the control destination and its latency:\n${lines}`,
        );
        equal(
          s.find("container_net_tcp_listen_info", { container_id: client.id }).length,
          0,
          "a listen on 127.0.0.1 outside the host namespace",
        );
        deepEqual(
          s.find("container_net_tcp_listen_info", { container_id: server.id })
            .map((x) => x.labels.listen_addr).sort(),
          [`${pair.b.v4}:8080`, `[${pair.b.v6}]:8080`].sort(),
          `no listen on the ephemeral port 40000, none on the link-local address:\n${
            netLines(s, server.id)
          }`,
        );
        const counts = {
          ephemeral_port: filtered(s, "ephemeral_port") - filtered(before, "ephemeral_port"),
          link_local: filtered(s, "link_local") - filtered(before, "link_local"),
          loopback_in_container: filtered(s, "loopback_in_container") -
            filtered(before, "loopback_in_container"),
        };
        console.log(`osprey_net_filtered_total increments: ${JSON.stringify(counts)}`);
        ok(counts.ephemeral_port >= 2 * COUNT, JSON.stringify(counts));
        ok(counts.link_local >= 2 * COUNT, JSON.stringify(counts));
        ok(counts.loopback_in_container >= 2 * COUNT, JSON.stringify(counts));
      });
    } finally {
      for (const p of procs) await p.kill();
      for (const c of made) await c.remove();
      await pair.remove();
    }
  },
});
