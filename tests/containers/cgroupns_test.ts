/**
 * The agent in its own cgroup namespace, for real: started under `unshare --cgroup` from child
 * cgroups made for it in every hierarchy (so the namespace's root is a different, deeper cgroup
 * than the host's root in each one, and every `/proc/<pid>/cgroup` it reads says `/../...`),
 * it must see the same containers, with the same series and values, as an agent in the host's
 * namespace: a running Podman container and a systemd-style cgroup with a working process.
 *
 * Needs root, podman with runc, busybox-static, `unshare` (util-linux), and `-A`.
 */
import { deepEqual, equal, notEqual, ok } from "node:assert/strict";
import { type AgentProcess, startAgent } from "../helpers/agent_process.ts";
import { AGENT_PERMISSIONS, containerAgentArgs, ensureHostView, withStderr } from "./agent.ts";
import { type CgroupWorker, startWorker, TestCgroup } from "./cgroups.ts";
import { type Sample, type Scrape, scrapeParsed, waitFor } from "./metrics.ts";
import { ContainerScope, podmanIgnoreReason, procCgroups } from "./podman.ts";
import { ensureTestImage } from "./rootfs.ts";

function ignoreReason(): string {
  const p = podmanIgnoreReason();
  if (p) return p;
  try {
    const r = new Deno.Command("unshare", { args: ["--cgroup", "true"] }).outputSync();
    return r.success ? "" : "unshare --cgroup fails here";
  } catch {
    return "unshare is missing (util-linux)";
  }
}
const IGNORE = ignoreReason();
if (IGNORE) console.warn(`tests/containers/cgroupns_test.ts ignored: ${IGNORE}`);

/** Families whose value depends on the moment of reading, not on the agent. */
const MOVING = new Set(["container_resources_disk_used_bytes"]);

/** A container's container_* series as sorted lines; values left out for MOVING families. */
function seriesOf(s: Scrape, id: string): string[] {
  const line = (x: Sample) => {
    const labels = Object.entries(x.labels).sort(([a], [b]) => a < b ? -1 : 1)
      .map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(",");
    return `${x.name}{${labels}}${MOVING.has(x.name) ? "" : ` ${x.value}`}`;
  };
  return s.ofContainer(id).filter((x) => x.name.startsWith("container_")).map(line).sort();
}

function nsLink(pid: number | "self"): string {
  return Deno.readLinkSync(`/proc/${pid}/ns/cgroup`);
}

Deno.test({
  name: "unshare --cgroup: the same containers, series and values as in the host's namespace",
  ignore: IGNORE !== "",
  sanitizeResources: false,
  async fn() {
    await ensureHostView();
    const { image } = await ensureTestImage();
    const scope = new ContainerScope();
    const svcName = `osprey-cgns-${Deno.pid}.service`;
    const svc = await TestCgroup.create(`system.slice/${svcName}`);
    const nest = await TestCgroup.create(`osprey-cgns-agent-${Deno.pid}`);
    let worker: CgroupWorker | undefined;
    const agents: AgentProcess[] = [];
    try {
      const name = await scope.run("cgns", { image, cmd: ["sleep", "3600"] });
      worker = await startWorker(svc);
      const ids = [`/podman/${name}`, `/system.slice/${svcName}`];
      const args = containerAgentArgs({ extraArgs: ["--container-disk-interval=1s"] });
      const host = startAgent({ permissions: AGENT_PERMISSIONS, args });
      agents.push(host);
      // The shell joins the child cgroups, then the agent gets a namespace rooted there.
      const inNs = startAgent({
        permissions: AGENT_PERMISSIONS,
        args,
        wrap: ["sh", "-c", `${nest.joinScript()}\nexec unshare --cgroup "$@"`, "sh"],
      });
      agents.push(inNs);
      try {
        await Promise.all([host.waitReady(), inNs.waitReady()]);
      } catch (e) {
        throw withStderr(e, inNs);
      }

      // It is in a namespace of its own, rooted at the child cgroup of every hierarchy.
      notEqual(nsLink(inNs.child.pid), nsLink("self"));
      const seen = procCgroups(inNs.child.pid);
      for (const h of nest.hierarchies) {
        equal(seen.get(h.key.split(",")[0]), nest.pathIn(h), `hierarchy ${h.key || "v2"}`);
      }
      const inNsText = () => inNs.stderr();
      ok(inNsText().includes("own cgroup namespace"), inNsText());
      ok(!host.stderr().includes("own cgroup namespace"), host.stderr());

      let a: Scrape | undefined, b: Scrape | undefined;
      const describe = () =>
        ids.map((id) =>
          `${id}\n  host:      ${a ? seriesOf(a, id).join("\n             ") : "-"}\n` +
          `  namespace: ${b ? seriesOf(b, id).join("\n             ") : "-"}`
        ).join("\n");
      await waitFor("both agents to serve the same container_* series and values", async () => {
        [a, b] = await Promise.all([scrapeParsed(host.url), scrapeParsed(inNs.url)]);
        for (const id of ids) {
          const sa = seriesOf(a, id), sb = seriesOf(b, id);
          // the idle busybox container did no I/O (no throttle rule: no v1 counters either)
          const want = ["cpu_usage_seconds_total", "memory_rss_bytes"];
          if (id === ids[1]) want.push("disk_reads_total");
          const full = want.every((f) => sa.some((l) => l.startsWith(`container_resources_${f}{`)));
          if (!full || JSON.stringify(sa) !== JSON.stringify(sb)) return undefined;
        }
        return true;
      }, { timeoutMs: 40_000, everyMs: 500, describe });
      for (const id of ids) deepEqual(seriesOf(b!, id), seriesOf(a!, id));
      equal(b!.value("osprey_cgroup_unreadable_total", { reason: "outside_namespace" }), 0);
      equal(a!.value("osprey_cgroup_unreadable_total", { reason: "outside_namespace" }), 0);
      // the systemd-style cgroup did I/O on the scratch disk: both saw it
      ok(
        b!.find("container_resources_disk_written_bytes_total", { container_id: ids[1] })
          .some((x) => x.value >= 256 * 1024),
        describe(),
      );
    } finally {
      for (const agent of agents) await agent.stop();
      await worker?.stop();
      await scope.cleanup();
      await svc.remove();
      await nest.remove();
    }
  },
});
