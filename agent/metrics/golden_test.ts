/**
 * Golden exposition test: a registry with every type and tricky values is compared with the
 * committed `testdata/golden.prom` and `testdata/golden.om.txt` (regenerate with
 * `UPDATE_GOLDEN=1 deno test -A agent/metrics/golden_test.ts`), then validated by promtool
 * and by the strict OpenMetrics checker.
 */
import { deepEqual, equal } from "node:assert/strict";
import { Registry } from "./registry.ts";
import { checkOpenMetrics } from "./_openmetrics_check.ts";

const TESTDATA = new URL("./testdata/", import.meta.url);
const UPDATE = Deno.env.get("UPDATE_GOLDEN") === "1";

function hasPromtool(): boolean {
  try {
    return new Deno.Command("promtool", { args: ["--version"], stdout: "null", stderr: "null" })
      .outputSync().success;
  } catch {
    return false;
  }
}
const PROMTOOL = hasPromtool();

/** Every type, both counter naming cases, escaping, special values, const labels. */
function goldenRegistry(opts: { compat: boolean }): Registry {
  const reg = new Registry({ constLabels: { machine_id: "0123abcd", system_uuid: "u-1" } });
  const cpu = reg.counter({
    name: "node_resources_cpu_usage_seconds_total",
    help: "Time the CPU spent in each mode",
    labelNames: ["mode"],
  });
  cpu.labels("user").set(12345.67);
  cpu.labels("system").set(89);
  const tricky = reg.counter({
    name: "osprey_test_events_total",
    help: 'Events with "quotes", a backslash \\ and a\nsecond line',
    labelNames: ["path", "note"],
  });
  tricky.labels("C:\\Program Files\\x", 'say "hi"').inc(1);
  tricky.labels("/var/log/ünïcödé 🦅", "line1\nline2").inc(2 ** 60);
  tricky.labels("", "empty path").inc(0.25);
  const level = reg.gauge({
    name: "osprey_test_level",
    help: "Gauge with special values",
    labelNames: ["case"],
  });
  level.labels("nan").set(NaN);
  level.labels("pos_inf").set(Infinity);
  level.labels("neg_inf").set(-Infinity);
  level.labels("negative").set(-42.5);
  level.labels("tiny").set(1.5e-7);
  level.labels("huge").set(1e21);
  level.labels("zero").set(0);
  reg.gauge({ name: "osprey_test_up", help: "Gauge without labels" }).labels().set(1);
  reg.gauge({ name: "osprey_test_unused", help: "Registered, never set: not written" });
  const sizes = reg.histogram({
    name: "osprey_test_sizes_bytes",
    help: "Histogram without labels",
    buckets: [1, 1000, 1e6],
  });
  for (const v of [0.5, 1, 999, 2e6]) sizes.labels().observe(v);
  const rpc = reg.histogram({
    name: "osprey_test_rpc_duration_seconds",
    help: "Histogram with labels and default buckets",
    labelNames: ["method"],
  });
  for (const v of [0.003, 0.07, 0.3, 4, 20]) rpc.labels("GET").observe(v);
  rpc.labels("POST");
  if (opts.compat) {
    const http = reg.histogram({
      name: "container_http_requests_duration_seconds_total",
      help: "coroot-node-agent's histogram with a _total name",
      labelNames: ["destination", "status"],
    });
    http.labels("10.0.0.1:80", "200").observe(0.02);
    http.labels("10.0.0.1:80", "200").observe(0.2);
    http.labels("10.0.0.2:443", "500").observe(1.5);
    reg.counter({
      name: "container_jvm_gc_time_seconds",
      help: "coroot-node-agent's counter without _total",
      labelNames: ["gc"],
    }).labels("G1 Young Generation").set(3.25);
  }
  return reg;
}

async function golden(file: string, actual: string): Promise<void> {
  const url = new URL(file, TESTDATA);
  if (UPDATE) {
    await Deno.writeTextFile(url, actual);
    return;
  }
  equal(actual, await Deno.readTextFile(url), `${file} differs; rerun with UPDATE_GOLDEN=1`);
}

async function promtool(
  args: string[],
  stdin?: string,
): Promise<{ code: number; out: string }> {
  const child = new Deno.Command("promtool", {
    args,
    stdin: stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (stdin !== undefined) {
    const w = child.stdin.getWriter();
    await w.write(new TextEncoder().encode(stdin));
    await w.close();
  }
  const { code, stdout, stderr } = await child.output();
  const dec = new TextDecoder();
  return { code, out: dec.decode(stdout) + dec.decode(stderr) };
}

const decode = (b: Uint8Array) => new TextDecoder().decode(b);

Deno.test("Registry text 0.0.4 output matches testdata/golden.prom", async () => {
  await golden("golden.prom", decode(goldenRegistry({ compat: true }).encode("text")));
});

Deno.test("Registry OpenMetrics output matches testdata/golden.om.txt", async () => {
  await golden("golden.om.txt", decode(goldenRegistry({ compat: true }).encode("openmetrics")));
});

Deno.test("Registry OpenMetrics output passes the strict checker", () => {
  const om = decode(goldenRegistry({ compat: true }).encode("openmetrics"));
  deepEqual(checkOpenMetrics(om), []);
  equal(om.endsWith("\n# EOF\n"), true);
  const counterTypes = om.split("\n").filter((l) =>
    l.startsWith("# TYPE") && l.endsWith(" counter")
  );
  deepEqual(counterTypes, [
    "# TYPE node_resources_cpu_usage_seconds counter",
    "# TYPE osprey_test_events counter",
  ]);
  equal(om.includes("# TYPE container_jvm_gc_time_seconds unknown\n"), true);
});

Deno.test({
  name: "promtool check metrics finds well-named output lint-clean",
  ignore: !PROMTOOL,
  async fn() {
    const { code, out } = await promtool(
      ["check", "metrics"],
      decode(goldenRegistry({ compat: false }).encode("text")),
    );
    equal(out, "");
    equal(code, 0);
  },
});

Deno.test({
  name: "promtool check metrics parses the compatibility names and lints only them",
  ignore: !PROMTOOL,
  async fn() {
    const { code, out } = await promtool(
      ["check", "metrics"],
      decode(goldenRegistry({ compat: true }).encode("text")),
    );
    equal(code, 3, out);
    deepEqual(out.trim().split("\n").sort(), [
      'container_http_requests_duration_seconds_total non-counter metrics should not have "_total" suffix',
      'container_jvm_gc_time_seconds counter metrics should have "_total" suffix',
    ]);
  },
});

Deno.test({
  name: "Prometheus's OpenMetrics parser (promtool tsdb create-blocks-from) accepts the output",
  ignore: !PROMTOOL,
  async fn() {
    // The importer needs timestamps; adding one to every sample keeps the text valid OM.
    const om = decode(goldenRegistry({ compat: true }).encode("openmetrics"))
      .split("\n").map((l) => (l === "" || l.startsWith("#") ? l : `${l} 1700000000`)).join("\n");
    const dir = await Deno.makeTempDir({ prefix: "osprey_om_" });
    try {
      await Deno.writeTextFile(`${dir}/in.om`, om);
      const { code, out } = await promtool(
        ["tsdb", "create-blocks-from", "openmetrics", `${dir}/in.om`, `${dir}/blocks`],
      );
      equal(code, 0, out);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
