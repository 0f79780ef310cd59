/**
 * Containers, checked on real Podman containers (runc, cgroupfs, this machine's hybrid
 * cgroups) against the real agent started with `-P=agent`: identity and image, CPU usage
 * against the container's own cgroup counter, OOM kills counted exactly, restarts counted
 * exactly, and a removed container's series gone after the grace period.
 *
 * Needs root, podman, runc, busybox-static, gcc + libc6-dev; the OOM test also needs the built
 * libosprey (`deno task build`) because OOM kills come from BPF. Run: `deno test -A
 * tests/containers/`.
 */
import { deepEqual, equal, ok } from "node:assert/strict";
import { defaultLibraryPath } from "../../ffi/mod.ts";
import { waitContainerVisible, withContainerAgent } from "./agent.ts";
import { scrapeParsed, sleep, waitFor } from "./metrics.ts";
import type { Scrape } from "./metrics.ts";
import {
  containerPid,
  ContainerScope,
  inspect,
  makeCpuReader,
  podman,
  podmanIgnoreReason,
  touchInContainer,
} from "./podman.ts";
import { ensureTestImage } from "./rootfs.ts";

const IGNORE_REASON = podmanIgnoreReason();
if (IGNORE_REASON) console.warn(`tests/containers/podman_test.ts ignored: ${IGNORE_REASON}`);

function libReason(): string {
  const lib = defaultLibraryPath();
  try {
    if (lib && Deno.statSync(lib).isFile) return "";
  } catch { /* missing */ }
  return "libosprey not built (deno task build): OOM kills come from BPF";
}
const OOM_IGNORE_REASON = IGNORE_REASON || libReason();
if (!IGNORE_REASON && OOM_IGNORE_REASON) {
  console.warn(`OOM test ignored: ${OOM_IGNORE_REASON}`);
}

/** The background refresh period the tests give the agent. */
const INTERVAL_MS = 500;
const INTERVAL = `${INTERVAL_MS}ms`;
const SLEEPER = ["sleep", "3600"];

const podmanId = (name: string) => `/podman/${name}`;

Deno.test({
  name: "podman: a named container is /podman/<name> with its image in container_info",
  ignore: IGNORE_REASON !== "",
  async fn() {
    const { image } = await ensureTestImage();
    const scope = new ContainerScope();
    try {
      await withContainerAgent({ collectInterval: INTERVAL }, async (agent) => {
        const name = await scope.run("ident", { image, cmd: SLEEPER });
        const state = await inspect(name);
        const id = podmanId(name);
        const s = await waitContainerVisible(agent.url, id);
        const info = s.find("container_info", { container_id: id });
        equal(info.length, 1, s.linesOf(id));
        equal(info[0].value, 1);
        equal(info[0].labels.image, image, s.linesOf(id));
        // The container is reported once, under its name: not also under its 64-hex id or
        // its cgroup path.
        const strays = s.samples.filter((x) =>
          (x.labels.container_id ?? "").includes(state.id.slice(0, 12))
        );
        deepEqual(strays, [], "series keyed by the container's hex id");
      });
    } finally {
      await scope.cleanup();
    }
  },
});

Deno.test({
  name: "podman: a CPU-busy container's CPU usage matches its cgroup's own counter",
  ignore: IGNORE_REASON !== "",
  async fn() {
    const { image } = await ensureTestImage();
    const scope = new ContainerScope();
    try {
      await withContainerAgent({ collectInterval: INTERVAL }, async (agent) => {
        const name = await scope.run("cpu", { image, cmd: ["sh", "-c", "while :; do :; done"] });
        const id = podmanId(name);
        const cpu = makeCpuReader(await containerPid(name));
        await waitContainerVisible(agent.url, id);
        const metric = (s: Scrape) =>
          s.value("container_resources_cpu_usage_seconds_total", { container_id: id });
        let last: Scrape | undefined;
        const describe = () => last?.linesOf(id) ?? "(no scrape)";
        // Let it accumulate half a second of CPU so the comparison is not of near-zeros.
        await waitFor("≥ 0.5 s of CPU in the metric", async () => {
          last = await scrapeParsed(agent.url);
          const v = metric(last);
          return v !== undefined && v >= 0.5 ? v : undefined;
        }, { describe });

        // 1. Running: read the counter, scrape, read it again. The busy loop is one thread,
        // so the counter grows at most 1 s per wall second. The agent reads the cgroup off the
        // scrape path at most one refresh interval (plus the refresh's own duration, allowed
        // 1 s on these 2 busy cores) before the scrape; so before − (interval + 1 s) ≤ metric
        // ≤ after.
        const before = cpu.read();
        const t0 = performance.now();
        last = await scrapeParsed(agent.url);
        const scrapeMs = performance.now() - t0;
        const after = cpu.read();
        const running = metric(last);
        ok(running !== undefined, describe());
        const lag = (INTERVAL_MS + 1000) / 1000;
        ok(
          running <= after + 1e-9 && running >= before - lag,
          `metric ${running} s outside [${before} − ${lag}, ${after}] s read around a ` +
            `${scrapeMs.toFixed(0)} ms scrape from ${cpu.file}`,
        );

        // 2. Paused (cgroup frozen): the counter stops, and the agent must serve it exactly
        // (to the nanosecond: usage ÷ 1e9 round-trips through the exposition's number).
        await podman(["pause", name]);
        const frozen = cpu.read();
        await sleep(100);
        equal(cpu.read(), frozen, `${cpu.file} still moving after podman pause`);
        const served = await waitFor(`metric = frozen counter ${frozen} s`, async () => {
          last = await scrapeParsed(agent.url);
          const v = metric(last);
          return v !== undefined && Math.abs(v - frozen) <= 1e-9 ? v : undefined;
        }, { timeoutMs: 5_000, describe });
        ok(served > 0.5);
      });
    } finally {
      await scope.cleanup();
    }
  },
});

Deno.test({
  name: "podman: a 20 MB container allocating 50 MB: container_oom_kills_total 1, then 2",
  ignore: OOM_IGNORE_REASON !== "",
  async fn() {
    const { image } = await ensureTestImage();
    const scope = new ContainerScope();
    try {
      // The grace is long: the container is dead between the kills and its counter must stay.
      await withContainerAgent({ collectInterval: INTERVAL, gcGrace: "120s" }, async (agent) => {
        // hog waits for /tmp/go (created below once the agent sees the container), removes
        // it, then allocates 50 MiB under a 20 MiB limit with no swap.
        const name = await scope.run("oom", {
          image,
          cmd: ["/bin/hog", "50", "/tmp/go"],
          memory: "20m",
          memorySwap: "20m",
        });
        const id = podmanId(name);
        let last: Scrape | undefined = await waitContainerVisible(agent.url, id);
        const describe = () => last?.linesOf(id) ?? "(no scrape)";
        const limit = await waitFor("container_resources_memory_limit_bytes", async () => {
          last = await scrapeParsed(agent.url);
          return last.value("container_resources_memory_limit_bytes", { container_id: id });
        }, { describe });
        equal(limit, 20 * 1024 * 1024, describe());
        equal(
          last.value("container_oom_kills_total", { container_id: id }),
          undefined,
          "container_oom_kills_total is only emitted once > 0",
        );

        for (const want of [1, 2]) {
          if (want === 2) {
            await podman(["start", name]);
            // Give the agent the new process before it dies: wait (not assert) until it
            // counts the restart that the OOM kill and start amount to, at most 5 s.
            await waitFor("restart seen", async () => {
              const s = await scrapeParsed(agent.url);
              const r = s.value("container_restarts_total", { container_id: id });
              return r !== undefined && r >= 1 ? true : undefined;
            }, { timeoutMs: 5_000 }).catch(() => {});
          }
          await touchInContainer(name, "/tmp/go");
          const state = await waitFor("the container to exit", async () => {
            const st = await inspect(name);
            return st.running ? undefined : st;
          });
          const logs = await podman(["logs", name]);
          // 137 = SIGKILL, and nothing else kills it. (Podman 4.3 reports OOMKilled=false on
          // this cgroup v1 host even for real OOM kills, so the exit code is what tells.)
          equal(state.exitCode, 137, `kill ${want}: exit ${state.exitCode}; logs:\n${logs}`);
          ok(!logs.includes("was not killed"), logs);
          const v = await waitFor(`container_oom_kills_total = ${want}`, async () => {
            last = await scrapeParsed(agent.url);
            const v = last.value("container_oom_kills_total", { container_id: id });
            return v !== undefined && v >= want ? v : undefined;
          }, { describe });
          equal(v, want, `after kill ${want}:\n${describe()}`);
        }
        // Still exactly 2 a few refreshes later (no late double count).
        await sleep(3 * INTERVAL_MS);
        last = await scrapeParsed(agent.url);
        equal(last.value("container_oom_kills_total", { container_id: id }), 2, describe());
      });
    } finally {
      await scope.cleanup();
    }
  },
});

Deno.test({
  name: "podman: podman restart makes container_restarts_total exactly 1",
  ignore: IGNORE_REASON !== "",
  async fn() {
    const { image } = await ensureTestImage();
    const scope = new ContainerScope();
    try {
      await withContainerAgent({ collectInterval: INTERVAL }, async (agent) => {
        const name = await scope.run("restart", { image, cmd: SLEEPER });
        const id = podmanId(name);
        let last: Scrape | undefined = await waitContainerVisible(agent.url, id);
        const describe = () => last?.linesOf(id) ?? "(no scrape)";
        const before = last.value("container_restarts_total", { container_id: id });
        ok(before === undefined || before === 0, `before the restart:\n${describe()}`);
        const pid0 = await containerPid(name);
        await podman(["restart", "-t", "0", name]);
        const pid1 = await containerPid(name);
        ok(pid1 !== pid0, "podman restart kept the same process");
        const v = await waitFor("container_restarts_total ≥ 1", async () => {
          last = await scrapeParsed(agent.url);
          const v = last.value("container_restarts_total", { container_id: id });
          return v !== undefined && v >= 1 ? v : undefined;
        }, { describe });
        equal(v, 1, describe());
        await sleep(3 * INTERVAL_MS);
        last = await scrapeParsed(agent.url);
        equal(last.value("container_restarts_total", { container_id: id }), 1, describe());
        equal(last.find("container_info", { container_id: id }).length, 1, describe());
      });
    } finally {
      await scope.cleanup();
    }
  },
});

Deno.test({
  name: "podman: a removed container's series disappear after the grace period, not before",
  ignore: IGNORE_REASON !== "",
  async fn() {
    const { image } = await ensureTestImage();
    const scope = new ContainerScope();
    const GRACE_MS = 3000;
    const RESCAN_MS = 1000;
    try {
      await withContainerAgent(
        { collectInterval: INTERVAL, gcGrace: `${GRACE_MS}ms`, rescanInterval: `${RESCAN_MS}ms` },
        async (agent) => {
          const gone = await scope.run("gc-gone", { image, cmd: SLEEPER });
          const kept = await scope.run("gc-kept", { image, cmd: SLEEPER });
          await waitContainerVisible(agent.url, podmanId(gone));
          await waitContainerVisible(agent.url, podmanId(kept));
          // The agent cannot learn of the death before the removal starts, so the series
          // must outlive t0 by the whole grace; they must go within grace + one /proc rescan
          // (where dead containers are collected) + two refreshes + the time podman rm took
          // + 2 s.
          const t0 = performance.now();
          await podman(["rm", "-f", "-t", "0", gone]);
          const rmMs = performance.now() - t0;
          let last: Scrape | undefined;
          let lastPresent = 0;
          const goneAt = await waitFor(`no series of ${podmanId(gone)}`, async () => {
            last = await scrapeParsed(agent.url);
            const now = performance.now() - t0;
            if (last.ofContainer(podmanId(gone)).length > 0) {
              lastPresent = now;
              return undefined;
            }
            return now;
          }, {
            timeoutMs: GRACE_MS + 30_000,
            everyMs: 50,
            describe: () => last?.linesOf(podmanId(gone)) ?? "",
          });
          ok(
            goneAt >= GRACE_MS - 50,
            `series gone ${goneAt.toFixed(0)} ms after podman rm began; grace is ${GRACE_MS} ms`,
          );
          const bound = GRACE_MS + RESCAN_MS + 2 * INTERVAL_MS + rmMs + 2000;
          ok(
            goneAt <= bound,
            `series gone after ${goneAt.toFixed(0)} ms (last seen at ${
              lastPresent.toFixed(0)
            } ms), bound ${bound.toFixed(0)} ms`,
          );
          ok(
            last!.find("container_info", { container_id: podmanId(kept) }).length === 1,
            `the running container lost its series:\n${last!.linesOf(podmanId(kept))}`,
          );
        },
      );
    } finally {
      await scope.cleanup();
    }
  },
});
