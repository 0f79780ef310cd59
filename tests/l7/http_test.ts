/**
 * HTTP/1 end to end on the real kernel: a real nginx (Debian's) in a "container" (a
 * systemd-style cgroup in network namespace b), a real curl in another (namespace a), the agent
 * as a child process with `-P=agent`.
 *
 * - 100 GETs over keep-alive connections, 30 answered 404 and 5 answered 500:
 *   `container_http_requests_total` 65 / 30 / 5 for `2xx` / `4xx` / `5xx` on the client with
 *   `destination` = `actual_destination` = `10.201.0.2:8080`, and the same on the server's
 *   `container_http_inbound_requests_total`;
 * - 3 GETs of a location proxied to an upstream that sleeps 200 ms (a python3 server in a third
 *   container): 68 `2xx`, and those 3 lie above the 0.1 s bucket of both histograms (only lower
 *   bounds are asserted: the sleep guarantees them);
 * - `--exclude-http-requests-by-path=/ex*`: 4 GETs of `/excluded` are not counted.
 *
 * Needs root, nginx (nginx-light), curl, python3, iproute2, nsenter and the built libosprey.
 */
import { equal, ok } from "node:assert/strict";
import { createNetnsPair } from "../helpers/netns.ts";
import {
  agentSteps,
  CgroupContainer,
  INTERVAL_MS,
  netLabIgnoreReason,
  type Scrape,
  scrapeParsed,
  sleep,
  waitFor,
  waitVisible,
  withNetAgent,
} from "../net/_lab.ts";
import { curl, has, killCgroup, NGINX_PORT, nginxConfig, SLOW_SERVER } from "./_helpers.ts";

const ignoreReason = netLabIgnoreReason() ||
  (!has("nginx") ? "nginx missing (apt-get install nginx-light)" : "") ||
  (!has("curl") ? "curl missing" : "") || (!has("python3") ? "python3 missing" : "");
if (ignoreReason) console.warn(`tests/l7/http_test.ts ignored: ${ignoreReason}`);

const PORT = NGINX_PORT;

/** The L7 series of a container and the module's own counters, for failure messages. */
function l7Lines(s: Scrape, id: string): string {
  const own = s.text.split("\n").filter((l) =>
    l.startsWith("container_") && !l.startsWith("container_net_") &&
    l.includes(`container_id="${id}"`) && !l.includes("_bucket")
  );
  const self = s.text.split("\n").filter((l) =>
    l.startsWith("osprey_l7_") || l.startsWith("osprey_ringbuf_") ||
    l.startsWith("osprey_collector") ||
    (l.startsWith("osprey_net_") && !l.endsWith(" 0")) ||
    (l.includes("8080") && !l.includes("_bucket"))
  );
  return [...own, ...self].join("\n");
}

/**
 * Waits until `metric{container_id=id, ...labels}` equals `want`, then checks that it still
 * does two rounds later; returns the last scrape.
 */
async function waitValue(
  url: string,
  id: string,
  metric: string,
  labels: Record<string, string>,
  want: number,
): Promise<Scrape> {
  let last: Scrape | undefined;
  const read = async () => {
    last = await scrapeParsed(url);
    return last.value(metric, { container_id: id, ...labels });
  };
  const what = `${metric}${JSON.stringify(labels)} of ${id} = ${want}`;
  await waitFor(what, async () => (await read()) === want ? true : undefined, {
    timeoutMs: 15_000,
    describe: () => last ? l7Lines(last, id) : "(no scrape)",
  });
  await sleep(2 * INTERVAL_MS + 100);
  const again = await read();
  if (again !== want) {
    throw new Error(`${what}: was ${want}, then ${again} two rounds later\n${l7Lines(last!, id)}`);
  }
  return last!;
}

function bucket(s: Scrape, name: string, labels: Record<string, string>, le: string): number {
  return s.value(`${name}_bucket`, { ...labels, le }) ?? 0;
}

Deno.test({
  name: "l7: nginx behind real curl, 65/30/5 by status class outbound and inbound, latency buckets",
  ignore: ignoreReason !== "",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn(t) {
    const pair = await createNetnsPair("l7h");
    const dir = await Deno.makeTempDir({ prefix: "osprey-l7-nginx-" });
    const made: CgroupContainer[] = [];
    try {
      await Deno.writeTextFile(`${dir}/nginx.conf`, nginxConfig(dir, pair.b.v4));
      const server = await CgroupContainer.create("nginx", pair.b.name);
      const upstream = await CgroupContainer.create("upstream", pair.b.name);
      const client = await CgroupContainer.create("curl", pair.a.name);
      made.push(server, upstream, client);
      await withNetAgent({ args: ["--exclude-http-requests-by-path=/ex*"] }, async (agent) => {
        const step = agentSteps(t, agent);
        // the workers must not hold the test's pipes: nginx writes to its error log only
        server.spawn(["sh", "-c", `exec nginx -c ${dir}/nginx.conf >/dev/null 2>&1`], "nginx");
        upstream.spawn(["python3", "-c", SLOW_SERVER], "slow upstream");
        await waitFor("nginx and the upstream answering", async () => {
          const codes = await curl(client, [`http://${pair.b.v4}:${PORT}/excluded`]);
          return codes[0] === "200" ? true : undefined;
        }, { timeoutMs: 15_000, everyMs: 200 });
        await waitVisible(agent.url, client.id);
        await waitVisible(agent.url, server.id);
        const base = `http://${pair.b.v4}:${PORT}`;
        const dest = {
          destination: `${pair.b.v4}:${PORT}`,
          actual_destination: `${pair.b.v4}:${PORT}`,
        };

        await step("100 GETs: 65 2xx, 30 4xx, 5 5xx on both sides", async () => {
          const urls: string[] = [];
          for (let i = 0; i < 100; i++) {
            urls.push(`${base}/${i % 20 < 13 ? "ok" : i % 20 < 19 ? "missing" : "fail"}`);
          }
          const codes = await curl(client, urls);
          equal(codes.filter((c) => c === "200").length, 65);
          equal(codes.filter((c) => c === "404").length, 30);
          equal(codes.filter((c) => c === "500").length, 5);
          // three more processes of curl for /excluded, which must not count anywhere
          await curl(client, [`${base}/excluded`, `${base}/excluded`, `${base}/excluded`]);
          for (const [status, n] of [["2xx", 65], ["4xx", 30], ["5xx", 5]] as const) {
            await waitValue(agent.url, client.id, "container_http_requests_total", {
              ...dest,
              status,
            }, n);
            await waitValue(agent.url, server.id, "container_http_inbound_requests_total", {
              status,
            }, n);
          }
          const s = await scrapeParsed(agent.url);
          equal(
            s.value("container_http_requests_duration_seconds_total_count", {
              container_id: client.id,
              ...dest,
            }),
            100,
          );
          equal(
            s.value("container_http_inbound_requests_duration_seconds_total_count", {
              container_id: server.id,
            }),
            100,
          );
        });

        await step("3 GETs that sleep 200 ms land above the 0.1 s bucket", async () => {
          const codes = await curl(client, [`${base}/slow`, `${base}/slow`, `${base}/slow`]);
          equal(codes.join(","), "200,200,200");
          await waitValue(agent.url, client.id, "container_http_requests_total", {
            ...dest,
            status: "2xx",
          }, 68);
          const s = await waitValue(
            agent.url,
            server.id,
            "container_http_inbound_requests_total",
            { status: "2xx" },
            68,
          );
          for (
            const [name, id, labels] of [
              ["container_http_requests_duration_seconds_total", client.id, dest],
              ["container_http_inbound_requests_duration_seconds_total", server.id, {}],
            ] as const
          ) {
            const l = { container_id: id, ...labels };
            const inf = bucket(s, name, l, "+Inf");
            equal(inf, 103);
            ok(bucket(s, name, l, "0.1") <= 100, `${name}: the slow requests are above 0.1 s`);
            ok(bucket(s, name, l, "0.1") >= 0);
            ok((s.value(`${name}_sum`, l) ?? 0) >= 0.6, `${name}: sum holds 3 × 0.2 s at least`);
          }
          // the upstream's own inbound requests are its container's, not nginx's
          equal(
            s.value("container_http_inbound_requests_total", {
              container_id: upstream.id,
              status: "2xx",
            }),
            3,
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
