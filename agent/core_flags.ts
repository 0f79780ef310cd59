/**
 * The agent's own flags. Names and environment twins follow coroot-node-agent where it has the
 * same option (reference §9.1); the rest are Osprey's.
 *
 * @module
 */
import type { FlagSpec } from "./flags.ts";
import { parseListen } from "./server/mod.ts";

/** Returns undefined for a listen address `parseListen` takes, else what is wrong. */
function checkListen(value: string): string | undefined {
  try {
    parseListen(value);
    return undefined;
  } catch (err) {
    if (err instanceof TypeError) return "not an address";
    if (err instanceof RangeError) return "port above 65535";
    throw err;
  }
}

/** Flags of the agent process itself (server, host paths, logging, scheduling). */
export const CORE_FLAGS: readonly FlagSpec[] = [
  {
    name: "listen",
    env: "LISTEN",
    kind: "string",
    default: "0.0.0.0:80",
    check: checkListen,
    accepts: "host:port, [ipv6]:port or :port",
    help: "Address the HTTP server listens on (/metrics, /healthz, /readyz)",
    group: "Server",
  },
  {
    name: "http-header-timeout",
    env: "HTTP_HEADER_TIMEOUT",
    kind: "duration",
    min: 100,
    max: 3_600_000,
    default: 10_000,
    help: "Time a connection has to send a whole request head; then it is closed",
    group: "Server",
  },
  {
    name: "http-idle-timeout",
    env: "HTTP_IDLE_TIMEOUT",
    kind: "duration",
    min: 100,
    max: 86_400_000,
    default: 120_000,
    help: "Time a keep-alive connection may wait for its next request; then it is closed",
    group: "Server",
  },
  {
    name: "http-write-timeout",
    env: "HTTP_WRITE_TIMEOUT",
    kind: "duration",
    min: 100,
    max: 3_600_000,
    default: 30_000,
    help: "Time to answer one request and write the response; then the connection is closed",
    group: "Server",
  },
  {
    name: "http-max-connections",
    env: "HTTP_MAX_CONNECTIONS",
    kind: "int",
    min: 1,
    max: 100_000,
    default: 128,
    help: "Most HTTP connections open at once; beyond it the oldest idle or incomplete one is " +
      "closed. The default is lowered to a quarter of the file descriptors the agent may open",
    group: "Server",
  },
  {
    name: "host-root",
    env: "HOST_ROOT",
    kind: "string",
    default: "/",
    // An empty path would resolve against the working directory, as a relative one does.
    check: (value) => value === "" ? "empty" : undefined,
    accepts: "a directory, absolute or relative to the working directory",
    help: "Where the host's root is visible (/host in a container, a fixture tree in development)",
    group: "Host paths",
  },
  {
    name: "cgroupfs-root",
    env: "CGROUPFS_ROOT",
    kind: "string",
    default: "",
    help: "Host cgroupfs mount point (default <host-root>/sys/fs/cgroup)",
    group: "Host paths",
  },
  {
    name: "procfs-root",
    env: "PROCFS_ROOT",
    kind: "string",
    default: "",
    help: "Host procfs (default <host-root>/proc)",
    group: "Host paths",
  },
  {
    name: "sysfs-root",
    env: "SYSFS_ROOT",
    kind: "string",
    default: "",
    help: "Host sysfs (default <host-root>/sys)",
    group: "Host paths",
  },
  {
    name: "collect-interval",
    env: "COLLECT_INTERVAL",
    kind: "duration",
    default: 5000,
    min: 100,
    max: 3_600_000,
    help: "How often collectors refresh in the background; scrapes serve the latest values",
    group: "Collection",
  },
  {
    name: "collect-timeout",
    env: "COLLECT_TIMEOUT",
    kind: "duration",
    default: 10000,
    min: 100,
    max: 600_000,
    help: "A collector round longer than this is abandoned and counted as failed",
    group: "Collection",
  },
  {
    name: "shutdown-timeout",
    env: "SHUTDOWN_TIMEOUT",
    kind: "duration",
    default: 5000,
    min: 100,
    max: 600_000,
    help: "Longest a graceful stop may take before the agent exits anyway",
    group: "Collection",
  },
  {
    name: "log-level",
    env: "LOG_LEVEL",
    kind: "string",
    default: "info",
    choices: ["debug", "info", "warn", "error"],
    help: "Lowest level of the agent's own log",
    group: "Logging",
  },
  {
    name: "log-format",
    env: "LOG_FORMAT",
    kind: "string",
    default: "text",
    choices: ["text", "json"],
    help: "Log line format: text (logfmt) or json (one object a line)",
    group: "Logging",
  },
  {
    name: "log-per-second",
    env: "LOG_PER_SECOND",
    kind: "number",
    default: 10,
    min: 0,
    help: "Sustained rate limit of the agent's own log lines; what it drops is counted " +
      "(0 lets only the burst through, as in the reference)",
    group: "Logging",
  },
  {
    name: "log-burst",
    env: "LOG_BURST",
    kind: "int",
    default: 100,
    min: 1,
    help: "Burst allowance of the log rate limit",
    group: "Logging",
  },
];
