/**
 * Runs one ping batch and prints the outcome as one JSON line, for tests that
 * run it with capabilities dropped (setpriv). Also reports the effective
 * capability set it ran with, so a test can tell the drop really happened.
 *
 * Usage: deno run -A ping_child.ts <netns path> <options JSON> <target>...
 *
 * @module
 */
import { BpfError, openLibrary } from "../../../ffi/mod.ts";

const [path, options, ...targets] = Deno.args;
const status = Deno.readTextFileSync("/proc/self/status");
const capEff = status.match(/^CapEff:\s*([0-9a-f]+)$/m)?.[1] ?? "";

using lib = openLibrary();
try {
  const results = await lib.ping(path, targets, JSON.parse(options));
  console.log(JSON.stringify({ ok: true, capEff, results }));
} catch (err) {
  if (!(err instanceof BpfError)) throw err;
  console.log(JSON.stringify({ ok: false, capEff, code: err.code, message: err.message }));
}
