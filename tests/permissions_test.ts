/**
 * The named permission sets in deno.json must cover every flag's environment twin (otherwise
 * `LISTEN=... deno task start` silently ignores the variable) and stay narrow.
 */
import { deepEqual, equal, ok } from "node:assert/strict";
import denoJson from "../deno.json" with { type: "json" };
import { agentFlags } from "../agent/main.ts";

/** Every flag main() parses: core, every module's, and the accepted-not-implemented ones. */
const ALL_FLAGS = agentFlags();

/**
 * Variables the agent reads that are not flag twins: the library override (README, "The C
 * library"); the launcher's report and the procfs broker's socket (README, "Security model").
 */
const OTHER_ENV = ["OSPREY_FFI_LIB", "OSPREY_SANDBOX", "OSPREY_BROKER_FD"];

interface PermissionSet {
  read?: string[];
  net?: string[];
  ffi?: string[];
  env?: string[];
  sys?: string[];
  run?: unknown;
  write?: unknown;
}
const sets = denoJson.permissions as Record<string, PermissionSet>;

Deno.test("every flag's environment twin is granted by the agent and fixture sets", () => {
  for (const name of ["agent", "fixture"]) {
    const env = new Set(sets[name].env ?? []);
    const missing = ALL_FLAGS.map((f) => f.env).filter((e) => !env.has(e));
    deepEqual(missing, [], `permission set "${name}" lacks env ${missing.join(", ")}`);
  }
});

Deno.test("the sets grant no environment variable that is not a flag twin or a known extra", () => {
  const known = new Set([...ALL_FLAGS.map((f) => f.env), ...OTHER_ENV]);
  for (const name of ["agent", "fixture"]) {
    const env = sets[name].env ?? [];
    deepEqual(env.filter((e) => !known.has(e)), [], `permission set "${name}" grants stray env`);
    equal(new Set(env).size, env.length, `permission set "${name}" repeats an env entry`);
  }
});

Deno.test("the agent set is narrow: scoped reads, one library, no run or write", () => {
  const agent = sets.agent;
  equal(agent.run, undefined);
  equal(agent.write, undefined);
  deepEqual(agent.ffi, ["./ffi/.output/libosprey.so"]);
  ok(agent.read && agent.read.length > 0 && !agent.read.includes("/"));
  ok(agent.net && agent.net.every((h) => !h.includes("*")));
  equal(sets.fixture.ffi, undefined);
});

Deno.test("only the agent set reaches the cloud metadata services, and only those addresses", async () => {
  const { METADATA_HOSTS } = await import("../agent/cloud/mod.ts");
  const local = ["0.0.0.0", "127.0.0.1", "[::]", "[::1]"];
  deepEqual(sets.agent.net, [...local, ...METADATA_HOSTS]);
  deepEqual(sets.fixture.net, ["127.0.0.1", "[::1]"]);
});
