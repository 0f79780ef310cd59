/**
 * Shared pieces of the push tests: a real Prometheus (Debian's) with its remote-write receiver
 * on a loopback port, the agent started on the fixture host in push mode with the grants the
 * launcher builds (`tools/sandbox/args.ts`: the net list narrowed to the endpoints, write and
 * read on the spool), and small readers of its /metrics.
 *
 * @module
 */
import denoJson from "../../deno.json" with { type: "json" };
import { narrowedNet, pushGrants } from "../../tools/sandbox/args.ts";
import { type AgentProcess, startAgent } from "../helpers/agent_process.ts";
import { parseSamples, sleep } from "../containers/metrics.ts";

export const PROMETHEUS = "/usr/bin/prometheus";
export const HAVE_PROMETHEUS: boolean = (() => {
  try {
    return Deno.statSync(PROMETHEUS).isFile;
  } catch {
    return false;
  }
})();

/** Where the agent listens in push mode (forced, as in the reference). */
export const PUSH_PORT = 10300;

/** A Prometheus child with `--web.enable-remote-write-receiver`. */
export class Prometheus {
  readonly port: number;
  readonly dir: string;
  #child?: Deno.ChildProcess;

  constructor(port: number, dir: string) {
    this.port = port;
    this.dir = dir;
  }

  get writeUrl(): string {
    return `http://127.0.0.1:${this.port}/api/v1/write`;
  }

  /** Starts it (keeping the storage of an earlier start) and waits until it is ready. */
  async start(): Promise<void> {
    await Deno.writeTextFile(`${this.dir}/prometheus.yml`, "global:\n  scrape_interval: 1m\n");
    this.#child = new Deno.Command(PROMETHEUS, {
      args: [
        `--config.file=${this.dir}/prometheus.yml`,
        `--storage.tsdb.path=${this.dir}/data`,
        `--web.listen-address=127.0.0.1:${this.port}`,
        "--web.enable-remote-write-receiver",
      ],
      stdout: "null",
      stderr: "null",
      stdin: "null",
    }).spawn();
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline) {
      try {
        const r = await fetch(`http://127.0.0.1:${this.port}/-/ready`);
        await r.body?.cancel();
        if (r.status === 200) return;
      } catch { /* not yet */ }
      await sleep(100);
    }
    throw new Error("Prometheus did not become ready in 30 s");
  }

  /** Stops it (SIGTERM) and waits for the exit. */
  async stop(): Promise<void> {
    const c = this.#child;
    this.#child = undefined;
    if (c === undefined) return;
    try {
      c.kill("SIGTERM");
    } catch { /* gone */ }
    await c.status;
  }

  /** An instant query. */
  async query(q: string, time?: number): Promise<PromSeries[]> {
    const t = time === undefined ? "" : `&time=${time}`;
    const r = await fetch(
      `http://127.0.0.1:${this.port}/api/v1/query?query=${encodeURIComponent(q)}${t}`,
    );
    const body = await r.json();
    if (body.status !== "success") throw new Error(`query ${q}: ${JSON.stringify(body)}`);
    return body.data.result;
  }
}

/** One series of a query answer (`value` for vectors, `values` for range vectors). */
export interface PromSeries {
  metric: Record<string, string>;
  value?: [number, string];
  values?: [number, string][];
}

/** Options of {@linkcode startPushAgent}. */
export interface PushAgentOptions {
  readonly walDir: string;
  /** The agent's push flags (endpoints, intervals, ...). */
  readonly args: string[];
}

/**
 * The agent on the fixture host (`-P=fixture`) in push mode, with Deno grants built as the
 * launcher builds them: `--allow-net` narrowed to the listen address and the endpoints,
 * `--allow-write`/`--allow-read` on the spool (and `--ca-file`),
 * `--unsafely-ignore-certificate-errors` for `--insecure-skip-verify`.
 */
export function startPushAgent(o: PushAgentOptions): AgentProcess {
  const args = [
    "--host-root=tests/fixtures/host",
    `--listen=127.0.0.1:${PUSH_PORT}`,
    `--wal-dir=${o.walDir}`,
    "--scrape-interval=1s",
    "--push-retry-max=2s",
    "--log-level=debug",
    ...o.args,
  ];
  const set = denoJson.permissions.fixture;
  const none = () => undefined;
  const net = narrowedNet(set.net, args, none);
  const grants = pushGrants(set.read, args, none);
  return startAgent({
    permissions: ["-P=fixture", `--allow-net=${net.join(",")}`, ...grants.denoFlags],
    args,
  });
}

/** The agent's samples of a family (sum over series), from /metrics. */
export async function metricSum(
  agent: AgentProcess,
  name: string,
  labels: Record<string, string> = {},
): Promise<number> {
  const r = await fetch(`${agent.url}/metrics`);
  const samples = parseSamples(await r.text());
  return samples
    .filter((s) => s.name === name)
    .filter((s) => Object.entries(labels).every(([k, v]) => s.labels[k] === v))
    .reduce((a, s) => a + s.value, 0);
}

/** The spool's batch timestamps (ms), from the file names. */
export function spooled(walDir: string): number[] {
  try {
    return [...Deno.readDirSync(`${walDir}/spool`)]
      .map((e) => /^spool-(\d+)\.done$/.exec(e.name)?.[1])
      .filter((x): x is string => x !== undefined)
      .map(Number)
      .sort((a, b) => a - b);
  } catch {
    return [];
  }
}

/** Polls `f` until it returns a value other than undefined/false, or throws after `ms`. */
export async function until<T>(
  what: string,
  f: () => Promise<T | undefined | false> | T | undefined | false,
  ms = 60_000,
  agent?: AgentProcess,
): Promise<T> {
  const deadline = Date.now() + ms;
  while (true) {
    const v = await f();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) {
      throw new Error(
        `${what}: not within ${ms} ms${
          agent ? `; agent stderr:\n${agent.stderr().slice(-4000)}` : ""
        }`,
      );
    }
    await sleep(200);
  }
}

/** Every collector of the agent reports success (scrape path and collectors unaffected). */
export async function collectorsHealthy(agent: AgentProcess): Promise<boolean> {
  const r = await fetch(`${agent.url}/metrics`);
  const samples = parseSamples(await r.text());
  const success = samples.filter((s) => s.name === "osprey_collector_success");
  return success.length > 0 && success.every((s) => s.value === 1);
}
