/**
 * coroot-node-agent's flags whose capability Osprey does not have yet (reference §9.1, read
 * against its `flags/flags.go` and `flags/flags_linux.go` at v1.35.6). A DaemonSet, Helm chart
 * or operator written for the reference passes them, and the reference refuses an unknown flag,
 * so Osprey must know them all: each is parsed and checked exactly like an implemented flag (a
 * bad value stops the agent with exit code 2), `--help` lists them apart, and the agent logs
 * once at start which of them the user set ("accepted, not implemented: --x, --y").
 *
 * To implement one, move its entry into the flag list of the module that implements it (and
 * give it a `group`); nothing else names it. The `implemented: false` marker is added here, not
 * written on the entries.
 *
 * Bounds: the reference checks none of these values beyond their syntax. Osprey refuses what
 * could only hurt once the capability exists (a negative cap or delay, a sampling fraction
 * outside 0..1, a push interval below 1 s, timers longer than a day).
 *
 * @module
 */
import { checkHttpUrl } from "./flag_syntax.ts";
import type { FlagSpec } from "./flags.ts";

const DAY_MS = 86_400_000;
const URL_ACCEPTS = "an absolute http or https URL";

const ENTRIES: readonly FlagSpec[] = [
  // Log collection and parsing
  {
    name: "disable-log-parsing",
    env: "DISABLE_LOG_PARSING",
    kind: "bool",
    help: "Parse no container logs",
  },
  {
    name: "disable-json-log-parsing",
    env: "DISABLE_JSON_LOG_PARSING",
    kind: "bool",
    help: "Keep JSON log lines whole instead of taking their message, level and attributes",
  },
  {
    name: "log-patterns-per-container",
    env: "LOG_PATTERNS_PER_CONTAINER",
    kind: "int",
    default: 256,
    min: 0,
    help: "Most log patterns tracked per container and level",
  },
  {
    name: "max-label-length",
    env: "MAX_LABEL_LENGTH",
    kind: "int",
    default: 4096,
    min: 0,
    help: "Longest log sample kept in a label value (longer ones are cut)",
  },
  // L7 tracing and instrumentation
  {
    name: "instrumentation-delay",
    env: "INSTRUMENTATION_DELAY",
    kind: "duration",
    default: 30_000,
    min: 0,
    max: DAY_MS,
    help: "Wait this long after a process starts before TLS uprobes and Python/Node.js probes",
  },
  {
    name: "enable-java-tls",
    env: "ENABLE_JAVA_TLS",
    kind: "bool",
    help: "Load an agent into JVMs to see their TLS traffic",
  },
  // Profiling
  {
    name: "enable-java-async-profiler",
    env: "ENABLE_JAVA_ASYNC_PROFILER",
    kind: "bool",
    help: "Profile JVMs with async-profiler (CPU, allocations, locks)",
  },
  {
    name: "java-async-profiler-delay",
    env: "JAVA_ASYNC_PROFILER_DELAY",
    kind: "duration",
    default: 30_000,
    min: 0,
    max: DAY_MS,
    help: "Wait this long after a JVM is found before profiling it",
  },
  {
    name: "go-heap-profiler",
    env: "GO_HEAP_PROFILER",
    kind: "string",
    default: "enabled",
    choices: ["disabled", "enabled", "force"],
    help: "Go heap profiles: disabled, enabled (from Go apps that turn profiling on) or " +
      "force (turned on in every Go app)",
  },
  {
    name: "profiles-prune-fraction",
    env: "PROFILES_PRUNE_FRACTION",
    kind: "number",
    default: 0.0025,
    min: 0,
    max: 1,
    help: "Drop profile code paths below this share of the total (0 keeps all)",
  },
  // GPU
  {
    name: "disable-gpu-monitoring",
    env: "DISABLE_GPU_MONITORING",
    kind: "bool",
    help: "Do not read GPU metrics through NVML",
  },
  // Push to a collector
  {
    name: "collector-endpoint",
    env: "COLLECTOR_ENDPOINT",
    kind: "string",
    check: checkHttpUrl,
    accepts: URL_ACCEPTS,
    help: "Base URL of a Coroot collector; metrics, logs, traces and profiles go to its " +
      "/v1/metrics, /v1/logs, /v1/traces and /v1/profiles unless set one by one",
  },
  {
    name: "api-key",
    env: "API_KEY",
    kind: "string",
    help: "Coroot API key, sent as X-Api-Key",
  },
  {
    name: "metrics-endpoint",
    env: "METRICS_ENDPOINT",
    kind: "string",
    check: checkHttpUrl,
    accepts: URL_ACCEPTS,
    help: "Prometheus remote-write URL to push metrics to",
  },
  {
    name: "logs-endpoint",
    env: "LOGS_ENDPOINT",
    kind: "string",
    check: checkHttpUrl,
    accepts: URL_ACCEPTS,
    help: "OTLP/HTTP URL to send container logs to",
  },
  {
    name: "traces-endpoint",
    env: "TRACES_ENDPOINT",
    kind: "string",
    check: checkHttpUrl,
    accepts: URL_ACCEPTS,
    help: "OTLP/HTTP URL to send traces to",
  },
  {
    name: "traces-sampling",
    env: "TRACES_SAMPLING",
    kind: "number",
    default: 1,
    min: 0,
    max: 1,
    help: "Share of traces sent",
  },
  {
    name: "profiles-endpoint",
    env: "PROFILES_ENDPOINT",
    kind: "string",
    check: checkHttpUrl,
    accepts: URL_ACCEPTS,
    help: "URL to upload profiles to",
  },
  {
    name: "insecure-skip-verify",
    env: "INSECURE_SKIP_VERIFY",
    kind: "bool",
    help: "Do not verify the collector's TLS certificate",
  },
  {
    name: "ca-file",
    env: "CA_FILE",
    kind: "string",
    help: "Extra CA certificate file for the collector's TLS",
  },
  {
    name: "scrape-interval",
    env: "SCRAPE_INTERVAL",
    kind: "duration",
    default: 15_000,
    min: 1000,
    max: DAY_MS,
    help: "How often metrics are gathered and pushed to --metrics-endpoint",
  },
  {
    name: "wal-dir",
    env: "WAL_DIR",
    kind: "string",
    default: "/tmp/coroot-node-agent",
    help: "Directory of the spool that holds data the collector could not take yet",
  },
  {
    name: "max-spool-size",
    env: "MAX_SPOOL_SIZE",
    kind: "bytes",
    default: 500 * 1024 * 1024,
    min: 0,
    help: "Largest size of that spool",
  },
];

/** The reference's flags Osprey accepts and checks but does not act on yet. */
export const PENDING_FLAGS: readonly FlagSpec[] = ENTRIES.map((f) => ({
  ...f,
  implemented: false,
}));
