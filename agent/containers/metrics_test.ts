import { deepEqual, equal } from "node:assert/strict";
import { Registry } from "../metrics/mod.ts";
import { ContainerFamilies, SeriesOwner } from "./metrics.ts";

Deno.test("SeriesOwner: one series per label set, retain and remove by family", () => {
  const reg = new Registry();
  const f = new ContainerFamilies(reg);
  const a = new SeriesOwner("/podman/a", "");
  const b = new SeriesOwner("/podman/b", "");
  a.get(f.cpuUsage).set(1);
  equal(a.get(f.cpuUsage), a.get(f.cpuUsage), "the same handle");
  a.get(f.diskReads, "/data", "vda", "").set(5);
  a.get(f.diskReads, "/logs", "vda", "").set(6);
  a.get(f.diskSize, "/data", "vda", "").set(7);
  b.get(f.cpuUsage).set(2);
  equal(f.diskReads.size, 2);
  a.retain(f.ioFamilies, new Set(["/data\0vda\0"]));
  deepEqual([...f.diskReads].map((s) => s.labelValues), [["/podman/a", "", "/data", "vda", ""]]);
  equal(f.diskSize.size, 1, "other families untouched");
  a.remove([f.cpuUsage]);
  deepEqual([...f.cpuUsage].map((s) => s.labelValues[0]), ["/podman/b"]);
  a.remove();
  equal(a.size, 0);
  equal(f.diskReads.size + f.diskSize.size, 0);
  equal(b.size, 1);
});

Deno.test("the contract's families carry container_id and app_id first", () => {
  const f = new ContainerFamilies(new Registry());
  for (const fam of [f.info, f.restarts, f.oomKills, f.appType, ...f.resourceFamilies]) {
    deepEqual(fam.labelNames.slice(0, 2), ["container_id", "app_id"], fam.name);
  }
  deepEqual(f.info.labelNames, [
    "container_id",
    "app_id",
    "image",
    "systemd_triggered_by",
    "systemd_type",
  ]);
  deepEqual(f.diskSize.labelNames.slice(2), ["mount_point", "device", "volume"]);
  deepEqual(f.diskReads.labelNames.slice(2), ["mount_point", "device", "volume"]);
  deepEqual(f.cpuPressure.labelNames.slice(2), ["kind"]);
});
