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
import {
  BpfError,
  decodeProcEvent,
  emptyProcEvent,
  forEachFrame,
  libraryCandidates,
  openLibrary,
} from "../../ffi/mod.ts";
import type { BpfObject, OspreyLibrary, RingBuffer } from "../../ffi/mod.ts";
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

function libraryPath(): string {
  return libraryCandidates()[0] ?? "libosprey.so";
}

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
    let lib: OspreyLibrary | undefined;
    let obj: BpfObject | undefined;
    let ring: RingBuffer | undefined;
    try {
      lib = openLibrary(libraryPath());
      const support = lib.kernelSupport();
      for (const note of support.notes) log.info("kernel note", { note });
      if (!support.ok) throw new Error(support.message);
      obj = lib.openObject("proc");
      obj.load();
      const attached = registry.gauge({
        name: "osprey_bpf_program_attached",
        help: "Whether each BPF program is attached (1) or failed to attach (0)",
        labelNames: ["program", "variant"],
      });
      let ok = 0;
      for (const r of obj.attach()) {
        if (r.skipped) continue;
        attached.labels(r.program, r.variant).set(r.attached ? 1 : 0);
        if (r.attached) {
          ok++;
          log.debug("attached", { program: r.program, variant: r.variant });
        } else {
          log.warn("cannot attach BPF program", {
            program: r.program,
            variant: r.variant,
            errno: r.code ?? r.errno,
            reason: r.message,
          });
        }
      }
      if (ok === 0) throw new Error("no process-event program could be attached");
      ring = obj.openRing(RING);
    } catch (err) {
      lib?.close();
      if (err instanceof BpfError) throw new Error(err.message, { cause: err });
      throw err;
    }

    const records = registry.counter({
      name: "osprey_ringbuf_records_total",
      help: "Records received from BPF ring buffers, by ring and record type",
      labelNames: ["ring", "record_type"],
    });
    const lost = registry.counter({
      name: "osprey_ringbuf_lost_records_total",
      help: "Records the kernel dropped because a ring buffer was full, by ring and record type",
      labelNames: ["ring", "record_type"],
    });
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

    const theObj = obj;
    const theLib = lib;
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
        theLib.close(); // closes the object: detaches every program and frees the ring
      },
    };
  },
};
