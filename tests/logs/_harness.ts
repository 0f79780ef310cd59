/**
 * What the logs tests share: lines at every level, counting what the agent served per level,
 * and a writer process in a cgroup of its own that holds a log file open and writes what the
 * test sends it.
 *
 * @module
 */
import { deepEqual } from "node:assert/strict";
import type { TestCgroup } from "../containers/cgroups.ts";
import { type Scrape, scrapeParsed, waitFor } from "../containers/metrics.ts";

/** The levels the tests write, each with the word that marks it. */
export const LEVEL_WORDS = {
  debug: "DEBUG",
  info: "INFO",
  warning: "WARNING",
  error: "ERROR",
  critical: "CRITICAL",
} as const;

export type TestLevel = keyof typeof LEVEL_WORDS;
export const TEST_LEVELS = Object.keys(LEVEL_WORDS) as TestLevel[];

/**
 * `n` lines at each level, interleaved, numbered from `from`; the lines of one level differ in
 * their numbers only (one pattern per level). No time of day in them: a `dd:dd:dd` would make
 * the multiline collector join lines without one.
 */
export function levelLines(n: number, tag: string, from = 0): string[] {
  const out: string[] = [];
  for (let i = from; i < from + n; i++) {
    for (const l of TEST_LEVELS) {
      out.push(`${LEVEL_WORDS[l]} ${tag} request ${i} handled by worker ${i % 7}`);
    }
  }
  return out;
}

/** `container_log_messages_total` of one container and source, summed per level. */
export function levelCounts(s: Scrape, id: string, source: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const x of s.find("container_log_messages_total", { container_id: id, source })) {
    const l = x.labels.level;
    out[l] = (out[l] ?? 0) + x.value;
  }
  return out;
}

/** The same, levels the tests write only (warm-up lines are `unknown`). */
export function testLevelCounts(s: Scrape, id: string, source: string): Record<string, number> {
  const all = levelCounts(s, id, source);
  return Object.fromEntries(TEST_LEVELS.map((l) => [l, all[l] ?? 0]));
}

/** `{debug: n, info: n, ...}`. */
export function eachLevel(n: number): Record<string, number> {
  return Object.fromEntries(TEST_LEVELS.map((l) => [l, n]));
}

/** Sums a self-metric over its series matching `labels`. */
export function total(s: Scrape, name: string, labels: Record<string, string> = {}): number {
  return s.find(name, labels).reduce((a, x) => a + x.value, 0);
}

/**
 * Waits until the agent serves exactly `want` per level for a container's source, then waits
 * two more collect rounds and checks it did not move (nothing counted twice, late).
 */
export async function expectLevelCounts(
  url: string,
  id: string,
  source: string,
  want: Record<string, number>,
  timeoutMs = 20_000,
): Promise<Scrape> {
  let last: Scrape | undefined;
  await waitFor(`${id} ${source} counts ${JSON.stringify(want)}`, async () => {
    last = await scrapeParsed(url);
    const got = testLevelCounts(last, id, source);
    return Object.entries(want).every(([l, n]) => got[l] === n) ? true : undefined;
  }, {
    timeoutMs,
    describe: () =>
      last ? JSON.stringify(testLevelCounts(last, id, source)) + "\n" + last.linesOf(id) : "",
  });
  await new Promise((r) => setTimeout(r, 2500)); // the multiline timeout (1 s) and two rounds
  const after = await scrapeParsed(url);
  deepEqual(testLevelCounts(after, id, source), { ...eachLevel(0), ...want }, after.linesOf(id));
  return after;
}

/** Waits until the agent counted at least one `unknown` line (a warm-up) of a source. */
export async function waitWarm(url: string, id: string, source: string): Promise<void> {
  let last: Scrape | undefined;
  await waitFor(`a warm-up line of ${id} ${source}`, async () => {
    last = await scrapeParsed(url);
    return (levelCounts(last, id, source).unknown ?? 0) > 0 ? true : undefined;
  }, { timeoutMs: 20_000, describe: () => last?.linesOf(id) ?? "" });
}

const enc = new TextEncoder();

/**
 * A shell in `cg` that opens `path` for appending (O_WRONLY) on fd 3 and writes each line the
 * test sends; `@reopen` opens the path again (what a program does after rotation), `@cat FILE`
 * copies a file's bytes as they are.
 */
export class LineWriter {
  readonly pid: number;
  readonly #child: Deno.ChildProcess;
  readonly #in: WritableStreamDefaultWriter<Uint8Array>;

  private constructor(child: Deno.ChildProcess) {
    this.#child = child;
    this.pid = child.pid;
    this.#in = child.stdin.getWriter();
  }

  static start(cg: TestCgroup, path: string, env: Record<string, string> = {}): LineWriter {
    // join, then exec the writer: a service's program starts in its cgroup, so the registry
    // learns the cgroup from the exec (as it would from systemd's)
    const writer = `exec 3>>"$1"
while IFS= read -r l; do
  case "$l" in
    "@reopen") exec 3>>"$1" ;;
    "@cat "*) cat "\${l#@cat }" >&3 ;;
    "@done") echo done ;;
    *) printf '%s\\n' "$l" >&3 ;;
  esac
done`;
    const script = `${cg.joinScript()}
exec sh -c '${writer.replaceAll("'", "'\\''")}' sh "$1"`;
    const child = new Deno.Command("sh", {
      args: ["-c", script, "sh", path],
      stdin: "piped",
      stdout: "piped",
      stderr: "inherit",
      env,
    }).spawn();
    return new LineWriter(child);
  }

  /** Sends lines (or commands) and waits until the shell handled them all. */
  async send(lines: readonly string[]): Promise<void> {
    await this.#in.write(enc.encode(lines.map((l) => l + "\n").join("") + "@done\n"));
    const r = this.#child.stdout.getReader();
    let got = "";
    try {
      while (!got.includes("done\n")) {
        const { value, done } = await r.read();
        if (done) throw new Error("the writer shell ended");
        got += new TextDecoder().decode(value);
      }
    } finally {
      r.releaseLock();
    }
  }

  async stop(): Promise<void> {
    try {
      await this.#in.close();
    } catch { /* already closed */ }
    try {
      this.#child.kill("SIGKILL");
    } catch { /* gone */ }
    await this.#child.status;
    await this.#child.stdout.cancel().catch(() => {});
  }
}
