import { deepEqual, equal, match, ok } from "node:assert/strict";
import { CollectorScheduler } from "../collector.ts";
import { parseFlags } from "../flags.ts";
import { createLogger } from "../log.ts";
import { Registry } from "../metrics/mod.ts";
import { hostPaths } from "../paths.ts";
import type { HostPaths } from "../paths.ts";
import type { Sample } from "./_testing.ts";
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
    "osprey_parse_errors_total",
  ]);
  // Nothing skipped on the recorded host; each file's count is there at 0.
  deepEqual(
    s.filter((x) => x.name === "osprey_parse_errors_total").map((x) =>
      `${x.labels.collector} ${x.labels.file} ${x.value}`
    ),
    [
      "node_cpu stat 0",
      "node_memory meminfo 0",
      "node_disk diskstats 0",
      "node_net net/dev 0",
      "node_net operstate 0",
    ],
  );
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
    await Deno.remove(`${dir}/sys/block`, { recursive: true }); // whole disks told by name
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
    // Only eth0 has an operstate file in the tree: the others are not known to be up (0).
    const up = byLabel(s, "node_net_interface_up", "interface");
    equal(up.size, 11);
    deepEqual([...up].filter(([, v]) => v !== 0), [["eth0", 1]]);
    // The repeated sda and eth0 lines are counted.
    deepEqual(parseErrorCounts(s), { "node_disk diskstats": 1, "node_net net/dev": 1 });
  } finally {
    await host.cleanup();
  }
});

/** `osprey_parse_errors_total` as {"<collector> <file>": value}. */
function parseErrorCounts(s: readonly Sample[]): Record<string, number> {
  return Object.fromEntries(
    s.filter((x) => x.name === "osprey_parse_errors_total" && x.value > 0).map((x) => [
      `${x.labels.collector} ${x.labels.file}`,
      x.value,
    ]),
  );
}

/** Runs every collector of `host` once through a scheduler; returns the scrape and the log. */
async function scheduled(host: HostPaths, rounds = 1) {
  const lines: string[] = [];
  const { log } = createLogger({ format: "json", write: (l) => lines.push(l) });
  const reg = new Registry();
  const scheduler = new CollectorScheduler(reg, log, { intervalMs: 3_600_000, timeoutMs: 5_000 });
  try {
    using node = await nodeCollectors(reg, host, { userHz: 100, log });
    for (const c of node.collectors) scheduler.add(c);
    while (!scheduler.firstRoundDone) await new Promise((r) => setTimeout(r, 5));
    for (let r = 1; r < rounds; r++) await scheduler.collectAll();
  } finally {
    scheduler.stop();
  }
  return { s: parseExposition(text(reg)), log: lines.map((l) => JSON.parse(l)) };
}

const NET_DEV_HEADER =
  "Inter-|   Receive                                                |  Transmit\n" +
  " face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs " +
  "drop fifo colls carrier compressed\n";

Deno.test("one odd line costs one series: every collector keeps the rest and counts it", async () => {
  const host = await scratchHost(async (dir) => {
    const stat = await Deno.readTextFile(`${dir}/proc/stat`);
    const cpu0 = stat.split("\n")[1];
    await Deno.writeTextFile(`${dir}/proc/stat`, stat.replace(cpu0, `${cpu0}\n${cpu0}`));
    await Deno.writeTextFile(
      `${dir}/proc/meminfo`,
      variant("meminfo_arm64_wsl.txt").replace("Buffers:", "Buffers: 12 MB\nBuf:"),
    );
    await Deno.writeTextFile(
      `${dir}/proc/diskstats`,
      (await Deno.readTextFile(`${dir}/proc/diskstats`)) +
        " 254 16 vdb 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16\n",
    );
    await Deno.writeTextFile(
      `${dir}/proc/1/net/dev`,
      NET_DEV_HEADER +
        "    lo:181005683161 1234567    0    0    0     0          0         0 181005683161 " +
        "1234567    0    0    0     0       0          0\n" +
        "team0:1: 10 1 0 0 0 0 0 0 20 2 0 0 0 0 0 0\n" +
        "  eth0: 81189964    1932    0    0    0     0          0         0    88318    1105    " +
        "0    0    0     0       0          0\n" +
        "  eth1: 5 5 0 0 0 0 0 0 5 5 0 0 0 0 0 x\n",
    );
    await Deno.writeTextFile(
      `${dir}/proc/1/net/if_inet6`,
      (await Deno.readTextFile(`${dir}/proc/1/net/if_inet6`)) + "not an address line\n",
    );
  });
  try {
    const { s, log } = await scheduled(host, 3);
    deepEqual(
      Object.values(Object.fromEntries(byLabel(s, "osprey_collector_success", "collector"))),
      [1, 1, 1, 1, 1, 1, 1],
    );
    equal(byLabel(s, "node_resources_cpu_usage_seconds_total", "mode").get("user"), 78.51);
    equal(byLabel(s, "node_resources_cpu_logical_cores").get(""), 2);
    deepEqual(
      [
        "total",
        "free",
        "available",
        "cached",
      ].map((k) => byLabel(s, `node_resources_memory_${k}_bytes`).get("")),
      [24683656 * 1024, 24145536 * 1024, 24342048 * 1024, 377164 * 1024],
    );
    deepEqual(Object.fromEntries(byLabel(s, "node_resources_disk_reads_total", "device")), {
      vda: 39617,
    });
    deepEqual(Object.fromEntries(byLabel(s, "node_net_received_bytes_total", "interface")), {
      eth0: 81189964,
    });
    deepEqual(Object.fromEntries(byLabel(s, "node_net_transmitted_packets_total", "interface")), {
      eth0: 1105,
    });
    deepEqual(Object.fromEntries(byLabel(s, "node_net_interface_up", "interface")), { eth0: 1 });
    deepEqual(
      s.filter((x) => x.name === "node_net_interface_ip").map((x) => x.labels.ip),
      ["192.0.2.2", "fd00::2"],
    );
    // Three rounds: each odd line counted each time its file was parsed (the address files
    // only when they change), logged once.
    deepEqual(parseErrorCounts(s), {
      "node_cpu stat": 3,
      "node_memory meminfo": 3,
      "node_disk diskstats": 3,
      "node_net net/dev": 3,
      "node_net_ip if_inet6": 1,
    });
    const skipped = log.filter((l) => l.msg === "skipped a line it cannot parse");
    deepEqual(
      skipped.map((l) => [l.collector, l.file.slice(host.proc.length), l.line, l.reason]),
      [
        ["node_cpu", "/stat", 3, 'a second "cpu0" line'],
        ["node_memory", "/meminfo", 4, 'expected "Key: value [kB]", got "Buffers: 12 MB"'],
        [
          "node_disk",
          "/diskstats",
          11,
          '19 columns, expected 14, 18 or 20: " 254 16 vdb 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16"',
        ],
        ["node_net", "/1/net/dev", 6, '"eth1" counter 16 is "x", not a count'],
        [
          "node_net_ip",
          "/1/net/if_inet6",
          4,
          'expected "<address> <ifindex> <prefix> <scope> <flags> <name>", got "not an address line"',
        ],
      ],
    );
  } finally {
    await host.cleanup();
  }
});

Deno.test("a file that cannot be read at all, or lacks its header, still fails its collector", async () => {
  const host = await scratchHost(async (dir) => {
    await Deno.writeTextFile(`${dir}/proc/meminfo`, "garbage\nmore garbage\n");
    await Deno.writeTextFile(`${dir}/proc/1/net/dev`, "  eth0: 1 2 0 0 0 0 0 0 3 4 0 0 0 0 0 0\n");
    await Deno.writeTextFile(`${dir}/proc/stat`, "");
  });
  try {
    const { s, log } = await scheduled(host);
    deepEqual(Object.fromEntries(byLabel(s, "osprey_collector_success", "collector")), {
      node_info: 1,
      node_uptime: 1,
      node_cpu: 0,
      node_memory: 0,
      node_disk: 1,
      node_net: 0,
      node_net_ip: 1,
    });
    equal(
      s.filter((x) => /^node_(resources_cpu|resources_memory|net_[rti])/.test(x.name)).length,
      2,
    );
    deepEqual(
      s.filter((x) => x.name === "node_net_interface_ip").map((x) => x.labels.ip),
      ["192.0.2.2", "fd00::2"],
    );
    const failed = Object.fromEntries(
      log.filter((l) => l.msg === "collector round failed").map((l) => [l.collector, l.error]),
    );
    match(failed.node_memory, /meminfo": none of its 2 lines can be read$/);
    match(failed.node_net, /net\/dev" line 1: missing the two header lines$/);
    match(failed.node_cpu, /stat": no readable "cpu" or "cpuN" line$/);
    deepEqual(parseErrorCounts(s), { "node_memory meminfo": 2 });
  } finally {
    await host.cleanup();
  }
});

Deno.test("a failed round removes the collector's series, a good round brings them back", async () => {
  const host = await scratchHost();
  try {
    const reg = new Registry();
    using node = await collectOnce(reg, host);
    const mem = node.collectors.find((c) => c.name === "node_memory")!;
    await Deno.writeTextFile(`${host.proc}/meminfo`, "Buffers: 1 kB\n");
    let failed = false;
    try {
      await mem.collect(new AbortController().signal);
    } catch (err) {
      failed = true;
      match(String(err), /no MemTotal, MemFree, MemAvailable or Cached line/);
    }
    ok(failed);
    ok(!text(reg).includes("node_resources_memory_"));
    // A file cut inside a number: the cut line is skipped, the lines before it reported.
    await Deno.writeTextFile(`${host.proc}/meminfo`, variant("meminfo_truncated.txt"));
    await mem.collect(new AbortController().signal);
    let s = parseExposition(text(reg));
    deepEqual(
      s.filter((x) => x.name.startsWith("node_resources_memory_")).map((x) => [x.name, x.value]),
      [
        ["node_resources_memory_free_bytes", 164956 * 1024],
        ["node_resources_memory_total_bytes", 3882620 * 1024],
      ],
    );
    await Deno.writeTextFile(`${host.proc}/meminfo`, variant("meminfo_3.10.txt"));
    await mem.collect(new AbortController().signal);
    s = parseExposition(text(reg));
    equal(byLabel(s, "node_resources_memory_total_bytes").get(""), 3882620 * 1024);
    equal(byLabel(s, "node_resources_memory_cached_bytes").get(""), 2531176 * 1024);
    ok(!s.some((x) => x.name === "node_resources_memory_available_bytes")); // no MemAvailable
  } finally {
    await host.cleanup();
  }
});

Deno.test("Xen whole disks named like partitions are reported from <sys>/block", async () => {
  const host = await scratchHost(async (dir) => {
    await Deno.writeTextFile(
      `${dir}/proc/diskstats`,
      [
        " 202       1 xvda1 11 0 88 3 12 0 96 4 0 6 7",
        " 202       2 xvda2 13 0 104 5 14 0 112 6 0 8 9",
        " 202      16 xvdb 15 0 120 7 16 0 128 8 0 10 11",
        " 202      17 xvdb1 1 0 8 1 1 0 8 1 0 1 1",
        "   7       0 loop0 9 0 72 1 0 0 0 0 0 1 1",
        "",
      ].join("\n"),
    );
    await Deno.remove(`${dir}/sys/block`, { recursive: true });
    await Deno.mkdir(`${dir}/sys/block`);
    for (
      const [name, dev] of [["xvda1", "vbd-51713"], ["xvda2", "vbd-51714"], ["xvdb", "vbd-51728"], [
        "loop0",
        "virtual",
      ]]
    ) {
      await Deno.symlink(`../devices/${dev}/block/${name}`, `${dir}/sys/block/${name}`);
    }
  });
  try {
    const reg = new Registry();
    using node = await collectOnce(reg, host);
    let s = parseExposition(text(reg));
    deepEqual(Object.fromEntries(byLabel(s, "node_resources_disk_read_bytes_total", "device")), {
      xvda1: 88 * 512,
      xvda2: 104 * 512,
      xvdb: 120 * 512,
    });
    equal(byLabel(s, "node_resources_disk_io_time_seconds_total", "device").get("xvda2"), 0.008);
    // A disk added later (a new diskstats line and a new /sys/block entry) is picked up.
    await Deno.writeTextFile(
      `${host.proc}/diskstats`,
      (await Deno.readTextFile(`${host.proc}/diskstats`)) + " 202 32 xvdc3 1 0 8 1 1 0 8 1 0 1 1\n",
    );
    await Deno.symlink("../devices/vbd-51747/block/xvdc3", `${host.sys}/block/xvdc3`);
    for (const c of node.collectors) await c.collect(new AbortController().signal);
    s = parseExposition(text(reg));
    deepEqual([...byLabel(s, "node_resources_disk_reads_total", "device").keys()], [
      "xvda1",
      "xvda2",
      "xvdb",
      "xvdc3",
    ]);
  } finally {
    await host.cleanup();
  }
});

Deno.test("node_net_interface_up for every reported interface: <sys>, the host init's sysfs, or 0", async () => {
  const host = await scratchHost(async (dir) => {
    await Deno.writeTextFile(
      `${dir}/proc/1/net/dev`,
      NET_DEV_HEADER +
        "  eth0: 1 1 0 0 0 0 0 0 1 1 0 0 0 0 0 0\n" +
        "  eth1: 2 2 0 0 0 0 0 0 2 2 0 0 0 0 0 0\n" +
        "  eth2: 3 3 0 0 0 0 0 0 3 3 0 0 0 0 0 0\n" +
        "  eth3: 4 4 0 0 0 0 0 0 4 4 0 0 0 0 0 0\n",
    );
    // eth1 and eth2 are not in <sys> (another network namespace's sysfs): eth1 is in the sysfs
    // that the host's init sees, eth2 nowhere; eth3's state is garbled.
    await Deno.mkdir(`${dir}/proc/1/root/sys/class/net/eth1`, { recursive: true });
    await Deno.writeTextFile(`${dir}/proc/1/root/sys/class/net/eth1/operstate`, "up\n");
    await Deno.mkdir(`${dir}/sys/class/net/eth3`);
    await Deno.writeTextFile(`${dir}/sys/class/net/eth3/operstate`, "\u0000\n");
  });
  try {
    const { s, log } = await scheduled(host);
    deepEqual(Object.fromEntries(byLabel(s, "node_net_interface_up", "interface")), {
      eth0: 1,
      eth1: 1,
      eth2: 0,
    });
    equal(byLabel(s, "node_net_received_bytes_total", "interface").get("eth3"), 4);
    deepEqual(parseErrorCounts(s), { "node_net operstate": 1 });
    deepEqual(
      log.filter((l) => l.interface !== undefined).map((l) => [l.interface, l.msg]),
      [
        ["eth1", "interface state read through the host's init, not <sysfs>"],
        ["eth2", "interface state not readable: reported as not known to be up (0)"],
      ],
    );
  } finally {
    await host.cleanup();
  }
});

Deno.test("a device or interface that goes away loses its series", async () => {
  const host = await scratchHost(async (dir) => {
    await Deno.remove(`${dir}/sys/block`, { recursive: true }); // whole disks told by name
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
