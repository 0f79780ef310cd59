/**
 * What the modules that load BPF objects share: the self-metric families every object
 * reports into (programs attached, ring records received and lost), opening the library,
 * and attaching an object's programs one by one with a line per failure.
 *
 * @module
 */
import { BpfError, libraryCandidates, openLibrary } from "../../ffi/mod.ts";
import type {
  AttachResult,
  BpfObject,
  ObjectKind,
  OpenObjectOptions,
  OspreyLibrary,
} from "../../ffi/mod.ts";
import type { Logger } from "../log.ts";
import type { Counter, Gauge, Registry } from "../metrics/mod.ts";

/** The families all BPF modules report into, registered by whichever module comes first. */
export interface BpfFamilies {
  readonly attached: Gauge<readonly string[]>;
  readonly records: Counter<readonly string[]>;
  readonly lost: Counter<readonly string[]>;
}

/** The shared families of `registry`, registering them on first use. */
export function bpfFamilies(registry: Registry): BpfFamilies {
  const attached = registry.get("osprey_bpf_program_attached") as Gauge<readonly string[]> ??
    registry.gauge({
      name: "osprey_bpf_program_attached",
      help: "Whether each BPF program is attached (1) or failed to attach (0)",
      labelNames: ["program", "variant"],
    });
  const records = registry.get("osprey_ringbuf_records_total") as Counter<readonly string[]> ??
    registry.counter({
      name: "osprey_ringbuf_records_total",
      help: "Records received from BPF ring buffers, by ring and record type",
      labelNames: ["ring", "record_type"],
    });
  const lost = registry.get("osprey_ringbuf_lost_records_total") as Counter<readonly string[]> ??
    registry.counter({
      name: "osprey_ringbuf_lost_records_total",
      help: "Records the kernel dropped because a ring buffer was full, by ring and record type",
      labelNames: ["ring", "record_type"],
    });
  return { attached, records, lost };
}

/** The path the modules ask `--allow-ffi` for. */
export function libraryPath(): string {
  return libraryCandidates()[0] ?? "libosprey.so";
}

/** A loaded object and the library it came from; `close()` releases both. */
export interface LoadedObject {
  readonly lib: OspreyLibrary;
  readonly obj: BpfObject;
  /** Names of the programs that attached. */
  readonly attached: ReadonlySet<string>;
  close(): void;
}

/** Options of {@linkcode loadObject}. */
export interface LoadObjectOptions extends OpenObjectOptions {
  /** Called between open and load (e.g. to size maps). */
  readonly beforeLoad?: (obj: BpfObject) => void;
}

/**
 * Opens the library, checks the kernel, opens, loads and attaches an object, reporting each
 * program in `osprey_bpf_program_attached{program,variant}` and each failure in one log line.
 *
 * @throws {Error} naming what is missing when the kernel cannot run it, the load fails, or
 *   no program attaches (the library is closed again then)
 */
export function loadObject(
  kind: ObjectKind,
  ctx: { registry: Registry; log: Logger },
  opts: LoadObjectOptions = {},
): LoadedObject {
  const { registry, log } = ctx;
  let lib: OspreyLibrary | undefined;
  try {
    lib = openLibrary(libraryPath());
    const support = lib.kernelSupport();
    for (const note of support.notes) log.info("kernel note", { note });
    if (!support.ok) throw new Error(support.message);
    const obj = lib.openObject(kind, opts);
    opts.beforeLoad?.(obj);
    obj.load();
    const { attached: gauge } = bpfFamilies(registry);
    const attached = new Set<string>();
    const failed: AttachResult[] = [];
    for (const r of obj.attach()) {
      if (r.skipped) continue;
      gauge.labels(r.program, r.variant).set(r.attached ? 1 : 0);
      if (r.attached) {
        attached.add(r.program);
        log.debug("attached", { program: r.program, variant: r.variant });
      } else {
        failed.push(r);
        log.warn("cannot attach BPF program", {
          program: r.program,
          variant: r.variant,
          errno: r.code ?? r.errno,
          reason: r.message,
        });
      }
    }
    if (attached.size === 0) {
      const first = failed[0];
      let why = first === undefined
        ? ""
        : `: the first, ${first.program}: ${first.code ?? first.errno}`;
      // tracepoints are found by name in tracefs (libbpf reads their ids there): without it
      // every one is ENOENT
      if (failed.length > 0 && failed.every((r) => r.code === "ENOENT")) {
        why += "; tracepoints need tracefs at /sys/kernel/tracing or /sys/kernel/debug/tracing";
      }
      throw new Error(`no program of the "${kind}" object could be attached${why}`);
    }
    const theLib = lib;
    return { lib: theLib, obj, attached, close: () => theLib.close() };
  } catch (err) {
    lib?.close();
    if (err instanceof BpfError) throw new Error(err.message, { cause: err });
    throw err;
  }
}
