import { deepEqual, equal } from "node:assert/strict";
import { describeObject, modulesOf, probeOf, smokeOf } from "./matrix.ts";

Deno.test("smokeOf reads deno test's summary and the exit code", () => {
  deepEqual(
    smokeOf("x ... ok\n\nFAILED | 7 passed | 1 failed (11s)\n\nerror: Test failed\nrc=1\n"),
    {
      rc: 1,
      passed: 7,
      failed: 1,
      ignored: 0,
      summary: "FAILED | 7 passed | 1 failed",
    },
  );
  deepEqual(smokeOf("ok | 8 passed (2 steps) | 0 failed | 2 ignored (3s)\nrc=0\n").ignored, 2);
  equal(smokeOf(undefined).rc, -1);
});

Deno.test("modulesOf keeps each module's state and the first line of its reason", () => {
  const log =
    'ts=1 level=info msg="module" module=net state=failed reason="Cannot load \\"tcp\\"\\nlibbpf: x" enable=""\n' +
    'ts=2 level=info msg="module" module=node state=on reason="" enable=""\n';
  deepEqual(modulesOf(log), {
    net: { state: "failed", reason: 'Cannot load \\"tcp\\"' },
    node: { state: "on", reason: "" },
  });
});

Deno.test("describeObject counts attached variants and names failures; probeOf parses", () => {
  equal(
    describeObject({
      object: "tcp",
      programs: [
        { program: "a", variant: "tp_btf", attached: true },
        { program: "b", variant: "tp_btf", attached: true },
        { program: "c", variant: "raw_tp", attached: false, skipped: "feature-probe" },
        { program: "d", variant: "fexit", attached: false, errno: 13, code: "EACCES" },
      ],
    }),
    "tp_btf ×2, failed: d EACCES",
  );
  equal(describeObject({ object: "proc", error: "Cannot load\nmore" }), "off: Cannot load");
  equal(describeObject(undefined), "(not run)");
  equal(probeOf('noise\nOSPREY-PROBE {"kernel":"6.1","objects":[]}\n')?.kernel, "6.1");
  equal(probeOf("nothing"), undefined);
});
