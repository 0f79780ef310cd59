/**
 * The procfs broker of the sandboxed agent (README, "Security model"). Inside a Landlock domain
 * the kernel refuses ptrace-mode access to processes outside it, and procfs applies that check
 * to another process's `fd/*`, `ns/*`, `exe`, `root` and `cwd`. The launcher forks
 * osprey-broker before it enters the domain and passes its socket in `OSPREY_BROKER_FD`; the
 * modules that need those links ask {@linkcode procBrokerFor} and, when it gives a broker, go
 * through it (ffi/broker.ts), else read the files themselves as before:
 *
 * | module     | through the broker                                             |
 * | ---------- | -------------------------------------------------------------- |
 * | net        | `ns/net` of every process, the socket fds (start-up scan)       |
 * | containers | statfs of the volumes beneath `root`; `exe` (application types) |
 * | delayacct  | `ns/net` of pid 1; its descriptor for the taskstats socket      |
 * | logs       | writable files under `/var/log/` (scans, file-open events)      |
 * | net        | descriptors of `ns/net` for the pinger and the NAT watcher      |
 *
 * @module
 */
import { BpfError, openLibrary, type OspreyLibrary, type ProcBroker } from "../../ffi/mod.ts";
import { libraryPath } from "../bpf/mod.ts";
import type { Registry } from "../metrics/mod.ts";
import type { SandboxState } from "./sandbox.ts";

/** The environment variable the launcher names the broker socket's descriptor in. */
export const BROKER_FD_ENV = "OSPREY_BROKER_FD";

let current: { broker: ProcBroker; lib: OspreyLibrary } | undefined;

/**
 * The broker, when the agent opened one bound to this procfs root; undefined otherwise (read
 * `<proc>` directly: no sandbox, or a fixture tree, or no broker).
 */
export function procBrokerFor(proc: string): ProcBroker | undefined {
  return current !== undefined && current.broker.procRoot === proc ? current.broker : undefined;
}

/**
 * Calls `use` with a path libosprey can open for the network namespace file `path`
 * (`<proc>/<pid>/ns/net`) names. Under the broker that file is one Landlock refuses the agent, so
 * the broker opens it and passes the descriptor, whose `/proc/self/fd/<n>` is given to `use` and
 * closed once `use` settles. Any other path ("" for the agent's own namespace), or no broker:
 * `path` as it is.
 *
 * @throws {BpfError} from the broker (ENOENT when the process is gone, EACCES, EBUSY), and what
 *   `use` throws
 */
export async function withNetNamespace<T>(
  proc: string,
  path: string,
  use: (path: string) => Promise<T>,
): Promise<T> {
  const broker = procBrokerFor(proc);
  const prefix = `${proc.replace(/\/$/, "")}/`;
  const m = broker !== undefined && path.startsWith(prefix)
    ? /^(\d{1,7})\/ns\/net$/.exec(path.slice(prefix.length))
    : null;
  if (broker === undefined || m === null) return await use(path);
  using file = broker.openNetNamespace(Number(m[1]));
  return await use(file.path);
}

/** Whether the broker is in use, and why not. */
export interface BrokerState {
  readonly on: boolean;
  /** Why it is off ("" when on). */
  readonly reason: string;
}

function envValue(name: string): string | undefined {
  if (Deno.permissions.querySync({ name: "env", variable: name }).state !== "granted") {
    return undefined;
  }
  return Deno.env.get(name);
}

/**
 * Opens the broker the launcher started, bound to `proc`, when the agent runs under Landlock.
 * Never throws: a missing grant, a broker that does not answer or a library without the calls
 * leave it off with the reason (the modules then lose what the README's table says).
 */
export function openProcBroker(sandbox: SandboxState, proc: string): BrokerState {
  if (sandbox.kind !== "landlock") return { on: false, reason: "no Landlock domain" };
  const fdText = envValue(BROKER_FD_ENV);
  if (fdText === undefined || !/^\d{1,9}$/.test(fdText)) {
    return { on: false, reason: `no ${BROKER_FD_ENV} from the launcher (--broker=off)` };
  }
  const path = libraryPath();
  if (Deno.permissions.querySync({ name: "ffi", path }).state !== "granted") {
    return { on: false, reason: `not granted: --allow-ffi=${path}` };
  }
  let lib: OspreyLibrary | undefined;
  try {
    lib = openLibrary(path);
    current = { broker: lib.openBroker(Number(fdText), proc), lib };
    return { on: true, reason: "" };
  } catch (err) {
    lib?.close();
    if (err instanceof BpfError) return { on: false, reason: err.message.split("\n")[0] };
    if (err instanceof Error) return { on: false, reason: err.message.split("\n")[0] };
    throw err;
  }
}

/** The start-up line under the SANDBOX line (only under Landlock). */
export function formatBrokerLine(s: BrokerState): string {
  return s.on
    ? "BROKER   on: other processes' fd, ns, exe and root through osprey-broker"
    : `BROKER   off (${s.reason}): Landlock refuses other processes' fd, ns, exe and root`;
}

/** Sets `osprey_procfs_broker_up` (1 when the broker answers the agent's procfs requests). */
export function recordBroker(registry: Registry, s: BrokerState): void {
  registry.gauge({
    name: "osprey_procfs_broker_up",
    help: "Whether the sandboxed agent reads other processes' fd, ns, exe and root links " +
      "through osprey-broker (1) or not (0)",
  }).labels().set(s.on ? 1 : 0);
}

/** Closes the broker's library (at stop; tests). */
export function closeProcBroker(): void {
  current?.lib.close();
  current = undefined;
}
