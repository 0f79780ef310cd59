/**
 * `--deny-ffi` and the agent set's scoped `--allow-ffi` (README, "Security model"): in Deno
 * 2.9.6 a specific allow beats a blanket deny, so `-P=agent --deny-ffi` leaves the BPF modules
 * on; `--deny-ffi=<the library's path>` is the way to turn them off with permissions.
 *
 * Needs root and the built libosprey (the BPF modules start for real when granted).
 */
import { equal } from "node:assert/strict";
import { REPO_ROOT, startAgent } from "../helpers/agent_process.ts";
import { ensureHostView, withStderr } from "../containers/agent.ts";
import { scrapeParsed } from "../containers/metrics.ts";

const LIB = `${REPO_ROOT}/ffi/.output/libosprey.so`;

function ignore(): boolean {
  if (Deno.uid() !== 0) return true;
  try {
    return !Deno.statSync(LIB).isFile;
  } catch {
    return true;
  }
}

async function processEventsState(extra: string[]): Promise<number | undefined> {
  await ensureHostView();
  const agent = startAgent({ permissions: ["-P=agent", ...extra] });
  try {
    await agent.waitListening();
    const s = await scrapeParsed(agent.url);
    return s.value("osprey_module_state", { module: "process_events", state: "on" });
  } catch (e) {
    throw withStderr(e, agent);
  } finally {
    await agent.stop();
  }
}

Deno.test({
  name: "deny-ffi: a blanket --deny-ffi leaves the set's scoped --allow-ffi in force",
  ignore: ignore(),
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    equal(await processEventsState(["--deny-ffi"]), 1);
  },
});

Deno.test({
  name: "deny-ffi: --deny-ffi=<the library's path> turns the BPF modules off",
  ignore: ignore(),
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    equal(await processEventsState([`--deny-ffi=${LIB}`]), 0);
  },
});
