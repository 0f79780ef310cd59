import { deepEqual, equal, ok, rejects, throws } from "node:assert/strict";
import {
  BpfError,
  decodeProcEvent,
  emptyProcEvent,
  forEachFrame,
  FrameBatch,
  openLibrary,
} from "../../ffi/mod.ts";
import { privilegedIgnoreReason } from "./_helpers.ts";

const ignoreReason = privilegedIgnoreReason();
if (ignoreReason) console.warn(`tests/privileged/ring_test.ts ignored: ${ignoreReason}`);
const ignore = ignoreReason !== "";

/** Ring bytes of one bench record: 8-byte header + 184-byte record. */
const REC = 192;

/** Sequence numbers (the bench producer writes them as cgroup_id) of a batch. */
function seqs(batch: FrameBatch): number[] {
  const out: number[] = [];
  forEachFrame(batch, (off) => out.push(decodeProcEvent(batch, off).cgroupId));
  return out;
}

function drainInto(ring: { drain(b: Uint8Array): number }, size: number): FrameBatch {
  const batch = new FrameBatch(new Uint8Array(size));
  batch.length = ring.drain(batch.bytes);
  return batch;
}

Deno.test({
  name: "drain() stops before a record that does not fit, and loses nothing",
  ignore,
  async fn() {
    using lib = openLibrary();
    using obj = lib.openObject("bench");
    obj.load();
    deepEqual(obj.attach().map((r) => r.skipped), ["on-demand"]);
    const ring = obj.openRing("bench_events");
    equal(await obj.produce(5), 5);
    equal(ring.pending(), 5 * REC);

    throws(() => ring.drain(new Uint8Array(100)), (err: unknown) => {
      ok(err instanceof BpfError);
      equal(err.code, "ENOSPC");
      return true;
    });
    equal(ring.pending(), 5 * REC, "the record that did not fit is still there");

    const first = drainInto(ring, 3 * REC + 100);
    equal(first.length, 3 * REC);
    deepEqual(seqs(first), [0, 1, 2]);
    equal(ring.pending(), 2 * REC);
    deepEqual(seqs(drainInto(ring, 1 << 16)), [3, 4]);
    equal(ring.drain(new Uint8Array(1 << 16)), 0);
    equal(ring.pending(), 0);

    const e = decodeProcEvent(first, 8);
    equal(e.type, "bench");
    equal(e.comm, "osp-bench");
    equal(e.ppid, 1);
    deepEqual(obj.lost(), { total: 0, byType: {} });
  },
});

Deno.test({
  name: "wait() resolves false on timeout and true once records are pending",
  ignore,
  async fn() {
    using lib = openLibrary();
    using obj = lib.openObject("bench");
    obj.load();
    using ring = obj.openRing("bench_events");
    const t0 = performance.now();
    equal(await ring.wait(50), false);
    ok(performance.now() - t0 >= 40, "waited about the timeout");
    const waiting = ring.wait(200);
    await obj.produce(1);
    equal(await waiting, true);
    equal(await ring.wait(0), true, "pending records are readable at once");
  },
});

Deno.test({
  name: "closing a ring while wait() is in flight resolves it false promptly",
  ignore,
  async fn() {
    using lib = openLibrary();
    using obj = lib.openObject("bench");
    obj.load();
    const ring = obj.openRing("bench_events");
    const t0 = performance.now();
    const waiting = ring.wait(200);
    await new Promise((r) => setTimeout(r, 20));
    ring.close();
    equal(await waiting, false);
    ok(performance.now() - t0 < 150, `woke after ${performance.now() - t0} ms`);
    equal(await ring.wait(10), false);
    ring.close(); // idempotent
  },
});

Deno.test({
  name: "closing the library while produce() runs cancels it without unloading under it",
  ignore,
  async fn() {
    const lib = openLibrary();
    const obj = lib.openObject("bench");
    obj.load();
    // nobody drains: the producer fills the 16 MiB ring, then waits for room
    const producing = obj.produce(10_000_000);
    await new Promise((r) => setTimeout(r, 100));
    lib.close();
    await rejects(producing, (err: unknown) => {
      ok(err instanceof BpfError);
      equal(err.code, "ECANCELED");
      return true;
    });
    equal(obj.closed, true);
  },
});

Deno.test({
  name: "batches() delivers every produced record once and in order, with none lost",
  ignore,
  async fn() {
    const total = 300_000;
    using lib = openLibrary();
    using obj = lib.openObject("bench");
    obj.load();
    using ring = obj.openRing("bench_events");
    const producing = obj.produce(total);
    const ac = new AbortController();
    const scratch = emptyProcEvent();
    let next = 0;
    let bad = 0;
    for await (const batch of ring.batches({ signal: ac.signal })) {
      forEachFrame(batch, (off) => {
        if (decodeProcEvent(batch, off, scratch).cgroupId !== next++) bad++;
      });
      if (next >= total) ac.abort();
    }
    equal(await producing, total);
    equal(next, total);
    equal(bad, 0);
    deepEqual(obj.lost(), { total: 0, byType: {} });
  },
});
