/**
 * The Osprey image under containerd, as a Kubernetes node runs it: the image built with Podman
 * (tests/pod/image.ts) is exported with `podman save`, imported with `ctr images import` into a
 * containerd of the test's own (tests/pod/containerd.ts) and run with k8s/daemon_set.yaml's
 * capabilities, read-only root, no seccomp profile, NoNewPrivileges, the host's PID namespace and
 * its mounts (the host's /proc, /sys and each cgroup hierarchy under /host, identity files,
 * containerd's task bundles at /run/containerd/io.containerd.runtime.v2.task). Unlike the
 * DaemonSet it shares the host's network (ctr has no CNI here); it listens on a free loopback
 * port. A workload started by the same containerd in namespace `k8s.io`, with the CRI plugin's
 * annotations and the kubelet's labels in its spec and a kubepods cgroup, must appear as
 * `/k8s/<ns>/<pod>/<container>`; SIGTERM must end the agent with exit code 0 and free its
 * programs.
 *
 * Needs root, containerd, runc, podman (for the image), bpftool, busybox-static.
 */
import { deepEqual, equal, ok } from "node:assert/strict";
import { CONTAINERS_CONF, podmanIgnoreReason } from "../containers/podman.ts";
import { ensureTestImage } from "../containers/rootfs.ts";
import { type Scrape, scrapeParsed, waitFor } from "../containers/metrics.ts";
import { freePort } from "../helpers/agent_process.ts";
import { buildImage, commandWorks, exists, hostMountPairs } from "./image.ts";
import { Containerd } from "./containerd.ts";

const HERE = new URL(".", import.meta.url).pathname.replace(/\/$/, "");
/** The image tag; OSPREY_POD_IMAGE picks another (built the same way) for a local run. */
const TAG = Deno.env.get("OSPREY_POD_IMAGE") ?? "localhost/osprey:test";
/** k8s/daemon_set.yaml's capabilities. */
const CAPS = ["BPF", "PERFMON", "SYS_RESOURCE", "SYS_PTRACE", "NET_RAW", "NET_ADMIN", "SYS_ADMIN"];
/** The capabilities ctr's default spec grants (containerd 1.6 oci.populateDefaultUnixSpec). */
const CTR_DEFAULT_CAPS = [
  "CHOWN",
  "DAC_OVERRIDE",
  "FSETID",
  "FOWNER",
  "MKNOD",
  "NET_RAW",
  "SETGID",
  "SETUID",
  "SETFCAP",
  "SETPCAP",
  "NET_BIND_SERVICE",
  "SYS_CHROOT",
  "KILL",
  "AUDIT_WRITE",
];
/** Capability numbers (linux/capability.h). */
const CAP_BITS: Record<string, number> = {
  NET_ADMIN: 12,
  NET_RAW: 13,
  SYS_PTRACE: 19,
  SYS_ADMIN: 21,
  SYS_RESOURCE: 24,
  PERFMON: 38,
  BPF: 39,
};
const AGENT_NS = "osprey-test";
const K8S_NS = "k8s.io";
const TASK_DIR = "io.containerd.runtime.v2.task";
const dec = new TextDecoder();

function ignoreReason(): string {
  const p = podmanIgnoreReason();
  if (p) return p;
  if (!commandWorks("containerd", ["--version"])) {
    return "containerd is missing (apt-get install containerd)";
  }
  if (!commandWorks("ctr", ["--version"])) return "ctr is missing (apt-get install containerd)";
  if (!commandWorks("bpftool", ["version"])) return "bpftool is missing";
  return "";
}

function hex(bytes: number): string {
  return Array.from(
    crypto.getRandomValues(new Uint8Array(bytes)),
    (b) => b.toString(16).padStart(2, "0"),
  ).join("");
}

/** `--mount` arguments: read-only, not recursive, one per cgroup hierarchy (as pod_test.ts). */
function agentMounts(state: string): string[] {
  const pairs = hostMountPairs([
    "/etc/machine-id",
    "/etc/hostname",
    "/etc/systemd/system",
    "/usr/lib/systemd/system",
    "/var/log",
    "/run/log/journal",
  ]);
  pairs.push([`${state}/${TASK_DIR}`, `/run/containerd/${TASK_DIR}`]);
  return pairs.flatMap((
    [src, dst],
  ) => ["--mount", `type=bind,src=${src},dst=${dst},options=bind:ro`]);
}

async function loadedOspPrograms(): Promise<Set<number>> {
  const r = await new Deno.Command("bpftool", { args: ["-j", "prog", "show"] }).output();
  if (!r.success) throw new Error(`bpftool prog show: ${dec.decode(r.stderr)}`);
  const all = JSON.parse(dec.decode(r.stdout)) as Array<{ id: number; name?: string }>;
  return new Set(all.filter((p) => p.name?.startsWith("osp_")).map((p) => p.id));
}

async function programIdsHeldBy(pid: number): Promise<number[]> {
  const ids: number[] = [];
  for await (const fd of Deno.readDir(`/proc/${pid}/fdinfo`)) {
    try {
      const m = /^prog_id:\s+(\d+)$/m.exec(
        await Deno.readTextFile(`/proc/${pid}/fdinfo/${fd.name}`),
      );
      if (m) ids.push(Number(m[1]));
    } catch { /* closed meanwhile */ }
  }
  return ids;
}

function etcHostname(): string {
  return Deno.readTextFileSync("/etc/hostname").split("\n").map((l) => l.trim())
    .find((l) => l && !l.startsWith("#")) ?? "";
}

async function podmanOut(args: string[]): Promise<string> {
  const r = await new Deno.Command("podman", {
    args,
    env: { CONTAINERS_CONF },
    stdout: "piped",
    stderr: "piped",
  })
    .output();
  if (!r.success) throw new Error(`podman ${args.join(" ")}: ${dec.decode(r.stderr)}`);
  return dec.decode(r.stdout);
}

const secs = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

Deno.test({
  name:
    "containerd runs the image as the DaemonSet does: BPF on, a CRI-labelled container is /k8s/<ns>/<pod>/<container>",
  ignore: ignoreReason() !== "",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn(t) {
    const t0 = Date.now();
    if (!Deno.env.get("OSPREY_POD_IMAGE")) {
      const base = await new Deno.Command("bash", {
        args: [`${HERE}/base_images.sh`],
        env: { CONTAINERS_CONF },
        stdout: "piped",
        stderr: "piped",
      }).output();
      equal(base.code, 0, dec.decode(base.stderr));
      await buildImage({ tag: TAG, pullNever: true });
    }
    const entrypoint = JSON.parse(
      await podmanOut(["image", "inspect", "--format", "{{json .Config.Entrypoint}}", TAG]),
    ) as string[];
    const archive = await Deno.makeTempFile({
      dir: "/var/tmp",
      prefix: "osprey-image-",
      suffix: ".tar",
    });
    await Deno.remove(archive);
    const workloadRoot = (await ensureTestImage()).rootfs;
    const c = await Containerd.start();
    let agent: Deno.ChildProcess | undefined;
    try {
      const tSave = Date.now();
      await podmanOut(["save", "--format", "oci-archive", "-o", archive, TAG]);
      const imported = await c.ctr([
        "-n",
        AGENT_NS,
        "images",
        "import",
        "--base-name",
        TAG.replace(/:.*/, ""),
        archive,
      ]);
      const images = await c.ctr(["-n", AGENT_NS, "images", "ls", "-q"]);
      ok(
        images.split("\n").includes(TAG),
        `${TAG} not among the imported images:\n${images}\n${imported}`,
      );
      console.log(`containerd: podman save + ctr import ${secs(Date.now() - tSave)}`);

      // The workload: a container as containerd's CRI plugin would create it for a pod.
      const id = hex(32);
      const podUid = crypto.randomUUID();
      const [ns, pod, container] = ["osprey-ns", "web-0", "app"];
      await c.ctr([
        "-n",
        K8S_NS,
        "run",
        "-d",
        "--rootfs",
        "--read-only",
        "--cgroup",
        `/kubepods/besteffort/pod${podUid}/${id}`,
        "--label",
        `io.kubernetes.pod.namespace=${ns}`,
        "--label",
        `io.kubernetes.pod.name=${pod}`,
        "--label",
        `io.kubernetes.pod.uid=${podUid}`,
        "--label",
        `io.kubernetes.container.name=${container}`,
        "--annotation",
        "io.kubernetes.cri.container-type=container",
        "--annotation",
        `io.kubernetes.cri.container-name=${container}`,
        "--annotation",
        `io.kubernetes.cri.sandbox-name=${pod}`,
        "--annotation",
        `io.kubernetes.cri.sandbox-namespace=${ns}`,
        "--annotation",
        `io.kubernetes.cri.sandbox-uid=${podUid}`,
        "--annotation",
        "io.kubernetes.cri.image-name=localhost/osprey-test-busybox:latest",
        workloadRoot,
        id,
        "/bin/sleep",
        "3600",
      ]);
      ok(exists(`${c.state}/${TASK_DIR}/${K8S_NS}/${id}/config.json`), "the workload's bundle");

      const port = freePort();
      const ours = BigInt(
        "0x" + /^CapBnd:\s+(\w+)$/m.exec(
          await Deno.readTextFile("/proc/self/status"),
        )![1],
      );
      const grantable = CAPS.filter((cap) => (ours >> BigInt(CAP_BITS[cap])) & 1n);
      if (grantable.length < CAPS.length) {
        console.log(
          `containerd: not in this machine's bounding set: ${
            CAPS.filter((cap) => !grantable.includes(cap)).join(", ")
          }`,
        );
      }
      const argv = c.ctrArgv([
        "-n",
        AGENT_NS,
        "run",
        "--rm",
        "--net-host",
        "--read-only",
        "--with-ns",
        // The host's PID namespace is ours (PID 1's ns link may be unreadable, as here).
        `pid:/proc/${Deno.pid}/ns/pid`,
        // ctr 1.6 takes no "ALL": drop its default set by name (the CapEff step checks the rest).
        // ctr drops after it adds: keep the DaemonSet's own out of the drop list.
        ...CTR_DEFAULT_CAPS.filter((cap) => !CAPS.includes(cap))
          .flatMap((cap) => ["--cap-drop", `CAP_${cap}`]),
        // runc refuses a capability outside its own bounding set (this machine has no
        // SYS_RESOURCE, which only kernels before 5.11 need): add the ones it can grant.
        ...grantable.flatMap((cap) => ["--cap-add", `CAP_${cap}`]),
        ...agentMounts(c.state),
        TAG,
        "osprey-agent",
        ...entrypoint,
        `--listen=127.0.0.1:${port}`,
        "--min-container-age=0",
        "--collect-interval=1s",
      ]);
      const tRun = Date.now();
      agent = new Deno.Command(argv[0], {
        args: argv.slice(1),
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
      })
        .spawn();
      let log = "";
      const collect = async (s: ReadableStream<Uint8Array>) => {
        for await (const chunk of s) log = (log + dec.decode(chunk)).slice(-20000);
      };
      const logsDone = Promise.all([collect(agent.stdout), collect(agent.stderr)]);
      const url = `http://127.0.0.1:${port}`;
      const agentPid = async () => {
        const pid = Number(
          (await c.ctr(["-n", AGENT_NS, "tasks", "ls"])).split("\n")
            .find((l) => l.startsWith("osprey-agent "))?.split(/\s+/)[1],
        );
        ok(pid > 0, "the agent's task pid");
        return pid;
      };
      const k8sId = `/k8s/${ns}/${pod}/${container}`;
      let seen: Scrape | undefined;
      let s: Scrape;
      try {
        await waitFor("/readyz 200", async () => {
          const r = await fetch(`${url}/readyz`);
          await r.body?.cancel();
          return r.status === 200 ? true : undefined;
        }, { timeoutMs: 30_000, everyMs: 250 });
        console.log(`containerd: ready ${secs(Date.now() - tRun)} after ctr run`);
        s = await waitFor(`the workload as ${k8sId}`, async () => {
          const now = seen = await scrapeParsed(url);
          return now.find("container_info", { container_id: k8sId }).length &&
              now.find("container_resources_cpu_usage_seconds_total", { container_id: k8sId })
                .length
            ? now
            : undefined;
        }, { timeoutMs: 30_000, everyMs: 500, describe: () => seen?.linesOf("/k8s/") ?? "(none)" });
      } catch (e) {
        throw new Error(`${e}\nagent log:\n${log.slice(-4000)}\ncontainerd log:\n${await c.log()}`);
      }

      await t.step(
        "the agent runs with the DaemonSet's capabilities only, NoNewPrivs",
        async () => {
          const pid = await agentPid();
          const status = await Deno.readTextFile(`/proc/${pid}/status`);
          const ours = BigInt(
            "0x" + /^CapBnd:\s+(\w+)$/m.exec(
              await Deno.readTextFile("/proc/self/status"),
            )![1],
          );
          const want = CAPS.reduce((m, cap) => m | (1n << BigInt(CAP_BITS[cap])), 0n) & ours;
          const eff = BigInt("0x" + /^CapEff:\s+(\w+)$/m.exec(status)![1]);
          equal(eff.toString(16), want.toString(16));
          ok(/^NoNewPrivs:\s+1$/m.test(status), status);
        },
      );

      await t.step("node_info has the host's hostname", () => {
        const [info] = s.find("node_info");
        ok(info, "node_info is served");
        equal(info.labels.hostname, etcHostname());
      });

      await t.step("every module is on: BPF loads inside the container", () => {
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
          equal(
            s.value("osprey_module_state", { module, state: "on" }),
            1,
            `${module}\n${log.slice(-3000)}`,
          );
        }
        ok(
          s.find("osprey_bpf_program_attached").some((p) => p.value === 1),
          "a BPF program is attached",
        );
      });

      await t.step("the CRI-labelled workload carries its pod identity", () => {
        const [info] = s.find("container_info", { container_id: k8sId });
        ok(info, s.linesOf("/k8s/"));
        equal(info.labels.image, "localhost/osprey-test-busybox:latest");
      });

      await t.step("SIGTERM ends the agent with exit code 0 and frees its programs", async () => {
        const pid = Number(
          (await c.ctr(["-n", AGENT_NS, "tasks", "ls"])).split("\n")
            .find((l) => l.startsWith("osprey-agent "))?.split(/\s+/)[1],
        );
        ok(pid > 0, "the agent's task pid");
        const loaded = await loadedOspPrograms();
        const held = (await programIdsHeldBy(pid)).filter((p) => loaded.has(p));
        ok(held.length > 0, "the agent holds osp_* programs");
        const tStop = Date.now();
        await c.ctr(["-n", AGENT_NS, "tasks", "kill", "-s", "SIGTERM", "osprey-agent"]);
        const status = await agent!.status;
        await logsDone;
        agent = undefined;
        equal(status.code, 0, log.slice(-3000));
        console.log(`containerd: stopped ${secs(Date.now() - tStop)} after SIGTERM`);
        const left = await waitFor("the programs to be freed", async () => {
          const now = await loadedOspPrograms();
          const still = held.filter((p) => now.has(p));
          return still.length === 0 ? still : undefined;
        }, { timeoutMs: 3_000 });
        deepEqual(left, []);
      });
      console.log(`containerd: whole test ${secs(Date.now() - t0)}`);
    } finally {
      if (agent) {
        await c.ctrRaw(["-n", AGENT_NS, "tasks", "kill", "-s", "SIGKILL", "osprey-agent"]);
        await agent.status;
      }
      await c.stop([AGENT_NS, K8S_NS]);
      await Deno.remove(archive).catch(() => {});
    }
  },
});
