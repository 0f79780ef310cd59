/**
 * DNS names as destinations (contract §2.3, §2.4, §2.6) end to end on the real kernel: a real
 * dnsmasq (answering only from its own records, never forwarding: `--no-resolv`, `--no-hosts`,
 * `--host-record`) and a real nginx in "containers" (systemd-style cgroups) in network namespace
 * b, a real curl in another container in namespace a, the agent as a child process with
 * `-P=agent`.
 *
 * Public addresses from the documentation ranges (203.0.113.0/24, 198.51.100.0/24) are
 * addresses of namespace b, and namespace a routes those two ranges into its veth to b: the
 * namespaces have no other link, so nothing leaves the machine. The client's curl resolves
 * through its own `/etc/resolv.conf` (a private mount namespace, `unshare -m`, binds one naming
 * dnsmasq over it), so each curl asks for the name and connects at once, the timing the rule
 * must handle: a connect made right after its answer.
 *
 * - `multi.test` answers two public addresses: 10 curls give exactly 10
 *   `container_net_tcp_successful_connects_total{destination="multi.test:8080",
 *   actual_destination=""}` and 10 `container_http_requests_total{destination="multi.test:8080",
 *   actual_destination="",status="2xx"}`, no series with either address, and no `ip_to_fqdn`
 *   for them;
 * - `single.test` answers one public address and `priv.test` two private ones: their
 *   destinations stay `ip:port` (10 each), and `ip_to_fqdn` shows their addresses.
 *
 * Needs root, nginx (nginx-light), dnsmasq (dnsmasq-base), curl, dig (dnsutils), unshare and
 * mount (util-linux), iproute2, nsenter and the built libosprey.
 */
import { equal } from "node:assert/strict";
import { createNetnsPair } from "../helpers/netns.ts";
import {
  agentSteps,
  CgroupContainer,
  netLabIgnoreReason,
  type Scrape,
  waitFor,
  withNetAgent,
} from "../net/_lab.ts";
import { has, killCgroup, NGINX_PORT, nginxConfig, sh, waitExact } from "./_helpers.ts";

const MISSING = ["nginx", "dnsmasq", "curl", "dig", "unshare", "mount"].filter((c) => !has(c));
const ignoreReason = netLabIgnoreReason() ||
  (MISSING.length > 0 ? `missing: ${MISSING.join(", ")}` : "");
if (ignoreReason) console.warn(`tests/l7/fqdn_test.ts ignored: ${ignoreReason}`);

/** The two public addresses of `multi.test`. */
const MULTI = ["203.0.113.10", "198.51.100.10"];
/** The one public address of `single.test`. */
const SINGLE = "203.0.113.20";
/** The two private addresses of `priv.test` (inside namespace b only). */
const PRIV = ["10.201.0.3", "10.201.0.4"];
/** Connections (one request each) per name. */
const N = 10;

function lines(s: Scrape, ids: string[]): string {
  return s.text.split("\n").filter((l) =>
    (ids.some((id) => l.includes(`container_id="${id}"`)) &&
      /^container_(net_tcp_successful|net_tcp_failed|http_requests_total|dns_requests_total)/
        .test(l)) ||
    l.startsWith("ip_to_fqdn") || l.startsWith("osprey_net_name_wait") ||
    l.startsWith("osprey_l7_requests")
  ).join("\n");
}

Deno.test({
  name: "l7+net: a name of several public addresses is the destination (fqdn:port), others ip:port",
  ignore: ignoreReason !== "",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn(t) {
    const pair = await createNetnsPair("l7f");
    const dir = await Deno.makeTempDir({ prefix: "osprey-l7-fqdn-" });
    const made: CgroupContainer[] = [];
    try {
      const dnsIp = pair.b.v4;
      // b holds the served addresses; a sends those ranges (and only those) to b
      for (const ip of [...MULTI, SINGLE, ...PRIV]) {
        await pair.b.ip("addr", "add", `${ip}/32`, "dev", "lo");
      }
      for (const net of ["203.0.113.0/24", "198.51.100.0/24"]) {
        await pair.a.ip("route", "add", net, "via", pair.b.v4, "dev", "veth0");
      }
      await Deno.writeTextFile(`${dir}/nginx.conf`, nginxConfig(dir, "0.0.0.0"));
      await Deno.writeTextFile(
        `${dir}/resolv.conf`,
        `nameserver ${dnsIp}\noptions timeout:2 attempts:2\n`,
      );
      const dns = await CgroupContainer.create("fqdn-dns", pair.b.name);
      const web = await CgroupContainer.create("fqdn-web", pair.b.name);
      const client = await CgroupContainer.create("fqdn-client", pair.a.name);
      made.push(dns, web, client);
      await withNetAgent({}, async (agent) => {
        const step = agentSteps(t, agent);
        dns.spawn([
          "sh",
          "-c",
          `exec dnsmasq --no-daemon --user=root --pid-file= --no-resolv --no-hosts ` +
          `--bind-interfaces --listen-address=${dnsIp} --port=53 --local=/test/ ` +
          MULTI.map((ip) => `--host-record=multi.test,${ip} `).join("") +
          `--host-record=single.test,${SINGLE} ` +
          PRIV.map((ip) => `--host-record=priv.test,${ip} `).join("") +
          `>/dev/null 2>&1`,
        ], "dnsmasq");
        web.spawn(["sh", "-c", `exec nginx -c ${dir}/nginx.conf >/dev/null 2>&1`], "nginx");
        let warm = "";
        await waitFor("dnsmasq and nginx answering", async () => {
          const out = warm = await sh(
            client,
            `dig +short +time=1 +tries=1 @${dnsIp} single.test 2>&1; ` +
              `curl -s -m 2 -o /dev/null -w '%{http_code}' http://${pair.b.v4}:${NGINX_PORT}/ok`,
          );
          return out.includes(SINGLE) && out.includes("200") ? true : undefined;
        }, { timeoutMs: 20_000, everyMs: 300, describe: () => warm });

        /** N curls of `name` from the client, each resolving through dnsmasq first. */
        const curls = (name: string) =>
          sh(
            client,
            `unshare -m sh -c 'mount --bind ${dir}/resolv.conf /etc/resolv.conf && ` +
              `for i in $(seq ${N}); do curl -s -m 5 -o /dev/null -w "%{http_code} %{remote_ip};" ` +
              `http://${name}:${NGINX_PORT}/ok; done'`,
          );
        const c = { container_id: client.id };

        await step("multi.test (two public addresses): fqdn:port, empty actual", async () => {
          const out = await curls("multi.test");
          equal(out.split(";").filter((x) => x.startsWith("200 ")).length, N, out);
          const dst = { destination: `multi.test:${NGINX_PORT}`, actual_destination: "" };
          const s = await waitExact(agent.url, [
            ["container_net_tcp_successful_connects_total", { ...c, ...dst }, N],
            ["container_http_requests_total", { ...c, ...dst, status: "2xx" }, N],
            ["container_dns_requests_total", {
              ...c,
              request_type: "TypeA",
              domain: "multi.test",
              status: "ok",
            }, N],
          ], (s) => lines(s, [client.id]));
          // every connection got the name, none its address; ip_to_fqdn leaves them out
          for (const ip of MULTI) {
            const hp = `${ip}:${NGINX_PORT}`;
            equal(
              s.find("container_net_tcp_successful_connects_total", { ...c, destination: hp })
                .length,
              0,
              lines(s, [client.id]),
            );
            equal(s.find("container_http_requests_total", { ...c, destination: hp }).length, 0);
            equal(s.find("ip_to_fqdn", { ip }).length, 0);
          }
        });

        await step("single.test (one public address), priv.test (private): ip:port", async () => {
          const out = (await curls("single.test")) + (await curls("priv.test"));
          equal(out.split(";").filter((x) => x.startsWith("200 ")).length, 2 * N, out);
          const single = `${SINGLE}:${NGINX_PORT}`;
          const s = await waitExact(agent.url, [
            ["container_net_tcp_successful_connects_total", {
              ...c,
              destination: single,
              actual_destination: single,
            }, N],
            ["container_http_requests_total", {
              ...c,
              destination: single,
              actual_destination: single,
              status: "2xx",
            }, N],
            ["ip_to_fqdn", { ip: SINGLE, fqdn: "single.test" }, 1],
            ["ip_to_fqdn", { ip: PRIV[0], fqdn: "priv.test" }, 1],
            ["ip_to_fqdn", { ip: PRIV[1], fqdn: "priv.test" }, 1],
          ], (s) => lines(s, [client.id]));
          // the resolver's order decides which private address each curl takes: their sum
          let connects = 0, requests = 0;
          for (const ip of PRIV) {
            const hp = {
              destination: `${ip}:${NGINX_PORT}`,
              actual_destination: `${ip}:${NGINX_PORT}`,
            };
            connects += s.value("container_net_tcp_successful_connects_total", { ...c, ...hp }) ??
              0;
            requests += s.value("container_http_requests_total", { ...c, ...hp, status: "2xx" }) ??
              0;
          }
          equal(connects, N, lines(s, [client.id]));
          equal(requests, N);
          for (const name of ["single.test", "priv.test"]) {
            const d = { ...c, destination: `${name}:${NGINX_PORT}` };
            equal(s.find("container_net_tcp_successful_connects_total", d).length, 0);
          }
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
