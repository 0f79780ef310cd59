import { deepEqual, equal, ok } from "node:assert/strict";
import { Spool } from "./spool.ts";

Deno.test("Spool: atomic files oldest first, the cap drops the oldest, a reopen finds them", async () => {
  const wal = await Deno.makeTempDir();
  try {
    const dropped: string[] = [];
    const s = await Spool.open(wal, 250, { droppedOldest: (e) => dropped.push(e.name) });
    await s.append(1000, new Uint8Array(100));
    await s.append(1000, new Uint8Array(100)); // same ms: stamped after the newest
    deepEqual(s.entries().map((e) => e.name), ["spool-1000.done", "spool-1001.done"]);
    await s.append(2000, new Uint8Array(100)); // 300 > 250: the oldest goes
    deepEqual(dropped, ["spool-1000.done"]);
    equal(s.bytes, 200);
    // a temporary file a killed agent left is removed; foreign files are left alone
    await Deno.writeFile(`${wal}/spool/.tmp-spool-3000.done`, new Uint8Array(5));
    await Deno.writeFile(`${wal}/spool/other`, new Uint8Array(5));
    const again = await Spool.open(wal, 250);
    deepEqual(again.entries(), [
      { name: "spool-1001.done", ts: 1001, size: 100 },
      { name: "spool-2000.done", ts: 2000, size: 100 },
    ]);
    const names = [...Deno.readDirSync(`${wal}/spool`)].map((e) => e.name).sort();
    deepEqual(names, ["other", "spool-1001.done", "spool-2000.done"]);
    equal((await again.read(again.oldest()!)).length, 100);
    ok(await again.remove(again.oldest()!));
    equal(await again.remove({ name: "spool-1001.done", ts: 1001, size: 100 }), false);
    // a batch alone above the cap is kept
    const tiny = await Spool.open(wal, 10);
    await tiny.append(5000, new Uint8Array(50));
    deepEqual(tiny.entries().map((e) => e.name), ["spool-5000.done"]);
  } finally {
    await Deno.remove(wal, { recursive: true });
  }
});
