import { deepEqual, equal, match, ok } from "node:assert/strict";
import { CollectorScheduler } from "../collector.ts";
import type { FlagValues } from "../flags.ts";
import { silentLogger } from "../log.ts";
import { Registry } from "../metrics/mod.ts";
import type { ModuleContext } from "../modules.ts";
import { startModules } from "../modules.ts";
import { hostPaths } from "../paths.ts";
import type { HostPaths } from "../paths.ts";
import { providerFromDmi, readDmiFacts } from "./detect.ts";
import { CloudMetadataHub } from "./hub.ts";
import type { MetadataHttp } from "./http_client.ts";
import { nodeMetadataHttp } from "./http_client.ts";
import { cloudInfo } from "./info.ts";
import { MOCK_EXPECTED, startMockMetadata } from "./_mock_metadata.ts";
import {
  BASE_URL_FLAG,
  bindZoneLabels,
  configureCloud,
  createCloudModule,
  isContainerFamily,
  METADATA_HOSTS,
  netHostOf,
} from "./mod.ts";

const FIXTURES = new URL("../../tests/fixtures/cloud/", import.meta.url).pathname;

function fixturePaths(cloud: string): HostPaths {
  const sys = `${FIXTURES}${cloud}/sys`;
  return {
    root: "/nonexistent",
    proc: "/nonexistent/proc",
    sys,
    cgroup: `${sys}/fs/cgroup`,
    fixture: true,
  };
}

function context(reg: Registry, paths: HostPaths, flags: FlagValues = {}): ModuleContext {
  return {
    flags,
    paths,
    registry: reg,
    scheduler: new CollectorScheduler(reg, silentLogger, { intervalMs: 60_000, timeoutMs: 1000 }),
    log: silentLogger,
    signal: new AbortController().signal,
  };
}

/** An HTTP client that records every call and sends nothing anywhere. */
function spyHttp(): { http: MetadataHttp; calls: string[] } {
  const calls: string[] = [];
  return {
    calls,
    http: (req) => {
      calls.push(`${req.method} ${req.url}`);
      return Promise.reject(new Error("the spy sends nothing"));
    },
  };
}

const realProvider = providerFromDmi(await readDmiFacts(hostPaths().sys).catch(() => ({})));

Deno.test({
  name: "on this host's real sysfs (no cloud vendor) the module asks nothing at all",
  ignore: realProvider !== undefined,
  async fn() {
    const spy = spyHttp();
    const hub = new CloudMetadataHub();
    const reg = new Registry();
    const mod = createCloudModule({ http: spy.http, hub, refreshMs: 10, retryMinMs: 10 });
    const paths = hostPaths();
    const inst = await mod.start(context(reg, paths, { provider: "AWS" }));
    match(inst.note ?? "", /^no cloud vendor in .*class\/dmi\/id: nothing asked$/);
    await new Promise((r) => setTimeout(r, 100)); // ten refresh intervals, were anything running
    await inst.stop();
    deepEqual(spy.calls, []);
    equal(hub.discovered, undefined);
    equal(reg.get("osprey_cloud_metadata_requests_total"), undefined);
  },
});

Deno.test("with a fixture's DMI and the loopback base URL the module fills the hub", async () => {
  const mock = startMockMetadata("Oracle");
  const hub = new CloudMetadataHub();
  const reg = new Registry();
  const mod = createCloudModule({ http: nodeMetadataHttp, hub });
  const inst = await mod.start(context(reg, fixturePaths("oracle"), { [BASE_URL_FLAG]: mock.url }));
  try {
    equal(inst.note, `Oracle, asking ${mock.url} (test base URL)`);
    const end = Date.now() + 10_000;
    while (hub.discovered === undefined && Date.now() < end) {
      await new Promise((r) => setTimeout(r, 20));
    }
    deepEqual(hub.info(), MOCK_EXPECTED.Oracle);
    ok(mock.requests.length > 0 && mock.requests.every((r) => !r.rejected));
  } finally {
    await inst.stop();
    await mock.close();
  }
});

Deno.test("the module needs read on the DMI files and net on the metadata addresses only", () => {
  const mod = createCloudModule();
  const paths = fixturePaths("aws");
  const needs = mod.permissions({}, paths);
  deepEqual(
    needs.filter((n) => n.descriptor.name === "net").map((n) =>
      (n.descriptor as Deno.NetPermissionDescriptor).host
    ),
    [
      "169.254.169.254",
      "100.100.100.200",
      "169.254.42.42",
      "api.metadata.cloud.ibm.com",
    ],
  );
  deepEqual(METADATA_HOSTS.length, 4);
  ok(needs.every((n) =>
    n.descriptor.name !== "net" ||
    n.flag ===
      "--allow-net=169.254.169.254,100.100.100.200,169.254.42.42,api.metadata.cloud.ibm.com"
  ));
  deepEqual(
    needs.filter((n) => n.descriptor.name === "read").map((n) =>
      (n.descriptor as Deno.ReadPermissionDescriptor).path
    ),
    [
      `${paths.sys}/class/dmi/id`,
      `${paths.sys}/hypervisor/uuid`,
    ],
  );
  // with the test base URL, that address instead, port included
  const withBase = mod.permissions({ [BASE_URL_FLAG]: "http://127.0.0.1:8123" }, paths);
  deepEqual(withBase.filter((n) => n.descriptor.name === "net").map((n) => n.flag), [
    "--allow-net=127.0.0.1:8123",
  ]);
  equal(netHostOf("https://[::1]/x"), "[::1]:443");
  equal(netHostOf("http://localhost"), "localhost:80");
});

Deno.test({
  name: "without the net grant the module is off and the table names the flag",
  permissions: { read: true, net: ["127.0.0.1"], env: true },
  async fn() {
    const reg = new Registry();
    const started = await startModules(
      [createCloudModule({ http: spyHttp().http })],
      context(reg, fixturePaths("aws")),
    );
    const [row] = started.statuses;
    equal(row.state, "off");
    equal(
      row.reason,
      "not granted: net 169.254.169.254, net 100.100.100.200, net 169.254.42.42, net api.metadata.cloud.ibm.com",
    );
    equal(
      row.enable,
      "--allow-net=169.254.169.254,100.100.100.200,169.254.42.42,api.metadata.cloud.ibm.com",
    );
    await started.stop(1000);
  },
});

function lines(reg: Registry): string[] {
  return new TextDecoder().decode(reg.encode()).split("\n").filter((l) => l && !l.startsWith("#"));
}

Deno.test("az and region go on container series only, and only when both are known", () => {
  const reg = new Registry({ constLabels: { machine_id: "m" } });
  const hub = new CloudMetadataHub();
  reg.gauge({ name: "container_info", help: "I", labelNames: ["container_id"] }).labels("/a").set(
    1,
  );
  reg.gauge({ name: "node_info", help: "N" }).labels().set(1);
  reg.gauge({ name: "ip_to_fqdn", help: "F", labelNames: ["ip"] }).labels("10.0.0.1").set(1);
  const stop = configureCloud({ "availability-zone": "us-east-1a" }, reg, { hub });
  // the zone alone: no labels
  deepEqual(lines(reg), [
    'container_info{container_id="/a",machine_id="m"} 1',
    'ip_to_fqdn{ip="10.0.0.1",machine_id="m"} 1',
    'node_info{machine_id="m"} 1',
  ]);
  // the region discovered, the zone overridden: both known
  hub.publish(cloudInfo({ provider: "AWS", region: "us-east-1", availability_zone: "us-east-1b" }));
  deepEqual(lines(reg), [
    'container_info{container_id="/a",az="us-east-1a",region="us-east-1",machine_id="m"} 1',
    'ip_to_fqdn{ip="10.0.0.1",az="us-east-1a",region="us-east-1",machine_id="m"} 1',
    'node_info{machine_id="m"} 1',
  ]);
  equal(hub.info().availability_zone, "us-east-1a", "the override wins");
  // forgotten: gone again
  hub.publish(undefined);
  ok(lines(reg).every((l) => !l.includes("az=")));
  stop();
  ok(
    isContainerFamily("container_net_tcp_active_connections") &&
      !isContainerFamily("osprey_container_x"),
  );
});

Deno.test("overrides win over discovered values and apply with nothing discovered", () => {
  const hub = new CloudMetadataHub();
  const reg = new Registry();
  configureCloud(
    {
      provider: "onprem",
      region: "dc-1",
      "availability-zone": "rack-7",
      "instance-type": "r650",
      "instance-life-cycle": "reserved",
    },
    reg,
    { hub },
  );
  deepEqual(
    hub.info(),
    cloudInfo({
      provider: "onprem",
      region: "dc-1",
      availability_zone: "rack-7",
      instance_type: "r650",
      instance_life_cycle: "reserved",
    }),
  );
  hub.publish(MOCK_EXPECTED.AWS);
  deepEqual(hub.info(), {
    ...MOCK_EXPECTED.AWS,
    provider: "onprem",
    region: "dc-1",
    availability_zone: "rack-7",
    instance_type: "r650",
    instance_life_cycle: "reserved",
  });
  // re-rendering happens only when az/region change
  let calls = 0;
  const counting = new Proxy(reg, {
    get(t, p) {
      if (p === "setScopedConstLabels") calls++;
      const v = Reflect.get(t, p);
      return typeof v === "function" ? v.bind(t) : v;
    },
  });
  bindZoneLabels(counting, hub);
  hub.publish({ ...MOCK_EXPECTED.AWS, public_ipv4: "203.0.113.99" });
  equal(calls, 1);
});
