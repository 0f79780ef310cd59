import { deepEqual, equal, throws } from "node:assert/strict";
import { NO_OPT_OUTS, OptOutCache, type OptOuts, parseOptOuts, readOptOuts } from "./opt_outs.ts";

const enc = new TextEncoder();

Deno.test("parseOptOuts() reads the three variables, each off when its value contains disabled", () => {
  deepEqual(
    parseOptOuts(enc.encode("PATH=/bin\0COROOT_EBPF_TRACES=disabled\0HOME=/\0")),
    { profiling: false, logMonitoring: false, traces: true },
  );
  deepEqual(
    parseOptOuts(
      enc.encode("COROOT_EBPF_PROFILING=is-disabled\0COROOT_LOG_MONITORING=disabled"),
    ),
    { profiling: true, logMonitoring: true, traces: false },
  );
  equal(parseOptOuts(enc.encode("COROOT_EBPF_TRACES=enabled\0")).traces, false);
  equal(parseOptOuts(enc.encode("COROOT_EBPF_TRACES=Disabled\0")).traces, false, "case matters");
  equal(parseOptOuts(enc.encode("X_COROOT_EBPF_TRACES=disabled\0")).traces, false);
  equal(parseOptOuts(enc.encode("COROOT_EBPF_TRACESX=disabled\0")).traces, false);
  equal(parseOptOuts(enc.encode("COROOT_EBPF_TRACES\0disabled\0")).traces, false);
  // the last entry of a name wins, as in the reference's loop
  equal(
    parseOptOuts(enc.encode("COROOT_EBPF_TRACES=disabled\0COROOT_EBPF_TRACES=on\0")).traces,
    false,
  );
  equal(parseOptOuts(new Uint8Array()), NO_OPT_OUTS);
});

Deno.test("readOptOuts() reads a live process's environment and says gone for an exited one", async () => {
  const child = new Deno.Command("sleep", {
    args: ["30"],
    env: { COROOT_EBPF_TRACES: "disabled" },
    stdout: "null",
    stderr: "null",
  }).spawn();
  try {
    const r = readOptOuts("/proc", child.pid);
    equal(typeof r === "string" ? r : r.traces, true);
    equal((readOptOuts("/proc", Deno.pid) as OptOuts).traces, false);
  } finally {
    child.kill("SIGKILL");
    await child.status;
  }
  equal(readOptOuts("/proc", child.pid), "gone");
  equal(readOptOuts("/nonexistent-proc-root", 1), "gone");
});

Deno.test("OptOutCache reads each process once, again for a reused pid, and forgets what leaves", () => {
  const reads: number[] = [];
  let answer: OptOuts | "gone" | "unreadable" = { ...NO_OPT_OUTS, traces: true };
  const cache = new OptOutCache({
    proc: "/unused",
    max: 3,
    read: (pid) => {
      reads.push(pid);
      return answer;
    },
  });
  equal(cache.get(10, 1000).traces, true);
  equal(cache.get(10, 1000).traces, true);
  deepEqual(reads, [10], "read once");
  answer = NO_OPT_OUTS;
  equal(cache.get(10, 2000).traces, false, "a reused pid is another process");
  deepEqual(reads, [10, 10]);
  // gone: no opt-out, not remembered; unreadable: no opt-out, remembered
  answer = "gone";
  equal(cache.get(11, 1).traces, false);
  equal(cache.size, 1);
  answer = "unreadable";
  equal(cache.get(12, 1).traces, false);
  equal(cache.get(12, 1).traces, false);
  deepEqual(cache.counts, { read: 2, gone: 1, unreadable: 1, evicted: 0 });
  equal(cache.size, 2);
  // the cap: the oldest read goes
  answer = NO_OPT_OUTS;
  cache.get(13, 1);
  cache.get(14, 1);
  equal(cache.size, 3);
  equal(cache.counts.evicted, 1);
  reads.length = 0;
  cache.get(10, 2000);
  deepEqual(reads, [10], "pid 10 was the oldest");
  cache.retain((pid) => pid === 14);
  equal(cache.size, 1);
  throws(() => new OptOutCache({ proc: "/", max: 0 }), RangeError);
});
