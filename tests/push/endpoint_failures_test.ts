/**
 * The remote-write sender against a loopback endpoint that misbehaves on purpose: 400 (the batch
 * is dropped and counted, never retried), 429 with Retry-After and 500 (retried with backoff,
 * kept in the spool), a slow answer (the backlog arrives, oldest first), a spool cap smaller
 * than the outage (the oldest batches go, and the counter says how many), and TLS with a
 * certificate from a CA the agent does not know (refused until `--ca-file` names the CA or
 * `--insecure-skip-verify` is given, which the launcher turns into Deno's
 * `--unsafely-ignore-certificate-errors`). Throughout, /metrics answers and every collector
 * succeeds.
 */
import { deepEqual, equal, ok } from "node:assert/strict";
import { snappyUncompress } from "../../agent/push/mod.ts";
import { decodeWriteRequest } from "../../agent/push/remote_write_decode.ts";
import { freePort } from "../helpers/agent_process.ts";
import type { AgentProcess } from "../helpers/agent_process.ts";
import { sleep } from "../containers/metrics.ts";
import { collectorsHealthy, metricSum, spooled, startPushAgent, until } from "./harness.ts";

type Mode = "ok" | "400" | "429" | "500" | "slow";

/** A programmable remote-write receiver; records the sample timestamp of each batch it took. */
class Receiver {
  mode: Mode = "ok";
  /** Timestamps (ms) of the batches answered 2xx, in arrival order. */
  readonly taken: number[] = [];
  readonly headers: Headers[] = [];
  inFlightSlow = 0;
  readonly port: number;
  #server: Deno.HttpServer<Deno.NetAddr>;

  constructor(port: number, tls?: { cert: string; key: string }) {
    this.port = port;
    this.#server = Deno.serve(
      { hostname: "127.0.0.1", port, onListen() {}, ...(tls ?? {}) },
      async (req) => {
        let body: Uint8Array;
        try {
          body = new Uint8Array(await req.arrayBuffer());
        } catch {
          return new Response(null, { status: 400 }); // the client went away
        }
        this.headers.push(req.headers);
        const mode = this.mode;
        if (mode === "400") return new Response("bad batch", { status: 400 });
        if (mode === "429") {
          return new Response("slow down", { status: 429, headers: { "Retry-After": "1" } });
        }
        if (mode === "500") return new Response("oops", { status: 500 });
        if (mode === "slow") {
          this.inFlightSlow++;
          await sleep(3000);
          this.inFlightSlow--;
        }
        const wr = decodeWriteRequest(snappyUncompress(body));
        this.taken.push(wr.series[0].samples[0].ts);
        return new Response(null, { status: 204 });
      },
    );
  }

  async close(): Promise<void> {
    await this.#server.shutdown();
  }
}

async function scrapeOk(agent: AgentProcess): Promise<void> {
  const r = await fetch(`${agent.url}/metrics`);
  equal(r.status, 200);
  ok((await r.text()).includes("node_resources_cpu_logical_cores"));
}

Deno.test({
  name: "remote write: 400 drops, 429 and 500 retry, a slow endpoint gets the backlog in order",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const walDir = await Deno.makeTempDir({ prefix: "osprey-push-fail-" });
    const rx = new Receiver(freePort());
    const agent = startPushAgent({
      walDir,
      args: [`--metrics-endpoint=http://127.0.0.1:${rx.port}/write`, "--api-key=k-123"],
    });
    const count = (name: string, labels: Record<string, string>) =>
      metricSum(agent, name, { signal: "metrics", ...labels });
    try {
      await agent.waitReady();
      await until("a first batch", () => rx.taken.length > 0, 30_000, agent);
      const h = rx.headers[0];
      deepEqual(
        ["content-encoding", "content-type", "x-prometheus-remote-write-version", "x-api-key"]
          .map((k) => h.get(k)),
        ["snappy", "application/x-protobuf", "0.1.0", "k-123"],
      );
      equal(h.get("user-agent"), "coroot-node-agent");

      // 400: dropped and counted, not retried, the spool does not grow
      rx.mode = "400";
      await until(
        "3 batches refused",
        async () => (await count("osprey_push_dropped_batches_total", { reason: "rejected" })) >= 3,
        30_000,
        agent,
      );
      ok(spooled(walDir).length <= 1);
      equal(await count("osprey_push_retries_total", {}), 0);
      await scrapeOk(agent);
      ok(await collectorsHealthy(agent));

      // 429 and 500: retried; the batches stay in the spool
      const seen = new Set<number>();
      const watch = () => spooled(walDir).forEach((t) => seen.add(t));
      rx.mode = "429";
      await until(
        "429 retried",
        async () => {
          watch();
          return (await count("osprey_push_retries_total", { reason: "http_429" })) >= 2;
        },
        30_000,
        agent,
      );
      rx.mode = "500";
      await until(
        "500 retried with a backlog",
        async () => {
          watch();
          return (await count("osprey_push_retries_total", { reason: "http_5xx" })) >= 2 &&
            spooled(walDir).length >= 3;
        },
        30_000,
        agent,
      );
      await scrapeOk(agent);
      ok(await collectorsHealthy(agent));
      const takenBefore = rx.taken.length;
      const rejected = await count("osprey_push_dropped_batches_total", { reason: "rejected" });

      // slow (3 s an answer, the interval is 1 s): the scrape path does not wait on the sender;
      // then every batch kept through the 429s and 500s arrives, oldest first
      watch();
      const backlog = [...seen];
      rx.mode = "slow";
      await until("a slow request in flight", () => rx.inFlightSlow > 0, 30_000, agent);
      await scrapeOk(agent);
      ok(await collectorsHealthy(agent));
      await until("a slow request answered", () => rx.taken.length > takenBefore, 30_000, agent);
      rx.mode = "ok";
      await until(
        "the backlog delivered",
        () => backlog.every((t) => rx.taken.includes(t)),
        90_000,
        agent,
      );
      const after = rx.taken.slice(takenBefore);
      deepEqual(after, [...after].sort((a, b) => a - b), "sent oldest first");
      equal(
        await count("osprey_push_dropped_batches_total", { reason: "rejected" }),
        rejected,
        "nothing more dropped",
      );
      ok(await collectorsHealthy(agent));
    } finally {
      await agent.stop();
      await rx.close();
      await Deno.remove(walDir, { recursive: true });
    }
  },
});

Deno.test({
  name: "remote write: a spool cap smaller than the outage drops the oldest, and counts them",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const walDir = await Deno.makeTempDir({ prefix: "osprey-push-cap-" });
    const port = freePort(); // closed during the outage
    // the fixture host's batches are 6 to 10 KB: 16 KiB hold one or two
    const agent = startPushAgent({
      walDir,
      args: [`--metrics-endpoint=http://127.0.0.1:${port}/write`, "--max-spool-size=16KB"],
    });
    let rx: Receiver | undefined;
    try {
      await agent.waitReady();
      const seen = new Set<number>();
      const end = Date.now() + 10_000;
      while (Date.now() < end) {
        spooled(walDir).forEach((t) => seen.add(t));
        await sleep(100);
      }
      // a consistent reading: the counter, the spool, the counter again
      const { dropped, present } = await until("a stable reading", async () => {
        const c1 = await metricSum(agent, "osprey_push_dropped_batches_total", {
          reason: "spool_full",
        });
        const present = spooled(walDir);
        present.forEach((t) => seen.add(t));
        const c2 = await metricSum(agent, "osprey_push_dropped_batches_total", {
          reason: "spool_full",
        });
        return c1 === c2 ? { dropped: c1, present } : undefined;
      });
      ok(present.length >= 1 && present.length <= 3, `spool holds ${present.length}`);
      ok(dropped >= 5, `dropped ${dropped}`);
      equal(dropped, seen.size - present.length, "the counter names every batch that went");
      // the endpoint comes back: the spool's batches arrive, never one counted as dropped
      rx = new Receiver(port);
      const r = rx;
      await until("batches after the outage", () => r.taken.length >= 2, 30_000, agent);
      ok(r.taken.every((t) => t >= present[0]), "a dropped batch was sent");
      ok(await collectorsHealthy(agent));
    } finally {
      await agent.stop();
      await rx?.close();
      await Deno.remove(walDir, { recursive: true });
    }
  },
});

/** A CA and a server certificate for 127.0.0.1 signed by it (openssl). */
async function makeCerts(dir: string): Promise<{ ca: string; cert: string; key: string }> {
  const run = async (args: string[]) => {
    const r = await new Deno.Command("openssl", { args, cwd: dir, stdout: "null", stderr: "piped" })
      .output();
    if (!r.success) throw new Error(`openssl ${args[0]}: ${new TextDecoder().decode(r.stderr)}`);
  };
  await run([
    "req",
    "-x509",
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-keyout",
    "ca.key",
    "-out",
    "ca.pem",
    "-days",
    "2",
    "-subj",
    "/CN=Osprey test CA",
  ]);
  await run([
    "req",
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-keyout",
    "server.key",
    "-out",
    "server.csr",
    "-subj",
    "/CN=127.0.0.1",
  ]);
  await Deno.writeTextFile(`${dir}/san.cnf`, "subjectAltName=IP:127.0.0.1\n");
  await run([
    "x509",
    "-req",
    "-in",
    "server.csr",
    "-CA",
    "ca.pem",
    "-CAkey",
    "ca.key",
    "-CAcreateserial",
    "-out",
    "server.pem",
    "-days",
    "2",
    "-extfile",
    "san.cnf",
  ]);
  return {
    ca: `${dir}/ca.pem`,
    cert: await Deno.readTextFile(`${dir}/server.pem`),
    key: await Deno.readTextFile(`${dir}/server.key`),
  };
}

const HAVE_OPENSSL = (() => {
  try {
    return new Deno.Command("openssl", { args: ["version"], stdout: "null" }).outputSync()
      .success;
  } catch {
    return false;
  }
})();

Deno.test({
  name:
    "remote write over TLS: an unknown CA is refused; --ca-file or --insecure-skip-verify sends",
  ignore: !HAVE_OPENSSL,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "osprey-push-tls-" });
    const walDir = `${dir}/wal`;
    const { ca, cert, key } = await makeCerts(dir);
    const rx = new Receiver(freePort(), { cert, key });
    const endpoint = `--metrics-endpoint=https://127.0.0.1:${rx.port}/write`;
    let agent: AgentProcess | undefined;
    try {
      // unknown CA: every attempt fails as a network error, nothing arrives, all else works
      agent = startPushAgent({ walDir, args: [endpoint] });
      const a = agent;
      await agent.waitReady();
      await until(
        "TLS failures retried",
        async () => (await metricSum(a, "osprey_push_retries_total", { reason: "network" })) >= 2,
        30_000,
        a,
      );
      equal(rx.taken.length, 0);
      ok(spooled(walDir).length >= 2);
      await scrapeOk(a);
      ok(await collectorsHealthy(a));
      await a.stop();
      const backlog = spooled(walDir);

      // --ca-file: the spool left by the first run arrives
      agent = startPushAgent({ walDir, args: [endpoint, `--ca-file=${ca}`] });
      const b = agent;
      await until(
        "sent with --ca-file",
        () => backlog.every((t) => rx.taken.includes(t)),
        30_000,
        b,
      );
      await b.stop();

      // --insecure-skip-verify without the CA: Deno's --unsafely-ignore-certificate-errors
      const n = rx.taken.length;
      agent = startPushAgent({ walDir, args: [endpoint, "--insecure-skip-verify"] });
      const c = agent;
      await until("sent with --insecure-skip-verify", () => rx.taken.length > n + 1, 30_000, c);
      equal(await metricSum(c, "osprey_push_retries_total", { reason: "network" }), 0);
    } finally {
      await agent?.stop();
      await rx.close();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
