/**
 * The Landlock sandbox (README, "Security model"): the launcher applies deno.json's "agent" set
 * as kernel rules, so reads Deno's path check lets through are refused when the file actually
 * reached lies outside the grants; and the real agent under the same launcher still serves its
 * node, container, net and process-event series.
 *
 * Needs root (the host view, BPF, cgroups), a kernel with Landlock, the built launcher and
 * libosprey (`deno task build`), gcc for the net lab's netprobe.
 */
import { deepEqual, equal, ok } from "node:assert/strict";
import denoJson from "../../deno.json" with { type: "json" };
import {
  freePort,
  REPO_ROOT,
  SANDBOX_LAUNCHER,
  sandboxWrap,
  startAgent,
} from "../helpers/agent_process.ts";
import { containerAgentArgs, ensureHostView, withStderr } from "../containers/agent.ts";
import {
  CgroupContainer,
  dest,
  INTERVAL_MS,
  netLabIgnoreReason,
  type Proc,
  scrapeParsed,
  waitValue,
  waitVisible,
} from "../net/_lab.ts";

const VIEW = "/run/osprey/host";
const decoder = new TextDecoder();

/** The kernel's Landlock ABI (0: none), asked through the launcher's own report. */
function landlockAbi(): number {
  try {
    const out = new Deno.Command(SANDBOX_LAUNCHER, {
      args: ["--rx=/", "--", "sh", "-c", 'echo "$OSPREY_SANDBOX"'],
      stdout: "piped",
      stderr: "null",
    }).outputSync();
    const m = /^landlock:(\d+)$/.exec(decoder.decode(out.stdout).trim());
    return m === null ? 0 : Number(m[1]);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return 0;
    throw e;
  }
}

function ignoreReason(): string {
  if (Deno.uid() !== 0) return "not root";
  try {
    Deno.statSync(SANDBOX_LAUNCHER);
  } catch {
    return "launcher not built (deno task build)";
  }
  if (landlockAbi() === 0) return "no Landlock in this kernel";
  return "";
}
const IGNORE = ignoreReason();
if (IGNORE !== "") console.warn(`tests/sandbox ignored: ${IGNORE}`);

interface Outcome {
  path: string;
  op: string;
  ok: boolean;
  code?: string;
}

/**
 * Runs tests/sandbox/probe.ts under the launcher with the agent set's rules; Deno's own read
 * permission is the agent set's plus `extraRead` (so the kernel, not Deno, decides those).
 */
async function probe(
  paths: string[],
  extraRead: string[],
  env: Record<string, string> = {},
): Promise<Map<string, Outcome>> {
  const wrap = sandboxWrap(["--listen=127.0.0.1:1"]);
  const read = [...denoJson.permissions.agent.read, ...extraRead].join(",");
  const out = await new Deno.Command(wrap[0], {
    args: [
      ...wrap.slice(1),
      Deno.execPath(),
      "run",
      "--quiet",
      "--no-prompt",
      `--allow-read=${read}`,
      "--allow-sys=statfs",
      `${REPO_ROOT}/tests/sandbox/probe.ts`,
      ...paths,
    ],
    env: { NO_COLOR: "1", DENO_NO_UPDATE_CHECK: "1", ...env },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = decoder.decode(out.stdout);
  ok(out.success, `probe exited ${out.code}: ${text}${decoder.decode(out.stderr)}`);
  const list = JSON.parse(text) as Outcome[];
  return new Map(list.map((o) => [`${o.op}:${o.path}`, o]));
}

function codeOf(m: Map<string, Outcome>, key: string): string {
  const o = m.get(key);
  if (o === undefined) throw new Error(`no outcome for ${key}`);
  return o.ok ? "ok" : o.code!;
}

Deno.test({
  name: "sandbox: the kernel refuses what the magic links reach outside the grants (EACCES)",
  ignore: IGNORE !== "",
  async fn() {
    await ensureHostView();
    const outside = await Deno.makeTempFile({ prefix: "osprey-sandbox-outside-" });
    // a process outside the agent's Landlock domain: its root is the host's /
    const other = new Deno.Command("sleep", { args: ["60"], stdout: "null" }).spawn();
    try {
      const shadow = `${VIEW}/proc/self/root/etc/shadow`;
      // Refused here without Landlock too (this machine's pid 1 is not readable by root's
      // ptrace check); another process's environ stays readable under Landlock (README,
      // "Security model"), which is why this is pid 1's.
      const environ1 = `${VIEW}/proc/1/environ`;
      const otherRoot = `${VIEW}/proc/${other.pid}/root`;
      const args = [
        shadow,
        environ1,
        outside,
        `${VIEW}/proc/self/stat`,
        "/etc/hostname",
        `statfs:${VIEW}/proc/self/root`,
        `statfs:${otherRoot}`,
        `${otherRoot}/etc/hostname`,
      ];
      const on = await probe(args, [outside]);
      deepEqual(
        [
          codeOf(on, `read:${shadow}`),
          codeOf(on, `read:${environ1}`),
          codeOf(on, `read:${outside}`),
          codeOf(on, `read:${otherRoot}/etc/hostname`),
        ],
        ["EACCES", "EACCES", "EACCES", "EACCES"],
        JSON.stringify([...on.values()]),
      );
      // what the grants cover still works
      equal(codeOf(on, `read:${VIEW}/proc/self/stat`), "ok");
      equal(codeOf(on, "read:/etc/hostname"), "ok");
      equal(codeOf(on, `statfs:${VIEW}/proc/self/root`), "ok");
      // statfs itself is no Landlock right, but following another process's root link is a
      // ptrace-mode access the kernel refuses from inside a domain to a process outside it
      equal(codeOf(on, `statfs:${otherRoot}`), "EACCES");

      // the same probe without the sandbox: Deno alone lets the escape through
      const off = await probe(args, [outside], { OSPREY_LANDLOCK: "off" });
      equal(codeOf(off, `read:${shadow}`), "ok", "without Landlock the shadow file is read");
      equal(codeOf(off, `read:${outside}`), "ok");
      equal(codeOf(off, `statfs:${otherRoot}`), "ok");
    } finally {
      other.kill();
      await other.status;
      await Deno.remove(outside);
    }
  },
});

Deno.test({
  name: "sandbox: the agent under the launcher serves node, container, net and process-event " +
    "series, and says landlock in its table and osprey_sandbox_info",
  ignore: IGNORE !== "" || netLabIgnoreReason() !== "",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    await ensureHostView();
    const abi = landlockAbi();
    const port = freePort();
    // below the ephemeral range: the contract leaves connections to ephemeral ports out
    const serverPort = 20_000 + Deno.pid % 10_000;
    const made: CgroupContainer[] = [];
    const procs: Proc[] = [];
    const args = [
      ...containerAgentArgs({ collectInterval: `${INTERVAL_MS}ms` }),
      `--listen=127.0.0.1:${port}`,
    ];
    const agent = startAgent({ permissions: ["-P=agent"], args, wrap: sandboxWrap(args) });
    try {
      await agent.waitReady();
      const server = await CgroupContainer.create("sbx-srv", undefined);
      made.push(server);
      const client = await CgroupContainer.create("sbx-cli", undefined);
      made.push(client);
      procs.push(await server.server("127.0.0.1", serverPort, ["drain"]));
      await waitVisible(agent.url, server.id);
      await waitVisible(agent.url, client.id);
      const r = await client.probe<{ connected: number }>([
        "connect",
        "127.0.0.1",
        String(serverPort),
        "3",
        "0",
        "0",
      ]);
      equal(r.connected, 3);
      await waitValue(
        agent.url,
        client.id,
        "container_net_tcp_successful_connects_total",
        dest(`127.0.0.1:${serverPort}`),
        3,
      );
      await waitValue(agent.url, server.id, "container_net_tcp_listen_info", {
        listen_addr: `127.0.0.1:${serverPort}`,
      }, 1);
      const s = await scrapeParsed(agent.url);
      equal(s.value("osprey_sandbox_info", { kind: "landlock", abi: String(abi) }), 1);
      for (const m of ["self", "node", "process_events", "containers", "net"]) {
        equal(s.value("osprey_module_state", { module: m, state: "on" }), 1, `module ${m}`);
      }
      ok(s.find("node_resources_cpu_usage_seconds_total", {}).length > 0, "node series");
      // /proc/self is granted (the launcher's pid is the agent's): Deno's memory usage reads it
      ok((s.value("process_resident_memory_bytes", {}) ?? 0) > 0, "process_resident_memory_bytes");
      ok(
        s.find("container_resources_cpu_usage_seconds_total", { container_id: server.id })
          .length > 0,
        s.linesOf(server.id),
      );
      // containers follow the BPF process events (the netprobe processes started above)
      equal(s.value("osprey_containers_event_source", { source: "bpf" }), 1);
      ok(/^SANDBOX {2}landlock ABI \d+:/m.test(agent.stderr()), agent.stderr());
    } catch (e) {
      throw withStderr(e, agent, 60);
    } finally {
      for (const p of procs) await p.kill().catch(() => {});
      for (const c of made) await c.remove();
      await agent.stop();
    }
  },
});

Deno.test({
  name: "sandbox: with Landlock turned off, or the probe overridden to a kernel without it, the " +
    "table says none and the agent runs",
  ignore: Deno.uid() !== 0 || IGNORE === "launcher not built (deno task build)",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    await ensureHostView();
    for (
      const [env, reason] of [
        [{ OSPREY_LANDLOCK: "off" }, "turned off"],
        [{ OSPREY_LANDLOCK_ABI: "0" }, "kernel without Landlock, probe overridden to ABI 0"],
      ] as const
    ) {
      const port = freePort();
      const args = [`--listen=127.0.0.1:${port}`];
      const agent = startAgent({ permissions: ["-P=agent"], args, env, wrap: sandboxWrap(args) });
      try {
        await agent.waitReady();
        const s = await scrapeParsed(agent.url);
        equal(s.value("osprey_sandbox_info", { kind: "none", abi: "" }), 1);
        equal(s.value("osprey_module_state", { module: "node", state: "on" }), 1);
        ok(
          agent.stderr().includes(`\nSANDBOX  none (${reason}): Deno's permission checks only\n`),
          agent.stderr(),
        );
        // no broker without a domain: the agent reads <proc> itself
        ok(!/^BROKER/m.test(agent.stderr()), agent.stderr());
        equal(s.find("osprey_procfs_broker_up", {}).length, 0);
      } catch (e) {
        throw withStderr(e, agent);
      } finally {
        await agent.stop();
      }
    }
  },
});
