import { deepEqual, equal } from "node:assert/strict";
import { BlockDevices, selectMounts, StatfsTimeout, statfsUsage, volumeOf } from "./disk.ts";
import { FIXTURES } from "./_testing.ts";
import { parseMountInfo } from "./proc.ts";

Deno.test("volumeOf: the PV name anywhere in a mount source, as the reference finds it (§13.5)", () => {
  const PV = "pvc-0a1b2c3d-1111-2222-3333-444455556666";
  const cases: [string, string][] = [
    // CSI volume and subpath as the kubelet mounts them
    [`/var/lib/kubelet/pods/0a/volumes/kubernetes.io~csi/${PV}/mount`, PV],
    [`/var/lib/kubelet/pods/0a/volume-subpaths/${PV}/pg/0`, PV],
    // k3s / rancher local-path: <pv>_<namespace>_<claim>
    [`/var/lib/rancher/k3s/storage/${PV}_default_mongod-data-mongo-rs0-0`, PV],
    [`/opt/local-path-provisioner/${PV}_db_data`, PV],
    // microk8s hostpath: <namespace>-<claim>-<pv>
    [`/var/snap/microk8s/common/default-storage/coroot-coroot-data-${PV}`, PV],
    // CSI drivers that prefix the name
    [`/var/lib/kubelet/plugins/kubernetes.io/csi/pv/csi-${PV}/globalmount`, PV],
    [`/x/${PV}extra`, PV],
    // the last of several on the line
    [
      `/a/${PV}/b/pvc-ffffffff-aaaa-bbbb-cccc-dddddddddddd/c`,
      "pvc-ffffffff-aaaa-bbbb-cccc-dddddddddddd",
    ],
    // not PV names
    ["/var/lib/docker/volumes/data/_data", ""],
    ["/var/lib/kubelet/pods/0a/volumes/kubernetes.io~projected/kube-api-access-jvvq6", ""],
    ["/var/lib/kubelet/pods/0a/volumes/kubernetes.io~configmap/config-volume", ""],
    [`/x/${PV.toUpperCase()}`, ""], // upper-case hex is no Kubernetes UID
    [`/x/pvc-0a1b2c3d-1111-2222-3333-44445555666`, ""], // one digit short
    // the reference's pattern wants a character before the name
    [PV, ""],
    [`${PV}_default_x`, ""],
    ["", ""],
  ];
  for (const [source, volume] of cases) equal(volumeOf(source), volume, source);
});

Deno.test("selectMounts: real devices and ZFS, no runtime file mounts, topmost mount wins", () => {
  const mounts = parseMountInfo([
    "1 0 0:40 / / rw - overlay overlay rw",
    "2 1 254:0 /u/hosts /etc/hosts rw - ext4 /dev/vda rw",
    "3 1 254:0 /srv/a /data rw - ext4 /dev/vda rw",
    "4 1 8:1 /b /data rw - xfs /dev/sda1 rw",
    "5 1 0:55 / /tank rw - zfs tank/ds rw",
    "6 1 254:0 /c /hidden rw - ext4 /dev/vda rw",
    "7 1 0:60 / /hidden rw - tmpfs tmpfs rw",
    "8 1 254:0 /var/lib/kubelet/pods/u/volumes/kubernetes.io~csi/" +
    "pvc-0a1b2c3d-1111-2222-3333-444455556666/mount /pv rw - ext4 /dev/vda rw",
    "",
  ].join("\n"));
  const csi = "/var/lib/kubelet/pods/u/volumes/kubernetes.io~csi/" +
    "pvc-0a1b2c3d-1111-2222-3333-444455556666/mount";
  // the volume comes from the runtime's mount list (destination → host source) only
  deepEqual(selectMounts(mounts).map((m) => m.volume), ["", "", ""]);
  deepEqual(
    selectMounts(mounts, [
      { destination: "/data", source: "/var/lib/x", type: "bind" },
      { destination: "/pv", source: csi, type: "bind" },
    ]),
    [
      { mountPoint: "/data", dev: "8:1", major: 8, minor: 1, volume: "" },
      { mountPoint: "/tank", dev: "0:55", major: 0, minor: 55, volume: "" },
      {
        mountPoint: "/pv",
        dev: "254:0",
        major: 254,
        minor: 0,
        volume: "pvc-0a1b2c3d-1111-2222-3333-444455556666",
      },
    ],
  );
});

Deno.test("selectMounts on the recorded Podman container: overlay root and runtime files only", () => {
  const text = Deno.readTextFileSync(`${FIXTURES}/containers/mountinfo_podman_overlay.txt`);
  deepEqual(selectMounts(parseMountInfo(text)), []);
});

Deno.test("BlockDevices: a partition resolves to its disk; unknown devices to null", () => {
  const sys = Deno.makeTempDirSync();
  try {
    const disk = `${sys}/devices/pci/block/sda`;
    Deno.mkdirSync(`${disk}/sda2`, { recursive: true });
    Deno.mkdirSync(`${sys}/dev/block`, { recursive: true });
    Deno.writeTextFileSync(`${disk}/dev`, "8:0\n");
    Deno.writeTextFileSync(`${disk}/sda2/dev`, "8:2\n");
    Deno.writeTextFileSync(`${disk}/sda2/partition`, "2\n");
    Deno.symlinkSync("../../devices/pci/block/sda", `${sys}/dev/block/8:0`);
    Deno.symlinkSync("../../devices/pci/block/sda/sda2", `${sys}/dev/block/8:2`);
    const d = new BlockDevices(sys);
    deepEqual(d.resolve("8:2"), { name: "sda", dev: "8:0" });
    deepEqual(d.resolve("8:0"), { name: "sda", dev: "8:0" });
    equal(d.resolve("0:55"), null);
  } finally {
    Deno.removeSync(sys, { recursive: true });
  }
});

Deno.test("statfsUsage: size, used and reserved in bytes; errors reject", async () => {
  const u = await statfsUsage(Deno.cwd(), 2000);
  equal(u.sizeBytes > 0 && u.usedBytes > 0 && u.usedBytes <= u.sizeBytes, true);
  equal(u.reservedBytes >= 0, true);
  let failed = false;
  await statfsUsage("/nonexistent/osprey", 2000).catch(() => failed = true);
  equal(failed, true);
  equal(new StatfsTimeout("/x", 5).message, 'statfs "/x" did not answer within 5 ms');
});
