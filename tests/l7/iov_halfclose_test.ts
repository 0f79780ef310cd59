/**
 * Two capture edge cases on the real kernel, each N requests on new connections from a
 * plain-socket Python client (testdata/edge_client.py) in namespace a to a real nginx in
 * namespace b, the agent as a child process with `-P=agent`:
 *
 * - h2c with prior knowledge, the client preface, SETTINGS and the request's HEADERS in one send:
 *   nginx reads them in one read and answers with ONE writev of five iovecs (SETTINGS,
 *   WINDOW_UPDATE, SETTINGS ACK, the HEADERS frame header, the header block), so the `:status` is
 *   in the 4th and 5th iovecs. 14 `/ok` and 6 `/missing`: `2xx` 14, `4xx` 6 outbound and
 *   inbound (with only the first two iovecs copied, inbound lost most of them);
 * - HTTP/1.1 with a half-close: the request, `shutdown(SHUT_WR)`, then the answer read after
 *   nginx's FIN arrived, when the kernel has already zeroed the socket's `inet_num` (tcp_done →
 *   `__inet_put_port`). 14 `/ok` and 6 `/missing`: `2xx` 14, `4xx` 6 outbound (the reads used to
 *   carry local port 0 and never met their requests), and inbound added up with the h2 ones.
 *
 * Needs root, nginx (nginx-light, with the http_v2 module), python3, iproute2, nsenter and the
 * built libosprey.
 */
import { deepEqual } from "node:assert/strict";
import { createNetnsPair } from "../helpers/netns.ts";
import {
  familyLines,
  has,
  killCgroup,
  nginxServerConfig,
  waitExact,
  type Wanted,
} from "./_helpers.ts";
import {
  agentSteps,
  CgroupContainer,
  netLabIgnoreReason,
  waitFor,
  withNetAgent,
} from "../net/_lab.ts";

const ignoreReason = netLabIgnoreReason() ||
  (!has("nginx") ? "nginx missing (apt-get install nginx-light)" : "") ||
  (!has("python3") ? "python3 missing" : "");
if (ignoreReason) console.warn(`tests/l7/iov_halfclose_test.ts ignored: ${ignoreReason}`);

const HERE = new URL(".", import.meta.url).pathname;
const H1_PORT = 8080;
const H2_PORT = 8082;

function nginxConfig(dir: string, addr: string): string {
  return nginxServerConfig(
    dir,
    `
listen ${addr}:${H1_PORT};
listen ${addr}:${H2_PORT} http2;
location = /ok { return 200 "ok\\n"; }
location = /missing { return 404; }
`,
  );
}

/** 14 × /ok, 6 × /missing, interleaved. */
const PATHS = Array.from({ length: 20 }, (_, i) => i % 10 < 7 ? "/ok" : "/missing");
const STATUSES = PATHS.map((p) => p === "/ok" ? 200 : 404);

Deno.test({
  name: "l7: nginx h2c answers in one 5-iovec writev, half-closed HTTP/1 clients: exact counts",
  ignore: ignoreReason !== "",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn(t) {
    const pair = await createNetnsPair("l7e");
    const dir = await Deno.makeTempDir({ prefix: "osprey-l7-edge-" });
    const made: CgroupContainer[] = [];
    try {
      const ip = pair.b.v4;
      await Deno.writeTextFile(`${dir}/nginx.conf`, nginxConfig(dir, ip));
      const server = await CgroupContainer.create("nginx", pair.b.name);
      const client = await CgroupContainer.create("client", pair.a.name);
      made.push(server, client);
      const ids = [client.id, server.id];
      const run = async (mode: "h2" | "half", port: number, paths: string[]) => {
        const p = client.spawn(
          ["python3", `${HERE}testdata/edge_client.py`, mode, ip, String(port), ...paths],
          `${mode} client`,
        );
        const got: number[] = [];
        for (let i = 0; i < paths.length; i++) {
          got.push((await p.line<{ status: number }>(30_000)).status);
        }
        await p.wait();
        return got;
      };
      await withNetAgent({}, async (agent) => {
        const step = agentSteps(t, agent);
        server.spawn(["sh", "-c", `exec nginx -c ${dir}/nginx.conf >/dev/null 2>&1`], "nginx");
        await waitFor("nginx answering", async () => {
          try {
            const conn = await Deno.connect({ hostname: ip, port: H2_PORT });
            conn.close();
            return true;
          } catch {
            return undefined;
          }
        }, { timeoutMs: 15_000, everyMs: 200 });
        const dst = (port: number) => ({
          destination: `${ip}:${port}`,
          actual_destination: `${ip}:${port}`,
        });

        await step("h2c, preface + request in one send: 14 2xx, 6 4xx on both sides", async () => {
          deepEqual(await run("h2", H2_PORT, PATHS), STATUSES);
          const want: Wanted = [];
          for (const [status, n] of [["2xx", 14], ["4xx", 6]] as const) {
            want.push([
              "container_http_requests_total",
              { container_id: client.id, ...dst(H2_PORT), status },
              n,
            ]);
            want.push(["container_http_inbound_requests_total", {
              container_id: server.id,
              status,
            }, n]);
          }
          await waitExact(
            agent.url,
            want,
            (s) => familyLines(s, ids, "container_http", "osprey_l7_"),
          );
        });

        await step("HTTP/1 with shutdown(SHUT_WR) before the read: 14 2xx, 6 4xx", async () => {
          deepEqual(await run("half", H1_PORT, PATHS), STATUSES);
          const want: Wanted = [];
          for (const [status, n] of [["2xx", 14], ["4xx", 6]] as const) {
            want.push([
              "container_http_requests_total",
              { container_id: client.id, ...dst(H1_PORT), status },
              n,
            ]);
            // the h2 step's 20 and these 20: nginx's inbound family has no port label
            want.push(["container_http_inbound_requests_total", {
              container_id: server.id,
              status,
            }, 2 * n]);
          }
          await waitExact(
            agent.url,
            want,
            (s) => familyLines(s, ids, "container_http", "osprey_l7_"),
          );
        });
      });
    } finally {
      for (const c of made) {
        await killCgroup(c);
        await c.remove();
      }
      await pair.remove();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  },
});
