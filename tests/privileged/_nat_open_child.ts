/**
 * Child for tests/privileged/nat_test.ts, run with reduced capabilities
 * (setpriv): opens a NAT watcher on the namespace path given (or the
 * process's own with "") and prints {"ok":true} or {"errno":n,"message":s}.
 *
 * @module
 */

import { BpfError, openLibrary } from "../../ffi/mod.ts";

using lib = openLibrary();
try {
  using w = await lib.openNatWatcher(Deno.args[0] ?? "");
  console.log(JSON.stringify({ ok: true, mode: w.info().mode }));
} catch (err) {
  if (!(err instanceof BpfError)) throw err;
  console.log(JSON.stringify({ errno: err.errno, message: err.message }));
}
