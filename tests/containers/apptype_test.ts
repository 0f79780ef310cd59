/**
 * `container_application_type` of a real Podman container running real binaries, read by the
 * real agent (`-P=agent`) through the host's procfs: a Go program (built here with Debian's
 * golang-go, static), a Rust program (the deno binary running this test, with the host's libc
 * mounted in) and a static C program. The types are `golang` and `rust`, and `golang` goes
 * away when the Go program exits while the container keeps running (reference errata §13.8).
 *
 * Needs root, podman, runc, busybox-static, gcc + libc6-dev, golang-go. Run: `deno test -A
 * tests/containers/apptype_test.ts`.
 */
import { deepEqual, ok } from "node:assert/strict";
import { buildTestBinaries, goInstalled } from "../../agent/apptype/_testing.ts";
import { waitContainerVisible, withContainerAgent } from "./agent.ts";
import { scrapeParsed, waitFor } from "./metrics.ts";
import type { Scrape } from "./metrics.ts";
import { ContainerScope, podman, podmanIgnoreReason } from "./podman.ts";
import { ensureTestImage } from "./rootfs.ts";

const IGNORE_REASON = podmanIgnoreReason() ||
  (goInstalled() ? "" : "go not installed (apt-get install golang-go)");
if (IGNORE_REASON) console.warn(`tests/containers/apptype_test.ts ignored: ${IGNORE_REASON}`);

/** The host's libc and loader, so a dynamically linked program runs in the busybox image. */
const LIBS = ["/lib/x86_64-linux-gnu", "/lib64"];

function typesOf(s: Scrape, id: string): string[] {
  return s.find("container_application_type", { container_id: id })
    .map((x) => x.labels.application_type).sort();
}

Deno.test({
  name: "podman: Go and Rust programs give golang and rust; golang goes when the Go one exits",
  ignore: IGNORE_REASON !== "",
  async fn() {
    const { image } = await ensureTestImage();
    const bins = await buildTestBinaries();
    const scope = new ContainerScope();
    try {
      await withContainerAgent({ collectInterval: "500ms" }, async (agent) => {
        const script = [
          "/apps/go &",
          "/apps/c-static &",
          "DENO_DIR=/tmp/deno DENO_NO_UPDATE_CHECK=1 /apps/deno eval 'setInterval(() => {}, 1e6)' &",
          "wait",
        ].join("\n");
        const name = await scope.run("apptype", {
          image,
          cmd: ["sh", "-c", script],
          extra: [
            "-v",
            `${bins.go}:/apps/go:ro`,
            "-v",
            `${bins.cStatic}:/apps/c-static:ro`,
            "-v",
            `${bins.rust}:/apps/deno:ro`,
            ...LIBS.flatMap((l) => ["-v", `${l}:${l}:ro`]),
          ],
        });
        const id = `/podman/${name}`;
        await waitContainerVisible(agent.url, id);
        let last: Scrape | undefined;
        const describe = () => last?.linesOf(id) ?? "(no scrape)";
        await waitFor("golang and rust", async () => {
          last = await scrapeParsed(agent.url);
          const t = typesOf(last, id);
          return t.length === 2 ? t : undefined;
        }, { timeoutMs: 30_000, describe });
        deepEqual(typesOf(last!, id), ["golang", "rust"]);
        for (const result of ["golang", "rust"]) {
          const n = last!.value("osprey_container_exe_checks_total", { result });
          ok(n !== undefined && n >= 1, `exe checks ${result}: ${n}`);
        }

        await podman(["exec", name, "sh", "-c", "kill $(pidof go)"]);
        await waitFor("rust alone", async () => {
          last = await scrapeParsed(agent.url);
          const t = typesOf(last, id);
          return t.length === 1 && t[0] === "rust" ? t : undefined;
        }, { timeoutMs: 15_000, describe });
      });
    } finally {
      await scope.cleanup();
    }
  },
});
