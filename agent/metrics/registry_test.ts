import { deepEqual, equal, throws } from "node:assert/strict";
import { Registry } from "./registry.ts";

function text(reg: Registry, format: "text" | "openmetrics" = "text"): string {
  return new TextDecoder().decode(reg.encode(format));
}

Deno.test("Registry rejects a second family of the same name", () => {
  const reg = new Registry();
  reg.counter({ name: "x_total", help: "X" });
  throws(() => reg.gauge({ name: "x_total", help: "X" }), {
    name: "TypeError",
    message: 'Cannot register gauge "x_total": a metric of that name is already registered',
  });
});

Deno.test("Registry rejects families whose names clash on the wire", () => {
  const reg = new Registry();
  reg.counter({ name: "foo_total", help: "F" });
  throws(() => reg.gauge({ name: "foo", help: "F" }), {
    name: "TypeError",
    message:
      /Cannot register gauge "foo": its name "foo" on the wire clashes with metric "foo_total"/,
  });
  reg.histogram({ name: "lat", help: "L" });
  throws(() => reg.gauge({ name: "lat_sum", help: "S" }), /clashes with metric "lat"/);
  throws(() => reg.counter({ name: "lat_bucket", help: "S" }), /clashes with metric "lat"/);
});

Deno.test("Registry validates metric and label names with the bad name quoted", () => {
  const reg = new Registry();
  throws(() => reg.counter({ name: "bad-name_total", help: "X" }), {
    name: "TypeError",
    message: /^Cannot register counter "bad-name_total": a metric name must match/,
  });
  throws(() => reg.gauge({ name: "g", help: "G", labelNames: ["ok", "not ok"] }), {
    name: "TypeError",
    message: /^Invalid label name "not ok" for gauge "g"/,
  });
  throws(() => reg.gauge({ name: "g", help: "G", labelNames: ["a", "a"] }), {
    name: "TypeError",
    message: 'Duplicate label name "a" for gauge "g"',
  });
  throws(() => reg.gauge({ name: "g", help: 3 as unknown as string }), /help must be a string/);
  equal(reg.size, 0);
});

Deno.test("Registry writes families sorted by name, series in creation order", () => {
  const reg = new Registry();
  const b = reg.gauge({ name: "b", help: "B", labelNames: ["k"] });
  reg.gauge({ name: "a", help: "A" }).labels().set(1);
  b.labels("z").set(1);
  b.labels("y").set(2);
  equal(
    text(reg),
    '# HELP a A\n# TYPE a gauge\na 1\n# HELP b B\n# TYPE b gauge\nb{k="z"} 1\nb{k="y"} 2\n',
  );
  deepEqual([...reg].map((f) => f.name), ["a", "b"]);
});

Deno.test("Registry writes nothing for a family without series", () => {
  const reg = new Registry();
  reg.counter({ name: "x_total", help: "X", labelNames: ["a"] });
  reg.histogram({ name: "h", help: "H" });
  equal(text(reg), "");
  equal(text(reg, "openmetrics"), "# EOF\n");
});

Deno.test("Registry applies constant labels to every series of every type", () => {
  const reg = new Registry({ constLabels: { machine_id: "m-1", system_uuid: 'u"2' } });
  reg.counter({ name: "c_total", help: "C", labelNames: ["a"] }).labels("x").inc();
  reg.gauge({ name: "g", help: "G" }).labels().set(2);
  reg.histogram({ name: "h", help: "H", buckets: [1] }).labels().observe(0.5);
  equal(
    text(reg),
    [
      "# HELP c_total C",
      "# TYPE c_total counter",
      'c_total{a="x",machine_id="m-1",system_uuid="u\\"2"} 1',
      "# HELP g G",
      "# TYPE g gauge",
      'g{machine_id="m-1",system_uuid="u\\"2"} 2',
      "# HELP h H",
      "# TYPE h histogram",
      'h_bucket{machine_id="m-1",system_uuid="u\\"2",le="1"} 1',
      'h_bucket{machine_id="m-1",system_uuid="u\\"2",le="+Inf"} 1',
      'h_sum{machine_id="m-1",system_uuid="u\\"2"} 0.5',
      'h_count{machine_id="m-1",system_uuid="u\\"2"} 1',
      "",
    ].join("\n"),
  );
});

Deno.test("Registry.setConstLabels() re-renders existing series and keeps handles valid", () => {
  const reg = new Registry();
  const c = reg.counter({ name: "c_total", help: "C", labelNames: ["a"] });
  const s = c.labels("x");
  s.inc(5);
  reg.setConstLabels({ machine_id: "abc" });
  s.inc();
  equal(text(reg).split("\n")[2], 'c_total{a="x",machine_id="abc"} 6');
  deepEqual(reg.constLabels, { machine_id: "abc" });
  reg.setConstLabels({});
  equal(text(reg).split("\n")[2], 'c_total{a="x"} 6');
  equal(c.labels("x"), s);
});

Deno.test("Registry refuses constant labels that clash with a family's labels", () => {
  const reg = new Registry({ constLabels: { node: "n" } });
  throws(() => reg.gauge({ name: "g", help: "G", labelNames: ["node"] }), {
    name: "TypeError",
    message: 'Cannot register gauge "g": label "node" is one of the registry\'s constant labels',
  });
  reg.gauge({ name: "g2", help: "G", labelNames: ["pod"] }).labels("p").set(1);
  reg.histogram({ name: "h", help: "H" });
  throws(() => reg.setConstLabels({ pod: "x" }), {
    name: "TypeError",
    message: 'Cannot set constant label "pod": gauge "g2" has a label of that name',
  });
  throws(
    () => reg.setConstLabels({ le: "x" }),
    /Cannot set constant label "le"/,
    "le of histograms",
  );
  throws(() => reg.setConstLabels({ "bad name": "x" }), /Invalid label name "bad name"/);
  deepEqual(reg.constLabels, { node: "n" });
});

Deno.test("Registry.get() and unregister() find and free a name", () => {
  const reg = new Registry();
  const c = reg.counter({ name: "foo_total", help: "F" });
  equal(reg.get("foo_total"), c);
  equal(reg.get("nope"), undefined);
  equal(reg.unregister("foo_total"), true);
  equal(reg.unregister("foo_total"), false);
  equal(reg.size, 0);
  reg.gauge({ name: "foo", help: "F" });
  reg.gauge({ name: "foo_total", help: "F" });
  equal(reg.size, 2);
});

Deno.test("Registry.encode() rejects an unknown format", () => {
  throws(() => new Registry().encode("json" as "text"), {
    name: "TypeError",
    message: 'Cannot encode metrics: unknown format "json"',
  });
});

Deno.test("Registry output stays exact after many removals compact the arena", () => {
  const reg = new Registry();
  const g = reg.gauge({ name: "g", help: "G", labelNames: ["id", "path"] });
  const long = "/very/long/label/value/".repeat(8);
  for (let i = 0; i < 5000; i++) g.labels(String(i), long + i).set(i);
  for (let i = 0; i < 5000; i++) if (i % 10 !== 0) g.remove(String(i), long + i);
  for (let i = 5000; i < 5010; i++) g.labels(String(i), long + i).set(i);
  const lines = text(reg).split("\n").slice(2, -1);
  equal(lines.length, 510);
  const want = [...Array(500).keys()].map((k) => k * 10).concat(
    [...Array(10).keys()].map((k) => 5000 + k),
  );
  deepEqual(lines, want.map((i) => `g{id="${i}",path="${long}${i}"} ${i}`));
});

Deno.test("Registry treats label values with NUL as distinct series", () => {
  const reg = new Registry();
  const g = reg.gauge({ name: "g", help: "G", labelNames: ["a", "b"] });
  g.labels("x\0y", "z").set(1);
  g.labels("x", "y\0z").set(2);
  equal(g.size, 2);
  deepEqual([...g].map((s) => s.labelValues), [["x\0y", "z"], ["x", "y\0z"]]);
});

Deno.test("Registry.setScopedConstLabels() labels only the picked families, later ones too", () => {
  const reg = new Registry({ constLabels: { machine_id: "m" } });
  const c = reg.gauge({ name: "container_x", help: "X", labelNames: ["container_id"] });
  const n = reg.gauge({ name: "node_x", help: "N" });
  c.labels("/a").set(1);
  n.labels().set(2);
  const isContainer = (name: string) => name.startsWith("container_");
  reg.setScopedConstLabels(isContainer, { az: "us-east-1a", region: "us-east-1" });
  const later = reg.counter({ name: "container_y_total", help: "Y", labelNames: ["container_id"] });
  later.labels("/b").inc();
  const lines = text(reg).split("\n").filter((l) => l && !l.startsWith("#"));
  deepEqual(lines, [
    'container_x{container_id="/a",az="us-east-1a",region="us-east-1",machine_id="m"} 1',
    'container_y_total{container_id="/b",az="us-east-1a",region="us-east-1",machine_id="m"} 1',
    'node_x{machine_id="m"} 2',
  ]);
  // New values re-render; {} removes them; the registry-wide labels stay.
  reg.setScopedConstLabels(isContainer, { az: "b", region: "r" });
  equal(
    text(reg).includes('container_x{container_id="/a",az="b",region="r",machine_id="m"} 1'),
    true,
  );
  reg.setScopedConstLabels(isContainer, {});
  equal(text(reg).includes('container_x{container_id="/a",machine_id="m"} 1'), true);
  equal(text(reg).includes("az="), false);
});

Deno.test("Registry.setScopedConstLabels() refuses clashes and leaves the labels unchanged", () => {
  const reg = new Registry({ constLabels: { machine_id: "m" } });
  const g = reg.gauge({ name: "container_z", help: "Z", labelNames: ["region"] });
  g.labels("x").set(1);
  throws(
    () => reg.setScopedConstLabels((n) => n.startsWith("container_"), { region: "r" }),
    /Cannot set scoped label "region": gauge "container_z" has a label of that name/,
  );
  throws(
    () => reg.setScopedConstLabels(() => true, { machine_id: "x" }),
    /is one of the registry's constant labels/,
  );
  reg.setScopedConstLabels((n) => n.startsWith("container_") && n !== "container_z", { az: "a" });
  throws(
    () => reg.gauge({ name: "container_w", help: "W", labelNames: ["az"] }),
    /label "az" is one of the registry's scoped constant labels/,
  );
  throws(() => reg.setConstLabels({ az: "x" }), /is one of the scoped constant labels/);
  equal(text(reg).includes('container_z{region="x",machine_id="m"} 1'), true);
});
