// Run by ffi/taskstats_test.ts under `setpriv --bounding-set -net_admin`: asks taskstats about itself
// and PID 1 and prints each record's errno as JSON.
import { openLibrary } from "../lib.ts";

using lib = openLibrary(Deno.args[0]);
using ts = await lib.openTaskstats("");
const rs = await ts.query([Deno.pid, 1]);
console.log(JSON.stringify({ errnos: rs.map((r) => r.errno) }));
