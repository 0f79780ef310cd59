// Spawned by lib_test.ts under scoped permissions: opens libosprey the way
// the agent does and prints one JSON line with the outcome.
import { openLibrary } from "../mod.ts";

try {
  using lib = openLibrary();
  console.log(JSON.stringify({ ok: true, abi: lib.abiVersion(), path: lib.path }));
} catch (err) {
  console.log(JSON.stringify({
    ok: false,
    notCapable: err instanceof Deno.errors.NotCapable,
    name: err instanceof Error ? err.name : String(err),
    message: err instanceof Error ? err.message : String(err),
  }));
}
