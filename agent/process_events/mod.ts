/**
 * The process_events module: loads the process-lifecycle BPF programs through libosprey,
 * attaches them one by one (reporting which failed and why), drains their ring buffer in
 * batches and publishes each start, exec and exit (with its exit code and OOM flag) to the
 * {@linkcode processEventHub}. Records received and lost are metrics.
 *
 * Needs only `--allow-ffi=<absolute path of libosprey.so>`.
 *
 * @module
 */
import { BpfError, decodeProcEvent, emptyProcEvent, forEachFrame } from "../../ffi/mod.ts";
import type { RingBuffer } from "../../ffi/mod.ts";
import { bpfFamilies, libraryPath, loadObject } from "../bpf/mod.ts";
import type { FlagSpec } from "../flags.ts";
import type { ModuleInstance, ModuleSpec } from "../modules.ts";
import { processEventHub } from "./hub.ts";

export { ProcessEventHub, processEventHub } from "./hub.ts";
export type { ProcessEventListener } from "./hub.ts";

const RING = "proc_events";
const RECORD_TYPES = ["start", "exec", "exit"] as const;

/** The module's flags. */
export const PROCESS_EVENTS_FLAGS: readonly FlagSpec[] = [{
  name: "disable-bpf",
  env: "DISABLE_BPF",
  kind: "bool",
  help: "Load no BPF programs (process lifecycle and OOM kills come from them)",
  group: "Kernel",
}];

/** The module definition. */
export const processEventsModule: ModuleSpec = {
  name: "process_events",
  description: "Process start, exec, exit and OOM kills from BPF programs",
  flags: PROCESS_EVENTS_FLAGS,
  permissions() {
    const path = libraryPath();
    return [{ descriptor: { name: "ffi", path }, flag: `--allow-ffi=${path}` }];
  },
  disabledBy(flags, paths) {
    if (flags["disable-bpf"] === true) {
      return { reason: "disabled by --disable-bpf", flag: "--disable-bpf=false" };
    }
    if (paths.fixture) {
      return { reason: "host paths point at a fixture tree", flag: "--host-root=/" };
    }
    return undefined;
  },
  start(ctx): ModuleInstance {
    const { registry, log } = ctx;
    const loaded = loadObject("proc", ctx);
    let ring: RingBuffer;
    try {
      ring = loaded.obj.openRing(RING);
    } catch (err) {
      loaded.close();
      if (err instanceof BpfError) throw new Error(err.message, { cause: err });
      throw err;
    }
    const { records, lost } = bpfFamilies(registry);
    const oomKills = registry.counter({
      name: "osprey_oom_kills_total",
      help: "Processes on the host killed by the OOM killer, seen by the process_events programs",
      labelNames: [],
    });
    const byType = Object.fromEntries(RECORD_TYPES.map((t) => [t, records.labels(RING, t)]));
    for (const t of RECORD_TYPES) lost.labels(RING, t);
    const other = records.labels(RING, "unknown");
    const oom = oomKills.labels();

    const stopping = new AbortController();
    const event = emptyProcEvent();
    const theRing = ring;
    const loop = (async () => {
      for await (const batch of theRing.batches({ signal: stopping.signal, timeoutMs: 100 })) {
        forEachFrame(batch, (off) => {
          decodeProcEvent(batch, off, event);
          const series = event.type === "unknown" || event.type === "bench"
            ? other
            : byType[event.type];
          series.inc();
          if (event.oomKilled) oom.inc();
          processEventHub.emit(event);
        });
      }
    })();
    loop.catch((err) => log.error("process event loop stopped", { error: err }));

    const theObj = loaded.obj;
    return {
      collectors: [{
        name: "process_events",
        collect() {
          const counts = theObj.lost();
          for (const t of RECORD_TYPES) lost.labels(RING, t).set(counts.byType[t] ?? 0);
        },
      }],
      ready: Promise.resolve(),
      async stop() {
        stopping.abort();
        await loop.catch(() => {});
        loaded.close(); // closes the object: detaches every program and frees the ring
      },
    };
  },
};
