import { deepEqual, equal } from "node:assert/strict";
import { hostPaths } from "../paths.ts";
import { netModule } from "./mod.ts";

Deno.test("netModule.disabledBy(): off only with --disable-net-module, named in the table", () => {
  const paths = hostPaths();
  equal(netModule.disabledBy?.({ "disable-net-module": false }, paths), undefined);
  equal(netModule.disabledBy?.({}, paths), undefined);
  // --disable-bpf leaves the module on (listens from /proc): only its own flag turns it off
  equal(netModule.disabledBy?.({ "disable-bpf": true }, paths), undefined);
  deepEqual(netModule.disabledBy?.({ "disable-net-module": true }, paths), {
    reason: "disabled by --disable-net-module",
    flag: "--disable-net-module=false",
  });
});
