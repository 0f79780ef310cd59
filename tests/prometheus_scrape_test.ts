/**
 * A real Prometheus (Debian's 2.42) scrapes the agent on loopback: OpenMetrics negotiation, gzip
 * and keep-alive through the agent's own HTTP/1.1 server. Ignored when /usr/bin/prometheus is
 * missing.
 */
import { equal, ok } from "node:assert/strict";
import { freePort, startAgent } from "./helpers/agent_process.ts";
import { Scrape, scrapeParsed, waitFor } from "./containers/metrics.ts";

const PROMETHEUS = "/usr/bin/prometheus";
const HAVE_PROMETHEUS = (() => {
  try {
    return Deno.statSync(PROMETHEUS).isFile;
  } catch {
    return false;
  }
})();

async function query(
  port: number,
  q: string,
): Promise<{ metric: Record<string, string>; value: [number, string] }[]> {
  const r = await fetch(`http://127.0.0.1:${port}/api/v1/query?query=${encodeURIComponent(q)}`);
  const body = await r.json();
  if (body.status !== "success") throw new Error(JSON.stringify(body));
  return body.data.result;
}

function closedTotal(s: Scrape): number {
  return s.find("osprey_http_connections_closed_total").reduce((a, x) => a + x.value, 0);
}

Deno.test({
  name:
    "a real Prometheus scrapes the agent (OpenMetrics and gzip, as it asks) over one kept-alive connection",
  ignore: !HAVE_PROMETHEUS,
  async fn() {
    const agent = startAgent({
      permissions: ["-P=fixture"],
      args: ["--host-root=tests/fixtures/host"],
    });
    const dir = await Deno.makeTempDir({ prefix: "osprey-prometheus-" });
    const promPort = freePort();
    let prom: Deno.ChildProcess | undefined;
    try {
      await agent.waitReady();
      const closedBefore = closedTotal(await scrapeParsed(agent.url));
      await Deno.writeTextFile(
        `${dir}/prometheus.yml`,
        `global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n` +
          `scrape_configs:\n  - job_name: osprey\n    static_configs:\n` +
          `      - targets: ["127.0.0.1:${agent.port}"]\n`,
      );
      prom = new Deno.Command(PROMETHEUS, {
        args: [
          `--config.file=${dir}/prometheus.yml`,
          `--storage.tsdb.path=${dir}/data`,
          `--web.listen-address=127.0.0.1:${promPort}`,
        ],
        stdout: "null",
        stderr: "null",
      }).spawn();
      // five good scrapes in a row
      await waitFor("five scrapes with up 1", async () => {
        const up = await query(promPort, 'sum_over_time(up{job="osprey"}[1m])');
        return up.length === 1 && Number(up[0].value[1]) >= 5 ? true : undefined;
      }, { timeoutMs: 30_000 });
      const info = await query(promPort, "node_agent_info");
      equal(info[0].metric.version, "0.1.0");
      const samples = await query(promPort, 'scrape_samples_scraped{job="osprey"}');
      ok(Number(samples[0].value[1]) > 20);
      const s: Scrape = await scrapeParsed(agent.url);
      // one connection for all of Prometheus's scrapes: none was closed since they began
      equal(closedTotal(s), closedBefore);
      ok(s.value("osprey_http_connections_open")! >= 1);
    } finally {
      if (prom) {
        prom.kill("SIGTERM");
        await prom.status;
      }
      await agent.stop();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
