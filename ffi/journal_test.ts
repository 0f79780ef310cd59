import { deepEqual, equal, throws } from "node:assert/strict";
import { decodeJournalEntries } from "./journal.ts";
import { BpfError } from "./errors.ts";

const enc = new TextEncoder();

/** One entry as osp_journal_read() lays it out (osprey.h). */
function entry(
  o: { prio: number; usec: number; unit: string; cid: string; msg: Uint8Array; flags?: number },
) {
  const unit = enc.encode(o.unit);
  const cid = enc.encode(o.cid);
  const body = 24 + unit.length + cid.length + o.msg.length;
  const len = (body + 7) & ~7;
  const b = new Uint8Array(len);
  const v = new DataView(b.buffer);
  v.setUint32(0, len, true);
  v.setUint32(4, o.prio, true);
  v.setUint32(8, o.usec % 2 ** 32, true);
  v.setUint32(12, Math.floor(o.usec / 2 ** 32), true);
  v.setUint32(16, o.msg.length, true);
  b[20] = unit.length;
  b[21] = cid.length;
  b[22] = o.flags ?? 0;
  b.set(unit, 24);
  b.set(cid, 24 + unit.length);
  b.set(o.msg, 24 + unit.length + cid.length);
  return b;
}

Deno.test("decodeJournalEntries() reads priority, time, unit, container id and message bytes", () => {
  const a = entry({
    prio: 3,
    usec: 1_764_493_200_123_456,
    unit: "nginx.service",
    cid: "",
    msg: enc.encode("boom"),
  });
  const b = entry({
    prio: 255,
    usec: 5_000,
    unit: "",
    cid: "ab".repeat(32),
    msg: new Uint8Array([0xff, 0x0a]),
    flags: 1,
  });
  const buf = new Uint8Array(a.length + b.length);
  buf.set(a);
  buf.set(b, a.length);
  const [x, y] = decodeJournalEntries(buf);
  deepEqual(
    { ...x, message: new TextDecoder().decode(x.message) },
    {
      priority: 3,
      timestampMs: 1_764_493_200_123,
      unit: "nginx.service",
      containerId: "",
      message: "boom",
      cut: false,
    },
  );
  equal(y.priority, undefined);
  equal(y.containerId, "ab".repeat(32));
  deepEqual([...y.message], [0xff, 0x0a]);
  equal(y.cut, true);
  deepEqual(decodeJournalEntries(new Uint8Array()), []);
});

Deno.test("decodeJournalEntries() refuses an entry that claims more than the buffer", () => {
  const a = entry({ prio: 6, usec: 1, unit: "u", cid: "", msg: enc.encode("hello") });
  new DataView(a.buffer).setUint32(16, 1000, true);
  throws(() => decodeJournalEntries(a), BpfError);
});
