/**
 * Runs inside a fixture VM (tools/vm/matrix.ts): probes the kernel through libosprey, then
 * opens, loads and attaches every embedded BPF object, as the agent would (feature probes pick
 * the variants), and once more for `tcp` without fentry programs. Prints one line,
 * `OSPREY-PROBE <json>` ({@linkcode ProbeReport}), and exits 0 whatever failed: failures are data.
 *
 * @module
 */
import { type AttachResult, type ObjectKind, openLibrary } from "../../ffi/mod.ts";

/** One object's outcome. */
export interface ObjectReport {
  /** `proc`, `tcp`, `bench`, or `tcp (no fentry)`. */
  object: string;
  /** The load-time choices (`attach_mode`, ...), when it loaded. */
  info?: Record<string, string>;
  programs?: AttachResult[];
  /** The first lines of the error when open or load failed. */
  error?: string;
}

/** What the guest reports. */
export interface ProbeReport {
  kernel: string;
  btf: boolean;
  ringbuf: boolean;
  tracingProg: boolean;
  rawTracepoint: boolean;
  /** The process-event programs can run, and the one-line verdict. */
  ok: boolean;
  message: string;
  objects: ObjectReport[];
}

function firstLines(e: unknown, n = 6): string {
  const text = e instanceof Error ? e.message : String(e);
  return text.split("\n").filter((l) => l.trim()).slice(0, n).join("\n");
}

if (import.meta.main) {
  const lib = openLibrary();
  const s = lib.kernelSupport();
  const report: ProbeReport = {
    kernel: s.kernel,
    btf: s.btf,
    ringbuf: s.ringbuf,
    tracingProg: s.tracingProg,
    rawTracepoint: s.rawTracepoint,
    ok: s.ok,
    message: s.message,
    objects: [],
  };
  const runs: Array<[string, ObjectKind, { noFentry?: boolean }]> = [
    ["proc", "proc", {}],
    ["tcp", "tcp", {}],
    ["tcp (no fentry)", "tcp", { noFentry: true }],
    ["logs", "logs", {}],
    ["l7", "l7", {}],
    ["bench", "bench", {}],
  ];
  for (const [label, kind, options] of runs) {
    const r: ObjectReport = { object: label };
    try {
      const obj = lib.openObject(kind, options);
      try {
        obj.load();
        r.info = obj.info();
        r.programs = obj.attach();
      } finally {
        obj.close();
      }
    } catch (e) {
      r.error = firstLines(e);
    }
    report.objects.push(r);
  }
  lib.close();
  console.log(`OSPREY-PROBE ${JSON.stringify(report)}`);
}
