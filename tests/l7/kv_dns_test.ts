/**
 * Redis, Memcached and DNS end to end on the real kernel: Debian's redis-server, memcached and
 * dnsmasq in "containers" (systemd-style cgroups) in network namespace b, their real clients
 * (redis-cli, bash's /dev/tcp, dig) in another container in namespace a, the agent as a child
 * process with `-P=agent`. Every count is checked on the client's outbound family and the
 * server's inbound one.
 *
 * - redis: 10 commands one by one (redis-cli from stdin, which sends COMMAND DOCS first), a
 *   pipelined batch of 5 (`redis-cli --pipe`; its own closing ECHO follows a bare CRLF and is
 *   not a command to the reference's rule either), an INCR and an error reply: `ok` 17,
 *   `failed` 1;
 * - memcached: 2 sets, 3 gets that hit and 2 that miss (an `END` answer is `ok`; keys of 4
 *   characters, since the reference takes no command shorter than 9 bytes): `ok` 7;
 * - dnsmasq (answering only from its own records, never forwarding): A, AAAA, an AAAA with no
 *   answer (dropped, the contract's rule), PTR and NXDOMAIN lookups:
 *   `container_dns_requests_total{request_type,domain,status}` and `ip_to_fqdn`.
 *
 * Needs root, redis-server, redis-tools, memcached, dnsmasq-base, dnsutils (dig), bash,
 * iproute2, nsenter and the built libosprey.
 */
import { equal } from "node:assert/strict";
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
  withNetAgent,
} from "../net/_lab.ts";
import { has, killCgroup, sh, waitExact, type Wanted } from "./_helpers.ts";

const MISSING = ["redis-server", "redis-cli", "memcached", "dnsmasq", "dig", "bash"].filter((c) =>
  !has(c)
);
const ignoreReason = netLabIgnoreReason() ||
  (MISSING.length > 0 ? `missing: ${MISSING.join(", ")}` : "");
if (ignoreReason) console.warn(`tests/l7/kv_dns_test.ts ignored: ${ignoreReason}`);

function l7Lines(s: Scrape, ids: string[]): string {
  return s.text.split("\n").filter((l) =>
    (ids.some((id) => l.includes(`container_id="${id}"`)) &&
      /^container_(redis|memcached|dns)_/.test(l) && !l.includes("_bucket")) ||
    l.startsWith("osprey_l7_") || l.startsWith("ip_to_fqdn")
  ).join("\n");
}

/** Waits until every `[metric, labels, value]` holds, then checks they still do two rounds later. */
function waitAll(url: string, ids: string[], want: Wanted): Promise<Scrape> {
  return waitExact(url, want, (s) => l7Lines(s, ids));
}

Deno.test({
  name: "l7: redis-server, memcached and dnsmasq with their real clients, exact counts",
  ignore: ignoreReason !== "",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn(t) {
    const pair = await createNetnsPair("l7k");
    const made: CgroupContainer[] = [];
    try {
      const ip = pair.b.v4;
      const redis = await CgroupContainer.create("redis", pair.b.name);
      const memcached = await CgroupContainer.create("memcached", pair.b.name);
      const dns = await CgroupContainer.create("dnsmasq", pair.b.name);
      const client = await CgroupContainer.create("kvclient", pair.a.name);
      made.push(redis, memcached, dns, client);
      await withNetAgent({}, async (agent) => {
        const step = agentSteps(t, agent);
        redis.spawn([
          "sh",
          "-c",
          `exec redis-server --bind ${ip} --port 6379 --save '' --appendonly no ` +
          `--protected-mode no --dir /tmp >/dev/null 2>&1`,
        ], "redis-server");
        memcached.spawn(
          ["sh", "-c", `exec memcached -u root -l ${ip} -p 11211 -U 0 >/dev/null 2>&1`],
          "memcached",
        );
        dns.spawn([
          "sh",
          "-c",
          `exec dnsmasq --no-daemon --user=root --pid-file= --no-resolv --no-hosts ` +
          `--bind-interfaces --listen-address=${ip} --port=53 --local=/test/ ` +
          `--host-record=svc.test,10.201.0.9 --host-record=v6.test,fd00:201::9 ` +
          `>/dev/null 2>&1`,
        ], "dnsmasq");
        let warm = "";
        await waitFor("the three servers answering", async () => {
          const out = warm = await sh(
            client,
            `redis-cli -h ${ip} PING; dig +short +time=1 +tries=1 @${ip} svc.test 2>&1; ` +
              `(exec 3<>/dev/tcp/${ip}/11211 && printf 'version\\r\\n' >&3 && ` +
              `head -c 8 <&3) 2>&1`,
          );
          return out.includes("PONG") && out.includes("10.201.0.9") && out.includes("VERSION")
            ? true
            : undefined;
        }, { timeoutMs: 20_000, everyMs: 300, describe: () => warm });
        // what the warm-up counted (once settled), so the steps below check exact increments
        await sleep(4 * INTERVAL_MS);
        const base = await scrapeParsed(agent.url);
        const v = (m: string, l: Record<string, string>) => base.value(m, l) ?? 0;

        await step("redis: 10 single commands, a pipelined batch, an error", async () => {
          const singles = Array.from({ length: 10 }, (_, i) => `SET k${i} ${i}`).join("\\n");
          await sh(client, `printf '${singles}\\n' | redis-cli -h ${ip}`);
          const resp = Array.from(
            { length: 5 },
            (_, i) => `*3\\r\\n$3\\r\\nSET\\r\\n$2\\r\\np${i}\\r\\n$1\\r\\n${i}\\r\\n`,
          ).join("");
          await sh(client, `printf '${resp}' | redis-cli -h ${ip} --pipe`);
          await sh(client, `redis-cli -h ${ip} INCR k1x; redis-cli -h ${ip} HGET k1 f`);
          const out = { container_id: client.id };
          const inn = { container_id: redis.id };
          const dst = { destination: `${ip}:6379`, actual_destination: `${ip}:6379` };
          const okOut = v("container_redis_queries_total", { ...out, ...dst, status: "ok" });
          const okIn = v("container_redis_inbound_queries_total", { ...inn, status: "ok" });
          // redis-cli reading commands from stdin first sends COMMAND DOCS (a real command on
          // the wire): 1 + 10; --pipe: 5 (its closing ECHO is written after a bare CRLF, so,
          // as in the reference, it is not taken for a command); INCR of a missing key: 1;
          // HGET on a string key is the error reply
          await waitAll(agent.url, [client.id, redis.id], [
            ["container_redis_queries_total", { ...out, ...dst, status: "ok" }, okOut + 17],
            ["container_redis_queries_total", { ...out, ...dst, status: "failed" }, 1],
            ["container_redis_inbound_queries_total", { ...inn, status: "ok" }, okIn + 17],
            ["container_redis_inbound_queries_total", { ...inn, status: "failed" }, 1],
          ]);
        });

        await step("memcached: sets, hits and misses", async () => {
          await sh(
            client,
            `exec 3<>/dev/tcp/${ip}/11211; ` +
              `for k in key1 key2; do printf "set $k 0 0 1\\r\\nv\\r\\n" >&3; head -c 8 <&3 >/dev/null; done; ` +
              `for k in key1 key2 key1; do printf "get $k\\r\\n" >&3; head -c 24 <&3 >/dev/null; done; ` +
              `for k in key8 key9; do printf "get $k\\r\\n" >&3; head -c 5 <&3 >/dev/null; done`,
          );
          const dst = { destination: `${ip}:11211`, actual_destination: `${ip}:11211` };
          await waitAll(agent.url, [client.id, memcached.id], [
            ["container_memcached_queries_total", {
              container_id: client.id,
              ...dst,
              status: "ok",
            }, 7],
            ["container_memcached_inbound_queries_total", {
              container_id: memcached.id,
              status: "ok",
            }, 7],
          ]);
        });

        await step("dnsmasq: A, AAAA, empty AAAA, PTR, NXDOMAIN; ip_to_fqdn", async () => {
          const q = `dig +notcp +time=2 +tries=1 @${ip}`;
          await sh(
            client,
            `${q} svc.test A; ${q} svc.test A; ${q} v6.test AAAA; ${q} svc.test AAAA; ` +
              `${q} -x 10.201.0.9; ${q} nothere.test A`,
          );
          const c = { container_id: client.id };
          const a = v("container_dns_requests_total", {
            ...c,
            request_type: "TypeA",
            domain: "svc.test",
            status: "ok",
          });
          const inOk = v("container_dns_inbound_requests_total", {
            container_id: dns.id,
            status: "ok",
          });
          const s = await waitAll(agent.url, [client.id, dns.id], [
            // the server's side: 2 A, 1 AAAA, 1 PTR answered ok, 1 NXDOMAIN
            [
              "container_dns_inbound_requests_total",
              { container_id: dns.id, status: "ok" },
              inOk + 4,
            ],
            ["container_dns_inbound_requests_total", {
              container_id: dns.id,
              status: "nxdomain",
            }, 1],
            ["container_dns_requests_total", {
              ...c,
              request_type: "TypeA",
              domain: "svc.test",
              status: "ok",
            }, a + 2],
            ["container_dns_requests_total", {
              ...c,
              request_type: "TypeAAAA",
              domain: "v6.test",
              status: "ok",
            }, 1],
            ["container_dns_requests_total", {
              ...c,
              request_type: "TypePTR",
              domain: "IP.in-addr.arpa",
              status: "ok",
            }, 1],
            ["container_dns_requests_total", {
              ...c,
              request_type: "TypeA",
              domain: "nothere.test",
              status: "nxdomain",
            }, 1],
            ["ip_to_fqdn", { ip: "10.201.0.9", fqdn: "svc.test" }, 1],
            ["ip_to_fqdn", { ip: "fd00:201::9", fqdn: "v6.test" }, 1],
          ]);
          // the empty AAAA answer is not counted
          equal(
            s.find("container_dns_requests_total", {
              ...c,
              request_type: "TypeAAAA",
              domain: "svc.test",
            }).length,
            0,
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
