import { deepEqual, equal, ok } from "node:assert/strict";
import { KeptFiles } from "../cgroups/mod.ts";
import { detectCgroupFs } from "../cgroups/mod.ts";
import { wholeDiskFilter } from "../node/mod.ts";
import { hostPaths } from "../paths.ts";
import { FIXTURES, harness, T0 } from "./_testing.ts";
import { ContainerDisks, diskCollector, resourcesCollector } from "./resources.ts";

/** The recorded hybrid-host Podman container of tests/fixtures/cgroups. */
const ID = "8b15ca3596c17fea6fff6404d6fb4665b750088cf4600a9f78c6bb62ed596b63";
const CGROUP_TEXT = Deno.readTextFileSync(`${FIXTURES}/cgroups/proc/podman-cgroupfs/cgroup`);
const HYBRID = `${FIXTURES}/cgroups/fs/hybrid`;

const MOUNTINFO = [
  "103 63 0:40 / / rw,relatime - overlay overlay rw,lowerdir=/x",
  "104 103 0:43 / /proc rw,nosuid - proc proc rw",
  "110 103 254:0 /run/containers/storage/x/userdata/hostname /etc/hostname rw - ext4 /dev/vda rw",
  "120 103 254:1 /srv/data /data rw,relatime - ext4 /dev/vda1 rw",
  "121 103 254:1 /srv/app.yaml /app.yaml rw,relatime - ext4 /dev/vda1 rw",
  "122 103 254:1 /var/lib/kubelet/pods/u/volumes/kubernetes.io~csi/" +
  "pvc-0a1b2c3d-1111-2222-3333-444455556666/mount /pv rw - ext4 /dev/vda1 rw",
  "",
].join("\n");

/** A fake sysfs with vda (254:0) and its partition vda1 (254:1). */
function fakeSys(sys: string): void {
  const disk = `${sys}/devices/pci0000:00/virtio1/block/vda`;
  Deno.mkdirSync(`${disk}/vda1`, { recursive: true });
  Deno.writeTextFileSync(`${disk}/dev`, "254:0\n");
  Deno.writeTextFileSync(`${disk}/vda1/dev`, "254:1\n");
  Deno.writeTextFileSync(`${disk}/vda1/partition`, "1\n");
  Deno.symlinkSync("../../devices/pci0000:00/virtio1/block/vda", `${sys}/dev/block/254:0`);
  Deno.symlinkSync("../../devices/pci0000:00/virtio1/block/vda/vda1", `${sys}/dev/block/254:1`);
}

async function setup() {
  const h = harness({ cgroupFs: detectCgroupFs(HYBRID) });
  fakeSys(h.host.paths.sys);
  h.md.add("podman", ID, {
    name: "hybrid",
    image: "busybox",
    mounts: [{
      destination: "/pv",
      source: "/var/lib/kubelet/pods/u/volumes/kubernetes.io~csi/" +
        "pvc-0a1b2c3d-1111-2222-3333-444455556666/mount",
      type: "bind",
    }],
  });
  h.host.spawn(100, { cgroup: CGROUP_TEXT, startMs: T0 - 1000, mountinfo: MOUNTINFO });
  // the container's root: /data and /pv are directories, /app.yaml a file
  const root = `${h.host.dir}/rootfs`;
  Deno.mkdirSync(`${root}/data`, { recursive: true });
  Deno.mkdirSync(`${root}/pv`);
  Deno.writeTextFileSync(`${root}/app.yaml`, "x: 1\n");
  Deno.symlinkSync(root, `${h.host.dir}/proc/100/root`);
  h.reg.scan();
  await h.reg.settled();
  const files = new KeptFiles();
  const disks = new ContainerDisks(h.host.paths);
  const containers = () => h.reg.containers();
  const resources = resourcesCollector({ containers, families: h.families, files, disks });
  const disk = diskCollector({ containers, families: h.families, paths: h.host.paths, disks });
  return { h, files, resources, disk };
}

Deno.test("resources of the recorded hybrid Podman cgroup, as the contract computes them", async () => {
  const { h, files, resources } = await setup();
  try {
    await resources.collect(new AbortController().signal);
    const v = (name: string, extra: Record<string, string> = {}) =>
      h.value(name, { container_id: "/podman/hybrid", ...extra });
    equal(v("container_resources_cpu_usage_seconds_total"), 0.344414596);
    equal(v("container_resources_cpu_limit_cores"), 0.5);
    equal(v("container_resources_memory_rss_bytes"), 57344 + 1351680);
    equal(v("container_resources_memory_cache_bytes"), 1994752);
    equal(v("container_resources_memory_limit_bytes"), 67108864);
    equal(v("container_resources_cpu_pressure_waiting_seconds_total", { kind: "some" }), 0.202719);
    equal(v("container_resources_cpu_pressure_waiting_seconds_total", { kind: "full" }), 0.200321);
    equal(v("container_resources_cpu_throttled_seconds_total"), 0.280793964);
    // no disk I/O series before the disk collector listed the mounts
    deepEqual(h.samples("container_resources_disk_reads_total"), []);
  } finally {
    files.close();
    h.close();
  }
});

Deno.test("disks: directory mounts on real devices, the parent disk, the PV name; I/O per mount", async () => {
  const { h, files, resources, disk } = await setup();
  try {
    await disk.collect(new AbortController().signal);
    await resources.collect(new AbortController().signal);
    const sizes = h.samples("container_resources_disk_size_bytes", "/podman/hybrid");
    sizes.sort((a, b) => a.labels.mount_point < b.labels.mount_point ? -1 : 1);
    deepEqual(sizes.map((s) => [s.labels.mount_point, s.labels.device, s.labels.volume]), [
      ["/data", "vda", ""],
      ["/pv", "vda", "pvc-0a1b2c3d-1111-2222-3333-444455556666"],
    ]);
    ok(sizes.every((s) => s.value > 0));
    const used = h.value("container_resources_disk_used_bytes", { mount_point: "/data" })!;
    const reserved = h.value("container_resources_disk_reserved_bytes", { mount_point: "/data" })!;
    ok(used > 0 && used <= sizes[0].value && reserved >= 0);
    // blkio counters are per disk (254:0); both mounts on its partition carry them
    equal(h.value("container_resources_disk_reads_total", { mount_point: "/data" }), 72);
    equal(h.value("container_resources_disk_writes_total", { mount_point: "/pv" }), 64);
    ok(h.value("container_resources_disk_read_bytes_total", { mount_point: "/data" })! >= 0);
    equal(
      h.value("osprey_containers_round_seconds_per_container", {
        collector: "containers_disk",
      })! > 0,
      true,
    );

    // a mount that goes away loses its series on the next rounds
    Deno.writeTextFileSync(
      `${h.host.dir}/proc/100/mountinfo`,
      MOUNTINFO.split("\n").filter((l) => !l.includes(" /pv ")).join("\n"),
    );
    await disk.collect(new AbortController().signal);
    await resources.collect(new AbortController().signal);
    deepEqual(
      h.samples("container_resources_disk_size_bytes").map((s) => s.labels.mount_point),
      ["/data"],
    );
    deepEqual(
      h.samples("container_resources_disk_reads_total").map((s) => s.labels.mount_point),
      ["/data"],
    );
  } finally {
    files.close();
    h.close();
  }
});

Deno.test("disks: a mountinfo that cannot be read costs its container's round, counted, not the collector's", async () => {
  const { h, files, resources, disk } = await setup();
  try {
    await disk.collect(new AbortController().signal);
    // a read error other than the process being gone (EISDIR here)
    Deno.removeSync(`${h.host.dir}/proc/100/mountinfo`);
    Deno.mkdirSync(`${h.host.dir}/proc/100/mountinfo`);
    await disk.collect(new AbortController().signal);
    await resources.collect(new AbortController().signal);
    equal(h.value("osprey_containers_read_errors_total", { source: "mountinfo" }), 1);
    // the last good round's series stay until a round reads the mounts again
    ok(h.samples("container_resources_disk_size_bytes", "/podman/hybrid").length > 0);
  } finally {
    files.close();
    h.close();
  }
});

Deno.test("a container whose processes are gone stops reporting resources", async () => {
  const { h, files, resources, disk } = await setup();
  try {
    await disk.collect(new AbortController().signal);
    await resources.collect(new AbortController().signal);
    ok(h.samples("container_resources_cpu_usage_seconds_total").length === 1);
    h.host.kill(100);
    h.event({ type: "exit", pid: 100 });
    await disk.collect(new AbortController().signal);
    await resources.collect(new AbortController().signal);
    deepEqual(h.samples("container_resources_cpu_usage_seconds_total"), []);
    deepEqual(h.samples("container_resources_disk_size_bytes"), []);
    deepEqual(h.samples("container_resources_disk_reads_total"), []);
    // the meta series stay until the GC grace is over
    equal(h.value("container_restarts_total", { container_id: "/podman/hybrid" }), 0);
  } finally {
    files.close();
    h.close();
  }
});

Deno.test("an odd cgroup line costs its series; a file with no readable line its group", async () => {
  const tmp = Deno.makeTempDirSync();
  try {
    await new Deno.Command("cp", { args: ["-a", `${HYBRID}/.`, tmp] }).output();
    const { h, files, resources } = await (async () => {
      const h = harness({ cgroupFs: detectCgroupFs(tmp) });
      h.md.add("podman", ID, { name: "broken" });
      h.host.spawn(100, { cgroup: CGROUP_TEXT, startMs: T0 });
      h.reg.scan();
      await h.reg.settled();
      const files = new KeptFiles();
      const resources = resourcesCollector({
        containers: () => h.reg.containers(),
        families: h.families,
        files,
        disks: new ContainerDisks(h.host.paths),
      });
      return { h, files, resources };
    })();
    try {
      await resources.collect(new AbortController().signal);
      ok(h.value("container_resources_memory_rss_bytes", {}) !== undefined);
      const dir = `${tmp}/memory/libpod_parent/libpod-${ID}`;
      const stat = `${dir}/memory.stat`;
      const good = Deno.readTextFileSync(stat);
      // One odd line (total_cache): the cache series goes, RSS and the limit stay.
      Deno.writeTextFileSync(stat, good.replace(/^total_cache \d+$/m, "total_cache 12x"));
      Deno.writeTextFileSync(`${dir}/memory.limit_in_bytes`, "67108864\r\n");
      await resources.collect(new AbortController().signal);
      equal(h.value("container_resources_memory_rss_bytes", {}), 57344 + 1351680);
      equal(h.value("container_resources_memory_cache_bytes", {}), undefined);
      equal(h.value("container_resources_memory_limit_bytes", {}), 67108864);
      const skipped = { collector: "containers_resources", file: "memory.stat" };
      equal(h.value("osprey_parse_errors_total", skipped), 1);
      equal(h.value("osprey_containers_read_errors_total", { source: "memory" }), undefined);
      // Not one readable line: the memory group goes and the read is counted as failed.
      Deno.writeTextFileSync(stat, "total_rss banana\n");
      await resources.collect(new AbortController().signal);
      equal(h.value("container_resources_memory_rss_bytes", {}), undefined);
      equal(h.value("container_resources_memory_limit_bytes", {}), undefined);
      equal(h.value("osprey_parse_errors_total", skipped), 2);
      equal(h.value("osprey_containers_read_errors_total", { source: "memory" }), 1);
      ok(h.value("container_resources_cpu_usage_seconds_total", {}) !== undefined);
      // A garbled limit costs the limit only.
      Deno.writeTextFileSync(stat, good);
      Deno.writeTextFileSync(`${dir}/memory.limit_in_bytes`, "64M\n");
      await resources.collect(new AbortController().signal);
      equal(h.value("container_resources_memory_cache_bytes", {}), 1994752);
      equal(h.value("container_resources_memory_limit_bytes", {}), undefined);
      equal(
        h.value("osprey_parse_errors_total", {
          collector: "containers_resources",
          file: "memory.limit_in_bytes",
        }),
        1,
      );
    } finally {
      files.close();
      h.close();
    }
  } finally {
    Deno.removeSync(tmp, { recursive: true });
  }
});

Deno.test("disks: a round checks at most statfsConcurrency mounts at once and reports them all", async () => {
  const h = harness({ cgroupFs: detectCgroupFs(HYBRID) });
  try {
    fakeSys(h.host.paths.sys);
    h.md.add("podman", ID, { name: "hybrid", image: "busybox" });
    const points = Array.from({ length: 8 }, (_, i) => `/d${i}`);
    const mountinfo = [
      "103 63 0:40 / / rw,relatime - overlay overlay rw,lowerdir=/x",
      ...points.map((p, i) => `${130 + i} 103 254:1 /srv${p} ${p} rw - ext4 /dev/vda1 rw`),
      "",
    ].join("\n");
    h.host.spawn(100, { cgroup: CGROUP_TEXT, startMs: T0 - 1000, mountinfo });
    const root = `${h.host.dir}/rootfs`;
    for (const p of points) Deno.mkdirSync(`${root}${p}`, { recursive: true });
    Deno.symlinkSync(root, `${h.host.dir}/proc/100/root`);
    h.reg.scan();
    await h.reg.settled();
    let inFlight = 0, most = 0;
    const disk = diskCollector({
      containers: () => h.reg.containers(),
      families: h.families,
      paths: h.host.paths,
      disks: new ContainerDisks(h.host.paths),
      statfsConcurrency: 2,
      async statfs() {
        most = Math.max(most, ++inFlight);
        await new Promise((r) => setTimeout(r, 2));
        inFlight--;
        return { sizeBytes: 4096, usedBytes: 1024, reservedBytes: 0 };
      },
    });
    await disk.collect(new AbortController().signal);
    equal(most, 2);
    deepEqual(
      h.samples("container_resources_disk_size_bytes", "/podman/hybrid")
        .map((s) => [s.labels.mount_point, s.value]).sort(),
      points.map((p) => [p, 4096]),
    );
  } finally {
    h.close();
  }
});

Deno.test("ContainerDisks.deviceLabel: the whole disk when the node reports it, else empty", () => {
  const paths = hostPaths({ hostRoot: "/nonexistent" });
  const label = (d: ContainerDisks, name: string | null) =>
    d.deviceLabel(name === null ? null : { name, dev: "1:0" });
  const contract = new ContainerDisks(paths);
  deepEqual(
    ["vda", "sdaa", "xvda1", "nvme0n1", "loop0", "nbd0", "zram0", null].map((n) =>
      label(contract, n)
    ),
    ["vda", "sdaa", "xvda1", "nvme0n1", "", "", "", ""],
  );
  const widened = new ContainerDisks(paths, { reported: wholeDiskFilter(String.raw`nbd\d+`) });
  deepEqual(["nbd0", "loop0"].map((n) => label(widened, n)), ["nbd0", ""]);
});

Deno.test("a container that dies closes its kept cgroup descriptors at once and opens them again when it runs again", async () => {
  const files = new KeptFiles();
  const h = harness({
    cgroupFs: detectCgroupFs(HYBRID),
    gcGraceMs: 600_000,
    // as the containers module wires it
    forgetDirs(d) {
      for (const dir of Object.values(d)) if (typeof dir === "string") files.forget(dir);
    },
  });
  try {
    h.md.add("podman", ID, { name: "hybrid", image: "busybox" });
    h.host.spawn(100, { cgroup: CGROUP_TEXT, startMs: T0 - 1000 });
    h.reg.scan();
    await h.reg.settled();
    const resources = resourcesCollector({
      containers: () => h.reg.containers(),
      families: h.families,
      files,
      disks: new ContainerDisks(h.host.paths),
    });
    await resources.collect(new AbortController().signal);
    const kept = files.size;
    ok(kept >= 5, `${kept} files kept`);
    h.host.kill(100);
    h.event({ type: "exit", pid: 100 });
    equal(files.size, 0, "closed at death, not at GC");
    await resources.collect(new AbortController().signal);
    equal(files.size, 0, "a dead container's files are not read again");
    // it stays listed with its meta series until the GC grace is over
    equal(h.value("container_restarts_total", { container_id: "/podman/hybrid" }), 0);
    h.clock.advance(1000);
    h.host.spawn(101, { cgroup: CGROUP_TEXT, startMs: h.clock.ms });
    h.event({ type: "start", pid: 101 });
    await h.reg.settled();
    await resources.collect(new AbortController().signal);
    equal(files.size, kept);
    equal(h.value("container_restarts_total", { container_id: "/podman/hybrid" }), 1);
    equal(h.value("container_resources_cpu_usage_seconds_total", {}), 0.344414596);
  } finally {
    files.close();
    h.close();
  }
});

Deno.test("the throttled counter is 0 when the v1 cgroup has no throttled_time", async () => {
  const tmp = Deno.makeTempDirSync();
  await new Deno.Command("cp", { args: ["-a", `${HYBRID}/.`, tmp] }).output();
  const h = harness({ cgroupFs: detectCgroupFs(tmp) });
  const files = new KeptFiles();
  try {
    const stat = `${tmp}/cpu/libpod_parent/libpod-${ID}/cpu.stat`;
    // a kernel without CFS bandwidth control lists no throttling lines
    Deno.writeTextFileSync(stat, "nr_bursts 0\nburst_time 0\n");
    h.md.add("podman", ID, { name: "unthrottled" });
    h.host.spawn(100, { cgroup: CGROUP_TEXT, startMs: T0 - 1000 });
    h.reg.scan();
    await h.reg.settled();
    const resources = resourcesCollector({
      containers: () => h.reg.containers(),
      families: h.families,
      files,
      disks: new ContainerDisks(h.host.paths),
    });
    await resources.collect(new AbortController().signal);
    deepEqual(h.samples("container_resources_cpu_throttled_seconds_total"), [
      { labels: { container_id: "/podman/unthrottled", app_id: "" }, value: 0 },
    ]);
    equal(h.value("container_resources_cpu_usage_seconds_total", {}), 0.344414596);
    equal(h.value("osprey_containers_read_errors_total", { source: "cpu" }), undefined);
  } finally {
    files.close();
    h.close();
    Deno.removeSync(tmp, { recursive: true });
  }
});

Deno.test("the throttled counter is 0 when the v2 cgroup has no throttled_usec", async () => {
  // cron.service's cpu.stat has usage_usec but no cpu-controller lines
  const h = harness({ cgroupFs: detectCgroupFs(`${FIXTURES}/cgroups/fs/v2`) });
  const files = new KeptFiles();
  try {
    h.host.spawn(100, { cgroup: "/system.slice/cron.service", startMs: T0 - 1000 });
    h.reg.scan();
    await h.reg.settled();
    const resources = resourcesCollector({
      containers: () => h.reg.containers(),
      families: h.families,
      files,
      disks: new ContainerDisks(h.host.paths),
    });
    await resources.collect(new AbortController().signal);
    const id = { container_id: "/system.slice/cron.service" };
    equal(h.value("container_resources_cpu_usage_seconds_total", id), 0.0015);
    deepEqual(h.samples("container_resources_cpu_throttled_seconds_total"), [
      { labels: { ...id, app_id: "" }, value: 0 },
    ]);
  } finally {
    files.close();
    h.close();
  }
});
