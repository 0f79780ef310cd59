/**
 * What the kernel offers Osprey's BPF programs, parsed from
 * osp_kernel_probe()'s "key=value" lines, and a message naming what is
 * missing.
 *
 * @module
 */

import { errnoName } from "./errors.ts";

/** Parsed osp_kernel_probe() report. */
export interface KernelSupport {
  /** `uname -r`. */
  kernel: string;
  /** /sys/kernel/btf/vmlinux is readable (CO-RE needs it). */
  btf: boolean;
  /** The bpf() syscall works for us. */
  bpfSyscall: boolean;
  /** Why it does not (positive errno), 0 when it works. */
  bpfErrno: number;
  /** tp_btf programs load (BPF_PROG_TYPE_TRACING). */
  tracingProg: boolean;
  /** raw tracepoint programs load (the fallback). */
  rawTracepoint: boolean;
  /** BPF_MAP_TYPE_RINGBUF exists (Linux 5.8+). */
  ringbuf: boolean;
  /** SEC("syscall") programs load (the ring benchmark). */
  syscallProg: boolean;
  /** The bpf_loop helper exists (the ring benchmark). */
  bpfLoop: boolean;
  /** tracefs is mounted (not needed by the current programs). */
  tracefs: boolean;
  /** kernel.unprivileged_bpf_disabled, -1 if unreadable. */
  unprivilegedBpfDisabled: number;
}

/** A {@linkcode KernelSupport} with a verdict for the process-event programs. */
export interface KernelSupportReport extends KernelSupport {
  /** The process-event programs can load and attach. */
  ok: boolean;
  /** One phrase per missing requirement. */
  missing: string[];
  /** Facts worth logging that do not stop anything. */
  notes: string[];
  /** One human-readable line. */
  message: string;
}

/**
 * Parse osp_kernel_probe()'s text.
 *
 * @param text "key=value" lines
 * @returns the fields; absent keys read as false / 0 / ""
 */
export function parseKernelProbe(text: string): KernelSupport {
  const kv = new Map<string, string>();
  for (const line of text.split("\n")) {
    const eq = line.indexOf("=");
    if (eq > 0) kv.set(line.slice(0, eq).trim(), line.slice(eq + 1).trim());
  }
  const flag = (k: string) => kv.get(k) === "1";
  const int = (k: string, dflt: number) => {
    const v = Number.parseInt(kv.get(k) ?? "", 10);
    return Number.isNaN(v) ? dflt : v;
  };
  return {
    kernel: kv.get("kernel") ?? "",
    btf: flag("btf"),
    bpfSyscall: flag("bpf_syscall"),
    bpfErrno: int("bpf_errno", 0),
    tracingProg: flag("tracing_prog"),
    rawTracepoint: flag("raw_tp"),
    ringbuf: flag("ringbuf"),
    syscallProg: flag("syscall_prog"),
    bpfLoop: flag("bpf_loop"),
    tracefs: flag("tracefs"),
    unprivilegedBpfDisabled: int("unprivileged_bpf_disabled", -1),
  };
}

function bpfSyscallProblem(errno: number): string {
  switch (errno) {
    case 1: // EPERM
    case 13: // EACCES
      return `bpf syscall not permitted (${errnoName(errno)}): run as root or grant ` +
        "CAP_BPF, CAP_PERFMON and CAP_SYS_RESOURCE";
    case 38: // ENOSYS
      return "no bpf syscall (ENOSYS): the kernel lacks CONFIG_BPF_SYSCALL";
    default:
      return `bpf syscall failed (${errnoName(errno)})`;
  }
}

/**
 * Decide whether the process-event programs can run, and say why not.
 *
 * @param s a parsed probe
 * @returns the probe with `ok`, `missing`, `notes` and a one-line `message`
 */
export function describeKernelSupport(s: KernelSupport): KernelSupportReport {
  const missing: string[] = [];
  const notes: string[] = [];
  if (!s.bpfSyscall) missing.push(bpfSyscallProblem(s.bpfErrno));
  if (!s.btf) {
    missing.push(
      "no BTF (/sys/kernel/btf/vmlinux missing): needs CONFIG_DEBUG_INFO_BTF=y",
    );
  }
  // without the syscall, the remaining probes could not run: do not blame the kernel
  if (s.bpfSyscall) {
    if (!s.ringbuf) missing.push("no BPF ring buffer: needs Linux 5.8 or later");
    if (!s.tracingProg && !s.rawTracepoint) {
      missing.push("neither tp_btf nor raw tracepoint programs load");
    } else if (!s.tracingProg) {
      notes.push("tp_btf programs do not load: using the raw_tp fallbacks");
    }
    if (!s.syscallProg || !s.bpfLoop) {
      notes.push("the ring benchmark needs syscall programs and bpf_loop (Linux 5.17+)");
    }
  }
  const where = s.kernel ? `kernel ${s.kernel}` : "this kernel";
  const message = missing.length === 0
    ? `${where} has what Osprey's BPF programs need` +
      (s.tracingProg ? " (tp_btf)" : " (raw_tp fallback)")
    : `${where} cannot run Osprey's BPF programs: ${missing.join("; ")}`;
  return { ...s, ok: missing.length === 0, missing, notes, message };
}
