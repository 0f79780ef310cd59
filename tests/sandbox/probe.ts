/**
 * Test-only entry point for tests/sandbox/: run under the Landlock launcher with the agent's
 * permission set, it tries each argument and prints one JSON array: `{path, op, ok, code}` per
 * argument, `code` the errno name (`EACCES`) of a refusal. An argument `statfs:<path>` asks
 * statfs(2) instead of reading the file.
 *
 * @module
 */
import { readFileSync, statfsSync } from "node:fs";

interface Outcome {
  path: string;
  op: "read" | "statfs";
  ok: boolean;
  code?: string;
}

function errnoName(e: unknown): string {
  if (e instanceof Error && "code" in e && typeof e.code === "string") return e.code;
  if (e instanceof Deno.errors.NotCapable) return "NotCapable";
  throw e;
}

const out: Outcome[] = [];
for (const arg of Deno.args) {
  const statfs = arg.startsWith("statfs:");
  const path = statfs ? arg.slice(7) : arg;
  try {
    if (statfs) statfsSync(path);
    else readFileSync(path);
    out.push({ path, op: statfs ? "statfs" : "read", ok: true });
  } catch (e) {
    out.push({ path, op: statfs ? "statfs" : "read", ok: false, code: errnoName(e) });
  }
}
console.log(JSON.stringify(out));
