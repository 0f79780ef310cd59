import { deepEqual, equal, match, ok } from "node:assert/strict";
import { CollectorScheduler } from "../collector.ts";
import { parseFlags } from "../flags.ts";
import { createLogger } from "../log.ts";
import { Registry } from "../metrics/mod.ts";
import { hostPaths } from "../paths.ts";
import { byLabel, fixtureHost, parseExposition, scratchHost, variant } from "./_testing.ts";
import { identityLabels, nodeCollectors, nodeModule } from "./mod.ts";

const text = (reg: Registry) => new TextDecoder().decode(reg.encode("text"));

async function collectOnce(reg: Registry, paths = fixtureHost(), extra = {}) {
  const node = await nodeCollectors(reg, paths, { userHz: 100, ...extra });
  for (const c of node.collectors) await c.collect(new AbortController().signal);
  return node;
}

/** Every sample line's `name{labels}` part, which must be unique in a scrape. */
function seriesKeys(body: string): string[] {
  return body.split("\n").filter((l) => l !== "" && !l.startsWith("#")).map((l) =>
    l.slice(0, l.lastIndexOf(" "))
  );
}

Deno.test("the node families on the recorded host: names, labels, units", async () => {
  const reg = new Registry();
  reg.setConstLabels(await identityLabels(fixtureHost()));
  using _ = await collectOnce(reg);
  const body = text(reg);
  const s = parseExposition(body);
  deepEqual([...new Set(s.map((x) => x.name))].sort(), [
    "node_cloud_info",
    "node_info",
    "node_net_interface_ip",
    "node_net_interface_up",
    "node_net_received_bytes_total",
    "node_net_received_packets_total",
    "node_net_transmitted_bytes_total",
    "node_net_transmitted_packets_total",
    "node_resources_cpu_logical_cores",
    "node_resources_cpu_usage_seconds_total",
    "node_resources_disk_io_time_seconds_total",
    "node_resources_disk_read_bytes_total",
    "node_resources_disk_read_time_seconds_total",
    "node_resources_disk_reads_total",
    "node_resources_disk_write_time_seconds_total",
    "node_resources_disk_writes_total",
    "node_resources_disk_written_bytes_total",
    "node_resources_memory_available_bytes",
    "node_resources_memory_cached_bytes",
    "node_resources_memory_free_bytes",
    "node_resources_memory_total_bytes",
    "node_uptime_seconds",
  ]);
  for (const x of s) {
    equal(x.labels.machine_id, "3d1219c7c4c5404aaa1f6d2a48adfda4");
    equal(x.labels.system_uuid, "ec2a1f0e-5b3c-4d7e-9f10-2a3b4c5d6e7f");
  }
  const info = s.find((x) => x.name === "node_info")!;
  deepEqual([info.labels.hostname, info.labels.kernel_version, info.value], [
    "vm",
    "6.18.44-fc-v769",
    1,
  ]);
  const cloud = s.find((x) => x.name === "node_cloud_info")!;
  deepEqual(Object.keys(cloud.labels).filter((l) => l !== "machine_id" && l !== "system_uuid"), [
    "provider",
    "account_id",
    "instance_id",
    "instance_type",
    "instance_life_cycle",
    "region",
    "availability_zone",
    "availability_zone_id",
    "local_ipv4",
    "public_ipv4",
  ]);
  ok(
    Object.entries(cloud.labels).every(([k, v]) =>
      v === "" || k === "machine_id" || k === "system_uuid"
    ),
  );
  equal(byLabel(s, "node_uptime_seconds").get(""), 595.4);
  deepEqual(Object.fromEntries(byLabel(s, "node_resources_cpu_usage_seconds_total", "mode")), {
    user: 78.51,
    nice: 0,
    system: 27.43,
    idle: 1076.01,
    iowait: 3.4,
    irq: 0,
    softirq: 0.46,
    steal: 0.09,
  });
  equal(byLabel(s, "node_resources_cpu_logical_cores").get(""), 2);
  equal(byLabel(s, "node_resources_memory_total_bytes").get(""), 24683656 * 1024);
  equal(byLabel(s, "node_resources_memory_cached_bytes").get(""), 377164 * 1024);
  deepEqual(Object.fromEntries(byLabel(s, "node_resources_disk_read_bytes_total", "device")), {
    vda: 2902338 * 512,
  });
  equal(byLabel(s, "node_resources_disk_io_time_seconds_total", "device").get("vda"), 5.088);
  equal(byLabel(s, "node_resources_disk_write_time_seconds_total", "device").get("vda"), 5.829);
  deepEqual(Object.fromEntries(byLabel(s, "node_net_received_bytes_total", "interface")), {
    eth0: 81189964,
  });
  deepEqual(Object.fromEntries(byLabel(s, "node_net_interface_up", "interface")), { eth0: 1 });
  deepEqual(
    s.filter((x) => x.name === "node_net_interface_ip").map((
      x,
    ) => [x.labels.interface, x.labels.ip]),
    [["eth0", "192.0.2.2"], ["eth0", "fd00::2"]],
  );
  const keys = seriesKeys(body);
  equal(new Set(keys).size, keys.length);
});

Deno.test("the text passes promtool check metrics", async () => {
  const promtool = "/usr/bin/promtool";
  try {
    Deno.statSync(promtool);
  } catch {
    return; // not installed: nothing to compare with
  }
  const reg = new Registry();
  reg.setConstLabels(await identityLabels(fixtureHost()));
  using _ = await collectOnce(reg);
  const p = new Deno.Command(promtool, {
    args: ["check", "metrics"],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const w = p.stdin.getWriter();
  await w.write(reg.encode("text"));
  await w.close();
  const out = await p.output();
  const msg = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  equal(out.code, 0, msg);
});

Deno.test("series stay unique with duplicate devices, duplicate interfaces and many addresses", async () => {
  const host = await scratchHost(async (dir) => {
    await Deno.writeTextFile(`${dir}/proc/diskstats`, variant("diskstats_4.17.txt"));
    await Deno.writeTextFile(`${dir}/proc/1/net/dev`, variant("net_dev_multi.txt"));
    await Deno.writeTextFile(`${dir}/proc/1/net/fib_trie`, variant("fib_trie_multi.txt"));
    await Deno.writeTextFile(`${dir}/proc/1/net/route`, variant("route_multi.txt"));
    await Deno.writeTextFile(`${dir}/proc/1/net/if_inet6`, variant("if_inet6_multi.txt"));
  });
  try {
    const reg = new Registry();
    using _ = await collectOnce(reg, host);
    const body = text(reg);
    const keys = seriesKeys(body);
    equal(new Set(keys).size, keys.length);
    const s = parseExposition(body);
    equal(byLabel(s, "node_resources_disk_reads_total", "device").get("sda"), 120);
    equal(byLabel(s, "node_net_received_bytes_total", "interface").get("eth0"), 4294967295);
    deepEqual(
      s.filter((x) => x.name === "node_net_interface_ip").map((x) => x.labels.ip),
      ["10.0.0.5", "10.0.0.6", "2001:db8::5", "2001:db8:0:1::6", "fd00::2"],
    );
    // No operstate file for most of these interfaces in the tree: no guessed `up` series.
    deepEqual([...byLabel(s, "node_net_interface_up", "interface").keys()], ["eth0"]);
  } finally {
    await host.cleanup();
  }
});

Deno.test("a garbled /proc/stat fails the cpu collector only; the others still report", async () => {
  const host = await scratchHost(async (dir) => {
    await Deno.writeTextFile(`${dir}/proc/stat`, variant("stat_garbled.txt"));
  });
  const lines: string[] = [];
  const { log } = createLogger({ format: "json", write: (l) => lines.push(l) });
  const reg = new Registry();
  const scheduler = new CollectorScheduler(reg, log, { intervalMs: 3_600_000, timeoutMs: 5_000 });
  try {
    using node = await nodeCollectors(reg, host, { userHz: 100 });
    for (const c of node.collectors) scheduler.add(c);
    while (!scheduler.firstRoundDone) await new Promise((r) => setTimeout(r, 5));
    const s = parseExposition(text(reg));
    const success = Object.fromEntries(byLabel(s, "osprey_collector_success", "collector"));
    deepEqual(success, {
      node_info: 1,
      node_uptime: 1,
      node_cpu: 0,
      node_memory: 1,
      node_disk: 1,
      node_net: 1,
      node_net_ip: 1,
    });
    equal(s.filter((x) => x.name.startsWith("node_resources_cpu_")).length, 0);
    ok(s.some((x) => x.name === "node_resources_memory_total_bytes"));
    ok(s.some((x) => x.name === "node_net_received_bytes_total"));
    const failure = lines.map((l) => JSON.parse(l)).find((l) => l.collector === "node_cpu");
    match(failure.error, /Cannot parse ".*\/proc\/stat" line 2: "cpu0" column 3 is "5#2"/);
  } finally {
    scheduler.stop();
    await host.cleanup();
  }
});

Deno.test("a failed round removes the collector's series, a good round brings them back", async () => {
  const host = await scratchHost();
  try {
    const reg = new Registry();
    using node = await collectOnce(reg, host);
    const mem = node.collectors.find((c) => c.name === "node_memory")!;
    await Deno.writeTextFile(`${host.proc}/meminfo`, variant("meminfo_truncated.txt"));
    let failed = false;
    try {
      await mem.collect(new AbortController().signal);
    } catch (err) {
      failed = true;
      match(String(err), /no "Cached" line/);
    }
    ok(failed);
    ok(!text(reg).includes("node_resources_memory_"));
    await Deno.writeTextFile(`${host.proc}/meminfo`, variant("meminfo_3.10.txt"));
    await mem.collect(new AbortController().signal);
    const s = parseExposition(text(reg));
    equal(byLabel(s, "node_resources_memory_total_bytes").get(""), 3882620 * 1024);
    ok(!s.some((x) => x.name === "node_resources_memory_available_bytes")); // no MemAvailable
  } finally {
    await host.cleanup();
  }
});

Deno.test("a device or interface that goes away loses its series", async () => {
  const host = await scratchHost(async (dir) => {
    await Deno.writeTextFile(`${dir}/proc/diskstats`, variant("diskstats_4.17.txt"));
  });
  try {
    const reg = new Registry();
    using node = await collectOnce(reg, host);
    ok(text(reg).includes('device="nvme0n1"'));
    await Deno.writeTextFile(`${host.proc}/diskstats`, variant("diskstats_2.6.18.txt"));
    await Deno.writeTextFile(`${host.sys}/class/net/eth0/operstate`, "down\n");
    await Deno.writeTextFile(
      `${host.proc}/1/net/if_inet6`,
      "20010db8000000000000000000000009 02 40 00 00     eth0\n",
    );
    for (const c of node.collectors) await c.collect(new AbortController().signal);
    let s = parseExposition(text(reg));
    deepEqual([...byLabel(s, "node_resources_disk_reads_total", "device").keys()], ["sda", "hda"]);
    equal(byLabel(s, "node_net_interface_up", "interface").get("eth0"), 0);
    const ips = () => s.filter((x) => x.name === "node_net_interface_ip").map((x) => x.labels.ip);
    deepEqual(ips(), ["192.0.2.2", "2001:db8::9"]);
    // Unchanged address files: the series stay as they are.
    for (const c of node.collectors) await c.collect(new AbortController().signal);
    s = parseExposition(text(reg));
    deepEqual(ips(), ["192.0.2.2", "2001:db8::9"]);
  } finally {
    await host.cleanup();
  }
});

Deno.test("the extra regexes widen the filters", async () => {
  const reg = new Registry();
  using _ = await collectOnce(reg, fixtureHost(), {
    diskDevicesExtra: String.raw`zram\d+`,
    netInterfacesExtra: "lo|ifb0",
  });
  const s = parseExposition(text(reg));
  deepEqual([...byLabel(s, "node_resources_disk_reads_total", "device").keys()], ["vda", "zram0"]);
  deepEqual([...byLabel(s, "node_net_received_bytes_total", "interface").keys()], [
    "lo",
    "ifb0",
    "eth0",
  ]);
  deepEqual(Object.fromEntries(byLabel(s, "node_net_interface_up", "interface")), {
    lo: 0,
    ifb0: 0,
    eth0: 1,
  });
  deepEqual(
    s.filter((x) => x.name === "node_net_interface_ip").map((x) =>
      `${x.labels.interface} ${x.labels.ip}`
    ),
    ["lo 127.0.0.1", "eth0 192.0.2.2", "lo ::1", "eth0 fd00::2"],
  );
});

Deno.test("IPv4 from getifaddrs when the agent is in the host's network namespace", async () => {
  const reg = new Registry();
  using _ = await collectOnce(reg, fixtureHost(), {
    ipv4Source: "getifaddrs",
    networkInterfaces: () => [
      { name: "eth0", family: "IPv4", address: "198.51.100.7" },
      { name: "eth0:1", family: "IPv4", address: "198.51.100.8" },
      { name: "eth0", family: "IPv4", address: "169.254.3.3" },
      { name: "eth0", family: "IPv6", address: "fe80::1" },
      { name: "lo", family: "IPv4", address: "127.0.0.1" },
    ],
  });
  const s = parseExposition(text(reg));
  deepEqual(
    s.filter((x) => x.name === "node_net_interface_ip").map((x) => x.labels.ip),
    ["198.51.100.7", "198.51.100.8", "fd00::2"],
  );
});

Deno.test("nodeModule declares its flags, env twins and read permissions", () => {
  deepEqual(nodeModule.flags!.map((f) => [f.name, f.env]), [
    ["disk-devices-extra-regex", "DISK_DEVICES_EXTRA_REGEX"],
    ["net-interfaces-extra-regex", "NET_INTERFACES_EXTRA_REGEX"],
  ]);
  const flags = parseFlags(nodeModule.flags!, [], () => undefined).values;
  const live = hostPaths({ procfsRoot: "/proc", sysfsRoot: "/sys" });
  deepEqual(nodeModule.permissions(flags, live).map((n) => n.flag), [
    "--allow-read=/proc",
    "--allow-read=/sys",
    "--allow-read=/etc/machine-id",
    "--allow-read=/var/lib/dbus/machine-id",
    "--allow-read=/etc/hostname",
  ]);
  const fixture = fixtureHost();
  equal(nodeModule.permissions(flags, fixture)[0].flag, `--allow-read=${fixture.proc}`);
});

Deno.test("nodeModule starts on the fixture host and its collectors run", async () => {
  const reg = new Registry();
  const flags = parseFlags(nodeModule.flags!, ["--net-interfaces-extra-regex=lo"], () => undefined)
    .values;
  const lines: string[] = [];
  const { log } = createLogger({ format: "json", write: (l) => lines.push(l) });
  const scheduler = new CollectorScheduler(reg, log, { intervalMs: 3_600_000, timeoutMs: 5_000 });
  const inst = await nodeModule.start({
    flags,
    paths: fixtureHost(),
    registry: reg,
    scheduler,
    log,
    signal: new AbortController().signal,
  });
  for (const c of inst.collectors ?? []) await c.collect(new AbortController().signal);
  ok(text(reg).includes('node_net_received_bytes_total{interface="lo"}'));
  const started = lines.map((l) => JSON.parse(l)).find((l) => l.msg === "node sources");
  equal(started.user_hz, 100);
  equal(started.ipv4_source, "files");
  await inst.stop();
});
