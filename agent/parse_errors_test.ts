import { deepEqual, equal } from "node:assert/strict";
import { FileFormatError } from "./file_format_error.ts";
import { createLogger } from "./log.ts";
import { Registry } from "./metrics/mod.ts";
import { ParseErrors, parseErrors } from "./parse_errors.ts";

const text = (reg: Registry) => new TextDecoder().decode(reg.encode("text"));

Deno.test("ParseErrors counts per collector and file, and logs each at most once per period", () => {
  let now = 1_000_000;
  const lines: Record<string, unknown>[] = [];
  const { log } = createLogger({ format: "json", write: (l) => lines.push(JSON.parse(l)) });
  const reg = new Registry();
  const p = new ParseErrors(reg, { log, logEveryMs: 60_000, now: () => now });
  const mem = p.sink("node_memory", "meminfo");
  const cg = p.sink("containers_resources");
  mem(new FileFormatError("/host/proc/meminfo", 3, "bad"));
  mem(new FileFormatError("/host/proc/meminfo", 4, "worse"));
  cg(new FileFormatError("/sys/fs/cgroup/a/memory.stat", 2, "x"));
  cg(new FileFormatError("/sys/fs/cgroup/b/memory.stat", 5, "y"));
  now += 60_000;
  mem(new FileFormatError("/host/proc/meminfo", 3, "bad"));
  equal(
    text(reg),
    "# HELP osprey_parse_errors_total Lines of host files skipped because they could not be " +
      "parsed (each costs only the series it would have fed), by collector and file\n" +
      "# TYPE osprey_parse_errors_total counter\n" +
      'osprey_parse_errors_total{collector="node_memory",file="meminfo"} 3\n' +
      'osprey_parse_errors_total{collector="containers_resources",file="memory.stat"} 2\n',
  );
  // A sink for a fixed file shows its series at 0 before anything is skipped.
  p.sink("node_disk", "diskstats");
  equal(
    text(reg).split("\n").filter((l) => l.includes("node_disk")).join(),
    'osprey_parse_errors_total{collector="node_disk",file="diskstats"} 0',
  );
  deepEqual(
    lines.map(({ collector, file, line, reason, suppressed }) => ({
      collector,
      file,
      line,
      reason,
      suppressed,
    })),
    [
      {
        collector: "node_memory",
        file: "/host/proc/meminfo",
        line: 3,
        reason: "bad",
        suppressed: undefined,
      },
      {
        collector: "containers_resources",
        file: "/sys/fs/cgroup/a/memory.stat",
        line: 2,
        reason: "x",
        suppressed: undefined,
      },
      {
        collector: "node_memory",
        file: "/host/proc/meminfo",
        line: 3,
        reason: "bad",
        suppressed: 1,
      },
    ],
  );
});

Deno.test("parseErrors() gives one instance per registry", () => {
  const a = new Registry(), b = new Registry();
  equal(parseErrors(a), parseErrors(a));
  equal(parseErrors(a) === parseErrors(b), false);
});

Deno.test("parseErrors() with a log shares the counts and pacing and logs through that log", () => {
  const lines: Record<string, unknown>[] = [];
  const { log } = createLogger({ format: "json", write: (l) => lines.push(JSON.parse(l)) });
  const reg = new Registry();
  const node = parseErrors(reg, { log: log.with({ module: "node" }) });
  const net = parseErrors(reg, { log: log.with({ module: "net" }) });
  node.sink("node_memory", "meminfo")(new FileFormatError("/p/meminfo", 1, "x"));
  net.sink("net_reconcile", "<pid>/net/tcp")(new FileFormatError("/p/7/net/tcp", 2, "y"));
  // the same slot through the other view is paced, not logged again
  net.sink("node_memory", "meminfo")(new FileFormatError("/p/meminfo", 1, "x"));
  deepEqual(lines.map((l) => [l.module, l.collector]), [
    ["node", "node_memory"],
    ["net", "net_reconcile"],
  ]);
  equal(
    text(reg).split("\n").filter((l) => l.startsWith("osprey_parse_errors_total{")).join("\n"),
    'osprey_parse_errors_total{collector="node_memory",file="meminfo"} 2\n' +
      'osprey_parse_errors_total{collector="net_reconcile",file="<pid>/net/tcp"} 1',
  );
});
