import { deepEqual, equal, match, ok, throws } from "node:assert/strict";
import { checkIpPrefix, checkPortRanges } from "./flag_syntax.ts";
import {
  acceptedValues,
  FlagError,
  helpText,
  notImplementedLine,
  parseFlags,
  PENDING_GROUP,
} from "./flags.ts";
import type { FlagSpec } from "./flags.ts";
import { CORE_FLAGS } from "./core_flags.ts";

const SPECS: FlagSpec[] = [
  { name: "listen", env: "LISTEN", kind: "string", default: "0.0.0.0:80", help: "addr" },
  { name: "disable-bpf", env: "DISABLE_BPF", kind: "bool", help: "off" },
  {
    name: "min-container-age",
    env: "MIN_CONTAINER_AGE",
    kind: "duration",
    default: 30000,
    min: 0,
    max: 86_400_000,
    help: "",
  },
  {
    name: "collect-interval",
    env: "COLLECT_INTERVAL",
    kind: "duration",
    default: 5000,
    min: 100,
    max: 3_600_000,
    help: "",
  },
  { name: "container-denylist", env: "CONTAINER_DENYLIST", kind: "list", help: "" },
  { name: "log-burst", env: "LOG_BURST", kind: "int", default: 100, min: 1, help: "" },
  {
    name: "max-containers",
    env: "MAX_CONTAINERS",
    kind: "int",
    default: 5000,
    min: 1,
    max: 100_000,
    help: "",
  },
  { name: "log-per-second", env: "LOG_PER_SECOND", kind: "number", default: 10, min: 0, help: "" },
  {
    name: "traces-sampling",
    env: "TRACES_SAMPLING",
    kind: "number",
    default: 1,
    min: 0,
    max: 1,
    help: "",
    implemented: false,
  },
  {
    name: "track-public-network",
    env: "TRACK_PUBLIC_NETWORK",
    kind: "list",
    default: ["0.0.0.0/0"],
    check: checkIpPrefix,
    accepts: "address/bits",
    help: "",
    implemented: false,
  },
  {
    name: "ephemeral-port-range",
    env: "EPHEMERAL_PORT_RANGE",
    kind: "string",
    default: "32768-60999",
    check: checkPortRanges,
    accepts: "FROM-TO ranges",
    help: "",
    implemented: false,
  },
  {
    name: "disable-pinger",
    env: "DISABLE_PINGER",
    kind: "bool",
    help: "",
    implemented: false,
  },
  {
    name: "max-spool-size",
    env: "MAX_SPOOL_SIZE",
    kind: "bytes",
    default: 524_288_000,
    min: 0,
    help: "",
    implemented: false,
  },
  {
    name: "go-heap-profiler",
    env: "GO_HEAP_PROFILER",
    kind: "string",
    default: "enabled",
    choices: ["disabled", "enabled", "force"],
    help: "",
    implemented: false,
  },
];

const noEnv = () => undefined;
const envOf = (vars: Record<string, string>) => (n: string) => vars[n];
const values = (args: string[], env: Record<string, string> = {}) =>
  parseFlags(SPECS, args, envOf(env)).values;

/** The FlagError message for these arguments and environment; fails when none is thrown. */
function errorOf(args: string[], env: Record<string, string> = {}): string {
  try {
    parseFlags(SPECS, args, envOf(env));
  } catch (e) {
    ok(e instanceof FlagError, String(e));
    ok(!e.message.includes("\n"), `not one line: ${e.message}`);
    return e.message;
  }
  throw new Error(`no FlagError for ${JSON.stringify(args)} ${JSON.stringify(env)}`);
}

Deno.test("parseFlags() prefers the flag, then the environment twin, then the default", () => {
  const env: Record<string, string> = { LISTEN: "127.0.0.1:9100", LOG_BURST: "7" };
  const p = parseFlags(SPECS, ["--log-burst=9"], (n) => env[n]);
  equal(p.values.listen, "127.0.0.1:9100");
  equal(p.origin.listen, "env");
  equal(p.values["log-burst"], 9);
  equal(p.origin["log-burst"], "flag");
  equal(p.values["disable-bpf"], false);
  equal(p.values["min-container-age"], 30000);
  equal(p.origin["min-container-age"], "default");
  // An empty variable is unset, as in the reference.
  equal(parseFlags(SPECS, [], envOf({ MAX_CONTAINERS: "" })).values["max-containers"], 5000);
});

Deno.test("parseFlags() reads Go booleans: alone, --no-, after = and as the next word", () => {
  equal(values(["--disable-bpf"])["disable-bpf"], true);
  equal(values(["--no-disable-bpf"])["disable-bpf"], false);
  for (const t of ["1", "t", "T", "TRUE", "true", "True"]) {
    equal(values([`--disable-bpf=${t}`])["disable-bpf"], true, t);
    equal(values(["--disable-bpf", t])["disable-bpf"], true, t);
    equal(values([], { DISABLE_BPF: t })["disable-bpf"], true, t);
  }
  for (const f of ["0", "f", "F", "FALSE", "false", "False"]) {
    equal(values([`--disable-bpf=${f}`])["disable-bpf"], false, f);
    equal(values(["--disable-bpf", f])["disable-bpf"], false, f);
    equal(values([], { DISABLE_BPF: f })["disable-bpf"], false, f);
  }
  equal(values(["--no-disable-bpf"], { DISABLE_BPF: "true" })["disable-bpf"], false);
  // The next word is taken only when it is a boolean.
  equal(values(["--disable-bpf", "--log-burst=3"])["log-burst"], 3);
  match(
    errorOf(["--disable-bpf", "yes"]),
    /^Unexpected argument "yes" after --disable-bpf: a boolean flag takes a value only as --disable-bpf=<true\|false>/,
  );
  match(errorOf(["--disable-bpf=yes"]), /^--disable-bpf "yes": not a boolean; accepted: true or/);
  match(errorOf(["--disable-bpf="]), /^--disable-bpf "": not a boolean/);
  match(errorOf([], { DISABLE_BPF: "on" }), /^DISABLE_BPF="on" \(environment, for --disable-bpf\)/);
  match(errorOf(["--no-disable-bpf=true"]), /"--no-disable-bpf" takes no value/);
  match(errorOf(["--no-log-burst"]), /Unknown flag "--no-log-burst"/);
});

Deno.test("parseFlags() reads durations: Go syntax, bare seconds, within bounds", () => {
  equal(values(["--min-container-age=1m30s"])["min-container-age"], 90_000);
  equal(values(["--min-container-age", "300ms"])["min-container-age"], 300);
  equal(values(["--min-container-age=1h2m3.5s"])["min-container-age"], 3_723_500);
  equal(values(["--min-container-age=1.5h"])["min-container-age"], 5_400_000);
  equal(values(["--min-container-age=0"])["min-container-age"], 0);
  equal(values(["--min-container-age=30"])["min-container-age"], 30_000);
  equal(values([], { MIN_CONTAINER_AGE: "2m\n" })["min-container-age"], 120_000);
  equal(values(["--collect-interval=100ms"])["collect-interval"], 100);
  equal(
    errorOf(["--collect-interval=0"]),
    '--collect-interval "0": below 100ms; accepted: a duration such as 1m30s, 300ms or 10 ' +
      "(seconds), 100ms to 1h",
  );
  match(errorOf(["--collect-interval=2h"]), /^--collect-interval "2h": above 1h;/);
  match(errorOf(["--min-container-age=-1s"]), /below 0s/);
  match(errorOf(["--min-container-age=1d"]), /^--min-container-age "1d": unknown unit "d";/);
  match(errorOf(["--min-container-age="]), /^--min-container-age "": empty;/);
  match(errorOf([], { COLLECT_INTERVAL: "0" }), /^COLLECT_INTERVAL="0" \(environment, for/);
});

Deno.test("parseFlags() refuses every integer that is not plain decimal within bounds", () => {
  equal(values(["--max-containers=100000"])["max-containers"], 100_000);
  equal(values(["--max-containers", "1"])["max-containers"], 1);
  equal(values(["--max-containers= 42 "])["max-containers"], 42);
  const bad: [string, RegExp][] = [
    ["", /: empty;/],
    ["-1", /: below 1;/],
    ["0", /: below 1;/],
    ["0x10", /: not a decimal integer;/],
    ["1e3", /: not a decimal integer;/],
    ["1.5", /: not a decimal integer;/],
    ["100001", /: above 100000;/],
    ["99999999999999999999", /: too large;/],
  ];
  for (const [v, why] of bad) {
    const msg = errorOf([`--max-containers=${v}`]);
    ok(msg.startsWith(`--max-containers ${JSON.stringify(v)}: `), msg);
    match(msg, why);
    ok(msg.endsWith("; accepted: an integer, 1 to 100000"), msg);
    const fromEnv = errorOf([], { MAX_CONTAINERS: v || " " });
    ok(fromEnv.startsWith("MAX_CONTAINERS="), fromEnv);
    match(fromEnv, /\(environment, for --max-containers\)/);
  }
  match(errorOf(["--log-burst=0"]), /^--log-burst "0": below 1; accepted: an integer, at least 1$/);
});

Deno.test("parseFlags() reads floats as Go and keeps fractions within their range", () => {
  equal(values(["--traces-sampling=0.5"])["traces-sampling"], 0.5);
  equal(values(["--traces-sampling=1"])["traces-sampling"], 1);
  equal(values(["--traces-sampling=0"])["traces-sampling"], 0);
  equal(values(["--traces-sampling=5e-1"])["traces-sampling"], 0.5);
  equal(values(["--log-per-second=0"])["log-per-second"], 0);
  match(errorOf(["--traces-sampling=1.5"]), /: above 1; accepted: a number, 0 to 1$/);
  match(errorOf(["--traces-sampling=-0.1"]), /: below 0;/);
  match(errorOf(["--traces-sampling=nan"]), /: not a number;/);
  match(errorOf(["--log-per-second=inf"]), /: not finite;/);
  match(errorOf(["--log-per-second=-1"]), /: below 0;/);
  match(errorOf(["--log-per-second=ten"]), /: not a number;/);
});

Deno.test("parseFlags() reads sizes, choices, port ranges and CIDR lists", () => {
  equal(values([])["max-spool-size"], 524_288_000);
  equal(values(["--max-spool-size=1GB"])["max-spool-size"], 1024 ** 3);
  equal(values([], { MAX_SPOOL_SIZE: "1.5GiB" })["max-spool-size"], 1.5 * 1024 ** 3);
  match(errorOf(["--max-spool-size=500"]), /: not a size with a unit; accepted: a size such as/);
  match(errorOf(["--max-spool-size=-1MB"]), /: below 0B;/);
  equal(values(["--go-heap-profiler=force"])["go-heap-profiler"], "force");
  equal(
    errorOf(["--go-heap-profiler=on"]),
    '--go-heap-profiler "on": not one of the choices; accepted: one of disabled, enabled, force',
  );
  equal(
    values(["--ephemeral-port-range=1024-23768 30000-65535"])["ephemeral-port-range"],
    "1024-23768 30000-65535",
  );
  equal(values(["--ephemeral-port-range="])["ephemeral-port-range"], "");
  match(errorOf(["--ephemeral-port-range=60999-32768"]), /bad port range "60999-32768"/);
  deepEqual(values([])["track-public-network"], ["0.0.0.0/0"]);
  deepEqual(
    values(["--track-public-network=10.0.0.0/8", "--track-public-network", "2001:db8::/32"])[
      "track-public-network"
    ],
    ["10.0.0.0/8", "2001:db8::/32"],
  );
  deepEqual(
    values([], { TRACK_PUBLIC_NETWORK: "10.0.0.0/8\n192.168.0.0/16\n" })["track-public-network"],
    ["10.0.0.0/8", "192.168.0.0/16"],
  );
  match(errorOf(["--track-public-network=10.0.0.0"]), /: no \/prefix-length; accepted: address/);
  equal(
    errorOf([], { TRACK_PUBLIC_NETWORK: "10.0.0.0/8\n10.0.0.0/33" }),
    'TRACK_PUBLIC_NETWORK="10.0.0.0/8\\n10.0.0.0/33" (environment, for --track-public-network): ' +
      '"10.0.0.0/33": prefix length out of range; accepted: address/bits',
  );
});

Deno.test("parseFlags() repeats list flags; their environment splits by newline or white space", () => {
  const p = values([
    "--container-denylist",
    "/docker/a",
    "--container-denylist=^/docker/b{1,3}$",
    "--container-denylist=",
  ]);
  deepEqual(p["container-denylist"], ["/docker/a", "^/docker/b{1,3}$"]);
  deepEqual(values([], { CONTAINER_DENYLIST: "/a\n/b c\r\n/d\n" })["container-denylist"], [
    "/a",
    "/b c",
    "/d",
  ]);
  deepEqual(values([], { CONTAINER_DENYLIST: "/a  /b{1,2}\t/c" })["container-denylist"], [
    "/a",
    "/b{1,2}",
    "/c",
  ]);
  // A scalar flag given twice keeps the last value.
  equal(values(["--log-burst=2", "--log-burst=3"])["log-burst"], 3);
});

Deno.test("parseFlags() reports which not-implemented flags the user set, in spec order", () => {
  deepEqual(parseFlags(SPECS, [], noEnv).unimplemented, []);
  deepEqual(
    parseFlags(
      SPECS,
      ["--disable-pinger", "--traces-sampling=0.5"],
      envOf({
        TRACK_PUBLIC_NETWORK: "10.0.0.0/8",
        LOG_BURST: "5",
      }),
    ).unimplemented,
    ["traces-sampling", "track-public-network", "disable-pinger"],
  );
  equal(
    notImplementedLine(["disable-pinger", "track-public-network"]),
    "accepted, not implemented: --disable-pinger, --track-public-network",
  );
});

Deno.test("parseFlags() rejects unknown flags, stray words and missing values", () => {
  match(errorOf(["--lisen", "x"]), /^Unknown flag "--lisen", see --help$/);
  match(errorOf(["--listen"]), /needs a value/);
  match(errorOf(["stray"]), /Unexpected argument "stray"/);
  match(errorOf(["-listen=x"]), /Unexpected argument "-listen=x"/);
  const p = parseFlags(SPECS, ["-h", "--version"], noEnv);
  ok(p.help && p.version);
});

Deno.test("parseFlags() quotes a bad value on one line, shortened when long", () => {
  const msg = errorOf(["--max-containers=" + "9".repeat(500)]);
  ok(msg.length < 250, msg);
  match(msg, /…"/);
  match(errorOf([], { MAX_CONTAINERS: "1\n2" }), /^MAX_CONTAINERS="1\\n2" /);
});

Deno.test("parseFlags() throws a plain Error for two specs with one name (a bug, not input)", () => {
  const twice = [...SPECS, { name: "listen", env: "LISTEN2", kind: "string", help: "" } as const];
  throws(
    () => parseFlags(twice, [], noEnv),
    (e) => e instanceof Error && !(e instanceof FlagError),
  );
  const sameEnv = [...SPECS, { name: "listen2", env: "LISTEN", kind: "string", help: "" } as const];
  throws(() => parseFlags(sameEnv, [], noEnv), /LISTEN is defined twice/);
});

Deno.test("acceptedValues() says what each kind takes", () => {
  match(acceptedValues(SPECS[1]), /^true or false/);
  equal(acceptedValues(SPECS[6]), "an integer, 1 to 100000");
  equal(acceptedValues(SPECS[5]), "an integer, at least 1");
  match(acceptedValues(SPECS[3]), /, 100ms to 1h$/);
  equal(acceptedValues(SPECS[0]), "");
});

Deno.test("helpText() groups flags, shows bounds, and lists not-implemented flags last", () => {
  const text = helpText(SPECS, "usage");
  match(text, /--max-containers <int>\n\s+ \[env MAX_CONTAINERS; default 5000; 1 to 100000\]/);
  match(text, /--collect-interval <duration>\n.*default 5s; 100ms to 1h\]/);
  match(text, /--max-spool-size <bytes>\n.*default 500MB; at least 0B\]/);
  match(text, /--go-heap-profiler <string>\n.*default enabled; one of disabled, enabled, force\]/);
  const pending = text.indexOf(`\n${PENDING_GROUP}:\n`);
  ok(pending > 0, text);
  for (const s of SPECS) {
    const at = text.indexOf(`  --${s.name}`);
    ok(at > 0, s.name);
    equal(at > pending, s.implemented === false, s.name);
  }
});

Deno.test("helpText() lists every core flag with its environment twin", () => {
  const text = helpText(CORE_FLAGS, "usage");
  for (const f of CORE_FLAGS) {
    match(text, new RegExp(`--${f.name}\\b`));
    match(text, new RegExp(`env ${f.env}\\b`));
  }
  match(text, /default 0\.0\.0\.0:80/);
  ok(!text.includes(PENDING_GROUP));
});

Deno.test("parseFlags() refuses an empty --host-root (it would resolve to the working directory)", () => {
  throws(
    () => parseFlags(CORE_FLAGS, ["--host-root="], noEnv),
    (e) => e instanceof FlagError && /^--host-root "": empty/.test(e.message),
  );
  equal(
    parseFlags(CORE_FLAGS, ["--host-root=tests/fixtures/host"], noEnv).values["host-root"],
    "tests/fixtures/host",
  );
  equal(parseFlags(CORE_FLAGS, [], envOf({ HOST_ROOT: "" })).values["host-root"], "/");
});
