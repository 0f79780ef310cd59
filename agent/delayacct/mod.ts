/**
 * The delayacct module: how long each container's processes waited for a CPU and for block
 * I/O (reference §6), `container_resources_cpu_delay_seconds_total` and
 * `container_resources_disk_delay_seconds_total`, summed over the container's processes and
 * kept when they exit (accounts.ts).
 *
 * | collector  | what                                                                 | interval             |
 * |------------|----------------------------------------------------------------------|----------------------|
 * | `delayacct`| every container process: taskstats in batches, or schedstat per thread | `--collect-interval` |
 *
 * Sources, chosen each round from `kernel.task_delayacct` (state.ts):
 * - **on**: both delays from netlink taskstats (libosprey's batched query, per thread group);
 * - **off**: the CPU delay from each thread's `<proc>/<pid>/task/<tid>/schedstat` run-queue
 *   wait (the same kernel counter), and no disk delay series (the kernel adds none up).
 * Taskstats needs `--allow-ffi` for libosprey and CAP_NET_ADMIN; without them the CPU delay
 * comes from schedstat whatever the state. `osprey_delayacct_enabled` and
 * `osprey_delayacct_cpu_from_schedstat` say which, and so does the start-up table.
 *
 * `--enable-delayacct` writes `kernel.task_delayacct=1` through the host's procfs at start,
 * when that one file is granted for writing (`--allow-write=<proc>/sys/kernel/task_delayacct`).
 *
 * Processes and their containers come from the containers module's registry, which must run.
 *
 * @module
 */
import { withNetNamespace } from "../self/proc_broker.ts";
import {
  BpfError,
  decodeTaskstatsRecord,
  Errno,
  errnoName,
  openLibrary,
  type OspreyLibrary,
  TASKSTATS_MAX_PIDS,
  TaskstatsRecordFlag,
  type TaskstatsSocket,
} from "../../ffi/mod.ts";
import { libraryPath } from "../bpf/mod.ts";
import type { Collector } from "../collector.ts";
import { containerDirectory } from "../containers/mod.ts";
import { FileFormatError } from "../file_format_error.ts";
import type { FlagSpec } from "../flags.ts";
import type { Logger } from "../log.ts";
import type { ModuleInstance, ModuleSpec, PermissionNeed } from "../modules.ts";
import type { HostPaths } from "../paths.ts";
import { under } from "../paths.ts";
import { netNamespaceInode } from "../identity/namespaces.ts";
import { type CpuSource, DelayAccounts } from "./accounts.ts";
import { DelayFamilies } from "./metrics.ts";
import { readThreadRunDelays } from "./schedstat.ts";
import {
  type DelayacctState,
  DelayacctWriteError,
  enableDelayacct,
  readDelayacctState,
  SYSCTL,
} from "./state.ts";

export { DelayAccounts } from "./accounts.ts";
export { parseCmdline, readDelayacctState, SYSCTL } from "./state.ts";
export { parseSchedstat, readMainThreadRunDelay, readThreadRunDelays } from "./schedstat.ts";

/** The module's flag. */
export const DELAYACCT_FLAGS: readonly FlagSpec[] = [{
  name: "enable-delayacct",
  env: "ENABLE_DELAYACCT",
  kind: "bool",
  help: "At start, turn the kernel's delay accounting on (kernel.task_delayacct=1, through " +
    "the host's procfs) when it is off; needs --allow-write=<proc>/sys/kernel/task_delayacct. " +
    "Only tasks started afterwards gain block I/O delays",
  group: "Kernel",
}];

/** Why taskstats is not used when the kernel refuses its queries. */
const EPERM_REASON = "the kernel refuses taskstats queries (EPERM): the agent lacks CAP_NET_ADMIN";

/** Processes whose schedstat files are read between two yields to the event loop. */
const SCHEDSTAT_SLICE = 256;

/** The write grant `--enable-delayacct` needs. */
export function sysctlWriteNeed(paths: HostPaths): PermissionNeed {
  const path = under(paths.proc, SYSCTL);
  return { descriptor: { name: "write", path }, flag: `--allow-write=${path}` };
}

function granted(d: Deno.PermissionDescriptor): boolean {
  return Deno.permissions.querySync(d).state === "granted";
}

/**
 * Where the taskstats socket must be made: "" (the agent's own namespace) when it is the
 * host's, the host's namespace file when not, and "" with `unknown` when the host's cannot be
 * read (some sandboxes refuse even root `<proc>/1/ns/*`): then the agent tries its own.
 */
export function taskstatsNamespace(paths: HostPaths): { path: string; note: string } {
  const own = netNamespaceInode(paths, "self");
  const host = netNamespaceInode(paths, 1);
  if (host === 0 || own === 0) {
    return { path: "", note: "cannot tell the host's network namespace; trying the agent's" };
  }
  if (host === own) return { path: "", note: "the agent is in the host's network namespace" };
  return {
    path: under(paths.proc, "1/ns/net"),
    note: "the agent has its own network namespace; the socket is made in the host's",
  };
}

/**
 * The agent's pid as the host's procfs numbers it (`<proc>/self` names it), or undefined when
 * that link cannot be read.
 */
export function ownHostPid(paths: HostPaths): number | undefined {
  try {
    const n = Number(Deno.readLinkSync(under(paths.proc, "self")));
    return Number.isInteger(n) && n > 0 ? n : undefined;
  } catch {
    return undefined;
  }
}

/** One container process of a round. */
interface Member {
  readonly containerId: string;
  readonly pid: number;
  readonly startMs: number;
}

/** What the collector holds between rounds. */
class DelayCollector {
  readonly #paths: HostPaths;
  readonly #log: Logger;
  readonly #f: DelayFamilies;
  readonly accounts = new DelayAccounts();
  #lib?: OspreyLibrary;
  #socket?: TaskstatsSocket;
  #netns = "";
  /** Why taskstats is not used ("" when it is). */
  taskstatsOff = "";
  #diskShown = false;
  state: DelayacctState;
  source: CpuSource = "schedstat";
  readonly #threads = new Map<number, number>();

  constructor(paths: HostPaths, log: Logger, f: DelayFamilies, state: DelayacctState) {
    this.#paths = paths;
    this.#log = log;
    this.#f = f;
    this.state = state;
  }

  /** Opens libosprey and the taskstats socket; on failure says why in {@linkcode taskstatsOff}. */
  async open(): Promise<void> {
    const hostPid = ownHostPid(this.#paths);
    if (hostPid !== undefined && hostPid !== Deno.pid) {
      this.taskstatsOff = `the agent is not in the host's PID namespace (pid ${Deno.pid}, ` +
        `${hostPid} on the host) and taskstats looks pids up in its own: run it with the ` +
        "host's (hostPID: true, --pid=host)";
      return;
    }
    const path = libraryPath();
    if (!granted({ name: "ffi", path })) {
      this.taskstatsOff = `not granted: --allow-ffi=${path}`;
      return;
    }
    try {
      this.#lib = openLibrary(path);
    } catch (err) {
      this.taskstatsOff = err instanceof Error ? err.message.split("\n")[0] : String(err);
      return;
    }
    const ns = taskstatsNamespace(this.#paths);
    this.#netns = ns.path;
    try {
      // under Landlock the host's namespace file comes from the procfs broker
      const lib = this.#lib;
      this.#socket = await withNetNamespace(this.#paths.proc, ns.path, (p) => lib.openTaskstats(p));
      // the kernel checks CAP_NET_ADMIN per query: ask about ourselves once now, so the
      // start-up table tells the truth
      const [self] = await this.#socket.query([Deno.pid]);
      if (self.errno === Errno.EPERM) {
        this.taskstatsOff = EPERM_REASON;
        this.#socket.close();
        this.#socket = undefined;
        this.#lib.close();
        this.#lib = undefined;
        return;
      }
      this.#log.info("delayacct: taskstats socket open", {
        ...this.#socket.info(),
        namespace: ns.note,
      });
    } catch (err) {
      if (!(err instanceof BpfError)) throw err;
      this.taskstatsOff = err.message;
      this.#socket?.close();
      this.#socket = undefined;
      this.#lib?.close();
      this.#lib = undefined;
    }
  }

  close(): void {
    this.#socket?.close();
    this.#lib?.close();
  }

  /** One round: read every container process, add what grew, write the series. */
  async collect(signal: AbortSignal): Promise<void> {
    const directory = containerDirectory.current;
    if (directory === undefined) throw new Error("the containers module is not running");
    this.state = readDelayacctState(this.#paths);
    const taskstats = this.#socket !== undefined && this.taskstatsOff === "";
    this.source = this.state.enabled && taskstats ? "taskstats" : "schedstat";
    this.#f.enabled.labels().set(this.state.enabled ? 1 : 0);
    this.#f.cpuFromSchedstat.labels().set(this.source === "schedstat" ? 1 : 0);

    const members: Member[] = [];
    for (const view of directory.containers()) {
      if (view.removed) continue;
      view.forEachProcess((pid, startMs) => members.push({ containerId: view.id, pid, startMs }));
    }
    const a = this.accounts;
    a.beginRound(Date.now());
    let records: Uint8Array[] | undefined;
    if (taskstats && this.state.enabled) {
      records = await this.#query(members);
      if (records === undefined) {
        // refused or broken this round: schedstat instead (a source change re-bases, so
        // nothing jumps)
        this.source = "schedstat";
        this.#f.cpuFromSchedstat.labels().set(1);
      }
    }
    if (signal.aborted) return;
    const readBlkio = records !== undefined && this.state.enabled;
    if (readBlkio) this.#diskShown = true;

    for (let i = 0; i < members.length; i++) {
      const m = members[i];
      let cpuNs: number | undefined;
      let blkioNs: number | undefined;
      let blkioCount: number | undefined;
      if (records !== undefined) {
        const r = decodeTaskstatsRecord(
          records[Math.floor(i / TASKSTATS_MAX_PIDS)],
          i % TASKSTATS_MAX_PIDS,
        );
        if (r.errno !== 0 || (r.flags & TaskstatsRecordFlag.DELAYS) === 0) {
          this.#f.readErrors.labels("taskstats", r.errno ? errnoName(r.errno) : "EBADMSG").inc();
          if (r.errno !== 3) a.keep(m.pid, m.startMs); // not gone: followed on
          continue;
        }
        cpuNs = Number(r.cpuDelayNs);
        if (readBlkio) {
          blkioNs = Number(r.blkioDelayNs);
          blkioCount = Number(r.blkioCount);
        }
      }
      if (this.source === "taskstats") {
        a.add(m.containerId, m.pid, m.startMs, {
          source: "taskstats",
          cpuNs,
          blkioNs,
          blkioCount,
        });
        continue;
      }
      if (i % SCHEDSTAT_SLICE === SCHEDSTAT_SLICE - 1) {
        await new Promise((r) => setTimeout(r, 0));
        if (signal.aborted) return;
      }
      let threads: Map<number, number> | undefined;
      try {
        threads = readThreadRunDelays(this.#paths.proc, m.pid, this.#threads);
      } catch (err) {
        if (!(err instanceof FileFormatError)) throw err;
        this.#f.readErrors.labels("schedstat", "format").inc();
        a.keep(m.pid, m.startMs);
        continue;
      }
      if (threads === undefined) {
        this.#f.readErrors.labels("schedstat", "ESRCH").inc();
        continue;
      }
      a.add(m.containerId, m.pid, m.startMs, { source: "schedstat", threads, blkioNs });
    }
    a.endRound();
    this.#f.processes.labels().set(a.processCount);
    this.#f.pidReuses.labels("restart").set(a.restarts);
    this.#f.pidReuses.labels("reuse").set(a.pidReuses);
    this.#f.implausible.labels().set(a.implausible);

    for (const view of directory.containers()) {
      if (!view.visible || view.removed) continue;
      const t = a.totals(view.id);
      if (t === undefined) continue;
      view.series.get(this.#f.cpuDelay).set(t.cpuNs / 1e9);
      if (this.#diskShown) view.series.get(this.#f.diskDelay).set(t.blkioNs / 1e9);
    }
  }

  /** Taskstats records of every member, in chunks; undefined when the query failed as a whole. */
  async #query(members: readonly Member[]): Promise<Uint8Array[] | undefined> {
    const out: Uint8Array[] = [];
    const socket = this.#socket!;
    if (members.length === 0) return out;
    try {
      for (let from = 0; from < members.length; from += TASKSTATS_MAX_PIDS) {
        const chunk = members.slice(from, from + TASKSTATS_MAX_PIDS).map((m) => m.pid);
        const { records, ok } = await socket.queryRaw(chunk);
        out.push(records);
        if (ok === 0 && chunk.length > 0) {
          const first = decodeTaskstatsRecord(records, 0);
          if (first.errno === 1) {
            // the kernel refuses TASKSTATS_CMD_GET without CAP_NET_ADMIN
            this.taskstatsOff = EPERM_REASON;
            this.#log.warn(
              "delayacct: " + this.taskstatsOff + "; CPU delay from schedstat, " +
                "no disk delay",
            );
            return undefined;
          }
        }
      }
      return out;
    } catch (err) {
      if (!(err instanceof BpfError)) throw err;
      this.#f.queryFailures.labels(errnoName(err.errno)).inc();
      this.#log.warn("delayacct: taskstats query failed; reopening the socket", { error: err });
      socket.close();
      this.#socket = undefined;
      try {
        const lib = this.#lib!;
        this.#socket = await withNetNamespace(
          this.#paths.proc,
          this.#netns,
          (p) => lib.openTaskstats(p),
        );
      } catch (e) {
        if (!(e instanceof BpfError)) throw e;
        this.taskstatsOff = e.message;
      }
      return undefined;
    }
  }
}

/**
 * The start-up table's words for the state and the sources. `missingGrant` is the write grant
 * `--enable-delayacct` lacked (then the TO ENABLE column names it instead of the flag).
 */
export function describeSources(
  state: DelayacctState,
  taskstatsOff: string,
  missingGrant?: string,
): { note: string; hint: string } {
  const sources = state.enabled && taskstatsOff === ""
    ? "CPU and disk delay from taskstats"
    : "CPU delay from /proc/<pid>/task/<tid>/schedstat, no disk delay" +
      (taskstatsOff === "" ? "" : ` (no taskstats: ${taskstatsOff})`);
  return {
    note: `${state.enabled ? "on" : "off"}: ${state.reason}; ${sources}`,
    hint: state.enabled
      ? ""
      : missingGrant ?? "--enable-delayacct (or delayacct on the kernel command line)",
  };
}

/** The module definition. */
export const delayacctModule: ModuleSpec = {
  name: "delayacct",
  description: "How long containers waited for a CPU and for disk I/O (taskstats, schedstat)",
  flags: DELAYACCT_FLAGS,
  permissions(_flags, paths) {
    const needs: PermissionNeed[] = [{
      descriptor: { name: "read", path: paths.proc },
      flag: `--allow-read=${paths.proc}`,
    }];
    return needs;
  },
  disabledBy(_flags, paths) {
    if (paths.fixture) {
      return { reason: "host paths point at a fixture tree", flag: "--host-root=/" };
    }
    return undefined;
  },
  async start(ctx): Promise<ModuleInstance> {
    const { flags, paths, log } = ctx;
    if (containerDirectory.current === undefined) {
      throw new Error("the delayacct module needs the containers module, which is not running");
    }
    let state = readDelayacctState(paths);
    let missingGrant: string | undefined;
    if (flags["enable-delayacct"] === true && !state.enabled) {
      const need = sysctlWriteNeed(paths);
      if (!granted(need.descriptor)) {
        missingGrant = need.flag;
        log.warn("delayacct: --enable-delayacct needs a write grant; delay accounting stays off", {
          grant: need.flag,
        });
      } else {
        try {
          enableDelayacct(paths);
          state = readDelayacctState(paths);
          log.info(
            "delayacct: turned delay accounting on (kernel.task_delayacct=1); block " +
              "I/O delays count for what tasks do from now on",
          );
        } catch (err) {
          if (!(err instanceof DelayacctWriteError)) throw err;
          log.warn("delayacct: " + err.message);
        }
      }
    }
    const families = new DelayFamilies(ctx.registry);
    const c = new DelayCollector(paths, log, families, state);
    await c.open();
    const { note, hint } = describeSources(state, c.taskstatsOff, missingGrant);
    log.info("delayacct: sources", { state: note });
    const unsubscribe = containerDirectory.current!.onContainerRemoved((v) =>
      c.accounts.forget(v.id)
    );
    const collectors: Collector[] = [{ name: "delayacct", collect: (s) => c.collect(s) }];
    return {
      collectors,
      note,
      hint,
      stop() {
        unsubscribe();
        c.close();
      },
    };
  },
};
