/**
 * Starts the real agent as a child process for end-to-end tests: a free loopback port, the
 * permission set or flags the test chooses, stderr captured, and helpers to wait for
 * readiness, scrape and stop it with a signal.
 *
 * @module
 */

import denoJson from "../../deno.json" with { type: "json" };
import { launcherArgs, portsFromAgentArgs } from "../../tools/sandbox/args.ts";

const ROOT = new URL("../../", import.meta.url).pathname.replace(/\/$/, "");

/** The repository root, absolute. */
export const REPO_ROOT: string = ROOT;

/** V8 settings the agent ships with (`deno task start`, the package): tests run it the same way. */
export const AGENT_V8_FLAGS: readonly string[] = [
  "--v8-flags=--max-semi-space-size=1,--expose-gc",
];

/** Environment the agent ships with (deno.json's start task, the package). */
export const AGENT_ENV: Readonly<Record<string, string>> = {
  MALLOC_ARENA_MAX: "2",
  MALLOC_MMAP_THRESHOLD_: "131072",
};

/** The Landlock launcher `deno task build` makes (README, "Security model"). */
export const SANDBOX_LAUNCHER: string = `${ROOT}/ffi/.output/osprey-sandbox`;

/**
 * The launcher command (ending in `--`) that applies deno.json's "agent" set as Landlock rules
 * for an agent run with `args` and `env`, as tools/sandbox/start.sh does for `deno task start`.
 * Throws SandboxArgsError (tools/sandbox/args.ts) on a listen address without a port.
 */
export function sandboxWrap(args: readonly string[], env: Record<string, string> = {}): string[] {
  const home = Deno.env.get("HOME");
  const denoDir = Deno.env.get("DENO_DIR") ??
    (home === undefined ? undefined : `${home}/.cache/deno`);
  return [
    SANDBOX_LAUNCHER,
    ...launcherArgs({
      read: denoJson.permissions.agent.read,
      write: [],
      denoBin: Deno.execPath(),
      denoDir,
      repo: ROOT,
      ...portsFromAgentArgs(args, (k) => env[k] ?? Deno.env.get(k)),
    }),
    "--",
  ];
}

/**
 * `OSPREY_TEST_SANDBOX=1` runs every agent {@linkcode startAgent} starts with `-P=agent` (and
 * without `wrap` or `asUser`) under the Landlock launcher with that set's rules: the end-to-end
 * suites then check the sandboxed agent. Agents with other permissions (`-A` and a fixture host
 * in a temporary directory, say) run as before: the rules would not match what they read.
 */
const SANDBOX_ALL = Deno.env.get("OSPREY_TEST_SANDBOX") === "1";

/** Returns a TCP port on 127.0.0.1 that was free a moment ago. */
export function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

/** Options for {@linkcode startAgent}. */
export interface StartAgentOptions {
  /** Deno permission arguments, e.g. `["-P=agent"]` or `["--allow-net=127.0.0.1"]`. */
  permissions: string[];
  /**
   * Agent flags; `--listen` is added unless present, and `--cloud-metadata-base-url` (a closed
   * loopback port) unless present.
   */
  args?: string[];
  env?: Record<string, string>;
  /** Run as this uid/gid (through setpriv) instead of the test's own user. */
  asUser?: number;
  /**
   * A command the agent is started through, which must end by exec-ing the deno command line
   * appended to it (e.g. `["unshare", "--cgroup"]`), so the agent keeps the child's pid and gets
   * its signals. Not with `asUser`.
   */
  wrap?: string[];
}

/** A running agent child. */
export interface AgentProcess {
  readonly child: Deno.ChildProcess;
  readonly port: number;
  readonly url: string;
  /** Everything the agent wrote to stderr so far. */
  stderr(): string;
  /** Polls `/readyz` until 200 or the timeout; throws with the agent's stderr on timeout. */
  waitReady(timeoutMs?: number): Promise<void>;
  /** Polls `/healthz` until it answers. */
  waitListening(timeoutMs?: number): Promise<void>;
  /** Sends a signal and resolves with the exit status and how long the exit took. */
  stop(signal?: Deno.Signal): Promise<{ status: Deno.CommandStatus; ms: number }>;
}

/** Starts `agent/main.ts` under `deno run` with the given permissions. */
export function startAgent(opts: StartAgentOptions): AgentProcess {
  const args = [...(opts.args ?? [])];
  // Were the test host's DMI to name a cloud, the agent's metadata requests go to a closed
  // loopback port, never to a metadata address (agent/cloud; tests/cloud picks its own URL).
  if (!args.some((a) => a.startsWith("--cloud-metadata-base-url"))) {
    args.push("--cloud-metadata-base-url=http://127.0.0.1:1");
  }
  let port: number;
  const listen = args.find((a) => a.startsWith("--listen="));
  if (listen) {
    port = Number(listen.slice(listen.lastIndexOf(":") + 1));
  } else {
    port = freePort();
    args.push(`--listen=127.0.0.1:${port}`);
  }
  // As another user: through setpriv, and through a bind mount of the repository when that
  // user cannot reach it (a checkout under /root, which is 0700 on Debian).
  const view = opts.asUser === undefined ? undefined : userView(opts.asUser);
  const root = view ?? ROOT;
  const exe = view !== undefined && Deno.execPath().startsWith(`${ROOT}/`)
    ? view + Deno.execPath().slice(ROOT.length)
    : Deno.execPath();
  const denoArgs = [
    "run",
    "--no-prompt",
    ...opts.permissions,
    ...AGENT_V8_FLAGS,
    `${root}/agent/main.ts`,
    ...args,
  ];
  const setpriv = [
    "setpriv",
    `--reuid=${opts.asUser}`,
    `--regid=${opts.asUser}`,
    "--clear-groups",
    exe,
    ...denoArgs,
  ];
  if (opts.wrap !== undefined && opts.asUser !== undefined) {
    throw new TypeError("startAgent(): wrap and asUser cannot be combined");
  }
  const wrap = opts.wrap ??
    (SANDBOX_ALL && opts.asUser === undefined && opts.permissions.includes("-P=agent")
      ? sandboxWrap(args, opts.env)
      : undefined);
  const [cmd, cmdArgs] = wrap !== undefined
    ? [wrap[0], [...wrap.slice(1), Deno.execPath(), ...denoArgs]]
    : opts.asUser === undefined
    ? [Deno.execPath(), denoArgs]
    : view === undefined
    ? [setpriv[0], setpriv.slice(1)]
    // A private mount namespace: the bind mount exists only for this process and goes with it.
    : ["unshare", [
      "--mount",
      "--propagation=private",
      "sh",
      "-c",
      'mount --bind "$1" "$2" && cd "$2" && shift 2 && exec "$@"',
      "sh",
      ROOT,
      view,
      ...setpriv,
    ]];
  const child = new Deno.Command(cmd, {
    args: cmdArgs,
    cwd: ROOT,
    env: {
      NO_COLOR: "1",
      RUST_BACKTRACE: "0",
      DENO_NO_UPDATE_CHECK: "1",
      ...AGENT_ENV,
      ...opts.env,
    },
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  let err = "";
  const decoder = new TextDecoder();
  const reading = (async () => {
    for await (const chunk of child.stderr) err += decoder.decode(chunk, { stream: true });
  })();
  const url = `http://127.0.0.1:${port}`;
  let exited = false;
  const statusP = child.status.then((s) => {
    exited = true;
    // Empty here: the bind mount lived in the child's mount namespace only.
    if (view !== undefined) {
      try {
        Deno.removeSync(view);
      } catch { /* an empty directory left in the temporary directory */ }
    }
    return s;
  });

  async function poll(path: string, want: (r: Response) => boolean, timeoutMs: number) {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (exited) throw new Error(`agent exited before ${path} answered; stderr:\n${err}`);
      try {
        const r = await fetch(url + path);
        await r.body?.cancel();
        if (want(r)) return;
      } catch { /* not listening yet */ }
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`agent's ${path} did not answer in ${timeoutMs} ms; stderr:\n${err}`);
  }

  return {
    child,
    port,
    url,
    stderr: () => err,
    waitReady: (t = 30_000) => poll("/readyz", (r) => r.status === 200, t),
    waitListening: (t = 30_000) => poll("/healthz", () => true, t),
    async stop(signal: Deno.Signal = "SIGTERM") {
      const t0 = performance.now();
      if (!exited) child.kill(signal);
      const status = await statusP;
      const ms = performance.now() - t0;
      await reading;
      return { status, ms };
    },
  };
}

/**
 * `undefined` when `uid` can read the repository and the deno binary in place; else a new empty
 * directory under the temporary directory (world-traversable) to bind-mount the repository on.
 */
function userView(uid: number): string | undefined {
  const probe = new Deno.Command("setpriv", {
    args: [
      `--reuid=${uid}`,
      `--regid=${uid}`,
      "--clear-groups",
      "test",
      "-r",
      `${ROOT}/deno.json`,
      "-a",
      "-x",
      Deno.execPath(),
    ],
    stdout: "null",
    stderr: "null",
  }).outputSync();
  if (probe.success) return undefined;
  const dir = Deno.makeTempDirSync({ prefix: "osprey-repo-" });
  Deno.chmodSync(dir, 0o755);
  return dir;
}

/** Fetches `/metrics` as text with an optional Accept header. */
export async function scrape(url: string, accept?: string): Promise<string> {
  const r = await fetch(`${url}/metrics`, { headers: accept ? { accept } : {} });
  if (r.status !== 200) throw new Error(`scrape answered ${r.status}: ${await r.text()}`);
  return await r.text();
}

/** True when running as root (the privileged tests need it). */
export function isRoot(): boolean {
  return Deno.uid() === 0;
}
