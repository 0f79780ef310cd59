/**
 * The agent process takes coroot-node-agent's command lines: the reference DaemonSet's arguments
 * (`manifests/coroot-node-agent.yaml`: `--cgroupfs-root /host/sys/fs/cgroup`), the flags its
 * Helm chart and users add, and the environment coroot-operator gives the pod (its
 * `controller/node_agent.go`: SCRAPE_INTERVAL, API_KEY, the endpoints, TRACK_PUBLIC_NETWORK
 * joined by newlines, ...). Every endpoint points at 127.0.0.1:1; nothing is sent anyway. A bad
 * value stops the agent with exit code 2 and one line on stderr.
 */
import { deepEqual, equal, match, ok } from "node:assert/strict";
import { PENDING_GROUP } from "../agent/flags.ts";
import { REPO_ROOT, scrape, startAgent } from "./helpers/agent_process.ts";

/** The reference DaemonSet's args, then chart- and user-style flags. */
const REFERENCE_ARGS = [
  // A metrics endpoint forces this address (as in the reference); naming it lets the helper
  // scrape it.
  "--listen=127.0.0.1:10300",
  "--cgroupfs-root",
  "/host/sys/fs/cgroup",
  "--collector-endpoint=http://127.0.0.1:1",
  "--disable-pinger",
  "--disable-l7-tracing",
  "--track-public-network=10.0.0.0/8",
  "--track-public-network",
  "2001:db8::/32",
  "--ephemeral-port-range=32768-60999",
  "--provider=aws",
  "--availability-zone=us-east-1a",
  // Belt and braces: were this host's DMI to name a cloud, its metadata requests go to loopback.
  "--cloud-metadata-base-url=http://127.0.0.1:1",
  "--max-spool-size=1GB",
  "--go-heap-profiler=disabled",
  "--log-per-second=10.0",
  "--log-burst",
  "100",
  "--min-container-age",
  "1m30s",
  "--skip-systemd-system-services",
  "--container-denylist=^/system.slice/",
];

/** What coroot-operator sets in the node agent's environment (values pointed at loopback). */
const OPERATOR_ENV: Record<string, string> = {
  SCRAPE_INTERVAL: "15s",
  API_KEY: "osprey-test-api-key",
  INSECURE_SKIP_VERIFY: "true",
  CA_FILE: "/etc/coroot-ca/ca.crt",
  METRICS_ENDPOINT: "http://127.0.0.1:1/v1/metrics",
  DISABLE_LOG_PARSING: "true",
  LOGS_ENDPOINT: "http://127.0.0.1:1/v1/logs",
  TRACES_ENDPOINT: "http://127.0.0.1:1/v1/traces",
  TRACES_SAMPLING: "0.5",
  PROFILES_ENDPOINT: "http://127.0.0.1:1/v1/profiles",
  TRACK_PUBLIC_NETWORK: "203.0.113.0/24\n198.51.100.0/24",
  MAX_FQDNS_PER_CONTAINER: "100",
  EXCLUDE_HTTP_REQUESTS_BY_PATH: "/health*\n/metrics",
  INSTRUMENTATION_DELAY: "1m",
};

/** The not-implemented flags those set, in the order the agent names them. */
const EXPECTED_NOT_IMPLEMENTED = [
  "instrumentation-delay",
  "go-heap-profiler",
  "profiles-endpoint",
].map((n) => `--${n}`);

/** Deno's own notice on every `-P` run (Deno 2.9.6), not the agent's output. */
const DENO_P_NOTICE = /^Warning Permissions in the config file is an experimental feature.*\n/;

/** Runs the agent with the "agent" permission set; stderr without Deno's `-P` notice. */
async function run(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  const r = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--no-prompt", "-P=agent", "agent/main.ts", ...args],
    cwd: REPO_ROOT,
    env: { NO_COLOR: "1", RUST_BACKTRACE: "0", DENO_NO_UPDATE_CHECK: "1", ...env },
    stdin: "null",
  }).output();
  const d = new TextDecoder();
  const stderr = d.decode(r.stderr).replace(DENO_P_NOTICE, "");
  return { code: r.code, stdout: d.decode(r.stdout), stderr };
}

Deno.test("the reference DaemonSet's arguments and the operator's environment start the agent", async () => {
  const agent = startAgent({
    permissions: ["-P=agent"],
    args: REFERENCE_ARGS,
    env: OPERATOR_ENV,
  });
  try {
    await agent.waitReady();
    const text = await scrape(agent.url);
    match(text, /^node_agent_info\{.*version="\d+\.\d+\.\d+".*\} 1$/m);
    // the overrides label node_cloud_info; with no region, container series get no az/region
    match(text, /^node_cloud_info\{provider="aws",.*,region="",availability_zone="us-east-1a",/m);
    ok(!/^container_\S*az=/m.test(text));
    const lines = agent.stderr().split("\n").filter((l) => l.includes("accepted, not implemented"));
    equal(lines.length, 1, agent.stderr());
    match(lines[0], /level=warn /);
    const named = /msg="accepted, not implemented: ([^"]*)"/.exec(lines[0])?.[1];
    deepEqual(named?.split(", "), EXPECTED_NOT_IMPLEMENTED);
    ok(!agent.stderr().includes(OPERATOR_ENV.API_KEY), "the API key is logged");
  } finally {
    const { status } = await agent.stop();
    equal(status.code, 0);
  }
});

Deno.test("the agent says nothing about unimplemented flags when none is set", async () => {
  const agent = startAgent({
    permissions: ["-P=fixture"],
    args: ["--host-root=tests/fixtures/host", "--disable-bpf"],
  });
  try {
    await agent.waitReady();
    ok(!agent.stderr().includes("not implemented"), agent.stderr());
  } finally {
    await agent.stop();
  }
});

Deno.test("a bad flag or environment value exits 2 with one line naming it and what is accepted", async () => {
  const cases: [string[], Record<string, string>, string][] = [
    [
      ["--max-containers=0x10"],
      {},
      'osprey: --max-containers "0x10": not a decimal integer; accepted: an integer, 1 to 100000',
    ],
    [
      ["--max-containers="],
      {},
      'osprey: --max-containers "": empty; accepted: an integer, 1 to 100000',
    ],
    [
      [],
      { MAX_CONTAINERS: "-1" },
      'osprey: MAX_CONTAINERS="-1" (environment, for --max-containers): below 1; accepted: an ' +
      "integer, 1 to 100000",
    ],
    [
      ["--collect-interval=0"],
      {},
      'osprey: --collect-interval "0": below 100ms; accepted: a duration such as 1m30s, 300ms ' +
      "or 10 (seconds), 100ms to 1h",
    ],
    [
      [],
      { TRACK_PUBLIC_NETWORK: "10.0.0.0/8\n10.0.0.1" },
      'osprey: TRACK_PUBLIC_NETWORK="10.0.0.0/8\\n10.0.0.1" (environment, for ' +
      '--track-public-network): "10.0.0.1": no /prefix-length; accepted: address/bits, e.g. ' +
      "203.0.113.0/24 or 2001:db8::/32 (repeatable)",
    ],
    [
      ["--disable-pinger=yes"],
      {},
      'osprey: --disable-pinger "yes": not a boolean; accepted: true or false (also 1, 0, t, f, ' +
      "T, F, TRUE, FALSE, True, False)",
    ],
  ];
  for (const [args, env, line] of cases) {
    const r = await run(args, env);
    equal(r.code, 2, `${args} ${JSON.stringify(env)}: ${r.stderr}`);
    equal(r.stderr, line + "\n");
    equal(r.stdout, "");
  }
});

Deno.test("--help lists coroot-node-agent's not-implemented flags in their own group", async () => {
  const r = await run(["--help"]);
  equal(r.code, 0, r.stderr);
  const at = r.stdout.indexOf(`\n${PENDING_GROUP}:\n`);
  ok(at > 0, r.stdout);
  for (
    const f of [
      "--disable-gpu-monitoring",
      "--profiles-prune-fraction <number>",
    ]
  ) {
    ok(r.stdout.indexOf(`  ${f}\n`) > at, f);
  }
  ok(r.stdout.indexOf("  --disable-l7-tracing\n") < at, "implemented by the l7 module");
  ok(r.stdout.indexOf("  --exclude-http-requests-by-path <list>\n") < at, "the l7 module's");
  ok(r.stdout.indexOf("  --max-containers <int>\n") < at);
  ok(r.stdout.indexOf("  --track-public-network <list>\n") < at, "implemented by the net module");
  ok(r.stdout.indexOf("  --max-spool-size <bytes>\n") < at, "implemented by the push module");
  match(r.stdout, /--max-containers <int>\n.*\[env MAX_CONTAINERS; default 5000; 1 to 100000\]/);
});

Deno.test("--help answers even when a flag or an env twin holds a bad value", async () => {
  for (
    const [args, env] of [
      [["--help", "--max-containers=-1"], {}],
      [["-h"], { COLLECT_INTERVAL: "0" }],
    ] as const
  ) {
    const r = await run([...args], env);
    equal(r.code, 0, r.stderr);
    match(r.stdout, /--max-containers <int>/);
  }
});
