/**
 * Starts the real agent for the container tests and benchmark: the host view mounted (as
 * `deno task start` does), `-P=agent`, containers reported from age 0, a short background
 * refresh, and the agent's stderr attached to any failure.
 *
 * `OSPREY_TEST_AGENT_PERMISSIONS` (space-separated, e.g. `-A`) replaces `-P=agent` while
 * diagnosing whether a failure is a missing permission.
 *
 * @module
 */
import { REPO_ROOT, startAgent } from "../helpers/agent_process.ts";
import type { AgentProcess } from "../helpers/agent_process.ts";
import { scrapeParsed } from "./metrics.ts";
import type { Scrape } from "./metrics.ts";
import { waitFor } from "./metrics.ts";

/** The permissions the agent runs with. */
export const AGENT_PERMISSIONS: string[] = Deno.env.get("OSPREY_TEST_AGENT_PERMISSIONS")
  ?.split(/\s+/).filter(Boolean) ?? ["-P=agent"];

/** Agent flags for {@linkcode startContainerAgent}. */
export interface ContainerAgentOptions {
  /** `--container-gc-grace`, default "60s". */
  gcGrace?: string;
  /** `--collect-interval`, default "500ms". */
  collectInterval?: string;
  /** `--container-rescan-interval` (/proc rescan and dead-container collection), default "1s". */
  rescanInterval?: string;
  extraArgs?: string[];
  /** Deno permission flags added to {@linkcode AGENT_PERMISSIONS}, e.g. one `--allow-write`. */
  extraPermissions?: string[];
}

/** Runs `agent/host_view.sh` (idempotent): `-P=agent` reads /proc and /sys through it. */
export async function ensureHostView(): Promise<void> {
  const r = await new Deno.Command("sh", {
    args: ["agent/host_view.sh"],
    cwd: REPO_ROOT,
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (r.code !== 0) {
    throw new Error(`agent/host_view.sh exited ${r.code}: ${new TextDecoder().decode(r.stderr)}`);
  }
}

/** The agent flags used for a set of options. */
export function containerAgentArgs(o: ContainerAgentOptions = {}): string[] {
  return [
    "--min-container-age=0",
    `--container-gc-grace=${o.gcGrace ?? "60s"}`,
    `--collect-interval=${o.collectInterval ?? "500ms"}`,
    `--container-rescan-interval=${o.rescanInterval ?? "1s"}`,
    ...(o.extraArgs ?? []),
  ];
}

/** Starts the agent, waits for /readyz and checks that the containers module is on. */
export async function startContainerAgent(o: ContainerAgentOptions = {}): Promise<AgentProcess> {
  await ensureHostView();
  const agent = startAgent({
    permissions: [...AGENT_PERMISSIONS, ...(o.extraPermissions ?? [])],
    args: containerAgentArgs(o),
  });
  try {
    await agent.waitReady();
    await waitFor('osprey_module_state{module="containers",state="on"} 1', async () => {
      const s = await scrapeParsed(agent.url);
      return s.find("osprey_module_state", { module: "containers", state: "on" })
          .some((x) => x.value === 1)
        ? true
        : undefined;
    }, {
      timeoutMs: 10_000,
      describe: () => "see the agent's module table in its stderr",
    });
  } catch (e) {
    await agent.stop();
    throw withStderr(e, agent);
  }
  return agent;
}

/** The error with the last lines of the agent's stderr appended. */
export function withStderr(e: unknown, agent: AgentProcess, lines = 40): Error {
  const all = agent.stderr().trimEnd();
  const tail = all.split("\n").slice(-lines).join("\n");
  const msg = e instanceof Error ? e.message : String(e);
  if (all !== "" && msg.includes(all)) return e instanceof Error ? e : new Error(msg);
  return new Error(`${msg}\n--- agent stderr (last ${lines} lines) ---\n${tail}`, { cause: e });
}

/** Runs `fn` against a fresh agent; stops it after, and attaches its stderr to failures. */
export async function withContainerAgent(
  o: ContainerAgentOptions,
  fn: (agent: AgentProcess) => Promise<void>,
): Promise<void> {
  const agent = await startContainerAgent(o);
  try {
    await fn(agent);
  } catch (e) {
    throw withStderr(e, agent);
  } finally {
    await agent.stop();
  }
}

/** Polls until `container_info{container_id=id}` is served; returns that scrape. */
export async function waitContainerVisible(
  url: string,
  id: string,
  timeoutMs = 15_000,
): Promise<Scrape> {
  let last: Scrape | undefined;
  return await waitFor(`container_info{container_id="${id}"}`, async () => {
    last = await scrapeParsed(url);
    return last.find("container_info", { container_id: id }).length > 0 ? last : undefined;
  }, {
    timeoutMs,
    describe: () =>
      last
        ? `series of ${id}:\n${last.linesOf(id)}\ncontainer_info series:\n${
          last.text.split("\n").filter((l) => l.startsWith("container_info")).join("\n") ||
          "(none)"
        }`
        : "(no scrape)",
  });
}
