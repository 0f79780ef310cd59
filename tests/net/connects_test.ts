/**
 * Connects, failures, active connections and listens, exactly, on the real kernel: a client
 * "container" (a systemd-style cgroup in network namespace a) talks to a server in a real
 * Podman container (runc, this machine's cgroups) that runs in namespace b, which the test made
 * (`podman run --network ns:/run/netns/<b>`). The agent runs as a child process with `-P=agent`.
 *
 * - 50 connects: `successful_connects_total` 50, `connection_time_seconds_total` > 0 and below
 *   the client's own wall time, `active_connections` back to 0;
 * - 20 connects to a closed port: `failed_connects_total` 20, and no other series for it;
 * - 7 connections held: `active_connections` 7, then 0 once closed;
 * - over IPv6: labelled `[fd00:201::2]:8080`, exactly 5;
 * - the server's listen on `::` is reported with the namespace's addresses (not `0.0.0.0` or
 *   `::`), as the Podman container's, and goes to 0 or away when the server closes it;
 * - the server's accepted (inbound) connections give it no destination series;
 * - a client in a Podman container too (in namespace a, `podman exec`): 10 connects, 10,000
 *   bytes sent, under `/podman/<name>`.
 *
 * Needs root, podman, runc, busybox-static, gcc and libc6-dev, and the built libosprey.
 */
import { equal, ok } from "node:assert/strict";
import { createNetnsPair } from "../helpers/netns.ts";
import { podman, podmanIgnoreReason, removeContainers, uniqueName } from "../containers/podman.ts";
import { ensureTestImage } from "../containers/rootfs.ts";
import {
  agentSteps,
  buildNetprobe,
  CgroupContainer,
  dest,
  inNetns,
  netLabIgnoreReason,
  netLines,
  scrapeParsed,
  waitFor,
  waitValue,
  waitVisible,
  withNetAgent,
} from "./_lab.ts";

const ignoreReason = netLabIgnoreReason() || podmanIgnoreReason();
if (ignoreReason) console.warn(`tests/net/connects_test.ts ignored: ${ignoreReason}`);

const PORT = 8080;
const CLOSED_PORT = 8081;

Deno.test({
  name: "net: connects, failed connects, active connections and a Podman server's listen, exactly",
  ignore: ignoreReason !== "",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn(t) {
    const probe = await buildNetprobe();
    const { image } = await ensureTestImage();
    const pair = await createNetnsPair("netc");
    const serverName = uniqueName("net-srv");
    const serverId = `/podman/${serverName}`;
    const clientName = uniqueName("net-cli");
    let client: CgroupContainer | undefined;
    try {
      await podman([
        "run",
        "-d",
        "--name",
        serverName,
        "--network",
        `ns:${pair.b.path}`,
        "-v",
        `${probe}:/netprobe:ro`,
        image,
        "/netprobe",
        "server",
        "::",
        String(PORT),
        "drain",
      ]);
      await waitFor(
        `the Podman server listening on :${PORT}`,
        async () =>
          (await inNetns(pair.b.name, "ss", "-Hltn", `sport = :${PORT}`)) !== "" ? true : undefined,
      );
      client = await CgroupContainer.create("client", pair.a.name);
      const c = client;
      const server = `${pair.b.v4}:${PORT}`;
      await withNetAgent({}, async (agent) => {
        const step = agentSteps(t, agent);
        await waitVisible(agent.url, c.id);
        await waitVisible(agent.url, serverId);

        await step(
          "the server's listen on :: is reported with its namespace's addresses",
          async () => {
            await waitValue(agent.url, serverId, "container_net_tcp_listen_info", {
              listen_addr: server,
            }, 1);
            const s = await waitValue(agent.url, serverId, "container_net_tcp_listen_info", {
              listen_addr: `[${pair.b.v6}]:${PORT}`,
            }, 1);
            const addrs = s.find("container_net_tcp_listen_info", { container_id: serverId })
              .map((x) => x.labels.listen_addr).sort();
            equal(
              JSON.stringify(addrs),
              JSON.stringify([server, `[${pair.b.v6}]:${PORT}`].sort()),
              netLines(s, serverId),
            );
          },
        );

        await step(
          "50 connects: successful_connects_total 50, time > 0 and < wall time",
          async () => {
            const t0 = performance.now();
            const r = await c.probe<{ connected: number }>([
              "connect",
              pair.b.v4,
              String(PORT),
              "50",
              "0",
              "0",
            ]);
            const wallSeconds = (performance.now() - t0) / 1000;
            equal(r.connected, 50);
            const s = await waitValue(
              agent.url,
              c.id,
              "container_net_tcp_successful_connects_total",
              dest(server),
              50,
            );
            const time = s.value("container_net_tcp_connection_time_seconds_total", {
              container_id: c.id,
              ...dest(server),
            })!;
            ok(time > 0 && time < wallSeconds, `connection time ${time} s, wall ${wallSeconds} s`);
            equal(
              s.value("container_net_tcp_active_connections", {
                container_id: c.id,
                ...dest(server),
              }),
              0,
            );
            console.log(
              `50 connects: connection_time_seconds_total ${time} s, client wall ${
                wallSeconds.toFixed(3)
              } s`,
            );
          },
        );

        await step("20 connects to a closed port: failed_connects_total 20", async () => {
          const closed = `${pair.b.v4}:${CLOSED_PORT}`;
          const r = await c.probe<{ failed: number }>([
            "connect",
            pair.b.v4,
            String(CLOSED_PORT),
            "20",
            "0",
            "0",
          ]);
          equal(r.failed, 20);
          const s = await waitValue(agent.url, c.id, "container_net_tcp_failed_connects_total", {
            destination: closed,
          }, 20);
          equal(
            s.find("container_net_tcp_successful_connects_total", {
              container_id: c.id,
              destination: closed,
            }).length,
            0,
            netLines(s, c.id),
          );
        });

        await step("7 connections held: active_connections 7, then 0", async () => {
          const held = await c.start(["hold", pair.b.v4, String(PORT), "7"]);
          for (let i = 0; i < 7; i++) await held.line();
          equal((await held.line()).held, 7);
          await waitValue(agent.url, c.id, "container_net_tcp_active_connections", dest(server), 7);
          await held.send("close");
          equal((await held.line()).closed, 7);
          await waitValue(agent.url, c.id, "container_net_tcp_active_connections", dest(server), 0);
          await held.closeStdin();
          await held.wait();
          await waitValue(
            agent.url,
            c.id,
            "container_net_tcp_successful_connects_total",
            dest(server),
            57,
          );
        });

        await step("IPv6: labelled [fd00:201::2]:8080, exactly 5", async () => {
          const v6 = `[${pair.b.v6}]:${PORT}`;
          const r = await c.probe<{ connected: number }>([
            "connect",
            pair.b.v6,
            String(PORT),
            "5",
            "0",
            "0",
          ]);
          equal(r.connected, 5);
          await waitValue(
            agent.url,
            c.id,
            "container_net_tcp_successful_connects_total",
            dest(v6),
            5,
          );
        });

        await step(
          "the server's accepted connections give it no destination series",
          async () => {
            const s = await scrapeParsed(agent.url);
            for (
              const m of [
                "successful_connects_total",
                "active_connections",
                "failed_connects_total",
              ]
            ) {
              equal(
                s.find(`container_net_tcp_${m}`, { container_id: serverId }).length,
                0,
                netLines(s, serverId),
              );
            }
          },
        );

        await step("a client in a Podman container: 10 connects, 10,000 bytes sent", async () => {
          await podman([
            "run",
            "-d",
            "--name",
            clientName,
            "--network",
            `ns:${pair.a.path}`,
            "-v",
            `${probe}:/netprobe:ro`,
            image,
            "sleep",
            "3600",
          ]);
          const id = `/podman/${clientName}`;
          await waitVisible(agent.url, id);
          const out = await podman([
            "exec",
            clientName,
            "/netprobe",
            "connect",
            pair.b.v4,
            String(PORT),
            "10",
            "1000",
            "0",
          ]);
          equal(JSON.parse(out.split("\n").at(-1)!).connected, 10);
          await waitValue(
            agent.url,
            id,
            "container_net_tcp_successful_connects_total",
            dest(server),
            10,
          );
          await waitValue(
            agent.url,
            id,
            "container_net_tcp_bytes_sent_total",
            dest(server),
            10_000,
          );
          await waitValue(agent.url, id, "container_net_tcp_active_connections", dest(server), 0);
        });

        await step("the listener closes: listen_info 0 or gone", async () => {
          await podman(["kill", "--signal", "USR1", serverName]);
          await waitFor(
            "the listener closed",
            async () =>
              (await inNetns(pair.b.name, "ss", "-Hltn", `sport = :${PORT}`)) === ""
                ? true
                : undefined,
          );
          let last = "";
          await waitFor(`listen_info of ${serverId} 0 or gone`, async () => {
            const s = await scrapeParsed(agent.url);
            last = netLines(s, serverId);
            const v = s.find("container_net_tcp_listen_info", { container_id: serverId });
            return v.every((x) => x.value === 0) ? true : undefined;
          }, { describe: () => last });
        });
      });
    } finally {
      await client?.remove();
      await removeContainers([serverName, clientName]);
      await pair.remove();
    }
  },
});
