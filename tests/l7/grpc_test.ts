/**
 * gRPC end to end on the real kernel, with a real gRPC library: a unary server and client from
 * `@grpc/grpc-js` (pinned in deno.json and deno.lock; testdata/grpc_*.mjs, run by the Deno
 * running the tests) over h2c, in two "containers" in two network namespaces, the agent as a
 * child process with `-P=agent`. The server ends each call with the status code the request
 * asks for, so every count is known: first one call at a time (6 OK, 4 NOT_FOUND,
 * 3 UNAVAILABLE), then a second client (a new connection) with 8 calls in flight at once (8 OK,
 * 4 NOT_FOUND, 4 UNAVAILABLE, 2 INTERNAL), 8 streams open at once on the connection.
 * `container_http_requests_total{status="grpc:<CODE>"}` on the client's container and
 * `container_http_inbound_requests_total` on the server's read those numbers exactly, and each
 * side's duration histogram counts every call once.
 *
 * The failing calls are answered trailers-only (`:status` and `grpc-status` in one header block
 * ending the stream), the OK ones with headers, a message and trailers.
 *
 * Needs root, iproute2, nsenter, the built libosprey and @grpc/grpc-js (`deno install` fetches it).
 */
import { createNetnsPair } from "../helpers/netns.ts";
import { familyLines, killCgroup, waitExact, type Wanted } from "./_helpers.ts";
import { agentSteps, CgroupContainer, netLabIgnoreReason, withNetAgent } from "../net/_lab.ts";

const ignoreReason = netLabIgnoreReason();
if (ignoreReason) console.warn(`tests/l7/grpc_test.ts ignored: ${ignoreReason}`);

const HERE = new URL(".", import.meta.url).pathname;
const PORT = 50051;

/** gRPC status codes by the name the `status` label carries after `grpc:`. */
const CODES: Record<string, number> = { OK: 0, NOT_FOUND: 5, INTERNAL: 13, UNAVAILABLE: 14 };

/** The codes to ask for, `n` of each name, interleaved (round robin) so no two runs are alike. */
function calls(counts: Record<string, number>): number[] {
  const out: number[] = [];
  const left = { ...counts };
  while (Object.values(left).some((n) => n > 0)) {
    for (const name of Object.keys(left)) {
      if (left[name] > 0) {
        out.push(CODES[name]);
        left[name]--;
      }
    }
  }
  return out;
}

Deno.test({
  name: "l7: @grpc/grpc-js unary calls, exact grpc:<CODE> counts on both sides",
  ignore: ignoreReason !== "",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn(t) {
    const pair = await createNetnsPair("l7grpc");
    const made: CgroupContainer[] = [];
    try {
      const ip = pair.b.v4;
      const server = await CgroupContainer.create("grpcserver", pair.b.name);
      const client = await CgroupContainer.create("grpcclient", pair.a.name);
      made.push(server, client);
      await withNetAgent({}, async (agent) => {
        const step = agentSteps(t, agent);
        const srv = server.spawn(
          [Deno.execPath(), "run", "-A", `${HERE}testdata/grpc_server.mjs`, ip, String(PORT)],
          "grpc server",
        );
        await srv.line(60_000);
        const total: Record<string, number> = {};
        /** Runs one client process making `counts` calls, `parallel` at a time; checks all. */
        const round = async (counts: Record<string, number>, parallel: number) => {
          const codes = calls(counts);
          const p = client.spawn(
            [
              Deno.execPath(),
              "run",
              "-A",
              `${HERE}testdata/grpc_client.mjs`,
              `${ip}:${PORT}`,
              String(parallel),
              ...codes.map(String),
            ],
            "grpc client",
          );
          const r = await p.line<{ results: number[] }>(60_000);
          await p.wait();
          if (r.results.join(",") !== codes.join(",")) {
            throw new Error(`asked for ${codes}, the client saw ${r.results}`);
          }
          for (const [name, n] of Object.entries(counts)) total[name] = (total[name] ?? 0) + n;
          const dst = { destination: `${ip}:${PORT}`, actual_destination: `${ip}:${PORT}` };
          const want: Wanted = [];
          let all = 0;
          for (const [name, n] of Object.entries(total)) {
            const status = `grpc:${name}`;
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
            all += n;
          }
          want.push([
            "container_http_requests_duration_seconds_total_count",
            { container_id: client.id, ...dst },
            all,
          ]);
          want.push([
            "container_http_inbound_requests_duration_seconds_total_count",
            { container_id: server.id },
            all,
          ]);
          const s = await waitExact(
            agent.url,
            want,
            (s) => familyLines(s, [client.id, server.id], "container_http", "osprey_l7_"),
          );
          // nothing else: no HTTP status class, no other gRPC code on either side
          const stray = s.text.split("\n").filter((l) =>
            (l.startsWith("container_http_requests_total{") ||
              l.startsWith("container_http_inbound_requests_total{")) &&
            [client.id, server.id].some((id) => l.includes(`container_id="${id}"`)) &&
            !Object.keys(total).some((name) => l.includes(`status="grpc:${name}"`))
          );
          if (stray.length > 0) throw new Error(`series not asked for:\n${stray.join("\n")}`);
        };
        await step(
          "one call at a time: 6 OK, 4 NOT_FOUND, 3 UNAVAILABLE",
          () => round({ OK: 6, NOT_FOUND: 4, UNAVAILABLE: 3 }, 1),
        );
        await step(
          "8 in flight, a new connection: 8 OK, 4 NOT_FOUND, 4 UNAVAILABLE, 2 INTERNAL",
          () => round({ OK: 8, NOT_FOUND: 4, UNAVAILABLE: 4, INTERNAL: 2 }, 8),
        );
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
