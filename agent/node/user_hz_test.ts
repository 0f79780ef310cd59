import { equal } from "node:assert/strict";
import { hostPaths } from "../paths.ts";
import { FIXTURES } from "./_testing.ts";
import { DEFAULT_USER_HZ, parseAuxvClockTick, readUserHz } from "./user_hz.ts";

function auxv(pairs: [number, number][], littleEndian = true): Uint8Array {
  const b = new Uint8Array(pairs.length * 16);
  const v = new DataView(b.buffer);
  pairs.forEach(([t, x], i) => {
    v.setBigUint64(i * 16, BigInt(t), littleEndian);
    v.setBigUint64(i * 16 + 8, BigInt(x), littleEndian);
  });
  return b;
}

Deno.test("parseAuxvClockTick finds AT_CLKTCK (17)", () => {
  equal(parseAuxvClockTick(auxv([[6, 4096], [17, 100], [0, 0]]), true), 100);
  equal(parseAuxvClockTick(auxv([[17, 1024], [0, 0]], false), false), 1024);
});

Deno.test("parseAuxvClockTick returns undefined without the entry or on odd sizes", () => {
  equal(parseAuxvClockTick(auxv([[6, 4096], [0, 0], [17, 100]]), true), undefined);
  equal(parseAuxvClockTick(new Uint8Array(10)), undefined);
  equal(parseAuxvClockTick(new Uint8Array(0)), undefined);
});

Deno.test("readUserHz reads this process's auxv, and falls back to 100 in a fixture tree", async () => {
  const live = await readUserHz(hostPaths());
  equal(live.source, "auxv");
  equal(live.hz, 100);
  const fixture = await readUserHz(hostPaths({ hostRoot: `${FIXTURES}/host` }));
  equal(fixture.source, "default");
  equal(fixture.hz, DEFAULT_USER_HZ);
});
