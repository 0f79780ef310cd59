/**
 * Bytes per destination, exactly, whatever path they take: a client "container" (cgroup in
 * namespace a) sends and receives known amounts to servers in a server "container" (namespace
 * b), one server port (so one destination) per path:
 *
 * | port | server            | client                                        | sent    | received |
 * |------|-------------------|-----------------------------------------------|---------|----------|
 * | 8080 | reads, answers M  | write(2) N bytes, 3 connections, half-closed  | 3·N     | 3·M      |
 * | 8087 | reads N, answers M | the same, no half-close; the client closes first | 3·N  | 3·M      |
 * | 8088 | reads N, answers M, closes | the same; the server closes first     | 3·N     | 3·M      |
 * | 8082 | sendfile(2) FILE  | reads to EOF                                  | 0       | size     |
 * | 8083 | drains            | sendfile(2) FILE                              | size    | 0        |
 * | 8084 | drains            | splice(2) from a pipe                         | S       | 0        |
 * | 8085 | reads, answers U2 | io_uring IORING_OP_SEND / IORING_OP_RECV      | U       | U2       |
 * | 8086 | drains            | one connection kept open: 1000 bytes, then 500 | 1000, 1500 | 0    |
 *
 * A half-closed client's socket is closed by the kernel when the server's FIN arrives
 * (FIN_WAIT2 -> TIME_WAIT), usually before the client read the whole answer. The last one is
 * read from the kernel's per-connection counters while the connection is
 * open, then from its end record; neither may count twice. The server's own bytes are inbound
 * and give it no series.
 *
 * Needs root, gcc and libc6-dev, and the built libosprey.
 */
import { equal } from "node:assert/strict";
import { createNetnsPair } from "../helpers/netns.ts";
import {
  agentSteps,
  CgroupContainer,
  dest,
  netLabIgnoreReason,
  netLines,
  type Proc,
  scrapeParsed,
  waitValue,
  waitVisible,
  withNetAgent,
} from "./_lab.ts";

const ignoreReason = netLabIgnoreReason();
if (ignoreReason) console.warn(`tests/net/bytes_test.ts ignored: ${ignoreReason}`);

/** Why the io_uring step cannot run ("" when it can): io_uring switched off by sysctl. */
function uringIgnoreReason(): string {
  try {
    const v = Deno.readTextFileSync("/proc/sys/kernel/io_uring_disabled").trim();
    return v === "2" ? "kernel.io_uring_disabled=2: io_uring is off on this host" : "";
  } catch {
    return ""; // before 6.6 there is no such switch
  }
}

const N = 1_234_567;
const M = 765_433;
const FILE_SIZE = 1_048_583;
const SPLICED = 300_007;
const URING_SENT = 200_003;
const URING_RECEIVED = 54_321;

Deno.test({
  name: "net: bytes sent and received per destination, exactly, by write, sendfile, splice and " +
    "io_uring, open and closed",
  ignore: ignoreReason !== "",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn(t) {
    const dir = Deno.makeTempDirSync({ prefix: "osprey-net-bytes-" });
    const file = `${dir}/payload`;
    const payload = new Uint8Array(FILE_SIZE);
    for (let i = 0; i < FILE_SIZE; i += 65536) {
      crypto.getRandomValues(payload.subarray(i, Math.min(FILE_SIZE, i + 65536)));
    }
    Deno.writeFileSync(file, payload);
    const pair = await createNetnsPair("netb");
    const made: CgroupContainer[] = [];
    try {
      const server = await CgroupContainer.create("bytes-srv", pair.b.name);
      made.push(server);
      const client = await CgroupContainer.create("bytes-cli", pair.a.name);
      made.push(client);
      const servers: Proc[] = [];
      servers.push(await server.server("::", 8080, ["reply", String(M)]));
      servers.push(await server.server("::", 8082, ["sendfile", file]));
      servers.push(await server.server("::", 8083, ["drain"]));
      servers.push(await server.server("::", 8084, ["drain"]));
      servers.push(await server.server("::", 8085, ["reply", String(URING_RECEIVED)]));
      servers.push(await server.server("::", 8086, ["drain"]));
      servers.push(await server.server("::", 8087, ["answer", `${N}:${M}`]));
      servers.push(await server.server("::", 8088, ["answer-close", `${N}:${M}`]));
      const to = (port: number) => dest(`${pair.b.v4}:${port}`);
      const bytes = async (
        url: string,
        port: number,
        sent: number,
        received: number,
      ) => {
        await waitValue(url, client.id, "container_net_tcp_bytes_sent_total", to(port), sent);
        await waitValue(
          url,
          client.id,
          "container_net_tcp_bytes_received_total",
          to(port),
          received,
        );
      };

      await withNetAgent({}, async (agent) => {
        const step = agentSteps(t, agent);
        await waitVisible(agent.url, client.id);

        await step(
          "write(2) and read(2): 3 connections of N bytes out and M back, half-closed",
          async () => {
            const r = await client.probe(["connect", pair.b.v4, "8080", "3", String(N), String(M)]);
            equal(r.sent, 3 * N);
            equal(r.received, 3 * M);
            await bytes(agent.url, 8080, 3 * N, 3 * M);
          },
        );

        for (const [port, who] of [[8087, "the client"], [8088, "the server"]] as const) {
          await step(`request and answer without half-close, ${who} closing first`, async () => {
            const r = await client.probe([
              "connect",
              pair.b.v4,
              String(port),
              "3",
              String(N),
              String(M),
              "keep",
            ]);
            equal(r.sent, 3 * N);
            equal(r.received, 3 * M);
            await bytes(agent.url, port, 3 * N, 3 * M);
          });
        }

        await step(
          "a server answering with sendfile(2): received = the file's size",
          async () => {
            const r = await client.probe([
              "connect",
              pair.b.v4,
              "8082",
              "1",
              "0",
              String(FILE_SIZE),
            ]);
            equal(r.received, FILE_SIZE);
            await bytes(agent.url, 8082, 0, FILE_SIZE);
          },
        );

        await step("a client sending with sendfile(2): sent = the file's size", async () => {
          const r = await client.probe(["sendfile", pair.b.v4, "8083", file]);
          equal(r.sent, FILE_SIZE);
          await bytes(agent.url, 8083, FILE_SIZE, 0);
        });

        await step("a client sending with splice(2) from a pipe", async () => {
          const r = await client.probe(["splice", pair.b.v4, "8084", String(SPLICED)]);
          equal(r.sent, SPLICED);
          await bytes(agent.url, 8084, SPLICED, 0);
        });

        const uringReason = uringIgnoreReason();
        if (uringReason) console.warn(`io_uring step ignored: ${uringReason}`);
        await step({
          name: "a client on io_uring (IORING_OP_SEND, IORING_OP_RECV)",
          ignore: uringReason !== "",
          fn: async () => {
            const r = await client.probe(["uring", pair.b.v4, "8085", String(URING_SENT)]);
            equal(r.sent, URING_SENT);
            equal(r.received, URING_RECEIVED);
            await bytes(agent.url, 8085, URING_SENT, URING_RECEIVED);
          },
        });

        await step(
          "an open connection: counted from the kernel's counters, then at its end, once",
          async () => {
            const s = await client.start(["session", pair.b.v4, "8086"]);
            await s.line();
            await s.send("send 1000");
            equal((await s.line()).sent, 1000);
            await bytes(agent.url, 8086, 1000, 0);
            await s.send("send 500");
            equal((await s.line()).sent, 500);
            await bytes(agent.url, 8086, 1500, 0);
            await s.send("close");
            equal((await s.line()).closed, true);
            await waitValue(
              agent.url,
              client.id,
              "container_net_tcp_active_connections",
              to(8086),
              0,
            );
            await bytes(agent.url, 8086, 1500, 0);
            await s.closeStdin();
            await s.wait();
          },
        );

        await step("the server's inbound bytes give it no series", async () => {
          const s = await scrapeParsed(agent.url);
          for (const m of ["bytes_sent_total", "bytes_received_total"]) {
            equal(
              s.find(`container_net_tcp_${m}`, { container_id: server.id }).length,
              0,
              netLines(s, server.id),
            );
          }
        });
      });
    } finally {
      for (const c of made) await c.remove();
      await pair.remove();
      Deno.removeSync(dir, { recursive: true });
    }
  },
});
