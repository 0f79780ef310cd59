/**
 * HTTP/2 and gRPC status end to end on the real kernel: a cleartext HTTP/2 server and client
 * (`node:http2` of the Deno running the tests, testdata/h2_*.mjs) in two "containers" in two
 * network namespaces, the agent as a child process with `-P=agent`. One session carries 6
 * requests answered 200, 3 answered 404, 2 gRPC calls ending in `grpc-status: 14` and 1 in
 * `grpc-status: 0` (trailers after the response headers): `container_http_requests_total` reads
 * `2xx` 6, `4xx` 3, `grpc:UNAVAILABLE` 2, `grpc:OK` 1 on the client, the same on the server's
 * inbound family.
 *
 * Needs root, iproute2, nsenter and the built libosprey.
 */
import { createNetnsPair } from "../helpers/netns.ts";
import { familyLines, killCgroup, waitExact } from "./_helpers.ts";
import { agentSteps, CgroupContainer, netLabIgnoreReason, withNetAgent } from "../net/_lab.ts";

const ignoreReason = netLabIgnoreReason();
if (ignoreReason) console.warn(`tests/l7/http2_test.ts ignored: ${ignoreReason}`);

const HERE = new URL(".", import.meta.url).pathname;
const PORT = 8443;

Deno.test({
  name: "l7: HTTP/2 and gRPC statuses over one h2c session, exact counts on both sides",
  ignore: ignoreReason !== "",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn(t) {
    const pair = await createNetnsPair("l7h2");
    const made: CgroupContainer[] = [];
    try {
      const ip = pair.b.v4;
      const server = await CgroupContainer.create("h2server", pair.b.name);
      const client = await CgroupContainer.create("h2client", pair.a.name);
      made.push(server, client);
      await withNetAgent({}, async (agent) => {
        const step = agentSteps(t, agent);
        const srv = server.spawn(
          [Deno.execPath(), "run", "-A", `${HERE}testdata/h2_server.mjs`, ip, String(PORT)],
          "h2 server",
        );
        await srv.line(30_000);
        await step("6 × 200, 3 × 404, 2 × grpc-status 14, 1 × grpc-status 0", async () => {
          const paths = [
            ...Array(6).fill("/ok"),
            ...Array(3).fill("/missing"),
            "/grpc-fail",
            "/grpc-fail",
            "/grpc-ok",
          ];
          const p = client.spawn(
            [
              Deno.execPath(),
              "run",
              "-A",
              `${HERE}testdata/h2_client.mjs`,
              `http://${ip}:${PORT}`,
              ...paths,
            ],
            "h2 client",
          );
          const r = await p.line<{ results: string[] }>(30_000);
          await p.wait();
          if (r.results.join(",") !== "200,200,200,200,200,200,404,404,404,200:14,200:14,200:0") {
            throw new Error(`the client saw ${r.results}`);
          }
          const dst = { destination: `${ip}:${PORT}`, actual_destination: `${ip}:${PORT}` };
          const want: [string, Record<string, string>, number][] = [];
          for (
            const [status, n] of [["2xx", 6], ["4xx", 3], ["grpc:UNAVAILABLE", 2], [
              "grpc:OK",
              1,
            ]] as const
          ) {
            want.push([
              "container_http_requests_total",
              { container_id: client.id, ...dst, status },
              n,
            ]);
            want.push([
              "container_http_inbound_requests_total",
              { container_id: server.id, status },
              n,
            ]);
          }
          await waitExact(
            agent.url,
            want,
            (s) => familyLines(s, [client.id, server.id], "container_http", "osprey_l7_"),
          );
        });
      });
    } finally {
      for (const c of made) {
        await killCgroup(c);
        await c.remove();
      }
      await pair.remove();
    }
  },
});
