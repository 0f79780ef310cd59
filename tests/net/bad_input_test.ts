/**
 * What the module does not follow, or cannot attribute, is counted and never crashes it:
 *
 * - AF_UNIX stream sockets (a listener, a connect, 100 bytes) give no series;
 * - MPTCP, whose first TCP subflow is the connection: connects, bytes sent and bytes received
 *   exactly what the application did, MPTCP at both ends and an MPTCP client against a plain TCP
 *   server (fallback); the MPTCP listener's listen is reported. (Not checked: an MPTCP client
 *   that half-closes and reads the answer after its subflow closed; those reads are not
 *   counted, see on_recv_length in bpf/tcp.bpf.c);
 * - processes that exit right after connecting (the kernel closes their sockets): 20 children
 *   of a container's long-lived process, and a container whose only process connects and
 *   exits, are attributed to their container or counted in `osprey_net_unattributed_total`,
 *   exactly; the host's own (a process in no container, in the test's cgroup) in
 *   `osprey_net_filtered_total{reason="not_a_container"}`, or unattributed when it is gone before
 *   its cgroup could be read: the three together reach the 26 connects;
 * - afterwards the agent is healthy: the net collector succeeds, no error was logged.
 *
 * Connects over IPv6 (`[addr]:port`) are checked in connects_test.ts, a full ring in
 * churn_test.ts.
 *
 * Needs root, gcc and libc6-dev, and the built libosprey; the MPTCP step needs
 * `net.mptcp.enabled=1` (the kernel's default) and is skipped, saying so, without it.
 */
import { equal, ok } from "node:assert/strict";
import { createNetnsPair } from "../helpers/netns.ts";
import {
  agentSteps,
  buildNetprobe,
  CgroupContainer,
  dest,
  inNetns,
  INTERVAL_MS,
  netLabIgnoreReason,
  netLines,
  type Proc,
  type Scrape,
  scrapeParsed,
  selfValue,
  sleep,
  waitFor,
  waitValue,
  waitVisible,
  withNetAgent,
} from "./_lab.ts";
import { run } from "./_lab.ts";

const ignoreReason = netLabIgnoreReason();
if (ignoreReason) console.warn(`tests/net/bad_input_test.ts ignored: ${ignoreReason}`);

const N = 1_234_567;
const M = 765_433;
const MPTCP = { NETPROBE_MPTCP: "1" };

Deno.test({
  name: "net: AF_UNIX and MPTCP sockets, and processes that vanish after connecting, are " +
    "counted and never crash the agent",
  ignore: ignoreReason !== "",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn(t) {
    const pair = await createNetnsPair("netbad");
    const made: CgroupContainer[] = [];
    const procs: Proc[] = [];
    const make = async (label: string, netns: string, keeper = true) => {
      const c = await CgroupContainer.create(label, netns, { keeper });
      made.push(c);
      return c;
    };
    try {
      const server = await make("bad-srv", pair.b.name);
      procs.push(await server.server("::", 8080, ["answer", `${N}:${M}`]));
      procs.push(await server.server("::", 8092, ["drain"]));
      procs.push(await server.server("::", 8093, ["drain"]));
      procs.push(await server.server("::", 8094, ["drain"]));
      const mptcpReason =
        (await inNetns(pair.b.name, "sysctl", "-n", "net.mptcp.enabled").catch(() => "0")) ===
            "1"
          ? ""
          : "net.mptcp.enabled is not 1 (or MPTCP is not built in)";
      if (mptcpReason === "") {
        procs.push(await server.server("::", 8090, ["answer", `${N}:${M}`], MPTCP));
      }

      await withNetAgent({}, async (agent) => {
        const step = agentSteps(t, agent);
        await waitVisible(agent.url, server.id);

        await step("AF_UNIX stream sockets give no series", async () => {
          const c = await make("bad-unix", pair.a.name);
          await waitVisible(agent.url, c.id);
          const r = await c.probe(["unix", `/tmp/osprey-net-unix-${Deno.pid}.sock`]);
          equal(r.unix, 100);
          await sleep(3 * INTERVAL_MS);
          const s = await scrapeParsed(agent.url);
          equal(
            s.samples.filter((x) =>
              x.name.startsWith("container_net_") && x.labels.container_id === c.id
            )
              .length,
            0,
            netLines(s, c.id),
          );
        });

        await step({
          name: "MPTCP: the first subflow is the connection, its bytes exactly the application's",
          ignore: mptcpReason !== "",
          fn: async () => {
            const c = await make("bad-mptcp", pair.a.name);
            await waitVisible(agent.url, c.id);
            const cases: [number, string[], string][] = [
              [8090, ["3", String(N), String(M), "keep"], "MPTCP at both ends"],
              [8080, ["2", String(N), String(M), "keep"], "an MPTCP client, a TCP server"],
            ];
            for (const [port, args, what] of cases) {
              const r = await c.probe(["connect", pair.b.v4, String(port), ...args], MPTCP);
              const count = Number(args[0]);
              equal(r.connected, count, what);
              const to = dest(`${pair.b.v4}:${port}`);
              await waitValue(
                agent.url,
                c.id,
                "container_net_tcp_successful_connects_total",
                to,
                count,
              );
              await waitValue(agent.url, c.id, "container_net_tcp_bytes_sent_total", to, count * N);
              await waitValue(
                agent.url,
                c.id,
                "container_net_tcp_bytes_received_total",
                to,
                count * M,
              );
              await waitValue(agent.url, c.id, "container_net_tcp_active_connections", to, 0);
            }
            await waitValue(agent.url, server.id, "container_net_tcp_listen_info", {
              listen_addr: `${pair.b.v4}:8090`,
            }, 1);
          },
        });

        await step(
          "processes that exit right after connecting: attributed or unattributed",
          async () => {
            const before = await scrapeParsed(agent.url);
            // 20 children of a container's long-lived process, each connects and exits
            const parent = await make("bad-vanish", pair.a.name);
            const r1 = await parent.probe(["vanish", pair.b.v4, "8092", "20"]);
            equal(r1.connected, 20);
            // a container whose only process connects and exits
            const lone = await make("bad-lone", pair.a.name, false);
            const r2 = await lone.probe(["connect", pair.b.v4, "8093", "3", "0", "0"]);
            equal(r2.connected, 3);
            // a process in no container (the test's own cgroup), in the same namespace
            const host = await new Deno.Command("nsenter", {
              args: [
                `--net=/run/netns/${pair.a.name}`,
                await buildNetprobe(),
                "vanish",
                pair.b.v4,
                "8094",
                "3",
              ],
              stdout: "null",
            }).output();
            ok(host.success);

            const connects = (s: Scrape, c: CgroupContainer, port: number) =>
              s.value("container_net_tcp_successful_connects_total", {
                container_id: c.id,
                ...dest(`${pair.b.v4}:${port}`),
              }) ?? 0;
            const unattributed = (s: Scrape) =>
              selfValue(s, "osprey_net_unattributed_total") -
              selfValue(before, "osprey_net_unattributed_total");
            const notContainer = (s: Scrape) =>
              selfValue(s, "osprey_net_filtered_total", { reason: "not_a_container" }) -
              selfValue(before, "osprey_net_filtered_total", { reason: "not_a_container" });
            let last: Scrape | undefined;
            // an owner not seen is waited for 15 s before it counts as unattributed; the host
            // process's connects are not_a_container, or unattributed when it was gone before
            // its cgroup could be read (a race with the agent's lookup)
            const accounted = (s: Scrape) =>
              connects(s, parent, 8092) + connects(s, lone, 8093) + unattributed(s) +
              notContainer(s);
            await waitFor("26 connects attributed, unattributed or not a container", async () => {
              last = await scrapeParsed(agent.url);
              return accounted(last) >= 26 ? true : undefined;
            }, {
              timeoutMs: 40_000,
              describe: () =>
                last
                  ? `unattributed +${unattributed(last)}, not_a_container +${notContainer(last)}\n${
                    netLines(last, parent.id)
                  }\n${netLines(last, lone.id)}`
                  : "",
            });
            const s = last!;
            ok(connects(s, parent, 8092) <= 20 && connects(s, lone, 8093) <= 3);
            console.log(
              `vanished: children ${connects(s, parent, 8092)}/20 attributed, lone container ` +
                `${connects(s, lone, 8093)}/3, unattributed +${unattributed(s)}, host process's ` +
                `not_a_container +${notContainer(s)}`,
            );
          },
        );

        await step("the agent is healthy and logged no error", async () => {
          const s = await scrapeParsed(agent.url);
          equal(s.value("osprey_collector_success", { collector: "net" }), 1);
          equal(s.value("osprey_module_state", { module: "net", state: "on" }), 1);
          const errors = agent.stderr().split("\n").filter((l) => l.includes("level=error"));
          equal(errors.length, 0, errors.join("\n"));
        });
      });
    } finally {
      for (const p of procs) await p.kill();
      for (const c of made) await c.remove();
      await pair.remove();
      await run("rm", "-f", `/tmp/osprey-net-unix-${Deno.pid}.sock`).catch(() => {});
    }
  },
});
