import { equal } from "node:assert/strict";
import { Registry } from "./registry.ts";

function text(reg: Registry, format: "text" | "openmetrics" = "text"): string {
  return new TextDecoder().decode(reg.encode(format));
}

Deno.test("Gauge series set(), inc() and dec() move the value both ways", () => {
  const g = new Registry().gauge({ name: "queue", help: "Q" }).labels();
  g.set(10);
  g.inc();
  g.inc(0.5);
  g.dec(3);
  g.dec();
  equal(g.value, 7.5);
});

Deno.test("Gauge writes the same samples in both formats", () => {
  const reg = new Registry();
  const g = reg.gauge({ name: "temp_celsius", help: "T", labelNames: ["zone"] });
  g.labels("a").set(-1.25);
  g.labels("b").set(NaN);
  g.labels("c").set(Infinity);
  g.labels("d").set(-Infinity);
  const samples =
    'temp_celsius{zone="a"} -1.25\ntemp_celsius{zone="b"} NaN\ntemp_celsius{zone="c"} +Inf\ntemp_celsius{zone="d"} -Inf\n';
  equal(text(reg), `# HELP temp_celsius T\n# TYPE temp_celsius gauge\n${samples}`);
  equal(
    text(reg, "openmetrics"),
    `# TYPE temp_celsius gauge\n# HELP temp_celsius T\n${samples}# EOF\n`,
  );
});

Deno.test("Gauge without labels writes a bare sample name", () => {
  const reg = new Registry();
  reg.gauge({ name: "up", help: "Up" }).labels().set(1);
  equal(text(reg), "# HELP up Up\n# TYPE up gauge\nup 1\n");
});

Deno.test("Gauge with an empty help writes no HELP line", () => {
  const reg = new Registry();
  reg.gauge({ name: "g", help: "" }).labels().set(1);
  equal(text(reg), "# TYPE g gauge\ng 1\n");
  equal(text(reg, "openmetrics"), "# TYPE g gauge\ng 1\n# EOF\n");
});

Deno.test("Gauge label values are escaped and may hold any UTF-8", () => {
  const reg = new Registry();
  reg.gauge({ name: "g", help: "G", labelNames: ["p"] }).labels('C:\\dir "x"\nÿ🦅').set(1);
  equal(text(reg), '# HELP g G\n# TYPE g gauge\ng{p="C:\\\\dir \\"x\\"\\nÿ🦅"} 1\n');
});
