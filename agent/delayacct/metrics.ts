/**
 * The delay accounting families: the contract's two container counters (reference §6, with
 * the containers module's `container_id` and `app_id`) and Osprey's own `osprey_delayacct_*`
 * families that say what the numbers mean and what went wrong.
 *
 * @module
 */
import type { Counter, Gauge, Registry } from "../metrics/mod.ts";

const C = ["container_id", "app_id"] as const;

/** The families, registered once per module start. */
export class DelayFamilies {
  readonly cpuDelay: Counter<readonly string[]>;
  readonly diskDelay: Counter<readonly string[]>;
  readonly enabled: Gauge<readonly string[]>;
  readonly cpuFromSchedstat: Gauge<readonly string[]>;
  readonly processes: Gauge<readonly string[]>;
  readonly readErrors: Counter<readonly string[]>;
  readonly queryFailures: Counter<readonly string[]>;
  readonly pidReuses: Counter<readonly string[]>;
  readonly implausible: Counter<readonly string[]>;

  constructor(r: Registry) {
    this.cpuDelay = r.counter({
      name: "container_resources_cpu_delay_seconds_total",
      help: "Total time duration processes of the container have been waiting for a CPU " +
        "(while being runnable)",
      labelNames: C,
    });
    this.diskDelay = r.counter({
      name: "container_resources_disk_delay_seconds_total",
      help: "Total time duration processes of the container have been waiting for I/Os " +
        "to complete",
      labelNames: C,
    });
    this.enabled = r.gauge({
      name: "osprey_delayacct_enabled",
      help: "1 when the kernel accounts delays (kernel.task_delayacct=1, or a kernel before " +
        "5.14), 0 when not: container_resources_disk_delay_seconds_total is then absent and " +
        "the CPU delay comes from schedstat",
      labelNames: [],
    });
    this.cpuFromSchedstat = r.gauge({
      name: "osprey_delayacct_cpu_from_schedstat",
      help: "1 when container_resources_cpu_delay_seconds_total comes from the threads' " +
        "/proc/<pid>/task/<tid>/schedstat run-queue wait (delay accounting off, or taskstats " +
        "unusable), 0 when from netlink taskstats",
      labelNames: [],
    });
    this.processes = r.gauge({
      name: "osprey_delayacct_processes",
      help: "Container processes whose delays are followed",
      labelNames: [],
    });
    this.readErrors = r.counter({
      name: "osprey_delayacct_read_errors_total",
      help: "Per-process reads that gave no values, by source (taskstats, schedstat) and " +
        "error (ESRCH: exited, EMSGSIZE: truncated answer, EBADMSG: malformed answer, " +
        "ENOBUFS: no answer, EPERM: refused, format: a file that does not parse)",
      labelNames: ["source", "error"],
    });
    this.queryFailures = r.counter({
      name: "osprey_delayacct_query_failures_total",
      help: "Batched taskstats queries that failed as a whole (the socket is reopened), by errno",
      labelNames: ["error"],
    });
    this.pidReuses = r.counter({
      name: "osprey_delayacct_pid_reuses_total",
      help: "Processes counted from their whole value again: their pid came back with another " +
        "start time (restart) or their counter went down (reuse)",
      labelNames: ["kind"],
    });
    this.implausible = r.counter({
      name: "osprey_delayacct_implausible_total",
      help: "Block I/O delay increases not added because they cannot be true (longer than the " +
        "process has existed, for each wait that ended): the kernel counts a wait that began " +
        "before accounting was turned on as lasting since boot",
      labelNames: [],
    });
    this.implausible.labels();
    this.processes.labels();
    for (const k of ["restart", "reuse"]) this.pidReuses.labels(k);
  }
}
