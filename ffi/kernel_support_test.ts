import { deepEqual, equal } from "node:assert/strict";
import { describeKernelSupport, parseKernelProbe } from "./kernel_support.ts";

const FULL = `abi=1
kernel=6.18.44
btf=1
bpf_syscall=1
bpf_errno=0
tracing_prog=1
raw_tp=1
ringbuf=1
syscall_prog=1
bpf_loop=1
tracefs=0
unprivileged_bpf_disabled=2
`;

Deno.test("parseKernelProbe() reads every key", () => {
  deepEqual(parseKernelProbe(FULL), {
    kernel: "6.18.44",
    btf: true,
    bpfSyscall: true,
    bpfErrno: 0,
    tracingProg: true,
    rawTracepoint: true,
    ringbuf: true,
    syscallProg: true,
    bpfLoop: true,
    tracefs: false,
    unprivilegedBpfDisabled: 2,
  });
});

Deno.test("describeKernelSupport() is ok on a complete kernel and names the variant", () => {
  const r = describeKernelSupport(parseKernelProbe(FULL));
  equal(r.ok, true);
  deepEqual(r.missing, []);
  equal(r.message, "kernel 6.18.44 has what Osprey's BPF programs need (tp_btf)");
});

Deno.test("describeKernelSupport() says the bpf syscall is not permitted, not that features lack", () => {
  const r = describeKernelSupport(
    parseKernelProbe("kernel=6.1\nbtf=1\nbpf_syscall=0\nbpf_errno=1\ntracing_prog=0\nringbuf=0\n"),
  );
  equal(r.ok, false);
  deepEqual(r.missing, [
    "bpf syscall not permitted (EPERM): run as root or grant CAP_BPF, CAP_PERFMON and CAP_SYS_RESOURCE",
  ]);
  equal(
    r.message,
    "kernel 6.1 cannot run Osprey's BPF programs: bpf syscall not permitted (EPERM): " +
      "run as root or grant CAP_BPF, CAP_PERFMON and CAP_SYS_RESOURCE",
  );
});

Deno.test("describeKernelSupport() names missing BTF and ring buffers", () => {
  const r = describeKernelSupport(
    parseKernelProbe("kernel=5.4\nbtf=0\nbpf_syscall=1\nraw_tp=1\nringbuf=0\n"),
  );
  deepEqual(r.missing, [
    "no BTF (/sys/kernel/btf/vmlinux missing): needs CONFIG_DEBUG_INFO_BTF=y",
    "no BPF ring buffer: needs Linux 5.8 or later",
  ]);
});

Deno.test("describeKernelSupport() accepts the raw_tp fallback and notes it", () => {
  const r = describeKernelSupport(
    parseKernelProbe(FULL.replace("tracing_prog=1", "tracing_prog=0")),
  );
  equal(r.ok, true);
  deepEqual(r.notes, ["tp_btf programs do not load: using the raw_tp fallbacks"]);
  equal(r.message, "kernel 6.18.44 has what Osprey's BPF programs need (raw_tp fallback)");
});
