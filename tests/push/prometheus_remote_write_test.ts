/**
 * Remote write into a real Prometheus (Debian's 2.42, `--web.enable-remote-write-receiver`)
 * from the agent on the fixture host, with the grants the launcher builds:
 *
 * 1. the values Prometheus returns for `node_resources_cpu_logical_cores` and a container series
 *    are those /metrics shows, with `instance` and `job` as reference §1.4 says;
 * 2. Prometheus stopped for over 60 s while the agent spools, the agent SIGKILLed in the middle
 *    of the outage and started again on the same `--wal-dir`: once Prometheus is back, every
 *    batch either agent spooled is in Prometheus (each spool file's timestamp is a sample of the
 *    range query), sent oldest first.
 *
 * Ignored when /usr/bin/prometheus is missing.
 */
import { deepEqual, equal, ok } from "node:assert/strict";
import { instanceLabel } from "../../agent/push/mod.ts";
import { freePort } from "../helpers/agent_process.ts";
import type { AgentProcess } from "../helpers/agent_process.ts";
import { parseSamples, sleep } from "../containers/metrics.ts";
import {
  collectorsHealthy,
  HAVE_PROMETHEUS,
  metricSum,
  Prometheus,
  spooled,
  startPushAgent,
  until,
} from "./harness.ts";

const MACHINE_ID = "0123456789abcdef0123456789abcdef"; // the fixture host's
const CONTAINER = "/podman/osprey-meta-test";

Deno.test({
  name:
    "remote write: a real Prometheus gets /metrics' values; a 60 s outage and a SIGKILL lose nothing",
  ignore: !HAVE_PROMETHEUS,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "osprey-push-prom-" });
    const prom = new Prometheus(freePort(), dir);
    const walDir = `${dir}/wal`;
    const args = [`--metrics-endpoint=${prom.writeUrl}`, "--api-key=test-key"];
    let agent: AgentProcess | undefined;
    try {
      await prom.start();
      agent = startPushAgent({ walDir, args });
      await agent.waitReady();
      ok(agent.stderr().includes("listen address is forced to 127.0.0.1:10300"), agent.stderr());

      // 1. the values /metrics shows, with instance and job
      const a = agent;
      const got = await until(
        "node_resources_cpu_logical_cores in Prometheus",
        async () => {
          const r = await prom.query("node_resources_cpu_logical_cores");
          return r.length === 1 ? r[0] : undefined;
        },
        30_000,
        a,
      );
      const text = await (await fetch(`${a.url}/metrics`)).text();
      const local = parseSamples(text);
      const cores = local.find((s) => s.name === "node_resources_cpu_logical_cores")!;
      const uuid = cores.labels.system_uuid;
      const instance = instanceLabel(MACHINE_ID, uuid);
      deepEqual(got.metric, {
        __name__: "node_resources_cpu_logical_cores",
        instance,
        job: "coroot-node-agent",
        machine_id: MACHINE_ID,
        system_uuid: uuid,
      });
      equal(Number(got.value![1]), cores.value);
      const info = local.find((s) =>
        s.name === "container_info" && s.labels.container_id === CONTAINER
      )!;
      const remote = await until(
        "the container series in Prometheus",
        async () => {
          const r = await prom.query(`container_info{container_id="${CONTAINER}"}`);
          return r.length === 1 ? r : undefined;
        },
        30_000,
        a,
      );
      const want: Record<string, string> = {
        __name__: "container_info",
        instance,
        job: "coroot-node-agent",
      };
      for (const [k, v] of Object.entries(info.labels)) if (v !== "") want[k] = v;
      deepEqual(remote[0].metric, want);
      equal(Number(remote[0].value![1]), info.value);

      // 2. an outage of over 60 s with a SIGKILL in the middle
      const before = await metricSum(a, "osprey_push_sent_batches_total", { signal: "metrics" });
      ok(before > 0);
      await prom.stop();
      const outageStart = Date.now();
      const seen = new Set<number>();
      const watch = async (ms: number) => {
        const end = Date.now() + ms;
        while (Date.now() < end) {
          for (const t of spooled(walDir)) seen.add(t);
          await sleep(200);
        }
      };
      await watch(30_000);
      ok(await collectorsHealthy(a), "collectors while the endpoint is down");
      ok((await metricSum(a, "osprey_push_retries_total", { reason: "network" })) > 0);
      await a.stop("SIGKILL");
      agent = startPushAgent({ walDir, args });
      await agent.waitListening();
      await watch(Math.max(0, 62_000 - (Date.now() - outageStart)));
      const outageEnd = Date.now();
      const inOutage = [...seen].filter((t) => t >= outageStart).sort((x, y) => x - y);
      ok(inOutage.length >= 50, `batches spooled in the outage: ${inOutage.length}`);
      await prom.start();
      const b = agent;
      await until(
        "the spool drained",
        async () => {
          return spooled(walDir).length === 0 &&
            (await metricSum(b, "osprey_push_queued_batches", { signal: "metrics" })) === 0;
        },
        60_000,
        b,
      );
      // every batch spooled in the outage is a sample in Prometheus
      const range = Math.ceil((Date.now() - outageStart) / 1000) + 5;
      const raw = await prom.query(`node_resources_cpu_logical_cores[${range}s]`);
      equal(raw.length, 1);
      const stamps = new Set(raw[0].values!.map(([t]) => Math.round(t * 1000)));
      const missing = [...seen].filter((t) => !stamps.has(t));
      deepEqual(missing, [], `spooled batches missing in Prometheus (of ${seen.size})`);
      // and the samples of the outage are at most one interval apart, except across the restart
      const during = raw[0].values!.map(([t]) => t * 1000).filter((t) =>
        t >= outageStart && t <= outageEnd
      );
      const gaps = during.slice(1).map((t, i) => t - during[i]).filter((g) => g > 1500);
      ok(gaps.length <= 1, `gaps in the outage: ${gaps.join(", ")} ms`);
      ok(await collectorsHealthy(b));
    } finally {
      await agent?.stop();
      await prom.stop();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
