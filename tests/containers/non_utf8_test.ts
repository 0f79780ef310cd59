/**
 * A cgroup whose name is not UTF-8, for real: `system.slice/caf\xe9.service` (a raw 0xE9 byte)
 * made in every hierarchy of this host, a shell in it that used CPU, holds memory and did
 * direct I/O, and the real agent:
 *
 * - with libosprey granted (`-P=agent`) it reports the cgroup's CPU, memory and I/O series
 *   under `container_id="/system.slice/caf\xe9.service"` (the byte written `\xe9`), CPU and
 *   memory equal to the cgroup's own files (read here through the shell, since Deno cannot open
 *   that path either);
 * - without it (`--deny-ffi=<library>`) the container is still reported, without resource
 *   series, counted in `osprey_cgroup_unreadable_total{reason="non_utf8_path"}`, and the log
 *   names the flag once.
 *
 * What the reference does with such a cgroup: its container ID is a Go string holding the raw
 * byte, and registering the container's collector with that `container_id` fails in
 * client_golang (`label value "..." is not valid UTF-8`), so it reports nothing for it and logs
 * "failed to register container" each time it sees one of its processes.
 *
 * Needs root, the built libosprey, and `-A`.
 */
import { equal, ok } from "node:assert/strict";
import { defaultLibraryPath } from "../../ffi/mod.ts";
import { startAgent } from "../helpers/agent_process.ts";
import { AGENT_PERMISSIONS, containerAgentArgs, ensureHostView, withStderr } from "./agent.ts";
import { type CgroupWorker, startWorker, TestCgroup } from "./cgroups.ts";
import { type Scrape, scrapeParsed, waitFor } from "./metrics.ts";

const LIB = defaultLibraryPath();
function ignoreReason(): string {
  if (Deno.uid() !== 0) return "not root";
  try {
    if (!LIB || !Deno.statSync(LIB).isFile) return "libosprey not built (deno task build)";
  } catch {
    return "libosprey not built (deno task build)";
  }
  return "";
}
const IGNORE = ignoreReason();
if (IGNORE) console.warn(`tests/containers/non_utf8_test.ts ignored: ${IGNORE}`);

const FORMAT = `system.slice/caf\\351.${Deno.pid}.service`;
const ID = `/system.slice/caf\\xe9.${Deno.pid}.service`;

/** A cgroup file's text, through the shell (Deno cannot open the path). */
async function catIn(cg: TestCgroup, key: string, file: string): Promise<string> {
  const h = cg.hierarchies.find((x) => x.key.split(",").includes(key) || x.key === key)!;
  const r = await new Deno.Command("sh", {
    args: ["-c", `cat "$1/$(printf "$2")/$3"`, "sh", h.base, cg.format, file],
  }).output();
  equal(r.code, 0, new TextDecoder().decode(r.stderr));
  return new TextDecoder().decode(r.stdout);
}

function statKey(text: string, key: string): number {
  const line = text.split("\n").find((l) => l.startsWith(`${key} `));
  if (line === undefined) throw new Error(`no ${key} in\n${text}`);
  return Number(line.split(" ")[1]);
}

/** The CPU seconds and RSS bytes the contract defines, from the cgroup's own files. */
async function expected(cg: TestCgroup): Promise<{ cpu: number; rss: number }> {
  const v1 = (c: string) => cg.hierarchies.some((h) => h.key.split(",").includes(c));
  const cpu = v1("cpuacct")
    ? Number((await catIn(cg, "cpuacct", "cpuacct.usage")).trim()) / 1e9
    : statKey(await catIn(cg, "", "cpu.stat"), "usage_usec") / 1e6;
  const mem = v1("memory")
    ? await catIn(cg, "memory", "memory.stat")
    : await catIn(cg, "", "memory.stat");
  const rss = v1("memory")
    ? statKey(mem, "total_rss") + statKey(mem, "total_mapped_file")
    : statKey(mem, "anon") + statKey(mem, "file_mapped");
  return { cpu, rss };
}

Deno.test({
  name: "a cgroup named with a raw 0xE9 byte has its CPU, memory and I/O series as caf\\xe9",
  ignore: IGNORE !== "",
  sanitizeResources: false,
  async fn(t) {
    await ensureHostView();
    const cg = await TestCgroup.create(FORMAT);
    let worker: CgroupWorker | undefined;
    try {
      worker = await startWorker(cg);
      const want = await expected(cg);
      ok(want.cpu > 0 && want.rss > 0, JSON.stringify(want));

      await t.step("with libosprey: the series, equal to the cgroup's files", async () => {
        const agent = startAgent({ permissions: AGENT_PERMISSIONS, args: containerAgentArgs() });
        try {
          await agent.waitReady();
          let last: Scrape | undefined;
          const s = await waitFor(`CPU, memory and disk I/O series of ${ID}`, async () => {
            const now = last = await scrapeParsed(agent.url);
            const reads = now.find("container_resources_disk_reads_total", { container_id: ID });
            const cpu = now.value("container_resources_cpu_usage_seconds_total", {
              container_id: ID,
            });
            return cpu !== undefined && reads.some((r) => r.value > 0) ? now : undefined;
          }, { timeoutMs: 30_000, describe: () => last?.linesOf(ID) ?? "(no scrape)" });
          const v = (name: string) => s.value(name, { container_id: ID });
          // the shell waits on its stdin: its counters do not move any more
          equal(v("container_resources_cpu_usage_seconds_total"), want.cpu, s.linesOf(ID));
          equal(v("container_resources_memory_rss_bytes"), want.rss, s.linesOf(ID));
          ok(v("container_resources_memory_cache_bytes") !== undefined, s.linesOf(ID));
          const writes = s.find("container_resources_disk_written_bytes_total", {
            container_id: ID,
          });
          ok(writes.some((w) => w.value >= 256 * 1024), s.linesOf(ID));
          equal(s.value("osprey_cgroup_unreadable_total", { reason: "non_utf8_path" }), 0);
          // nothing was reported under a lossy name
          equal(s.samples.filter((x) => x.labels.container_id?.includes("\ufffd")).length, 0);
        } catch (e) {
          throw withStderr(e, agent);
        } finally {
          await agent.stop();
        }
      });

      await t.step(
        "without libosprey: reported without resources, counted, said once",
        async () => {
          const agent = startAgent({
            permissions: [...AGENT_PERMISSIONS, `--deny-ffi=${LIB}`],
            args: containerAgentArgs(),
          });
          try {
            await agent.waitReady();
            let last: Scrape | undefined;
            const s = await waitFor(`${ID} counted as unreadable`, async () => {
              const now = last = await scrapeParsed(agent.url);
              const n = now.value("osprey_cgroup_unreadable_total", { reason: "non_utf8_path" });
              const seen = now.find("container_restarts_total", { container_id: ID }).length > 0;
              return n !== undefined && n >= 1 && seen ? now : undefined;
            }, { timeoutMs: 30_000, describe: () => last?.linesOf(ID) ?? "(no scrape)" });
            equal(s.value("osprey_cgroup_unreadable_total", { reason: "non_utf8_path" }), 1);
            equal(
              s.find("container_resources_cpu_usage_seconds_total", { container_id: ID }).length,
              0,
            );
            const said = agent.stderr().split("\n").filter((l) => l.includes("is not UTF-8"));
            equal(said.length, 1, agent.stderr());
            ok(said[0].includes(`--allow-ffi=${LIB}`), said[0]);
            ok(said[0].includes("caf\\\\xe9"), said[0]);
          } catch (e) {
            throw withStderr(e, agent);
          } finally {
            await agent.stop();
          }
        },
      );
    } finally {
      await worker?.stop();
      await cg.remove();
    }
  },
});
