/**
 * `--podman-socket` on real Podman: a `podman system service` on a temporary socket, a
 * container whose Kubernetes pod labels are on no file the agent reads, and two agents side
 * by side: without the socket the container is `/podman/<name>`; with it, the API's labels make
 * it `/k8s/<ns>/<pod>/<container>` with its workload as `app_id`. Then the service stops: the
 * agent keeps going from files, and counts the dead socket.
 *
 * Podman 4.3 keeps labels in its BoltDB and in its events; with the "file" events backend
 * (this host's) the files give them already, so the container is run with
 * `--events-backend=none`, as on a host whose events go to journald.
 *
 * `-P=agent` cannot be combined with an extra `--allow-net`/`--allow-read`: the flag replaces
 * the set's list of that kind (checked on Deno 2.9.6), so the agent with the socket gets the
 * set's grants spelled out as flags, plus the socket's.
 *
 * Needs root, podman, runc, busybox-static. Run: `deno test -A tests/containers/`.
 */
import { deepEqual, equal, ok } from "node:assert/strict";
import denoJson from "../../deno.json" with { type: "json" };
import { startAgent } from "../helpers/agent_process.ts";
import type { AgentProcess } from "../helpers/agent_process.ts";
import {
  AGENT_PERMISSIONS,
  containerAgentArgs,
  ensureHostView,
  startContainerAgent,
  waitContainerVisible,
  withStderr,
} from "./agent.ts";
import { scrapeParsed, sleep, waitFor } from "./metrics.ts";
import type { Scrape } from "./metrics.ts";
import { CONTAINERS_CONF, ContainerScope, podman, podmanIgnoreReason } from "./podman.ts";
import { ensureTestImage } from "./rootfs.ts";

const IGNORE_REASON = podmanIgnoreReason();
if (IGNORE_REASON) console.warn(`tests/containers/runtime_api_test.ts ignored: ${IGNORE_REASON}`);

const POD = {
  "io.kubernetes.pod.namespace": "ns",
  "io.kubernetes.pod.name": "web-6d4cf56db6-x2x8p",
  "io.kubernetes.container.name": "app",
};
const K8S_ID = "/k8s/ns/web-6d4cf56db6-x2x8p/app";

/** deno.json's "agent" permission set as flags, with extra entries per kind. */
function agentSetFlags(extra: Record<string, string[]>): string[] {
  const set = denoJson.permissions.agent as Record<string, boolean | string[]>;
  const kinds = new Set([...Object.keys(set), ...Object.keys(extra)]);
  const flags: string[] = [];
  for (const kind of kinds) {
    const v = set[kind];
    if (v === true) flags.push(`--allow-${kind}`);
    else {
      const list = [...(Array.isArray(v) ? v : []), ...(extra[kind] ?? [])];
      if (list.length > 0) flags.push(`--allow-${kind}=${list.join(",")}`);
    }
  }
  return flags;
}

/** A `podman system service` on a unix socket of its own. */
class PodmanService {
  readonly socket = `/tmp/osprey-podman-${Deno.pid}.sock`;
  #child?: Deno.ChildProcess;
  #stderr = "";

  async start(): Promise<void> {
    try {
      Deno.removeSync(this.socket);
    } catch { /* none left over */ }
    this.#child = new Deno.Command("podman", {
      args: ["system", "service", "--time=0", `unix://${this.socket}`],
      env: { CONTAINERS_CONF },
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).spawn();
    (async () => {
      const d = new TextDecoder();
      for await (const c of this.#child!.stderr) this.#stderr += d.decode(c, { stream: true });
    })();
    const client = Deno.createHttpClient({ proxy: { transport: "unix", path: this.socket } });
    try {
      await waitFor("podman system service to answer /_ping", async () => {
        const r = await fetch("http://d/_ping", { client });
        await r.body?.cancel();
        return r.ok ? true : undefined;
      }, { timeoutMs: 20_000, describe: () => this.#stderr || "(no stderr)" });
    } finally {
      client.close();
    }
  }

  /** Stops the service (it removes its socket) and waits for it to exit. */
  async stop(): Promise<void> {
    if (this.#child === undefined) return;
    const child = this.#child;
    this.#child = undefined;
    try {
      child.kill("SIGTERM");
    } catch { /* already gone */ }
    const timer = setTimeout(() => {
      try {
        child.kill("SIGKILL");
      } catch { /* gone */ }
    }, 10_000);
    await child.status;
    clearTimeout(timer);
    try {
      Deno.removeSync(this.socket);
    } catch { /* removed by the service */ }
  }
}

/** Runs a labelled container whose labels reach no file (events backend "none"). */
async function runLabelled(scope: ContainerScope, label: string, image: string): Promise<string> {
  const name = scope.name(label);
  const labels = Object.entries({ ...POD, team: "payments" }).flatMap(([k, v]) => [
    "--label",
    `${k}=${v}`,
  ]);
  await podman([
    "--events-backend=none",
    "run",
    "-d",
    "--name",
    name,
    "--network",
    "none",
    ...labels,
    image,
    "sleep",
    "3600",
  ]);
  return name;
}

/** Starts the agent with the socket granted and `--podman-socket`. */
async function startSocketAgent(socket: string): Promise<AgentProcess> {
  await ensureHostView();
  const permissions = AGENT_PERMISSIONS.includes("-A") ? AGENT_PERMISSIONS : agentSetFlags({
    net: [`unix:${socket}`, "d"],
    read: [socket],
    write: [socket],
  });
  const agent = startAgent({
    permissions,
    args: containerAgentArgs({ extraArgs: [`--podman-socket=${socket}`] }),
  });
  try {
    await agent.waitReady();
  } catch (e) {
    await agent.stop();
    throw withStderr(e, agent);
  }
  return agent;
}

Deno.test({
  name: "podman API: pod labels only Podman's database has make /k8s/<ns>/<pod>/<container>; " +
    "without the socket it stays /podman/<name>; a stopped service is counted",
  ignore: IGNORE_REASON !== "",
  async fn() {
    const { image } = await ensureTestImage();
    const scope = new ContainerScope();
    const service = new PodmanService();
    const agents: AgentProcess[] = [];
    let current: AgentProcess | undefined;
    try {
      await service.start();
      const name = await runLabelled(scope, "api", image);
      const [plain, withApi] = await Promise.all([
        startContainerAgent({}),
        startSocketAgent(service.socket),
      ]);
      agents.push(plain, withApi);

      // Without the socket: the files have no labels, so the name decides.
      current = plain;
      const p = await waitContainerVisible(plain.url, `/podman/${name}`);
      equal(p.find("container_info", { container_id: K8S_ID }).length, 0);

      // With it: the API's labels give the Kubernetes identity, the files' image stays.
      current = withApi;
      const s = await waitContainerVisible(withApi.url, K8S_ID);
      const info = s.find("container_info", { container_id: K8S_ID });
      equal(info.length, 1, s.linesOf(K8S_ID));
      equal(info[0].labels.app_id, "/k8s/ns/web");
      equal(info[0].labels.image, image);
      deepEqual(s.ofContainer(`/podman/${name}`), [], "reported once, under the k8s id");
      equal(s.value("osprey_container_runtime_api_up", { runtime: "podman" }), 1);
      deepEqual(s.find("osprey_container_runtime_api_errors_total"), []);
      ok(
        withApi.stderr().includes(`runtime_api=podman:${service.socket}`),
        "the start-up log names the socket",
      );

      // The service goes away: a new container is identified from its files, the dead socket
      // is counted (not logged per container), and the first container keeps its ID.
      await service.stop();
      const name2 = await runLabelled(scope, "api-down", image);
      let last: Scrape | undefined;
      last = await waitContainerVisible(withApi.url, `/podman/${name2}`);
      await waitFor("a counted socket error and up=0", async () => {
        last = await scrapeParsed(withApi.url);
        const errors = last.find("osprey_container_runtime_api_errors_total", {
          runtime: "podman",
        });
        const up = last.value("osprey_container_runtime_api_up", { runtime: "podman" });
        return up === 0 && errors.some((e) => e.value >= 1) ? errors : undefined;
      }, {
        timeoutMs: 10_000,
        describe: () =>
          last?.text.split("\n").filter((l) => l.includes("runtime_api")).join("\n") ?? "",
      });
      const reasons = last!.find("osprey_container_runtime_api_errors_total").map((e) =>
        e.labels.reason
      );
      ok(
        reasons.every((r) => ["socket_missing", "refused", "connect"].includes(r)),
        reasons.join(),
      );
      equal(last!.find("container_info", { container_id: K8S_ID }).length, 1);
      await sleep(100);
      const warned = withApi.stderr().split("\n").filter((l) => l.includes("does not answer"));
      equal(warned.length, 1, warned.join("\n"));
    } catch (e) {
      throw current ? withStderr(e, current) : e;
    } finally {
      for (const a of agents) await a.stop();
      await service.stop();
      await scope.cleanup();
    }
  },
});
