import { deepEqual, equal, ok, throws } from "node:assert/strict";
import { openLibrary } from "./lib.ts";
import {
  decodeTaskstatsAnswer,
  decodeTaskstatsRecord,
  encodePids,
  KERNEL_TASKSTATS_FIELDS,
  TASKSTATS_RECORD_SIZE,
  TaskstatsRecordFlag,
  TaskstatsWire,
  TS_REC_CPU_DELAY_NS,
  TS_REC_ERROR,
  TS_REC_PID,
} from "./taskstats.ts";
import { builtLibrary, libraryIgnoreReason } from "./_test_util.ts";
import { BpfError } from "./errors.ts";

const libReason = libraryIgnoreReason();
const rootReason = libReason ||
  (Deno.uid() === 0 ? "" : "needs root (CAP_NET_ADMIN for taskstats)");

/** A taskstats answer as the kernel writes one: nlmsghdr, genlmsghdr, AGGR nest (id, stats). */
function answer(o: {
  family?: number;
  aggr?: number;
  id?: number;
  statsLen?: number;
  cpuDelay?: bigint;
  blkioDelay?: bigint;
  runReal?: bigint;
  btime?: bigint;
  etimeUs?: bigint;
}): Uint8Array {
  const statsLen = o.statsLen ?? 416;
  const nest = 4 + 8 + 4 + statsLen;
  const len = 16 + 4 + nest;
  const buf = new Uint8Array(len);
  const v = new DataView(buf.buffer);
  v.setUint32(0, len, true); // nlmsg_len
  v.setUint16(4, o.family ?? 31, true); // nlmsg_type
  v.setUint32(8, 77, true); // nlmsg_seq
  buf[16] = TaskstatsWire.TASKSTATS_CMD_NEW; // genl cmd
  buf[17] = 1;
  let at = 20;
  v.setUint16(at, nest, true);
  v.setUint16(at + 2, o.aggr ?? TaskstatsWire.TASKSTATS_TYPE_AGGR_TGID, true);
  at += 4;
  v.setUint16(at, 8, true);
  v.setUint16(
    at + 2,
    (o.aggr ?? TaskstatsWire.TASKSTATS_TYPE_AGGR_TGID) === TaskstatsWire.TASKSTATS_TYPE_AGGR_TGID
      ? TaskstatsWire.TASKSTATS_TYPE_TGID
      : TaskstatsWire.TASKSTATS_TYPE_PID,
    true,
  );
  v.setUint32(at + 4, o.id ?? 4242, true);
  at += 8;
  v.setUint16(at, 4 + statsLen, true);
  v.setUint16(at + 2, TaskstatsWire.TASKSTATS_TYPE_STATS, true);
  at += 4;
  const f = KERNEL_TASKSTATS_FIELDS;
  const put = (field: readonly [number, number], x: bigint) => {
    if (field[0] + 8 <= statsLen) v.setBigUint64(at + field[0], x, true);
  };
  v.setUint16(at + f.version[0], 16, true);
  put(f.cpu_delay_total, o.cpuDelay ?? 1_500_000_000n);
  put(f.blkio_delay_total, o.blkioDelay ?? 250_000_000n);
  put(f.cpu_run_real_total, o.runReal ?? 9_000_000_000n);
  put(f.ac_etime, o.etimeUs ?? 5_000_000n);
  put(f.ac_btime64, o.btime ?? 1_796_000_000n);
  return buf;
}

/** An NLMSG_ERROR answer carrying `error` (negative errno, or 0 for an acknowledgement). */
function errorAnswer(error: number): Uint8Array {
  const buf = new Uint8Array(16 + 4 + 16);
  const v = new DataView(buf.buffer);
  v.setUint32(0, buf.length, true);
  v.setUint16(4, TaskstatsWire.NLMSG_ERROR, true);
  v.setInt32(16, error, true);
  return buf;
}

Deno.test("decodeTaskstatsRecord() reads each field and refuses a record cut short", () => {
  const buf = new Uint8Array(TASKSTATS_RECORD_SIZE * 2);
  const v = new DataView(buf.buffer);
  v.setUint32(TASKSTATS_RECORD_SIZE + TS_REC_PID, 99, true);
  v.setInt32(TASKSTATS_RECORD_SIZE + TS_REC_ERROR, -3, true);
  v.setBigUint64(TS_REC_CPU_DELAY_NS, 2n ** 60n, true);
  equal(decodeTaskstatsRecord(buf, 0).cpuDelayNs, 2n ** 60n);
  equal(decodeTaskstatsRecord(buf, 0).errno, 0);
  deepEqual([decodeTaskstatsRecord(buf, 1).pid, decodeTaskstatsRecord(buf, 1).errno], [99, 3]);
  throws(
    () => decodeTaskstatsRecord(buf.subarray(0, TASKSTATS_RECORD_SIZE * 2 - 1), 1),
    RangeError,
  );
  throws(() => decodeTaskstatsRecord(buf, 2), RangeError);
  deepEqual([...encodePids([1, 0x01020304])], [1, 0, 0, 0, 4, 3, 2, 1]);
});

Deno.test({
  name: "osp_taskstats_decode() reads a whole answer and fails every truncation of it",
  ignore: libReason !== "",
  fn() {
    using lib = openLibrary(builtLibrary());
    const msg = answer({});
    const whole = decodeTaskstatsAnswer(lib.symbols, msg, 31);
    equal(whole.error, "");
    equal(whole.record.tgid, 4242);
    equal(whole.record.cpuDelayNs, 1_500_000_000n);
    equal(whole.record.blkioDelayNs, 250_000_000n);
    equal(whole.record.cpuRunRealNs, 9_000_000_000n);
    equal(whole.record.flags, TaskstatsRecordFlag.DELAYS);
    // every cut of the answer is an error of that record, never values
    for (let n = 0; n < msg.length; n++) {
      const r = decodeTaskstatsAnswer(lib.symbols, msg.subarray(0, n), 31);
      equal(r.error, "EMSGSIZE", `cut at ${n} of ${msg.length}`);
      equal(r.record.flags, 0);
    }
    // the PID answer gives the begin time
    const start = decodeTaskstatsAnswer(
      lib.symbols,
      answer({ aggr: TaskstatsWire.TASKSTATS_TYPE_AGGR_PID }),
      31,
    );
    equal(start.error, "");
    equal(start.record.flags, TaskstatsRecordFlag.START);
    equal(start.record.btime, 1_796_000_000);
    equal(start.record.elapsedUs, 5_000_000);
  },
});

Deno.test({
  name: "osp_taskstats_decode() refuses malformed answers by errno",
  ignore: libReason !== "",
  fn() {
    using lib = openLibrary(builtLibrary());
    const d = (m: Uint8Array, family = 31) => decodeTaskstatsAnswer(lib.symbols, m, family).error;
    equal(d(errorAnswer(-3)), "ESRCH");
    equal(d(errorAnswer(-1)), "EPERM");
    equal(d(errorAnswer(0)), "EBADMSG"); // an acknowledgement answers nothing
    equal(d(answer({ family: 30 })), "EBADMSG"); // another family
    equal(d(answer({ family: 30 }), 0), ""); // any family
    equal(d(answer({ statsLen: 40 })), "EBADMSG"); // stats shorter than version 1
    equal(d(answer({ id: 0 })), "EBADMSG");
    equal(d(answer({ aggr: 9 })), "EBADMSG"); // no aggregate we know
    const nested = answer({});
    new DataView(nested.buffer).setUint16(24, 4000, true); // the pid attribute overruns its nest
    equal(d(nested), "EBADMSG");
    const outer = answer({});
    new DataView(outer.buffer).setUint16(20, 3, true); // nest length below a header
    equal(d(outer), "EBADMSG");
    const head = answer({});
    new DataView(head.buffer).setUint32(0, 8, true); // nlmsg_len below the header
    equal(d(head), "EBADMSG");
  },
});

/** Children that sleep until killed. */
function sleepers(n: number): Deno.ChildProcess[] {
  return Array.from(
    { length: n },
    () => new Deno.Command("sleep", { args: ["600"], stdout: "null", stderr: "null" }).spawn(),
  );
}

async function reap(children: Deno.ChildProcess[]): Promise<void> {
  for (const c of children) {
    try {
      c.kill("SIGKILL");
    } catch { /* gone */ }
  }
  await Promise.all(children.map((c) => c.status));
}

Deno.test({
  name: "osp_taskstats_query() answers each pid alone: live, exited, invalid, in batches",
  ignore: rootReason !== "",
  async fn() {
    using lib = openLibrary(builtLibrary());
    using ts = await lib.openTaskstats("");
    const info = ts.info();
    ok(info.familyId > 0);
    equal(info.netnsInode, Number(Deno.statSync("/proc/self/ns/net").ino));
    const kids = sleepers(150);
    try {
      const gone = kids.slice(0, 50);
      await reap(gone);
      // self, 50 pids that exited before the call, 100 live ones, 0, and more than a batch
      const pids = [Deno.pid, ...kids.map((k) => k.pid), 0, 0x7fffffff];
      const rs = await ts.query(pids, { start: true });
      equal(rs.length, pids.length);
      equal(rs[0].errno, 0);
      equal(rs[0].tgid, Deno.pid);
      ok(rs[0].cpuRunRealNs > 0n);
      equal(rs[0].flags, TaskstatsRecordFlag.DELAYS | TaskstatsRecordFlag.START);
      // the begin time is our process's: within a few seconds of what /proc says
      const uptime = Number(Deno.readTextFileSync("/proc/uptime").split(" ")[0]);
      const startTicks = Number(
        Deno.readTextFileSync("/proc/self/stat").split(") ")[1].split(" ")[19],
      );
      const bootS = Date.now() / 1000 - uptime;
      ok(Math.abs(rs[0].btime - (bootS + startTicks / 100)) <= 2, `btime ${rs[0].btime}`);
      for (let i = 1; i <= 50; i++) equal(rs[i].errno, 3, `exited pid ${pids[i]}: ESRCH`);
      for (let i = 51; i <= 150; i++) {
        equal(rs[i].errno, 0, `live pid ${pids[i]}`);
        equal(rs[i].tgid, pids[i]);
      }
      equal(rs[151].errno, 22); // pid 0: not asked
      equal(rs[152].errno, 3);
    } finally {
      await reap(kids);
    }
  },
});

Deno.test({
  name: "osp_taskstats_query() goes on when pids vanish while the batch runs",
  ignore: rootReason !== "",
  async fn() {
    using lib = openLibrary(builtLibrary());
    using ts = await lib.openTaskstats("");
    const kids = sleepers(400);
    try {
      const pids = kids.map((k) => k.pid);
      const querying = ts.query(pids);
      const killing = reap(kids.slice(200));
      const [rs] = await Promise.all([querying, killing]);
      for (let i = 0; i < rs.length; i++) {
        ok(rs[i].errno === 0 || rs[i].errno === 3, `pid ${pids[i]}: errno ${rs[i].errno}`);
        if (i < 200) equal(rs[i].errno, 0);
      }
      // once they are reaped every one of them is gone
      const after = await ts.query(pids.slice(200));
      for (const r of after) equal(r.errno, 3);
    } finally {
      await reap(kids);
    }
  },
});

Deno.test({
  name: "openTaskstats() enters a network namespace by path and refuses what is not one",
  ignore: rootReason !== "",
  async fn() {
    using lib = openLibrary(builtLibrary());
    using own = await lib.openTaskstats("/proc/self/ns/net");
    equal(own.info().netnsInode, Number(Deno.statSync("/proc/self/ns/net").ino));
    const [r] = await own.query([Deno.pid]);
    equal(r.errno, 0);
    await lib.openTaskstats("/proc/self/ns/nope").then(
      () => ok(false, "opened a missing path"),
      (err) => ok(err instanceof BpfError && err.errno === 2, String(err)),
    );
    await lib.openTaskstats("/proc/self/ns/uts").then(
      () => ok(false, "opened a UTS namespace"),
      (err) => ok(err instanceof BpfError && err.errno === 22, String(err)),
    );
    own.close();
    await own.query([1]).then(
      () => ok(false, "queried a closed socket"),
      (err) => ok(err instanceof BpfError && err.errno === 9),
    );
  },
});

Deno.test({
  name: "without CAP_NET_ADMIN the kernel refuses every pid (EPERM per record, not the call)",
  ignore: rootReason !== "",
  async fn() {
    const script = new URL("./testdata/taskstats_child.ts", import.meta.url).pathname;
    // root's permitted set after exec is the bounding set: drop the capability from it
    const out = await new Deno.Command("setpriv", {
      args: [
        "--bounding-set",
        "-net_admin",
        "--",
        Deno.execPath(),
        "run",
        "-A",
        "--no-config",
        script,
        builtLibrary()!,
      ],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = new TextDecoder().decode(out.stdout);
    equal(out.code, 0, new TextDecoder().decode(out.stderr));
    deepEqual(JSON.parse(text), { errnos: [1, 1] });
  },
});
