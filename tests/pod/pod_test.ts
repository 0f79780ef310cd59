/**
 * The "pod" way of running Osprey, for real: the image is built from the Containerfile (once per
 * source state, tests/pod/image.ts) on local stand-ins of its Debian base images
 * (tests/pod/base_images.sh: nothing is pulled), then run as k8s/daemon_set.yaml runs it, under
 * Podman: host PID namespace, a private cgroup namespace (as Kubernetes gives every pod on
 * cgroup v2), read-only root, the host's /proc and /sys read-only under /host, its identity
 * files and Podman's state read-only at their own paths, no capability but BPF, PERFMON,
 * SYS_RESOURCE, SYS_PTRACE and NET_RAW. A Podman container the test starts must show up, and the pod's
 * own container too (both only through the cgroup paths rebased out of its namespace), BPF must
 * load inside the pod, and `podman stop` must leave no program behind. The agent runs under the
 * Landlock launcher with its procfs broker, and the kernel refuses the `/host/proc/<pid>/root`
 * escape to a process run with the image's launcher and permission set.
 *
 * Needs root, podman with runc, busybox-static and gcc (the workload image, tests/containers/),
 * bpftool, and debootstrap unless the base images exist (or OSPREY_DEBIAN_ROOTFS names a Debian
 * 12 root tarball).
 */
import { deepEqual, equal, ok } from "node:assert/strict";
import {
  CONTAINERS_CONF,
  ContainerScope,
  inspect,
  podman,
  podmanIgnoreReason,
  podmanRaw,
} from "../containers/podman.ts";
import { ensureTestImage } from "../containers/rootfs.ts";
import { type Scrape, scrapeParsed, waitFor } from "../containers/metrics.ts";
import { freePort } from "../helpers/agent_process.ts";
import { buildImage, commandWorks, hostMountPairs } from "./image.ts";

const HERE = new URL(".", import.meta.url).pathname.replace(/\/$/, "");
const TAG = "localhost/osprey:test";
/** The agent's port inside the image (Containerfile: LISTEN, EXPOSE). */
const IMAGE_PORT = 10300;
/** As k8s/daemon_set.yaml adds them; why each is needed: README, "In a pod". */
const CAPS = ["BPF", "PERFMON", "SYS_RESOURCE", "SYS_PTRACE", "NET_RAW"];
const BASE_IMAGES = ["docker.io/library/debian:bookworm", "docker.io/library/debian:bookworm-slim"];

function ignoreReason(): string {
  const p = podmanIgnoreReason();
  if (p) return p;
  if (!commandWorks("bpftool", ["version"])) return "bpftool is missing";
  const haveBase = BASE_IMAGES.every((img) =>
    new Deno.Command("podman", {
      args: ["image", "exists", img],
      env: { CONTAINERS_CONF },
      stdout: "null",
      stderr: "null",
    }).outputSync().success
  );
  if (!haveBase && !Deno.env.get("OSPREY_DEBIAN_ROOTFS")) {
    const found = ["/usr/sbin/debootstrap", "/sbin/debootstrap"].some((p) => {
      try {
        return Deno.statSync(p).isFile;
      } catch {
        return false;
      }
    });
    if (!found) return "no Debian base images and no debootstrap (apt-get install debootstrap)";
  }
  return "";
}

/**
 * `-v` arguments: read-only and not recursive (`bind`), so no writable mount below a host path
 * comes along (Podman 4.3 has no recursive read-only; Kubernetes has recursiveReadOnly). Each
 * cgroup hierarchy under /sys/fs/cgroup is therefore mounted on its own.
 */
function hostMounts(): string[] {
  const pairs = hostMountPairs([
    "/etc/machine-id",
    "/etc/hostname",
    "/var/lib/containers/storage/overlay-containers",
    "/var/lib/containers/storage/overlay-images",
    "/run/containers/storage/overlay-containers",
    "/run/libpod",
    "/etc/systemd/system",
    "/usr/lib/systemd/system",
    "/var/log",
    "/run/log/journal",
  ]);
  return pairs.flatMap(([src, dst]) => ["-v", `${src}:${dst}:ro,bind`]);
}

/** Ids of the BPF programs a process holds (fdinfo `prog_id:`; Debian's bpftool has no pids). */
async function programIdsHeldBy(pid: number): Promise<Set<number>> {
  const ids = new Set<number>();
  for await (const fd of Deno.readDir(`/proc/${pid}/fdinfo`)) {
    try {
      const m = /^prog_id:\s+(\d+)$/m.exec(
        await Deno.readTextFile(`/proc/${pid}/fdinfo/${fd.name}`),
      );
      if (m) ids.add(Number(m[1]));
    } catch { /* closed meanwhile */ }
  }
  return ids;
}

async function loadedOspPrograms(): Promise<Map<number, string>> {
  const r = await new Deno.Command("bpftool", { args: ["-j", "prog", "show"] }).output();
  if (!r.success) throw new Error(`bpftool prog show: ${new TextDecoder().decode(r.stderr)}`);
  const all = JSON.parse(new TextDecoder().decode(r.stdout)) as Array<
    { id: number; name?: string }
  >;
  return new Map(all.filter((p) => p.name?.startsWith("osp_")).map((p) => [p.id, p.name!]));
}

function etcHostname(): string {
  return Deno.readTextFileSync("/etc/hostname").split("\n").map((l) => l.trim())
    .find((l) => l && !l.startsWith("#")) ?? "";
}

const secs = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

Deno.test({
  name: "the image runs as a pod would: BPF on with 5 capabilities, the host's containers seen",
  ignore: ignoreReason() !== "",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn(t) {
    const t0 = Date.now();
    const base = await new Deno.Command("bash", {
      args: [`${HERE}/base_images.sh`],
      env: { CONTAINERS_CONF },
      stdout: "piped",
      stderr: "piped",
    }).output();
    equal(base.code, 0, new TextDecoder().decode(base.stderr));
    const tBase = Date.now() - t0;
    const build = await buildImage({ tag: TAG, pullNever: true });
    console.log(
      `pod: base images ${secs(tBase)}; image ${
        build.built ? `built in ${secs(build.ms)}` : `up to date (${secs(build.ms)})`
      }`,
    );

    const scope = new ContainerScope();
    const volume = await Deno.makeTempDir({ dir: "/var/tmp", prefix: "osprey-pod-" });
    try {
      const workload = await scope.run("pod-workload", {
        image: (await ensureTestImage()).image,
        cmd: ["sleep", "3600"],
        extra: ["-v", `${volume}:/data`],
      });
      const agent = scope.name("pod-agent");
      const port = freePort();
      const tRun = Date.now();
      await podman([
        "run",
        "-d",
        "--name",
        agent,
        "--pull=never",
        "--pid=host",
        // Every /proc/<pid>/cgroup then reads /../..: paths relative to the pod's namespace.
        "--cgroupns=private",
        "--read-only",
        "--security-opt=no-new-privileges",
        // Podman's default profile allows bpf() and perf_event_open() only with CAP_SYS_ADMIN.
        "--security-opt=seccomp=unconfined",
        "--cap-drop=ALL",
        `--cap-add=${CAPS.join(",")}`,
        "-p",
        `127.0.0.1:${port}:${IMAGE_PORT}`,
        ...hostMounts(),
        TAG,
        "--min-container-age=0",
        "--collect-interval=1s",
        "--container-disk-interval=1s",
      ]);
      const url = `http://127.0.0.1:${port}`;
      const logs = async () => (await podmanRaw(["logs", agent])).stderr.slice(-3000);
      const wid = `/podman/${workload}`;
      let seen: Scrape | undefined;
      let s: Scrape;
      try {
        await waitFor("/readyz 200", async () => {
          const r = await fetch(`${url}/readyz`);
          await r.body?.cancel();
          return r.status === 200 ? true : undefined;
        }, { timeoutMs: 30_000, everyMs: 250 });
        const tReady = Date.now() - tRun;
        s = await waitFor("the workload's info and /data disk series", async () => {
          const now = seen = await scrapeParsed(url);
          const disk = now.find("container_resources_disk_used_bytes", {
            container_id: wid,
            mount_point: "/data",
          });
          return now.find("container_info", { container_id: wid }).length && disk.length
            ? now
            : undefined;
        }, { timeoutMs: 30_000, everyMs: 500, describe: () => seen?.linesOf(wid) ?? "(none)" });
        console.log(`pod: ready ${secs(tReady)} after podman run`);
      } catch (e) {
        throw new Error(`${e}\nagent log:\n${await logs()}`);
      }

      await t.step("node_info has the host's hostname, not the container's", async () => {
        const own = JSON.parse(await podman(["inspect", "--type", "container", agent]))[0]
          .Config.Hostname;
        const [info] = s.find("node_info");
        ok(info, "node_info is served");
        equal(info.labels.hostname, etcHostname());
        ok(info.labels.hostname !== own, `hostname ${own} is the container's`);
      });

      await t.step("every module is on: BPF loads inside the pod", () => {
        for (
          const module of [
            "self",
            "node",
            "process_events",
            "containers",
            "net",
            "cloud",
            "delayacct",
            "logs",
          ]
        ) {
          equal(s.value("osprey_module_state", { module, state: "on" }), 1, module);
        }
        ok(
          s.find("osprey_bpf_program_attached").some((p) => p.value === 1),
          "a BPF program is attached",
        );
      });

      await t.step(
        "the agent runs under Landlock with its procfs broker (the /data sizes came through it)",
        () => {
          const info = s.find("osprey_sandbox_info", { kind: "landlock" });
          equal(info.length, 1, JSON.stringify(s.find("osprey_sandbox_info")));
          equal(info[0].value, 1);
          equal(s.value("osprey_procfs_broker_up", {}), 1);
        },
      );

      await t.step(
        "the kernel refuses the shadow file through /host/proc/<pid>/root to the image's " +
          "launcher and permission set (EACCES); without Landlock it is read",
        async () => {
          // the ENTRYPOINT up to the agent's bundle, with a probe script instead of it: the same
          // wrapper, launcher rules and Deno grants as the agent
          const entry = JSON.parse(
            await podman(["image", "inspect", "--format", "{{json .Config.Entrypoint}}", TAG]),
          ) as string[];
          const script = entry.indexOf("/opt/osprey/osprey.js");
          ok(script > 0, entry.join(" "));
          const code = "const out = {}; for (const p of Deno.args) { try { Deno.readFileSync(p); " +
            "out[p] = 'ok'; } catch (e) { out[p] = e.code ?? e.name; } } " +
            "console.log(JSON.stringify(out));";
          const hostProc = new Deno.Command("sleep", { args: ["60"], stdout: "null" }).spawn();
          try {
            const paths = [
              `/host/proc/${hostProc.pid}/root/etc/shadow`, // a host process: the host's root
              "/host/proc/1/root/etc/shadow",
              "/host/proc/self/root/etc/shadow",
            ];
            const probe = async (env: string[]) =>
              JSON.parse(
                await podman([
                  "exec",
                  ...env,
                  agent,
                  ...entry.slice(0, script),
                  `data:application/javascript,${encodeURIComponent(code)}`,
                  ...paths,
                ]),
              ) as Record<string, string>;
            deepEqual(await probe([]), Object.fromEntries(paths.map((p) => [p, "EACCES"])));
            // the escape the sandbox stops: Deno alone lets it through (pid 1 of this machine
            // refuses even root its root link, so the host process is the witness)
            const off = await probe(["-e", "OSPREY_LANDLOCK=off"]);
            equal(off[paths[0]], "ok", JSON.stringify(off));
          } finally {
            hostProc.kill();
            await hostProc.status;
          }
        },
      );

      await t.step("the test's container is a series, named from Podman's files", () => {
        const [info] = s.find("container_info", { container_id: wid });
        ok(info.labels.image.startsWith("localhost/osprey-test-busybox:"), info.labels.image);
      });

      await t.step(
        "in a private cgroup namespace, the host's cgroups and its own are seen",
        async () => {
          const pid = (await inspect(agent)).pid;
          const ns = (p: number | "self") => Deno.readLinkSync(`/proc/${p}/ns/cgroup`);
          ok(ns(pid) !== ns("self"), "the pod shares the host's cgroup namespace");
          ok(
            Deno.readTextFileSync(`/proc/${pid}/cgroup`).includes("/libpod_parent/libpod-"),
            "the pod's cgroup seen from the host",
          );
          const log = (await podmanRaw(["logs", agent])).stderr;
          ok(log.includes("own cgroup namespace"), log.slice(-3000));
          equal(s.value("osprey_cgroup_unreadable_total", { reason: "outside_namespace" }), 0);
          // its own container sits at the root of its namespace ("/"), found by the walk
          const own = `/podman/${agent}`;
          const mine = await waitFor(`CPU usage of ${own}`, async () => {
            const now = await scrapeParsed(url);
            return now.find("container_resources_cpu_usage_seconds_total", { container_id: own })
                .length > 0
              ? now
              : undefined;
          }, { timeoutMs: 15_000, everyMs: 500 });
          ok(mine.find("container_resources_memory_rss_bytes", { container_id: own })[0].value > 0);
          ok(
            mine.find("container_resources_cpu_usage_seconds_total", { container_id: wid }).length,
            mine.linesOf(wid),
          );
        },
      );

      await t.step("SIGTERM (podman stop) exits 0 and detaches every program", async () => {
        const pid = (await inspect(agent)).pid;
        const loaded = await loadedOspPrograms();
        const held = [...await programIdsHeldBy(pid)].filter((id) => loaded.has(id));
        ok(held.length > 0, "the agent holds osp_* programs");
        await podman(["stop", "-t", "10", agent]);
        const st = await inspect(agent);
        equal(st.running, false);
        equal(st.exitCode, 0, await logs());
        const left = await waitFor("the programs to be freed", async () => {
          const now = await loadedOspPrograms();
          const still = held.filter((id) => now.has(id));
          return still.length === 0 ? still : undefined;
        }, { timeoutMs: 3_000 });
        deepEqual(left, []);
      });
      console.log(`pod: whole test ${secs(Date.now() - t0)}`);
    } finally {
      await scope.cleanup();
      await Deno.remove(volume, { recursive: true });
    }
  },
});
