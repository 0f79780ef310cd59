/**
 * A small, strict OpenMetrics 1.0 text checker for tests: one regex per line kind, taken from
 * the ABNF of the specification, plus the family and histogram rules the ABNF cannot say
 * (no interleaving, unique label sets, counter `_total` samples, cumulative buckets with
 * `+Inf` equal to `_count`). It reports problems instead of throwing so a test can show all.
 *
 * Private to `agent/metrics/` (test support).
 *
 * @module
 */

const NAME = "[a-zA-Z_:][a-zA-Z0-9_:]*";
const LABEL_NAME = "[a-zA-Z_][a-zA-Z0-9_]*";
/** escaped-string, strict: only `\n`, `\"`, `\\` escapes, no raw `"` or `\`. */
const ESCAPED = '(?:[^\\\\"\\n]|\\\\[n"\\\\])*';
const NUMBER =
  "(?:[+-]?(?:[0-9]+(?:\\.[0-9]*)?|\\.[0-9]+)(?:[eE][+-]?[0-9]+)?|[+-]?[iI][nN][fF](?:[iI][nN][iI][tT][yY])?|[nN][aA][nN])";
const REAL = "[+-]?(?:[0-9]+(?:\\.[0-9]*)?|\\.[0-9]+)(?:[eE][+-]?[0-9]+)?";
const LABELS = `\\{(?:${LABEL_NAME}="${ESCAPED}"(?:,${LABEL_NAME}="${ESCAPED}")*)?\\}`;

const METADATA_REGEXP = new RegExp(`^# (TYPE|HELP|UNIT) (${NAME}) (.*)$`);
const TYPE_VALUE_REGEXP =
  /^(?:counter|gauge|histogram|gaugehistogram|stateset|info|summary|unknown)$/;
const HELP_VALUE_REGEXP = new RegExp(`^${ESCAPED}$`);
const SAMPLE_REGEXP = new RegExp(
  `^(${NAME})(${LABELS})? (${NUMBER})(?: (${REAL}))?(?: # (${LABELS}) (${NUMBER})(?: (${REAL}))?)?$`,
);
const LABEL_PAIR_REGEXP = new RegExp(`(${LABEL_NAME})="(${ESCAPED})"`, "g");

const SUFFIXES: Record<string, readonly string[]> = {
  counter: ["_total", "_created"],
  gauge: [""],
  unknown: [""],
  stateset: [""],
  info: ["_info"],
  summary: ["", "_sum", "_count", "_created"],
  histogram: ["_bucket", "_sum", "_count", "_created"],
  gaugehistogram: ["_bucket", "_gsum", "_gcount"],
};

/** Parses an OpenMetrics number (`+Inf`, `NaN`, reals). */
export function parseOpenMetricsNumber(s: string): number {
  const lower = s.toLowerCase();
  if (lower === "nan") return NaN;
  if (/^[+]?inf(inity)?$/.test(lower)) return Infinity;
  if (/^-inf(inity)?$/.test(lower)) return -Infinity;
  return Number(s);
}

function unescape(s: string): string {
  return s.replace(/\\(["\\n])/g, (_, c: string) => (c === "n" ? "\n" : c));
}

interface Family {
  name: string;
  type: string;
  seen: Set<string>;
  samples: number;
  /** Label sets (without `le`) already finished, to detect interleaving. */
  doneMetrics: Set<string>;
  currentMetric?: string;
  /** Sample name + full label set, to detect duplicates. */
  points: Set<string>;
  bucket?: { le: number; value: number; infValue?: number; count?: number };
}

/**
 * Checks an exposition against OpenMetrics 1.0.
 *
 * @returns problems, each `line N: what`; empty when the text is valid.
 */
export function checkOpenMetrics(text: string): string[] {
  const problems: string[] = [];
  if (text.includes("\r")) problems.push("the text contains a carriage return");
  if (!text.endsWith("# EOF\n") && !text.endsWith("# EOF")) {
    problems.push('the text does not end with "# EOF"');
  }
  const lines = text.split("\n");
  if (lines[lines.length - 1] === "") lines.pop();
  const families = new Set<string>();
  let fam: Family | undefined;

  const finishMetric = (f: Family, n: number) => {
    if (f.currentMetric === undefined) return;
    if (f.type === "histogram" || f.type === "gaugehistogram") {
      const b = f.bucket;
      if (b === undefined) {
        problems.push(`line ${n}: histogram ${f.name} has a metric without buckets`);
      } else if (b.infValue === undefined) {
        problems.push(`line ${n}: histogram ${f.name} has a metric without a +Inf bucket`);
      } else if (b.count !== undefined && b.count !== b.infValue) {
        problems.push(
          `line ${n}: histogram ${f.name}: _count ${b.count} differs from the +Inf bucket ${b.infValue}`,
        );
      }
    }
    f.doneMetrics.add(f.currentMetric);
    f.currentMetric = undefined;
    f.bucket = undefined;
  };

  for (let i = 0; i < lines.length; i++) {
    const n = i + 1;
    const line = lines[i];
    if (line === "# EOF") {
      if (i !== lines.length - 1) problems.push(`line ${n}: "# EOF" is not the last line`);
      if (fam) finishMetric(fam, n);
      continue;
    }
    if (line.startsWith("#")) {
      const m = METADATA_REGEXP.exec(line);
      if (!m) {
        problems.push(`line ${n}: a "#" line that is neither TYPE, HELP, UNIT nor EOF`);
        continue;
      }
      const [, kind, name, value] = m;
      if (fam === undefined || fam.name !== name || fam.samples > 0) {
        if (fam) finishMetric(fam, n);
        if (families.has(name)) problems.push(`line ${n}: family ${name} appears twice`);
        families.add(name);
        fam = {
          name,
          type: "unknown",
          seen: new Set(),
          samples: 0,
          doneMetrics: new Set(),
          points: new Set(),
        };
      }
      if (fam.seen.has(kind)) problems.push(`line ${n}: a second ${kind} line for ${name}`);
      fam.seen.add(kind);
      if (kind === "TYPE") {
        if (!TYPE_VALUE_REGEXP.test(value)) problems.push(`line ${n}: unknown type "${value}"`);
        else fam.type = value;
        if (fam.seen.size > 1) problems.push(`line ${n}: TYPE should come first`);
      } else if (kind === "HELP") {
        if (!HELP_VALUE_REGEXP.test(value)) problems.push(`line ${n}: badly escaped HELP text`);
      } else if (value !== "" && !name.endsWith("_" + value)) {
        problems.push(`line ${n}: unit "${value}" is not a suffix of ${name}`);
      }
      continue;
    }
    const m = SAMPLE_REGEXP.exec(line);
    if (!m) {
      problems.push(`line ${n}: not a valid sample line: ${JSON.stringify(line)}`);
      continue;
    }
    const [, sampleName, labelText = "", valueText, , exemplar] = m;
    const value = parseOpenMetricsNumber(valueText);
    if (
      fam === undefined || !(SUFFIXES[fam.type] ?? [""]).some((s) => fam!.name + s === sampleName)
    ) {
      problems.push(
        `line ${n}: sample ${sampleName} does not belong to family ${
          fam?.name ?? "(none)"
        } of type ${fam?.type ?? "(none)"}`,
      );
      continue;
    }
    fam.samples++;
    const labels = new Map<string, string>();
    for (const lm of labelText.matchAll(LABEL_PAIR_REGEXP)) {
      if (labels.has(lm[1])) problems.push(`line ${n}: label ${lm[1]} appears twice`);
      labels.set(lm[1], unescape(lm[2]));
    }
    const suffix = sampleName.slice(fam.name.length);
    const isBucket = suffix === "_bucket";
    const metricKey = [...labels].filter(([k]) => !(isBucket && k === "le")).sort()
      .map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(",");
    const pointKey = `${sampleName}{${[...labels].sort().join(",")}}`;
    if (fam.points.has(pointKey)) problems.push(`line ${n}: duplicate sample ${pointKey}`);
    fam.points.add(pointKey);
    if (fam.currentMetric !== metricKey) {
      finishMetric(fam, n);
      if (fam.doneMetrics.has(metricKey)) {
        problems.push(`line ${n}: metric {${metricKey}} of ${fam.name} is interleaved`);
      }
      fam.currentMetric = metricKey;
    }
    if (exemplar !== undefined && !(fam.type === "counter" && suffix === "_total") && !isBucket) {
      problems.push(`line ${n}: exemplar on a sample that cannot carry one`);
    }
    if (fam.type === "counter" && suffix === "_total" && (Number.isNaN(value) || value < 0)) {
      problems.push(`line ${n}: counter total ${valueText} is negative or NaN`);
    }
    if (fam.type === "histogram" || fam.type === "gaugehistogram") {
      if (labels.has("le") && !isBucket) problems.push(`line ${n}: le label outside a bucket`);
      if (isBucket) {
        const leText = labels.get("le");
        if (leText === undefined) {
          problems.push(`line ${n}: bucket without le label`);
          continue;
        }
        const le = parseOpenMetricsNumber(leText);
        if (Number.isNaN(le)) problems.push(`line ${n}: le is NaN`);
        if (!Number.isInteger(value) || value < 0) {
          problems.push(`line ${n}: bucket value ${valueText} is not a non-negative integer`);
        }
        const b = fam.bucket;
        if (b !== undefined && b.infValue !== undefined) {
          problems.push(`line ${n}: bucket after the +Inf bucket`);
        }
        if (b !== undefined && !(le > b.le)) problems.push(`line ${n}: le values not increasing`);
        if (b !== undefined && value < b.value) problems.push(`line ${n}: buckets not cumulative`);
        fam.bucket = { le, value, infValue: le === Infinity ? value : undefined };
      } else if (suffix === "_count" || suffix === "_gcount") {
        if (!Number.isInteger(value) || value < 0) {
          problems.push(`line ${n}: count ${valueText} is not a non-negative integer`);
        }
        if (fam.bucket) fam.bucket.count = value;
        else problems.push(`line ${n}: count before the buckets`);
      } else if (
        suffix === "_sum" && fam.type === "histogram" && (Number.isNaN(value) || value < 0)
      ) {
        problems.push(`line ${n}: histogram sum ${valueText} is negative or NaN`);
      }
    }
  }
  return problems;
}
