import { equal, throws } from "node:assert/strict";
import { FIXTURES } from "./_testing.ts";
import { parseUptime } from "./uptime.ts";

Deno.test("parseUptime returns the first field", () => {
  equal(parseUptime(Deno.readTextFileSync(`${FIXTURES}/host/proc/uptime`)), 595.4);
  equal(parseUptime("12345 67890\n"), 12345);
});

Deno.test("parseUptime rejects garbage", () => {
  throws(() => parseUptime("595.40\n"), /Cannot parse "\/proc\/uptime" line 1/);
  throws(() => parseUptime("abc def\n"), SyntaxError);
  throws(() => parseUptime(""), SyntaxError);
});
