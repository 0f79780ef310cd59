/**
 * The agent's metrics about itself: `node_agent_info{version}` (contract), the standard
 * `process_*` families and what the log rate limit dropped. Needs no permission;
 * `process_max_fds` and `process_open_fds` (the names of Prometheus's process collector) come
 * from `<proc>/self/limits` and `<proc>/self/fd` when the host's procfs is readable, and are
 * left out otherwise (a fixture host).
 *
 * @module
 */
import { cpuUsage } from "node:process";
import { countOpenFds, readFdLimits } from "../fd_limits.ts";
import type { LogStats } from "../log.ts";
import type { ModuleSpec } from "../modules.ts";

/** Builds the self module around the version string and the logger's stats. */
export function selfModule(version: string, logStats: LogStats): ModuleSpec {
  return {
    name: "self",
    description: "The agent's own version, memory, CPU and log drops",
    permissions: () => [],
    start({ registry, paths }) {
      registry.gauge({ name: "node_agent_info", help: "Agent version", labelNames: ["version"] })
        .labels(version).set(1);
      const startTime = registry.gauge({
        name: "process_start_time_seconds",
        help: "Start time of the agent process since the Unix epoch",
        labelNames: [],
      });
      startTime.labels().set(Math.floor((Date.now() - performance.now()) / 1000));
      const rss = registry.gauge({
        name: "process_resident_memory_bytes",
        help: "Resident memory of the agent process",
        labelNames: [],
      });
      const heap = registry.gauge({
        name: "osprey_heap_used_bytes",
        help: "JavaScript heap in use by the agent",
        labelNames: [],
      });
      const cpu = registry.counter({
        name: "process_cpu_seconds_total",
        help: "User and system CPU time of the agent process",
        labelNames: [],
      });
      const logDropped = registry.counter({
        name: "osprey_log_lines_dropped_total",
        help: "Lines of the agent's own log dropped by its rate limit",
        labelNames: [],
      });
      const fdsReadable = readFdLimits(paths) !== undefined;
      const maxFds = fdsReadable
        ? registry.gauge({
          name: "process_max_fds",
          help: "Most open file descriptors the agent may have (its soft RLIMIT_NOFILE)",
          labelNames: [],
        }).labels()
        : undefined;
      const openFds = fdsReadable
        ? registry.gauge({
          name: "process_open_fds",
          help: "File descriptors the agent has open",
          labelNames: [],
        }).labels()
        : undefined;
      return {
        collectors: [{
          name: "self",
          collect() {
            // Neither read throws; while every descriptor is taken the last values stay.
            const limits = fdsReadable ? readFdLimits(paths) : undefined;
            if (limits !== undefined) maxFds?.set(limits.soft);
            const open = fdsReadable ? countOpenFds(paths) : undefined;
            if (open !== undefined) openFds?.set(open);
            const mem = Deno.memoryUsage();
            rss.labels().set(mem.rss);
            heap.labels().set(mem.heapUsed);
            const u = cpuUsage();
            cpu.labels().set((u.user + u.system) / 1e6);
            logDropped.labels().set(logStats.dropped);
          },
        }],
        stop() {},
      };
    },
  };
}
