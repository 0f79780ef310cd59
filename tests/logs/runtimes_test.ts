/**
 * Docker json-file and CRI (containerd) log files in their real formats, for containers whose
 * processes run in real cgroups and whose runtime state is written where the runtimes write it
 * (neither runtime is installed here): the agent finds the log path in that state, follows the
 * file (created late, for Docker), decodes the format and counts every level exactly under
 * `source="stdout/stderr"`. Partial lines (Docker's entries without a newline, CRI's `P` tag)
 * are joined into one message.
 *
 * Needs root (cgroups, /var/lib/docker, /run/containerd, /var/log/pods).
 *
 * @module
 */
import { deepEqual, equal } from "node:assert/strict";
import { waitContainerVisible, withContainerAgent } from "../containers/agent.ts";
import { TestCgroup } from "../containers/cgroups.ts";
import { sleep } from "../containers/metrics.ts";
import { privilegedIgnoreReason } from "../privileged/_helpers.ts";
import { eachLevel, expectLevelCounts, levelLines } from "./_harness.ts";

const ignoreReason = privilegedIgnoreReason();
if (ignoreReason) console.warn(`tests/logs/runtimes_test.ts ignored: ${ignoreReason}`);

const N = 25;
const FIXTURES = new URL("../fixtures/runtimes/", import.meta.url).pathname;

function randomId(): string {
  const b = crypto.getRandomValues(new Uint8Array(32));
  return [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
}

/** A process that joins `cg`, then execs a sleeper (the registry learns the cgroup from it). */
function startSleeper(cg: TestCgroup): Deno.ChildProcess {
  return new Deno.Command("sh", {
    args: ["-c", `${cg.joinScript()}\nexec sleep 3600`],
    stdout: "null",
    stderr: "inherit",
  }).spawn();
}

async function stopSleeper(p: Deno.ChildProcess | undefined): Promise<void> {
  if (p === undefined) return;
  try {
    p.kill("SIGKILL");
  } catch { /* gone */ }
  await p.status;
}

const enc = new TextEncoder();

async function appendText(path: string, text: string): Promise<void> {
  const f = await Deno.open(path, { append: true, create: true });
  await f.write(enc.encode(text));
  f.close();
}

/** Docker's json-file entry for a piece of output. */
function dockerEntry(log: string, stream = "stdout"): string {
  return JSON.stringify({ log, stream, time: new Date().toISOString() }) + "\n";
}

/** A CRI log line: time, stream, P (partial) or F (full), the text. */
function criLine(text: string, tag: "P" | "F" = "F", stream = "stdout"): string {
  return `${new Date().toISOString()} ${stream} ${tag} ${text}\n`;
}

Deno.test({
  name: "docker json-file: a log file that appears after the container, decoded and counted " +
    "exactly per level, a partial entry joined",
  ignore: ignoreReason !== "",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const cid = randomId();
    const name = `osprey-logs-${Deno.pid}`;
    const dir = `/var/lib/docker/containers/${cid}`;
    const logPath = `${dir}/${cid}-json.log`;
    const fixture = `${FIXTURES}docker/var/lib/docker/containers/` +
      "7082330809044540e361660ddc431d686c26e7fbe4f91fc97bfa82946bfed305";
    const config = JSON.parse(await Deno.readTextFile(`${fixture}/config.v2.json`));
    config.ID = cid;
    config.Name = `/${name}`;
    config.LogPath = logPath;
    const madeDocker = !(await exists("/var/lib/docker"));
    await Deno.mkdir(dir, { recursive: true });
    await Deno.writeTextFile(`${dir}/config.v2.json`, JSON.stringify(config));
    await Deno.copyFile(`${fixture}/hostconfig.json`, `${dir}/hostconfig.json`);
    const cg = await TestCgroup.create(`docker/${cid}`);
    let sleeper: Deno.ChildProcess | undefined;
    try {
      await withContainerAgent({}, async (agent) => {
        sleeper = startSleeper(cg);
        const id = `/docker/${name}`;
        await waitContainerVisible(agent.url, id);
        await sleep(1500); // the source exists and waits for its file
        let text = "";
        for (const [i, l] of levelLines(N, "docker").entries()) {
          text += dockerEntry(l + "\n", i % 2 ? "stderr" : "stdout");
        }
        // one message in two entries: the first without its newline
        text += dockerEntry("ERROR split across ") + dockerEntry("two entries of json-file\n");
        await appendText(logPath, text);
        const want = eachLevel(N);
        want.error += 1;
        const s = await expectLevelCounts(agent.url, id, "stdout/stderr", want);
        equal(
          s.find("container_log_messages_total", { container_id: id, level: "error" })
            .some((x) => x.labels.sample === "ERROR split across two entries of json-file"),
          true,
          s.linesOf(id),
        );
      });
    } finally {
      await stopSleeper(sleeper);
      await cg.remove();
      await Deno.remove(dir, { recursive: true });
      if (madeDocker) await Deno.remove("/var/lib/docker", { recursive: true });
    }
  },
});

Deno.test({
  name: "CRI (containerd): the kubelet's pod log named by the bundle's annotations, decoded " +
    "and counted exactly per level, a P-tagged line joined",
  ignore: ignoreReason !== "",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const cid = randomId();
    const uid = crypto.randomUUID();
    const ns = "logs";
    const pod = `osprey-${Deno.pid}`;
    const container = "app";
    const bundle = `/run/containerd/io.containerd.runtime.v2.task/k8s.io/${cid}`;
    const podDir = `/var/log/pods/${ns}_${pod}_${uid}`;
    const logPath = `${podDir}/${container}/0.log`;
    const madeRun = !(await exists("/run/containerd"));
    await Deno.mkdir(bundle, { recursive: true });
    await Deno.writeTextFile(
      `${bundle}/config.json`,
      JSON.stringify({
        ociVersion: "1.0.2",
        process: { args: ["sleep", "3600"], env: ["PATH=/bin"], cwd: "/" },
        root: { path: "rootfs" },
        annotations: {
          "io.kubernetes.cri.container-type": "container",
          "io.kubernetes.cri.container-name": container,
          "io.kubernetes.cri.sandbox-id": randomId(),
          "io.kubernetes.cri.sandbox-name": pod,
          "io.kubernetes.cri.sandbox-namespace": ns,
          "io.kubernetes.cri.sandbox-uid": uid,
          "io.kubernetes.cri.image-name": "docker.io/library/busybox:1.36",
        },
      }),
    );
    await Deno.mkdir(`${podDir}/${container}`, { recursive: true });
    await Deno.writeTextFile(logPath, criLine("INFO container started"));
    const cg = await TestCgroup.create(`kubepods/besteffort/pod${uid}/${cid}`);
    let sleeper: Deno.ChildProcess | undefined;
    try {
      await withContainerAgent({}, async (agent) => {
        sleeper = startSleeper(cg);
        const id = `/k8s/${ns}/${pod}/${container}`;
        await waitContainerVisible(agent.url, id);
        await sleep(1500); // the source is open at the end of the file
        let text = "";
        for (const [i, l] of levelLines(N, "cri").entries()) {
          text += criLine(l, "F", i % 2 ? "stderr" : "stdout");
        }
        text += criLine("CRITICAL split by the runtime ", "P") + criLine("into two lines", "F");
        await appendText(logPath, text);
        const want = eachLevel(N);
        want.critical += 1;
        const s = await expectLevelCounts(agent.url, id, "stdout/stderr", want);
        const crit = s.find("container_log_messages_total", {
          container_id: id,
          level: "critical",
        });
        deepEqual(
          crit.map((x) => x.labels.sample).filter((x) => x.includes("split")),
          ["CRITICAL split by the runtime into two lines"],
          s.linesOf(id),
        );
      });
    } finally {
      await stopSleeper(sleeper);
      await cg.remove();
      await Deno.remove(podDir, { recursive: true });
      await Deno.remove(bundle, { recursive: true });
      if (madeRun) await Deno.remove("/run/containerd", { recursive: true });
    }
  },
});

async function exists(p: string): Promise<boolean> {
  try {
    await Deno.stat(p);
    return true;
  } catch {
    return false;
  }
}
