/**
 * The pattern grouping keeps its accuracy on the Loghub-2k datasets: average GA of at least
 * 0.92 (raw lines and the Content column) and each dataset at least Drain's published figure;
 * and `deno task patterns` (the command) prints the same grouping that is scored.
 */
import { equal, ok } from "node:assert/strict";
import { groupLines } from "../../tools/patterns/group.ts";
import { DRAIN_GA, LOGHUB_DIR, readDataset, scoreAll } from "./ga.ts";

const have = (() => {
  try {
    return Deno.statSync(`${LOGHUB_DIR}/HDFS`).isDirectory;
  } catch {
    return false;
  }
})();

Deno.test({
  name: "pattern grouping: GA ≥ 0.92 on average and ≥ Drain on each Loghub-2k dataset",
  ignore: !have,
  fn() {
    const scores = scoreAll();
    equal(scores.length, Object.keys(DRAIN_GA).length);
    for (const s of scores) {
      ok(s.raw >= s.drain, `${s.name} raw GA ${s.raw} < Drain ${s.drain}`);
      ok(s.content >= s.drain, `${s.name} content GA ${s.content} < Drain ${s.drain}`);
    }
    const avg = (k: "raw" | "content") => scores.reduce((a, s) => a + s[k], 0) / scores.length;
    ok(avg("raw") >= 0.92, `average raw GA ${avg("raw")}`);
    ok(avg("content") >= 0.92, `average content GA ${avg("content")}`);
  },
});

Deno.test({
  name: "deno task patterns prints the grouping that is scored",
  ignore: !have,
  async fn() {
    const d = readDataset(LOGHUB_DIR, "OpenSSH");
    const cmd = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--no-prompt",
        new URL("../../tools/patterns/main.ts", import.meta.url).pathname,
      ],
      stdin: "piped",
      stdout: "piped",
    }).spawn();
    const w = cmd.stdin.getWriter();
    await w.write(new TextEncoder().encode(d.raw.join("\n") + "\n"));
    await w.close();
    const out = await cmd.output();
    equal(out.code, 0);
    const ids = new TextDecoder().decode(out.stdout).trimEnd().split("\n");
    equal(ids.join(","), groupLines(d.raw).join(","));
  },
});
