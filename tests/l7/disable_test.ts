/**
 * `--disable-l7-tracing` switches the l7 module off and nothing else: the agent starts with the
 * net module's programs attached and no l7 program loaded, and says why in
 * `osprey_module_state`. Needs root and the built libosprey.
 */
import { equal, ok } from "node:assert/strict";
import { netLabIgnoreReason, scrapeParsed, withNetAgent } from "../net/_lab.ts";

const ignoreReason = netLabIgnoreReason();
if (ignoreReason) console.warn(`tests/l7/disable_test.ts ignored: ${ignoreReason}`);

Deno.test({
  name: "l7: --disable-l7-tracing leaves the l7 programs out and the net module on",
  ignore: ignoreReason !== "",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    await withNetAgent({ args: ["--disable-l7-tracing"] }, async (agent) => {
      const s = await scrapeParsed(agent.url);
      equal(s.value("osprey_module_state", { module: "l7", state: "off" }), 1);
      equal(s.value("osprey_module_state", { module: "net", state: "on" }), 1);
      equal(
        s.find("osprey_bpf_program_attached").filter((x) => x.labels.program.startsWith("osp_l7"))
          .length,
        0,
      );
      ok(s.find("osprey_bpf_program_attached", { program: "osp_tcp_state_btf" }).length === 1);
      ok(!agent.stderr().includes("l7: payload capture on"));
    });
    await withNetAgent({}, async (agent) => {
      const s = await scrapeParsed(agent.url);
      equal(s.value("osprey_module_state", { module: "l7", state: "on" }), 1);
      equal(s.value("osprey_bpf_program_attached", { program: "osp_l7_read_exit" }), 1);
      ok(agent.stderr().includes('msg="l7: payload capture on" module=l7 protocols='));
    });
  },
});
