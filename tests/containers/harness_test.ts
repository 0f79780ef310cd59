/**
 * Checks the container test harness itself, without the agent: the locally built image runs
 * under this machine's podman settings, the cgroup CPU counter reader follows a busy
 * container, the memory hog really is OOM-killed (twice), `podman restart` replaces the
 * process, and the exposition reader parses what it must. When a podman test fails, these say
 * whether the harness or the agent is at fault.
 */
import { deepEqual, equal, ok } from "node:assert/strict";
import { parseSamples, sleep, waitFor } from "./metrics.ts";
import {
  containerPid,
  ContainerScope,
  inspect,
  makeCpuReader,
  podman,
  podmanIgnoreReason,
  procCgroups,
  touchInContainer,
} from "./podman.ts";
import { ensureTestImage } from "./rootfs.ts";

const IGNORE_REASON = podmanIgnoreReason();

Deno.test("harness: the exposition reader parses labels, escapes and values", () => {
  const s = parseSamples(
    [
      "# HELP x y",
      'container_info{container_id="/podman/a",image="i:1",app_id=""} 1',
      'm{l="a\\"b\\\\c\\nd"} 2.5e-3',
      "plain 7",
      'ts{a="b"} 1 1700000000000',
    ].join("\n"),
  );
  deepEqual(s, [
    {
      name: "container_info",
      labels: { container_id: "/podman/a", image: "i:1", app_id: "" },
      value: 1,
    },
    { name: "m", labels: { l: 'a"b\\c\nd' }, value: 0.0025 },
    { name: "plain", labels: {}, value: 7 },
    { name: "ts", labels: { a: "b" }, value: 1 },
  ]);
});

Deno.test({
  name: "harness: the built image runs with the machine's podman settings",
  ignore: IGNORE_REASON !== "",
  async fn() {
    const { image, key } = await ensureTestImage();
    equal((await ensureTestImage()).key, key, "a second call must reuse the build");
    const out = await podman([
      "run",
      "--rm",
      "--network",
      "none",
      image,
      "sh",
      "-c",
      "ulimit -n; ulimit -u; id -u; test -x /bin/hog && echo hog; cat /proc/self/cgroup",
    ]);
    const [nofile, nproc, uid, hog] = out.split("\n");
    deepEqual([nofile, nproc, uid, hog], ["1024", "1024", "0", "hog"], out);
    ok(/:\/libpod_parent\/libpod-[0-9a-f]{64}$/m.test(out), out);
    const [img] = JSON.parse(await podman(["image", "inspect", image]));
    ok(img.Size < 10_000_000, `image is ${img.Size} bytes`);
  },
});

Deno.test({
  name: "harness: the cgroup CPU reader follows a busy container; pause freezes it",
  ignore: IGNORE_REASON !== "",
  async fn() {
    const { image } = await ensureTestImage();
    const scope = new ContainerScope();
    try {
      const name = await scope.run("h-cpu", { image, cmd: ["sh", "-c", "while :; do :; done"] });
      const pid = await containerPid(name);
      const id = (await inspect(name)).id;
      ok(procCgroups(pid).get("cpuacct")?.endsWith(id), JSON.stringify([...procCgroups(pid)]));
      const cpu = makeCpuReader(pid);
      const a = cpu.read();
      await sleep(500);
      const b = cpu.read();
      // One busy thread on a 2-core machine: about 0.5 s of CPU in 0.5 s, at most 0.5 s + slack.
      ok(b - a > 0.2 && b - a < 0.7, `${cpu.file}: ${a} → ${b}`);
      await podman(["pause", name]);
      const c = cpu.read();
      await sleep(200);
      equal(cpu.read(), c);
    } finally {
      await scope.cleanup();
    }
  },
});

Deno.test({
  name: "harness: hog under a 20 MB limit is OOM-killed on each start; restart changes the pid",
  ignore: IGNORE_REASON !== "",
  async fn() {
    const { image } = await ensureTestImage();
    const scope = new ContainerScope();
    try {
      const name = await scope.run("h-oom", {
        image,
        cmd: ["/bin/hog", "50", "/tmp/go"],
        memory: "20m",
        memorySwap: "20m",
      });
      for (let i = 1; i <= 2; i++) {
        if (i === 2) await podman(["start", name]);
        const pid = await containerPid(name);
        const limit = Number(
          await Deno.readTextFile(
            `/sys/fs/cgroup/memory${procCgroups(pid).get("memory")}/memory.limit_in_bytes`,
          ),
        );
        equal(limit, 20 * 1024 * 1024);
        // Still waiting for its trigger: alive.
        await sleep(200);
        ok((await inspect(name)).running, "hog exited before its trigger");
        await touchInContainer(name, "/tmp/go");
        const st = await waitFor("hog to die", async () => {
          const s = await inspect(name);
          return s.running ? undefined : s;
        }, { timeoutMs: 10_000 });
        const logs = await podman(["logs", name]);
        equal(st.exitCode, 137, `start ${i}: ${JSON.stringify(st)}\n${logs}`);
        ok(!logs.includes("was not killed"), logs);
      }

      const sleeper = await scope.run("h-restart", { image, cmd: ["sleep", "3600"] });
      const p0 = await containerPid(sleeper);
      const t0 = performance.now();
      await podman(["restart", "-t", "0", sleeper]);
      const ms = performance.now() - t0;
      const p1 = await containerPid(sleeper);
      ok(p0 !== p1, "same pid after restart");
      ok(ms < 5000, `podman restart -t 0 took ${ms.toFixed(0)} ms`);
    } finally {
      await scope.cleanup();
    }
  },
});
