import { deepEqual, equal, ok, throws } from "node:assert/strict";
import { FlagError, helpText, parseFlags, PENDING_GROUP } from "./flags.ts";
import { agentFlags } from "./main.ts";
import { PENDING_FLAGS } from "./pending_flags.ts";

/**
 * Every flag of coroot-node-agent v1.35.6 on Linux (its `flags/flags.go` and
 * `flags/flags_linux.go`, reference §9.1), `--version` aside.
 */
const REFERENCE_FLAGS = [
  "listen",
  "cgroupfs-root",
  "disable-log-parsing",
  "disable-json-log-parsing",
  "disable-pinger",
  "disable-l7-tracing",
  "disable-gpu-monitoring",
  "enable-java-tls",
  "enable-java-async-profiler",
  "java-async-profiler-delay",
  "go-heap-profiler",
  "instrumentation-delay",
  "skip-systemd-system-services",
  "container-allowlist",
  "container-denylist",
  "min-container-age",
  "max-fqdns-per-container",
  "exclude-http-requests-by-path",
  "track-public-network",
  "ephemeral-port-range",
  "provider",
  "region",
  "availability-zone",
  "instance-type",
  "instance-life-cycle",
  "log-patterns-per-container",
  "max-label-length",
  "log-per-second",
  "log-burst",
  "collector-endpoint",
  "api-key",
  "metrics-endpoint",
  "logs-endpoint",
  "traces-endpoint",
  "traces-sampling",
  "profiles-endpoint",
  "profiles-prune-fraction",
  "insecure-skip-verify",
  "ca-file",
  "scrape-interval",
  "wal-dir",
  "max-spool-size",
];

/** Longest delay setTimeout keeps (2^31 - 1 ms); a longer one fires at once. */
const MAX_TIMER_MS = 2 ** 31 - 1;

const FLAGS = agentFlags();
const byName = new Map(FLAGS.map((f) => [f.name, f]));

Deno.test("agentFlags() knows every coroot-node-agent flag, with the reference's env names", () => {
  const missing = REFERENCE_FLAGS.filter((n) => !byName.has(n));
  deepEqual(missing, []);
  for (const name of REFERENCE_FLAGS) {
    equal(byName.get(name)!.env, name.toUpperCase().replaceAll("-", "_"), name);
  }
  equal(new Set(FLAGS.map((f) => f.name)).size, FLAGS.length, "a flag is defined twice");
});

Deno.test("agentFlags(): the not-implemented flags are the reference's and only those", () => {
  for (const f of PENDING_FLAGS) {
    ok(REFERENCE_FLAGS.includes(f.name), `${f.name} is not a reference flag`);
    equal(f.implemented, false, f.name);
    equal(f.group, undefined, `${f.name}: a pending flag takes its group when it moves`);
  }
  for (const f of FLAGS.filter((f) => !PENDING_FLAGS.includes(f))) {
    ok(f.implemented !== false, `${f.name} is marked not implemented outside pending_flags.ts`);
  }
  const text = helpText(FLAGS, "usage");
  const heading = text.indexOf(`\n${PENDING_GROUP}:\n`);
  ok(heading > 0);
  for (const f of PENDING_FLAGS) ok(text.indexOf(`  --${f.name}`) > heading, f.name);
});

Deno.test("agentFlags(): every number has a lower bound and every duration fits a timer", () => {
  for (const f of FLAGS) {
    if (["int", "number", "duration", "bytes"].includes(f.kind)) {
      ok(f.min !== undefined, `--${f.name} has no lower bound`);
    }
    if (f.kind === "duration") {
      ok(f.max !== undefined && f.max <= MAX_TIMER_MS, `--${f.name} needs an upper bound`);
    }
  }
});

Deno.test("agentFlags(): the values that hurt are refused", () => {
  const refuse = (args: string[], env: Record<string, string> = {}) =>
    throws(() => parseFlags(FLAGS, args, (n) => env[n]), FlagError, args.join(" "));
  for (const v of ["", "-1", "0", "0x10", "1e3", "1.5"]) {
    refuse([`--max-containers=${v}`]);
    refuse([`--max-processes=${v}`]);
  }
  for (const name of ["collect-interval", "container-rescan-interval", "container-disk-interval"]) {
    refuse([`--${name}=0`]);
    refuse([`--${name}=1ms`]);
    refuse([`--${name}=25d`]);
    refuse([], { [byName.get(name)!.env]: "0s" });
  }
  refuse(["--collect-timeout=0"]);
  refuse(["--shutdown-timeout=0"]);
  refuse(["--container-gc-grace=1000h"]);
  refuse(["--log-burst=0"]);
  refuse(["--log-level=verbose"]);
  refuse(["--log-format=xml"]);
  refuse(["--listen=localhost"]);
  refuse(["--listen=:99999"]);
  refuse(["--container-denylist=("]);
  refuse([], { CONTAINER_ALLOWLIST: "^/docker/\n(" });
  refuse(["--disk-devices-extra-regex=["]);
  refuse(["--docker-socket=docker.sock"]);
  refuse(["--scrape-interval=0"]);
  refuse(["--metrics-endpoint=coroot:8080"]);
  refuse(["--exclude-http-requests-by-path=/x["]);
});

Deno.test("agentFlags() take the reference DaemonSet's and operator's arguments", () => {
  const env: Record<string, string> = {
    SCRAPE_INTERVAL: "15s",
    API_KEY: "secret",
    INSECURE_SKIP_VERIFY: "true",
    CA_FILE: "/etc/coroot-ca/ca.crt",
    METRICS_ENDPOINT: "http://127.0.0.1:1/v1/metrics",
    DISABLE_LOG_PARSING: "true",
    LOGS_ENDPOINT: "http://127.0.0.1:1/v1/logs",
    TRACES_ENDPOINT: "http://127.0.0.1:1/v1/traces",
    TRACES_SAMPLING: "0.1",
    PROFILES_ENDPOINT: "http://127.0.0.1:1/v1/profiles",
    TRACK_PUBLIC_NETWORK: "10.0.0.0/8\n203.0.113.0/24",
  };
  const p = parseFlags(FLAGS, ["--cgroupfs-root", "/host/sys/fs/cgroup"], (n) => env[n]);
  equal(p.values["cgroupfs-root"], "/host/sys/fs/cgroup");
  equal(p.values["scrape-interval"], 15_000);
  equal(p.values["traces-sampling"], 0.1);
  deepEqual(p.values["track-public-network"], ["10.0.0.0/8", "203.0.113.0/24"]);
  deepEqual(p.unimplemented, ["profiles-endpoint"]);
});

Deno.test("README's Flags section names every flag", () => {
  const readme = Deno.readTextFileSync(new URL("../README.md", import.meta.url));
  const start = readme.indexOf("\n### Flags\n");
  const section = readme.slice(start, readme.indexOf("\n## ", start));
  ok(start > 0);
  const missing = FLAGS.filter((f) => !new RegExp(`\`--${f.name}\``).test(section));
  deepEqual(missing.map((f) => f.name), []);
});
