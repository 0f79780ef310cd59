/**
 * A small reader of the Prometheus text exposition for the container tests, and polling with a
 * deadline that reports the last thing it saw when it gives up.
 *
 * @module
 */
import { scrape } from "../helpers/agent_process.ts";

/** One sample line. */
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

function unescape(v: string): string {
  return v.replace(/\\(["\\n])/g, (_, c) => (c === "n" ? "\n" : c));
}

/** Parses every sample line of a text exposition (comments and blank lines skipped). */
export function parseSamples(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const brace = line.indexOf("{");
    const space = line.indexOf(" ");
    let name: string, rest: string;
    const labels: Record<string, string> = {};
    if (brace >= 0 && (space < 0 || brace < space)) {
      name = line.slice(0, brace);
      let i = brace + 1;
      for (;;) {
        while (line[i] === "," || line[i] === " ") i++;
        if (line[i] === "}") break;
        const eq = line.indexOf("=", i);
        if (eq < 0 || line[eq + 1] !== '"') throw new Error(`bad labels: ${line}`);
        const key = line.slice(i, eq);
        let j = eq + 2;
        let raw = "";
        while (j < line.length && line[j] !== '"') {
          if (line[j] === "\\") {
            raw += line.slice(j, j + 2);
            j += 2;
          } else raw += line[j++];
        }
        if (j >= line.length) throw new Error(`unterminated label value: ${line}`);
        labels[key] = unescape(raw);
        i = j + 1;
      }
      rest = line.slice(i + 1).trim();
    } else {
      name = line.slice(0, space);
      rest = line.slice(space + 1).trim();
    }
    const valueText = rest.split(/\s+/)[0];
    const value = valueText === "+Inf"
      ? Infinity
      : valueText === "-Inf"
      ? -Infinity
      : Number(valueText);
    out.push({ name, labels, value });
  }
  return out;
}

/** A parsed scrape with lookups by family and container. */
export class Scrape {
  readonly samples: Sample[];
  constructor(readonly text: string) {
    this.samples = parseSamples(text);
  }

  /** Samples of a metric, optionally restricted to matching labels. */
  find(name: string, labels: Record<string, string> = {}): Sample[] {
    return this.samples.filter((s) =>
      s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v)
    );
  }

  /** The single value of a series, undefined if absent; throws if several match. */
  value(name: string, labels: Record<string, string> = {}): number | undefined {
    const f = this.find(name, labels);
    if (f.length > 1) {
      throw new Error(`${name}${JSON.stringify(labels)} matches ${f.length} series`);
    }
    return f[0]?.value;
  }

  /** Every sample carrying `container_id="<id>"`. */
  ofContainer(id: string): Sample[] {
    return this.samples.filter((s) => s.labels.container_id === id);
  }

  /** The raw lines mentioning a container id, for failure messages. */
  linesOf(id: string): string {
    const needle = `container_id="${id}"`;
    return this.text.split("\n").filter((l) => l.includes(needle)).join("\n") || "(none)";
  }
}

/** Scrapes and parses `/metrics`. */
export async function scrapeParsed(url: string): Promise<Scrape> {
  return new Scrape(await scrape(url));
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/**
 * Calls `check` every `everyMs` until it returns a value other than undefined, or throws
 * after `timeoutMs` with `describe()` of the last state (e.g. the lines the agent served).
 */
export async function waitFor<T>(
  what: string,
  check: () => Promise<T | undefined>,
  opts: { timeoutMs?: number; everyMs?: number; describe?: () => string } = {},
): Promise<T> {
  const timeoutMs = opts.timeoutMs ?? 15_000;
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v !== undefined) return v;
      lastError = undefined;
    } catch (e) {
      lastError = e;
    }
    if (Date.now() > deadline) {
      const state = opts.describe ? `\nlast seen:\n${opts.describe()}` : "";
      const err = lastError ? `\nlast error: ${lastError}` : "";
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${err}${state}`);
    }
    await sleep(opts.everyMs ?? 100);
  }
}
