/**
 * OTLP traces from L7 requests end to end (contract §8.5): the agent with `--traces-endpoint`
 * pointing at a loopback OTLP/HTTP receiver that decodes with the official proto definitions,
 * real clients in a "container" in network namespace a, real servers in namespace b.
 *
 * - nginx behind curl: 12 `/ok`, 5 `/missing` (404), 3 `/fail` (500) and 2 `/slow` (an upstream
 *   that sleeps 200 ms) give exactly 22 CLIENT spans of the client container, each named `GET`
 *   with its `http.url`, `http.method`, `http.status_code`, `net.peer.name`/`net.peer.port` of
 *   nginx, status ERROR for the 8 answered ≥ 400 (unset for the others), and the slow ones at
 *   least 200 ms long; 3 `/excluded` (`--exclude-http-requests-by-path`) give none, and the
 *   server side (inbound) gives none.
 * - redis-server behind redis-cli: `SET`, `GET` and a failing `HGET` (WRONGTYPE) of one key give
 *   three spans with `db.system` `redis`, `db.operation` and `db.statement` (the command and its
 *   first argument, ` ...` when more follow), the failing one with status ERROR.
 *
 * Resources: `service.name` and `container.id` are the client container's id (not a
 * Kubernetes workload, so no app id), `host.name` is set.
 *
 * Needs root, nginx (nginx-light), curl, python3, redis-server, redis-tools, bash, iproute2,
 * nsenter and the built libosprey.
 */
import { deepEqual, equal, ok } from "node:assert/strict";
import { loadOtlpTypes } from "../../agent/push/mod.ts";
import { createNetnsPair } from "../helpers/netns.ts";
import {
  agentSteps,
  CgroupContainer,
  netLabIgnoreReason,
  sleep,
  waitFor,
  waitVisible,
  withNetAgent,
} from "../net/_lab.ts";
import {
  curl,
  has,
  killCgroup,
  NGINX_PORT,
  nginxConfig,
  sh,
  SLOW_MS,
  SLOW_SERVER,
} from "./_helpers.ts";

const MISSING = ["nginx", "curl", "python3", "redis-server", "redis-cli", "bash"].filter((c) =>
  !has(c)
);
const ignoreReason = netLabIgnoreReason() ||
  (MISSING.length > 0 ? `missing: ${MISSING.join(", ")}` : "");
if (ignoreReason) console.warn(`tests/l7/traces_test.ts ignored: ${ignoreReason}`);

/** The OTLP exporter's batch delay (agent/push/otlp_exporter.ts), ms. */
const BATCH_MS = 5000;

const AS_JSON = { longs: String, enums: Number, bytes: String, defaults: false };

interface Attr {
  key: string;
  value: { stringValue?: string; intValue?: string };
}
interface Span {
  name: string;
  kind: number;
  traceId: string;
  spanId: string;
  startTimeUnixNano: string;
  endTimeUnixNano: string;
  attributes?: Attr[];
  status?: { code?: number };
}
interface ResourceSpans {
  resource: { attributes: Attr[] };
  scopeSpans: { scope?: { name?: string }; spans: Span[] }[];
}

/** A span with its resource's attributes. */
interface Got {
  resource: Record<string, string>;
  span: Span;
  attrs: Record<string, string | number>;
}

function flat(attrs: Attr[] | undefined): Record<string, string | number> {
  const out: Record<string, string | number> = {};
  for (const a of attrs ?? []) {
    out[a.key] = a.value.stringValue ?? Number(a.value.intValue);
  }
  return out;
}

Deno.test({
  name: "l7 traces: one OTLP client span per outbound HTTP and Redis request, field by field",
  ignore: ignoreReason !== "",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn(t) {
    const types = await loadOtlpTypes();
    const got: Got[] = [];
    const receiver = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
      const bytes = new Uint8Array(await req.arrayBuffer());
      const type = types.ExportTraceServiceRequest;
      const body = type.toObject(type.decode(bytes), AS_JSON) as {
        resourceSpans?: ResourceSpans[];
      };
      for (const rs of body.resourceSpans ?? []) {
        const resource = flat(rs.resource.attributes) as Record<string, string>;
        for (const ss of rs.scopeSpans) {
          for (const span of ss.spans) got.push({ resource, span, attrs: flat(span.attributes) });
        }
      }
      return new Response(null, { status: 200 });
    });
    const pair = await createNetnsPair("l7t");
    const dir = await Deno.makeTempDir({ prefix: "osprey-l7-traces-" });
    const made: CgroupContainer[] = [];
    try {
      const ip = pair.b.v4;
      await Deno.writeTextFile(`${dir}/nginx.conf`, nginxConfig(dir, ip));
      const server = await CgroupContainer.create("nginx", pair.b.name);
      const upstream = await CgroupContainer.create("upstream", pair.b.name);
      const redis = await CgroupContainer.create("redis", pair.b.name);
      const client = await CgroupContainer.create("client", pair.a.name);
      made.push(server, upstream, redis, client);
      await withNetAgent({
        args: [
          "--exclude-http-requests-by-path=/ex*",
          `--traces-endpoint=http://127.0.0.1:${receiver.addr.port}/v1/traces`,
          "--traces-sampling=1",
        ],
        // the receiver's port among the loopback grants
        extraPermissions: ["--allow-net=0.0.0.0,127.0.0.1,[::],[::1]"],
      }, async (agent) => {
        const step = agentSteps(t, agent);
        server.spawn(["sh", "-c", `exec nginx -c ${dir}/nginx.conf >/dev/null 2>&1`], "nginx");
        upstream.spawn(["python3", "-c", SLOW_SERVER], "slow upstream");
        redis.spawn([
          "sh",
          "-c",
          `exec redis-server --bind ${ip} --port 6379 --save '' --appendonly no ` +
          `--protected-mode no --dir /tmp >/dev/null 2>&1`,
        ], "redis-server");
        // (the warm-up's own spans carry no `?i=` and are left out below)
        await waitFor("nginx, its upstream and redis answering", async () => {
          const codes = await curl(client, [`http://${ip}:${NGINX_PORT}/slow`]);
          const pong = await sh(client, `redis-cli -h ${ip} PING`);
          return codes[0] === "200" && pong.includes("PONG") ? true : undefined;
        }, { timeoutMs: 15_000, everyMs: 200 });
        await waitVisible(agent.url, client.id);
        await waitVisible(agent.url, server.id);
        const mine = (f: (g: Got) => boolean) =>
          got.filter((g) => g.resource["container.id"] === client.id && f(g));

        await step(
          "22 HTTP requests: 22 spans with method, url, status; none excluded",
          async () => {
            const base = `http://${ip}:${NGINX_PORT}`;
            const paths: string[] = [];
            for (let i = 0; i < 12; i++) paths.push("/ok");
            for (let i = 0; i < 5; i++) paths.push("/missing");
            for (let i = 0; i < 3; i++) paths.push("/fail");
            const codes = await curl(client, paths.map((p, i) => `${base}${p}?i=${i}`));
            equal(
              codes.join(","),
              paths.map((p) => ({ "/ok": 200, "/missing": 404 })[p] ?? 500).join(","),
            );
            // marked as the others: a span of these would be counted below
            const ex = await curl(client, [0, 1, 2].map((i) => `${base}/excluded?i=x${i}`));
            equal(ex.join(","), "200,200,200");
            const slow = await curl(client, [`${base}/slow?i=20`, `${base}/slow?i=21`]);
            equal(slow.join(","), "200,200");
            const http = () => mine((g) => String(g.attrs["http.url"]).includes("?i="));
            await waitFor("22 HTTP spans of the client", async () => {
              await sleep(0);
              return http().length >= 22 ? true : undefined;
            }, { timeoutMs: 20_000, describe: () => `${http().length} so far` });
            await sleep(BATCH_MS + 1000); // the exporter's next batch: nothing more arrives
            const spans = http();
            equal(spans.length, 22, "one span per request, none for /excluded");
            const byPath = new Map<string, Got[]>();
            for (const g of spans) {
              const url = String(g.attrs["http.url"]);
              ok(url.startsWith(`${base}/`), url);
              const path = url.slice(base.length, url.indexOf("?"));
              byPath.set(path, [...(byPath.get(path) ?? []), g]);
            }
            deepEqual(
              Object.fromEntries([...byPath].map(([p, g]) => [p, g.length])),
              { "/ok": 12, "/missing": 5, "/fail": 3, "/slow": 2 },
            );
            const want = { "/ok": 200, "/missing": 404, "/fail": 500, "/slow": 200 };
            for (const [path, status] of Object.entries(want)) {
              for (const g of byPath.get(path)!) {
                equal(g.span.name, "GET");
                equal(g.span.kind, 3, "SPAN_KIND_CLIENT");
                equal(g.attrs["http.method"], "GET");
                equal(g.attrs["http.status_code"], status, path);
                equal(g.attrs["net.peer.name"], ip);
                equal(g.attrs["net.peer.port"], NGINX_PORT);
                equal(g.span.status?.code ?? 0, status >= 400 ? 2 : 0, `${path}: status`);
                const ns = BigInt(g.span.endTimeUnixNano) - BigInt(g.span.startTimeUnixNano);
                ok(ns > 0n, `${path}: a duration`);
                if (path === "/slow") {
                  ok(
                    ns >= BigInt(SLOW_MS) * 1_000_000n,
                    `${path}: ${ns} ns ≥ the upstream's sleep`,
                  );
                }
              }
            }
            // a fresh trace and span id each (pseudo-traces)
            equal(new Set(spans.map((g) => g.span.traceId)).size, 22);
            equal(new Set(spans.map((g) => g.span.spanId)).size, 22);
            // every request once, with its whole target
            const ids = spans.map((g) => Number(String(g.attrs["http.url"]).split("?i=")[1]));
            deepEqual(ids.sort((a, b) => a - b), Array.from({ length: 22 }, (_, i) => i));
            const r = spans[0].resource;
            equal(r["container.id"], client.id);
            equal(r["service.name"], client.id, "no app id: the container id");
            ok((r["host.name"] ?? "") !== "", JSON.stringify(r));
            // the server side's (inbound) requests make no spans
            equal(got.filter((g) => g.resource["container.id"] === server.id).length, 0);
          },
        );

        await step("redis: SET, GET, a failing HGET: db.system, operation, statement", async () => {
          const key = `osprey:trace:${Deno.pid}`;
          await sh(
            client,
            `redis-cli -h ${ip} SET ${key} v; redis-cli -h ${ip} GET ${key}; ` +
              `redis-cli -h ${ip} HGET ${key} f`,
          );
          const kv = () =>
            mine((g) =>
              g.attrs["db.system"] === "redis" && String(g.attrs["db.statement"]).includes(key)
            );
          await waitFor("3 Redis spans", async () => {
            await sleep(0);
            return kv().length >= 3 ? true : undefined;
          }, { timeoutMs: 20_000, describe: () => `${kv().length} so far` });
          await sleep(BATCH_MS + 1000);
          const spans = kv().sort((a, b) =>
            Number(BigInt(a.span.endTimeUnixNano) - BigInt(b.span.endTimeUnixNano))
          );
          deepEqual(
            spans.map((g) => [
              g.span.name,
              g.attrs["db.operation"],
              g.attrs["db.statement"],
              g.span.status?.code ?? 0,
              g.attrs["net.peer.name"],
              g.attrs["net.peer.port"],
            ]),
            [
              ["SET", "SET", `SET ${key} ...`, 0, ip, 6379],
              ["GET", "GET", `GET ${key}`, 0, ip, 6379],
              ["HGET", "HGET", `HGET ${key} ...`, 2, ip, 6379],
            ],
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
      await receiver.shutdown();
    }
  },
});
