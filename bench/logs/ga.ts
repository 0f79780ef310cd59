/**
 * Group accuracy (GA) of the pattern grouping on the Loghub-2k datasets.
 *
 * GA (Zhu et al., "Tools and Benchmarks for Automated Log Parsing", ICSE-SEIP 2019): the share
 * of lines whose predicted group holds exactly the same lines as their ground-truth group
 * (`EventId`). Each dataset is scored twice: on its raw lines (`<Name>_2k.log`, headers and
 * all) and on the `Content` column of `<Name>_2k.log_structured.csv`.
 *
 * The grouping is `groupLines()` of tools/patterns (what `deno task patterns` prints).
 *
 * Usage: deno run -A bench/logs/ga.ts [--data=/work/shared/data/loghub] [--json]
 *
 * @module
 */
import { flag } from "../_args.ts";
import { groupLines } from "../../tools/patterns/group.ts";

/** Drain's published GA per dataset (Zhu et al. 2019), as the data folder's README lists it. */
export const DRAIN_GA: Record<string, number> = {
  HDFS: 0.998,
  Hadoop: 0.948,
  Spark: 0.920,
  Zookeeper: 0.967,
  OpenStack: 0.733,
  Apache: 1.000,
  Linux: 0.690,
  OpenSSH: 0.788,
};

/** The default data folder. */
export const LOGHUB_DIR = "/work/shared/data/loghub";

/** Splits one CSV record line (RFC 4180 quoting; records here never span lines). */
export function csvFields(line: string): string[] {
  const out: string[] = [];
  let i = 0;
  const n = line.length;
  while (i <= n) {
    if (line.charCodeAt(i) === 0x22) {
      let v = "";
      i++;
      for (;;) {
        const q = line.indexOf('"', i);
        if (q < 0) {
          throw new SyntaxError(`Unterminated quoted CSV field in ${JSON.stringify(line)}`);
        }
        v += line.slice(i, q);
        if (line.charCodeAt(q + 1) === 0x22) {
          v += '"';
          i = q + 2;
          continue;
        }
        i = q + 1;
        break;
      }
      out.push(v);
      i++; // the comma
    } else {
      let c = line.indexOf(",", i);
      if (c < 0) c = n;
      out.push(line.slice(i, c));
      i = c + 1;
    }
  }
  return out;
}

/** One dataset: raw lines, contents and ground-truth event ids, in the same order. */
export interface Dataset {
  name: string;
  raw: string[];
  content: string[];
  events: string[];
}

/** Reads one Loghub-2k dataset. */
export function readDataset(dir: string, name: string): Dataset {
  // the files end their lines with CRLF
  const text = (f: string) =>
    Deno.readTextFileSync(`${dir}/${name}/${f}`).split(/\r?\n/).filter((l) => l.length > 0);
  const raw = text(`${name}_2k.log`);
  const rows = text(`${name}_2k.log_structured.csv`);
  const header = csvFields(rows[0]);
  const ci = header.indexOf("Content"), ei = header.indexOf("EventId");
  if (ci < 0 || ei < 0) throw new Error(`${name}: no Content or EventId column`);
  const content: string[] = [], events: string[] = [];
  for (const r of rows.slice(1)) {
    const f = csvFields(r);
    content.push(f[ci]);
    events.push(f[ei]);
  }
  if (raw.length !== content.length) {
    throw new Error(`${name}: ${raw.length} raw lines but ${content.length} structured rows`);
  }
  return { name, raw, content, events };
}

/** Grouping accuracy of `predicted` against `truth` (parallel arrays of group ids). */
export function groupAccuracy(predicted: readonly string[], truth: readonly string[]): number {
  const byTruth = new Map<string, number[]>();
  const byPred = new Map<string, number[]>();
  for (let i = 0; i < truth.length; i++) {
    (byTruth.get(truth[i]) ?? byTruth.set(truth[i], []).get(truth[i])!).push(i);
    (byPred.get(predicted[i]) ?? byPred.set(predicted[i], []).get(predicted[i])!).push(i);
  }
  let correct = 0;
  for (const lines of byPred.values()) {
    const t = truth[lines[0]];
    if (lines.every((i) => truth[i] === t) && byTruth.get(t)!.length === lines.length) {
      correct += lines.length;
    }
  }
  return correct / truth.length;
}

/** GA of one dataset, raw and content. */
export interface DatasetScore {
  name: string;
  raw: number;
  content: number;
  drain: number;
}

/** Scores every dataset folder under `dir` that Drain has a figure for. */
export function scoreAll(dir: string = LOGHUB_DIR): DatasetScore[] {
  const out: DatasetScore[] = [];
  for (const name of Object.keys(DRAIN_GA)) {
    const d = readDataset(dir, name);
    out.push({
      name,
      raw: groupAccuracy(groupLines(d.raw), d.events),
      content: groupAccuracy(groupLines(d.content), d.events),
      drain: DRAIN_GA[name],
    });
  }
  return out;
}

if (import.meta.main) {
  const scores = scoreAll(flag("data", LOGHUB_DIR));
  if (Deno.args.includes("--json")) {
    console.log(JSON.stringify(scores));
  } else {
    const f = (x: number) => x.toFixed(3);
    console.log("dataset     raw    content  Drain");
    for (const s of scores) {
      console.log(`${s.name.padEnd(10)}  ${f(s.raw)}  ${f(s.content)}    ${f(s.drain)}`);
    }
    const avg = (k: "raw" | "content" | "drain") =>
      scores.reduce((a, s) => a + s[k], 0) / scores.length;
    console.log(
      `${"average".padEnd(10)}  ${f(avg("raw"))}  ${f(avg("content"))}    ${f(avg("drain"))}`,
    );
  }
}
