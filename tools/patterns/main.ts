/**
 * `deno task patterns`: reads one message per line on stdin and prints, for each, the id of the
 * pattern the agent's classifier puts it in (one per line, same order). Every line is grouped,
 * whatever its level; there is no pattern cap unless `--max-patterns=N` is given.
 *
 * Ids are small integers in the order patterns were first seen; `--hash` prints the pattern's
 * `pattern_hash` instead (two patterns may share one, see README "Logs").
 *
 * @module
 */
import { PatternClassifier } from "../../agent/logs/parser/classifier.ts";

function arg(name: string): string | undefined {
  const a = Deno.args.find((x) => x.startsWith(`--${name}=`));
  return a?.slice(name.length + 3);
}

/** The agent's cap on one message (README "Logs": the multiline collector cuts at 64 KiB). */
const MAX_LINE = 65536;

if (import.meta.main) {
  const unknown = Deno.args.filter((a) => a !== "--hash" && !a.startsWith("--max-patterns="));
  if (unknown.length > 0) {
    console.error(`patterns: unknown argument ${unknown[0]}; accepted: --hash, --max-patterns=N`);
    Deno.exit(2);
  }
  const max = Number(arg("max-patterns") ?? Infinity);
  if (!(max > 0)) {
    console.error(`--max-patterns must be a positive number, got ${arg("max-patterns")}`);
    Deno.exit(2);
  }
  const hash = Deno.args.includes("--hash");
  const c = new PatternClassifier({ maxPatterns: max });
  const ids = new Map<object, number>();
  const enc = new TextEncoder();
  let out = "";
  let rest = "";
  const flush = async (force: boolean) => {
    if (out.length > 65536 || (force && out.length > 0)) {
      const b = enc.encode(out);
      out = "";
      for (let o = 0; o < b.length;) o += await Deno.stdout.write(b.subarray(o));
    }
  };
  const one = (line: string) => {
    if (line.endsWith("\r")) line = line.slice(0, -1);
    if (line.length > MAX_LINE) line = line.slice(0, MAX_LINE);
    const p = c.classify(line);
    if (hash) out += p.hash + "\n";
    else {
      let id = ids.get(p);
      if (id === undefined) ids.set(p, id = ids.size);
      out += id + "\n";
    }
  };
  for await (const chunk of Deno.stdin.readable.pipeThrough(new TextDecoderStream())) {
    const parts = (rest + chunk).split("\n");
    rest = parts.pop()!;
    // a line without its newline yet keeps only what the cap would keep (and a marker that it
    // is longer), so one endless line costs 64 KiB, not all of it
    if (rest.length > MAX_LINE + 1) rest = rest.slice(0, MAX_LINE + 1);
    for (const l of parts) one(l);
    await flush(false);
  }
  if (rest.length > 0) one(rest);
  await flush(true);
}
