/**
 * The agent with the net module busy (connections held, a generator connecting, the pinger
 * pinging, the NAT watcher's thread reading conntrack) stops cleanly on SIGTERM: exit code 0
 * (the agent exits 1 when its graceful stop overruns `--shutdown-timeout`), "stopped" logged,
 * no error logged, and none of the BPF programs it held (its tcp programs among them) is left
 * in `bpftool prog show`.
 *
 * Needs root, bpftool, gcc and libc6-dev, and the built libosprey.
 */
import { equal, ok } from "node:assert/strict";
import { createNetnsPair } from "../helpers/netns.ts";
import {
  CgroupContainer,
  dest,
  netLabIgnoreReason,
  type Proc,
  scrapeParsed,
  startNetAgent,
  waitFor,
  waitValue,
} from "./_lab.ts";
import { withStderr } from "../containers/agent.ts";

function bpftoolReason(): string {
  try {
    const r = new Deno.Command("bpftool", { args: ["version"], stdout: "null", stderr: "null" })
      .outputSync();
    return r.success ? "" : "bpftool version failed";
  } catch {
    return "bpftool missing (apt-get install bpftool)";
  }
}

const ignoreReason = netLabIgnoreReason() || bpftoolReason();
if (ignoreReason) console.warn(`tests/net/shutdown_test.ts ignored: ${ignoreReason}`);

/** Ids of the BPF programs a process holds (the `prog_id:` of its fds' fdinfo). */
function programIdsHeldBy(pid: number): Set<number> {
  const ids = new Set<number>();
  for (const fd of Deno.readDirSync(`/proc/${pid}/fdinfo`)) {
    try {
      const m = /^prog_id:\s+(\d+)$/m.exec(Deno.readTextFileSync(`/proc/${pid}/fdinfo/${fd.name}`));
      if (m) ids.add(Number(m[1]));
    } catch { /* closed meanwhile */ }
  }
  return ids;
}

async function loadedPrograms(): Promise<{ id: number; name?: string }[]> {
  const out = await new Deno.Command("bpftool", { args: ["-j", "prog", "show"] }).output();
  if (!out.success) throw new Error(`bpftool prog show: ${new TextDecoder().decode(out.stderr)}`);
  return JSON.parse(new TextDecoder().decode(out.stdout));
}

Deno.test({
  name: "net: the agent stops cleanly on SIGTERM while the net module is busy, leaving no " +
    "BPF program",
  ignore: ignoreReason !== "",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const pair = await createNetnsPair("netsd");
    const made: CgroupContainer[] = [];
    const procs: Proc[] = [];
    try {
      const server = await CgroupContainer.create("sd-srv", pair.b.name);
      made.push(server);
      const client = await CgroupContainer.create("sd-cli", pair.a.name);
      made.push(client);
      procs.push(await server.server("0.0.0.0", 8080, ["drain"]));
      procs.push(await server.server("0.0.0.0", 8081, ["close"]));
      const held = await client.start(["hold", pair.b.v4, "8080", "3"]);
      procs.push(held);
      for (let i = 0; i < 4; i++) await held.line();

      const agent = await startNetAgent();
      let stopped = false;
      try {
        const to = dest(`${pair.b.v4}:8080`);
        await waitValue(agent.url, client.id, "container_net_tcp_active_connections", to, 3);
        await waitFor("a latency series", async () => {
          const s = await scrapeParsed(agent.url);
          return s.value("container_net_latency_seconds", {
            container_id: client.id,
            destination_ip: pair.b.v4,
          });
        });
        const held = programIdsHeldBy(agent.child.pid);
        const names = (await loadedPrograms()).filter((p) => held.has(p.id)).map((p) => p.name);
        ok(names.includes("osp_tcp_state_btf"), `programs held: ${names.join(" ")}`);
        // busy while it stops
        const gen = await client.start(["churn", pair.b.v4, "8081", "4", "1"]);
        procs.push(gen);
        await new Promise((r) => setTimeout(r, 1000));
        const { status, ms } = await agent.stop("SIGTERM");
        stopped = true;
        console.log(`stopped in ${Math.round(ms)} ms, holding ${held.size} programs before`);
        equal(status.code, 0, "exit code (1 when the graceful stop overran its timeout)");
        const err = agent.stderr();
        ok(/msg="stopped"/.test(err), "logged stopped");
        const errors = err.split("\n").filter((l) => l.includes("level=error"));
        equal(errors.length, 0, errors.join("\n"));
        let left: number[] = [];
        await waitFor("the agent's programs unloaded", async () => {
          left = (await loadedPrograms()).map((p) => p.id).filter((id) => held.has(id));
          return left.length === 0 ? true : undefined;
        }, { timeoutMs: 5000, describe: () => `still loaded: ${left.join(" ")}` });
        await gen.wait();
      } catch (e) {
        throw withStderr(e, agent, 60);
      } finally {
        if (!stopped) await agent.stop();
      }
    } finally {
      for (const p of procs) await p.kill();
      for (const c of made) await c.remove();
      await pair.remove();
    }
  },
});
