/**
 * HTTP/2 and gRPC connections opened before the agent started, on the real kernel: their later
 * requests are counted, recognised from the frames alone (the client preface went by before the
 * agent attached). Two server "containers" in namespace b: nginx with h2c (`listen ... http2`),
 * and a `node:http2` server answering gRPC-shaped calls (testdata/h2_server.mjs); two long-lived
 * `node:http2` sessions (testdata/h2_session.mjs) from a client "container" in namespace a, each
 * opened and used before the agent starts:
 *
 * - nginx: 2 requests before the agent (not counted), then 4 × 200, 3 × 404, 2 × 500 after it:
 *   `2xx` 4, `4xx` 3, `5xx` 2 on the client's outbound family and on nginx's inbound one (nginx
 *   writes `:status` as a static-table index or a literal, so every status is known);
 * - the gRPC server: 3 requests before the agent (grpc-status 0 and 14, and a GET), so its
 *   HPACK encoder holds `content-type: application/grpc`, `grpc-status: 0` and `grpc-status: 14`
 *   in its dynamic table, entries the agent never saw; then 2 calls (grpc-status 14 and 5) whose
 *   trailers refer to those entries: `unknown` 2 (the status cannot be read, and is never
 *   guessed); then 5 × /flush (each answer adds a new 1,000-byte header, which pushes every
 *   older entry out of the encoder's 4,096-octet table): `2xx` 5; then grpc-status 0, 14, 5 and
 *   13 and a 404, all read again: `grpc:OK`, `grpc:UNAVAILABLE`, `grpc:NOT_FOUND`,
 *   `grpc:INTERNAL` and `4xx` 1 each; on both sides.
 *
 * Needs root, nginx (nginx-light), iproute2, nsenter and the built libosprey.
 */
import { deepEqual, ok } from "node:assert/strict";
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
  scrapeParsed,
  waitFor,
  withNetAgent,
} from "../net/_lab.ts";

const ignoreReason = netLabIgnoreReason() ||
  (!has("nginx") ? "nginx missing (apt-get install nginx-light)" : "");
if (ignoreReason) console.warn(`tests/l7/http2_preexisting_test.ts ignored: ${ignoreReason}`);

const HERE = new URL(".", import.meta.url).pathname;
const NGINX_PORT = 8080;
const GRPC_PORT = 8443;

function nginxConfig(dir: string, addr: string): string {
  return nginxServerConfig(
    dir,
    `
listen ${addr}:${NGINX_PORT} http2;
location = /ok { return 200 "ok\\n"; }
location = /missing { return 404; }
location = /fail { return 500; }
`,
    `
keepalive_timeout 300s;
http2_idle_timeout 300s;
`,
  );
}

type Session = ReturnType<CgroupContainer["spawn"]>;

/** Sends each path on the session; checks what the client saw. */
async function requests(s: Session, paths: string[], want: string[]): Promise<void> {
  const got: string[] = [];
  for (const p of paths) {
    await s.send(p);
    got.push((await s.line<{ result: string }>(15_000)).result);
  }
  deepEqual(got, want);
}

/** The sum of a family's series for one container (and destination, outbound). */
function total(s: Scrape, family: string, labels: Record<string, string>): number {
  return s.find(family).filter((x) => Object.entries(labels).every(([k, v]) => x.labels[k] === v))
    .reduce((a, x) => a + x.value, 0);
}

Deno.test({
  name: "l7: HTTP/2 and gRPC connections opened before the agent get their later requests counted",
  ignore: ignoreReason !== "",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn(t) {
    const pair = await createNetnsPair("l7h2p");
    const dir = await Deno.makeTempDir({ prefix: "osprey-l7-h2p-" });
    const made: CgroupContainer[] = [];
    const sessions: Session[] = [];
    try {
      const ip = pair.b.v4;
      await Deno.writeTextFile(`${dir}/nginx.conf`, nginxConfig(dir, ip));
      const nginx = await CgroupContainer.create("h2pnginx", pair.b.name);
      const grpc = await CgroupContainer.create("h2pgrpc", pair.b.name);
      const client = await CgroupContainer.create("h2pclient", pair.a.name);
      made.push(nginx, grpc, client);
      nginx.spawn(["sh", "-c", `exec nginx -c ${dir}/nginx.conf >/dev/null 2>&1`], "nginx");
      const srv = grpc.spawn(
        [Deno.execPath(), "run", "-A", `${HERE}testdata/h2_server.mjs`, ip, String(GRPC_PORT)],
        "h2 server",
      );
      await srv.line(30_000);
      const open = async (port: number): Promise<Session> => {
        let session: Session | undefined;
        await waitFor(`an h2c session to ${ip}:${port}`, async () => {
          const p = client.spawn(
            [
              Deno.execPath(),
              "run",
              "-A",
              `${HERE}testdata/h2_session.mjs`,
              `http://${ip}:${port}`,
            ],
            `h2 session to ${port}`,
          );
          try {
            await p.line(10_000);
            session = p;
            return true;
          } catch {
            await p.kill();
            return undefined;
          }
        }, { timeoutMs: 30_000, everyMs: 300 });
        sessions.push(session!);
        return session!;
      };
      const toNginx = await open(NGINX_PORT);
      const toGrpc = await open(GRPC_PORT);
      // before the agent: not counted, and they fill the HPACK tables
      await requests(toNginx, ["/ok", "/missing"], ["200", "404"]);
      await requests(toGrpc, ["/grpc/0", "/grpc/14", "/ok"], ["200:0", "200:14", "200"]);

      await withNetAgent({}, async (agent) => {
        const step = agentSteps(t, agent);
        const s0 = await scrapeParsed(agent.url);
        ok(s0.value("osprey_module_state", { module: "l7", state: "on" }) === 1, "l7 is on");
        ok(s0.value("osprey_bpf_program_attached", { program: "osp_l7_read_exit" }) === 1);
        const ng = {
          destination: `${ip}:${NGINX_PORT}`,
          actual_destination: `${ip}:${NGINX_PORT}`,
        };
        const gr = { destination: `${ip}:${GRPC_PORT}`, actual_destination: `${ip}:${GRPC_PORT}` };
        const want = (
          dst: Record<string, string>,
          server: CgroupContainer,
          counts: Record<string, number>,
        ): Wanted =>
          Object.entries(counts).flatMap(([status, n]) => [
            ["container_http_requests_total", { container_id: client.id, ...dst, status }, n],
            ["container_http_inbound_requests_total", { container_id: server.id, status }, n],
          ]);
        const check = async (wanted: Wanted) => {
          const s = await waitExact(
            agent.url,
            wanted,
            (s) => familyLines(s, [client.id, nginx.id, grpc.id], "container_http", "osprey_l7_"),
          );
          // nothing else counted: each family's total per container is the wanted one
          const sums = new Map<string, number>();
          for (const [family, labels, n] of wanted) {
            const k = `${family} ${labels.container_id}`;
            sums.set(k, (sums.get(k) ?? 0) + n);
          }
          for (const [k, n] of sums) {
            const [family, id] = k.split(" ");
            ok(total(s, family, { container_id: id }) === n, `${k}: ${n} wanted`);
          }
          return s;
        };

        await step(
          "nginx h2c: 4 × 200, 3 × 404, 2 × 500 on the connection opened before",
          async () => {
            await requests(
              toNginx,
              ["/ok", "/missing", "/fail", "/ok", "/missing", "/ok", "/fail", "/missing", "/ok"],
              ["200", "404", "500", "200", "404", "200", "500", "404", "200"],
            );
            await check(want(ng, nginx, { "2xx": 4, "4xx": 3, "5xx": 2 }));
          },
        );

        await step(
          "gRPC: 2 calls whose status refers to unseen HPACK entries are unknown",
          async () => {
            await requests(toGrpc, ["/grpc/14", "/grpc/5"], ["200:14", "200:5"]);
            await check([
              ...want(ng, nginx, { "2xx": 4, "4xx": 3, "5xx": 2 }),
              ...want(gr, grpc, { unknown: 2 }),
            ]);
          },
        );

        await step(
          "gRPC: after 5 answers push the old entries out, every status is read",
          async () => {
            await requests(
              toGrpc,
              ["/flush/1", "/flush/2", "/flush/3", "/flush/4", "/flush/5"],
              ["200", "200", "200", "200", "200"],
            );
            await requests(
              toGrpc,
              ["/grpc/0", "/grpc/14", "/grpc/5", "/grpc/13", "/missing"],
              ["200:0", "200:14", "200:5", "200:13", "404"],
            );
            const s = await check([
              ...want(ng, nginx, { "2xx": 4, "4xx": 3, "5xx": 2 }),
              ...want(gr, grpc, {
                unknown: 2,
                "2xx": 5,
                "grpc:OK": 1,
                "grpc:UNAVAILABLE": 1,
                "grpc:NOT_FOUND": 1,
                "grpc:INTERNAL": 1,
                "4xx": 1,
              }),
            ]);
            // both sides of both connections were recognised from their frames
            const mid = s.value("osprey_l7_matcher_events_total", { event: "http2_mid_stream" }) ??
              0;
            ok(mid >= 4, `http2_mid_stream ${mid}`);
            ok((s.value("osprey_l7_matcher_events_total", { event: "hpack_unresolved" }) ?? 0) > 0);
          },
        );
      });
    } finally {
      for (const s of sessions) await s.kill();
      for (const c of made) {
        await killCgroup(c);
        await c.remove();
      }
      await pair.remove();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  },
});
