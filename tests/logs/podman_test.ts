/**
 * A real Podman container writing to stdout and stderr with the `k8s-file` log driver: the
 * agent finds the log file in Podman's state (no socket) and counts every level exactly under
 * `source="stdout/stderr"`.
 *
 * Needs root and Podman (tests/containers/containers.conf).
 *
 * @module
 */
import { deepEqual, ok } from "node:assert/strict";
import { waitContainerVisible, withContainerAgent } from "../containers/agent.ts";
import { scrapeParsed, sleep } from "../containers/metrics.ts";
import { ContainerScope, podmanIgnoreReason, touchInContainer } from "../containers/podman.ts";
import { ensureTestImage } from "../containers/rootfs.ts";
import { eachLevel, expectLevelCounts, LEVEL_WORDS, TEST_LEVELS } from "./_harness.ts";

const IGNORE_REASON = podmanIgnoreReason();
if (IGNORE_REASON) console.warn(`tests/logs/podman_test.ts ignored: ${IGNORE_REASON}`);

const N = 30;

Deno.test({
  name: "podman k8s-file: N lines at each level, on stdout and stderr, counted exactly under " +
    "source stdout/stderr",
  ignore: IGNORE_REASON !== "",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const { image } = await ensureTestImage();
    const scope = new ContainerScope();
    try {
      await withContainerAgent({}, async (agent) => {
        // warm-up lines (level unknown) until /go exists, then N lines per level: warning and
        // critical on stderr, the others on stdout
        const body = TEST_LEVELS.map((l) => {
          const redirect = l === "warning" || l === "critical" ? " >&2" : "";
          return `echo "${LEVEL_WORDS[l]} order $i processed by shard $((i % 5))"${redirect}`;
        }).join("; ");
        const script = `while [ ! -f /go ]; do echo warmup tick; sleep 0.2; done
i=0; while [ $i -lt ${N} ]; do ${body}; i=$((i+1)); done; exec sleep 3600`;
        const name = await scope.run("logs", {
          image,
          cmd: ["sh", "-c", script],
          extra: ["--log-driver", "k8s-file"],
        });
        const id = `/podman/${name}`;
        await waitContainerVisible(agent.url, id);
        for (let i = 0; i < 100; i++) {
          const s = await scrapeParsed(agent.url);
          const q = { container_id: id, source: "stdout/stderr", level: "unknown" };
          if (s.find("container_log_messages_total", q).length > 0) break;
          await sleep(200);
        }
        await touchInContainer(name, "/go");
        const s = await expectLevelCounts(agent.url, id, "stdout/stderr", eachLevel(N));
        // one pattern per level that has patterns, its sample one of the lines written
        for (const level of ["warning", "error", "critical"]) {
          const series = s.find("container_log_messages_total", { container_id: id, level });
          deepEqual(series.length, 1, s.linesOf(id));
          ok(series[0].labels.sample.startsWith(LEVEL_WORDS[level as "error"] + " order "));
        }
      });
    } finally {
      await scope.cleanup();
    }
  },
});
