import { deepEqual, equal, match } from "node:assert/strict";
import { createLogger } from "./log.ts";

Deno.test("createLogger() drops lines beyond the burst and reports how many were suppressed", () => {
  let t = 0;
  const lines: string[] = [];
  const { log, stats } = createLogger({
    perSecond: 1,
    burst: 2,
    now: () => t,
    write: (l) => lines.push(l),
  });
  for (let i = 0; i < 5; i++) log.warn("attach failed", { program: "osp_exit", i });
  equal(lines.length, 2);
  deepEqual(stats, { written: 2, dropped: 3 });
  t += 1000; // one token refills
  log.error("still failing");
  equal(lines.length, 3);
  match(lines[2], /suppressed=3/);
});

Deno.test("createLogger() filters by level and writes JSON when asked", () => {
  const lines: string[] = [];
  const { log } = createLogger({ level: "info", format: "json", write: (l) => lines.push(l) });
  log.debug("hidden");
  log.with({ module: "bpf_process" }).info("attached", { programs: 4, err: new Error("x") });
  equal(lines.length, 1);
  const obj = JSON.parse(lines[0]);
  equal(obj.level, "info");
  equal(obj.module, "bpf_process");
  equal(obj.programs, 4);
  equal(obj.err, "x");
});

Deno.test("createLogger() text format quotes values that need it", () => {
  const lines: string[] = [];
  const { log } = createLogger({ write: (l) => lines.push(l) });
  log.info("listening", { address: "127.0.0.1:9100", reason: "no ffi permission" });
  match(lines[0], /address=127\.0\.0\.1:9100 reason="no ffi permission"$/);
});
