import { deepEqual, equal, match, throws } from "node:assert/strict";
import { FlagError, helpText, parseDuration, parseFlags } from "./flags.ts";
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
    help: "",
  },
  { name: "container-denylist", env: "CONTAINER_DENYLIST", kind: "list", help: "" },
  { name: "log-burst", env: "LOG_BURST", kind: "int", default: 100, help: "" },
];

Deno.test("parseFlags() prefers the flag, then the environment twin, then the default", () => {
  const env: Record<string, string> = { LISTEN: "127.0.0.1:9100", LOG_BURST: "7" };
  const p = parseFlags(SPECS, ["--log-burst=9"], (n) => env[n]);
  equal(p.values.listen, "127.0.0.1:9100");
  equal(p.origin.listen, "env");
  equal(p.values["log-burst"], 9);
  equal(p.origin["log-burst"], "flag");
  equal(p.values["disable-bpf"], false);
  equal(p.values["min-container-age"], 30000);
});

Deno.test("parseFlags() reads booleans, durations and repeated lists", () => {
  const p = parseFlags(SPECS, [
    "--disable-bpf",
    "--min-container-age",
    "1m",
    "--container-denylist",
    "/docker/a",
    "--container-denylist=^/docker/b{1,3}$",
  ], () => undefined);
  equal(p.values["disable-bpf"], true);
  equal(p.values["min-container-age"], 60000);
  deepEqual(p.values["container-denylist"], ["/docker/a", "^/docker/b{1,3}$"]);
  const fromEnv = parseFlags(
    SPECS,
    [],
    (n) => n === "CONTAINER_DENYLIST" ? "/a  /b{1,2}\n/c" : undefined,
  );
  deepEqual(fromEnv.values["container-denylist"], ["/a", "/b{1,2}", "/c"]);
  const envTrue = (n: string) => n === "DISABLE_BPF" ? "true" : undefined;
  equal(parseFlags(SPECS, ["--no-disable-bpf"], envTrue).values["disable-bpf"], false);
  equal(parseFlags(SPECS, [], envTrue).values["disable-bpf"], true);
});

Deno.test("parseFlags() rejects unknown flags and bad values with the flag's name", () => {
  throws(() => parseFlags(SPECS, ["--lisen", "x"], () => undefined), FlagError);
  throws(() => parseFlags(SPECS, ["--log-burst=abc"], () => undefined), /--log-burst "abc"/);
  throws(() => parseFlags(SPECS, [], (n) => n === "LOG_BURST" ? "1.5" : undefined), /\$LOG_BURST/);
  throws(() => parseFlags(SPECS, ["--listen"], () => undefined), /needs a value/);
  throws(() => parseFlags(SPECS, ["stray"], () => undefined), /Unexpected argument "stray"/);
});

Deno.test("parseDuration() takes units and bare seconds", () => {
  equal(parseDuration("500ms"), 500);
  equal(parseDuration("30"), 30000);
  equal(parseDuration("1.5s"), 1500);
  equal(parseDuration("2h"), 7_200_000);
  throws(() => parseDuration("soon"), FlagError);
});

Deno.test("helpText() lists every core flag with its environment twin", () => {
  const text = helpText(CORE_FLAGS, "usage");
  for (const f of CORE_FLAGS) {
    match(text, new RegExp(`--${f.name}\\b`));
    match(text, new RegExp(`env ${f.env}\\b`));
  }
  match(text, /default 0\.0\.0\.0:80/);
});
