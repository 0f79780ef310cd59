/**
 * Keep-alive connections opened before the agent starts, and requests and answers split over
 * several syscalls, on the real kernel: nginx in a "container" in namespace b, a plain-socket
 * Python client (testdata/http_client.py) in another in namespace a, the agent as a child process
 * with `-P=agent` started after the client connected.
 *
 * - the connection made before the agent: 1 request before the agent (not counted), then 5 after
 *   it started (3 answered 200, 2 answered 404): `2xx` 3, `4xx` 2 on both sides, labelled with the
 *   destination the net module found for it in /proc at start;
 * - 4 requests whose request line is sent in three pieces ("GE", "T /ok", the rest) and whose
 *   answer is read as 5 bytes then the rest: `2xx` 4 more, and the joins are counted.
 *
 * Needs root, nginx (nginx-light), python3, iproute2, nsenter and the built libosprey.
 */
import { equal, ok } from "node:assert/strict";
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
  type Scrape,
  waitFor,
  withNetAgent,
} from "../net/_lab.ts";

const ignoreReason = netLabIgnoreReason() ||
  (!has("nginx") ? "nginx missing (apt-get install nginx-light)" : "") ||
  (!has("python3") ? "python3 missing" : "");
if (ignoreReason) console.warn(`tests/l7/keepalive_test.ts ignored: ${ignoreReason}`);

const HERE = new URL(".", import.meta.url).pathname;
const PORT = 8080;

function nginxConfig(dir: string, addr: string): string {
  return nginxServerConfig(
    dir,
    `
listen ${addr}:${PORT};
location = /ok { return 200 "ok\\n"; }
location = /missing { return 404; }
`,
    `
keepalive_timeout 300s;
`,
  );
}

function waitAll(url: string, ids: string[], want: Wanted): Promise<Scrape> {
  return waitExact(url, want, (s) => familyLines(s, ids, "container_http", "osprey_l7_"));
}

Deno.test({
  name: "l7: a keep-alive connection from before the agent, and split requests and answers",
  ignore: ignoreReason !== "",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn(t) {
    const pair = await createNetnsPair("l7ka");
    const dir = await Deno.makeTempDir({ prefix: "osprey-l7-ka-" });
    const made: CgroupContainer[] = [];
    try {
      const ip = pair.b.v4;
      await Deno.writeTextFile(`${dir}/nginx.conf`, nginxConfig(dir, ip));
      const server = await CgroupContainer.create("kanginx", pair.b.name);
      const client = await CgroupContainer.create("kaclient", pair.a.name);
      made.push(server, client);
      server.spawn(["sh", "-c", `exec nginx -c ${dir}/nginx.conf >/dev/null 2>&1`], "nginx");
      let py: ReturnType<CgroupContainer["spawn"]> | undefined;
      await waitFor("nginx listening and the client connected", async () => {
        const p = client.spawn(
          ["python3", `${HERE}testdata/http_client.py`, ip, String(PORT)],
          "python client",
        );
        try {
          await p.line(3000);
          py = p;
          return true;
        } catch {
          await p.kill();
          return undefined;
        }
      }, { timeoutMs: 20_000, everyMs: 300 });
      const c = py!;
      await c.send("get /ok");
      equal((await c.line<{ status: number }>()).status, 200);
      await withNetAgent({}, async (agent) => {
        const step = agentSteps(t, agent);
        const dst = { destination: `${ip}:${PORT}`, actual_destination: `${ip}:${PORT}` };
        const out = (status: string) => ({ container_id: client.id, ...dst, status });
        const inn = (status: string) => ({ container_id: server.id, status });
        await step("5 requests on the connection opened before the agent", async () => {
          for (const p of ["/ok", "/missing", "/ok", "/missing", "/ok"]) {
            await c.send(`get ${p}`);
            equal((await c.line<{ status: number }>()).status, p === "/ok" ? 200 : 404);
          }
          await waitAll(agent.url, [client.id, server.id], [
            ["container_http_requests_total", out("2xx"), 3],
            ["container_http_requests_total", out("4xx"), 2],
            ["container_http_inbound_requests_total", inn("2xx"), 3],
            ["container_http_inbound_requests_total", inn("4xx"), 2],
          ]);
        });
        await step("4 requests sent in three pieces, answers read in two", async () => {
          for (let i = 0; i < 4; i++) {
            await c.send("split /ok");
            equal((await c.line<{ status: number }>()).status, 200);
          }
          const s = await waitAll(agent.url, [client.id, server.id], [
            ["container_http_requests_total", out("2xx"), 7],
            ["container_http_requests_total", out("4xx"), 2],
            ["container_http_inbound_requests_total", inn("2xx"), 7],
            ["container_http_inbound_requests_total", inn("4xx"), 2],
          ]);
          // both sides joined the request line, the client its answer: 12 at least
          ok((s.value("osprey_l7_matcher_events_total", { event: "joined" }) ?? 0) >= 12);
        });
        await c.send("quit");
        await c.wait();
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
