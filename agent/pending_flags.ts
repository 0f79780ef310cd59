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
 * outside 0..1, timers longer than a day).
 *
 * @module
 */
import { checkHttpUrl } from "./flag_syntax.ts";
import type { FlagSpec } from "./flags.ts";

const DAY_MS = 86_400_000;
const URL_ACCEPTS = "an absolute http or https URL";

const ENTRIES: readonly FlagSpec[] = [
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
  // Profiling upload (the push module derives nothing for it yet)
  {
    name: "profiles-endpoint",
    env: "PROFILES_ENDPOINT",
    kind: "string",
    check: checkHttpUrl,
    accepts: URL_ACCEPTS,
    help: "URL to upload profiles to",
  },
];

/** The reference's flags Osprey accepts and checks but does not act on yet. */
export const PENDING_FLAGS: readonly FlagSpec[] = ENTRIES.map((f) => ({
  ...f,
  implemented: false,
}));
