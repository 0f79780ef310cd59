/**
 * Retransmits, equal to the kernel's own count: a client "container" (namespace a) keeps one
 * connection to a server in namespace b; an iptables rule in b drops everything the client
 * sends while it sends 20,000 bytes, so its segments are retransmitted with backoff; the rule
 * goes, the data is acknowledged, and `ss -ti` in a gives the socket's `retrans:x/TOTAL`
 * (tcp_sock.total_retrans) before the socket closes. `container_net_tcp_retransmits_total` for
 * that destination must equal TOTAL while the connection is open (kernel counters read each
 * round) and after it closed (its end record).
 *
 * Needs root, iptables (nf_tables or legacy), iproute2 (`ss`), gcc and libc6-dev, and the
 * built libosprey. The drop rule lives in a namespace the test made and goes with it.
 */
import { equal, ok } from "node:assert/strict";
import { createNetnsPair } from "../helpers/netns.ts";
import {
  CgroupContainer,
  dest,
  inNetns,
  iptablesIgnoreReason,
  netLabIgnoreReason,
  sleep,
  waitFor,
  waitValue,
  waitVisible,
  withNetAgent,
} from "./_lab.ts";

const ignoreReason = netLabIgnoreReason() || iptablesIgnoreReason();
if (ignoreReason) console.warn(`tests/net/retransmits_test.ts ignored: ${ignoreReason}`);

const PORT = 8080;

/** What `ss -tin` says of one socket: total retransmits and whether data is unacknowledged. */
interface SsInfo {
  retransOut: number;
  totalRetrans: number;
  unacked: boolean;
  line: string;
}

async function ssInfo(netns: string, localPort: number): Promise<SsInfo | undefined> {
  const out = await inNetns(netns, "ss", "-Htin", "state", "established", `sport = :${localPort}`);
  if (out === "") return undefined;
  const m = /\bretrans:(\d+)\/(\d+)/.exec(out);
  return {
    retransOut: m ? Number(m[1]) : 0,
    totalRetrans: m ? Number(m[2]) : 0,
    unacked: /\bunacked:\d+/.test(out),
    line: out.replace(/\s+/g, " "),
  };
}

Deno.test({
  name: "net: retransmits of a connection whose packets are dropped equal the kernel's count (ss)",
  ignore: ignoreReason !== "",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const pair = await createNetnsPair("netr");
    const made: CgroupContainer[] = [];
    try {
      const server = await CgroupContainer.create("retr-srv", pair.b.name);
      made.push(server);
      const client = await CgroupContainer.create("retr-cli", pair.a.name);
      made.push(client);
      await server.server("::", PORT, ["drain"]);
      const to = dest(`${pair.b.v4}:${PORT}`);
      await withNetAgent({}, async (agent) => {
        await waitVisible(agent.url, client.id);
        const session = await client.start(["session", pair.b.v4, String(PORT)]);
        const localPort = Number((await session.line()).port);
        await session.send("send 1000");
        await session.line();
        await waitValue(agent.url, client.id, "container_net_tcp_bytes_sent_total", to, 1000);

        const rule = ["INPUT", "-p", "tcp", "--dport", String(PORT), "-j", "DROP"];
        await inNetns(pair.b.name, "iptables", "-A", ...rule);
        let dropped = true;
        try {
          await session.send("send 20000");
          await session.line();
          let last: SsInfo | undefined;
          await waitFor("two retransmits", async () => {
            last = await ssInfo(pair.a.name, localPort);
            return last !== undefined && last.totalRetrans >= 2 ? true : undefined;
          }, { timeoutMs: 20_000, describe: () => last?.line ?? "(no socket)" });
        } finally {
          await inNetns(pair.b.name, "iptables", "-D", ...rule);
          dropped = false;
        }
        ok(!dropped);
        // the next retransmit gets through; then nothing is outstanding and the count stays
        let info: SsInfo | undefined;
        await waitFor("everything acknowledged", async () => {
          info = await ssInfo(pair.a.name, localPort);
          return info !== undefined && !info.unacked && info.retransOut === 0 ? true : undefined;
        }, { timeoutMs: 20_000, describe: () => info?.line ?? "(no socket)" });
        await sleep(300);
        const kernel = (await ssInfo(pair.a.name, localPort))!;
        equal(
          kernel.totalRetrans,
          info!.totalRetrans,
          "the count moved after everything was acked",
        );
        ok(kernel.totalRetrans > 0);
        console.log(`ss: ${kernel.line}`);

        await waitValue(
          agent.url,
          client.id,
          "container_net_tcp_retransmits_total",
          to,
          kernel.totalRetrans,
        );
        await session.send("close");
        await session.line();
        await waitValue(agent.url, client.id, "container_net_tcp_active_connections", to, 0);
        await waitValue(
          agent.url,
          client.id,
          "container_net_tcp_retransmits_total",
          to,
          kernel.totalRetrans,
        );
        await waitValue(agent.url, client.id, "container_net_tcp_bytes_sent_total", to, 21_000);
      });
    } finally {
      for (const c of made) await c.remove();
      await pair.remove();
    }
  },
});
