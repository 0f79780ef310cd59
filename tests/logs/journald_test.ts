/**
 * A real systemd-journald started for the test (PID 1 here is not systemd): in a private mount
 * namespace whose `/run/systemd` is its own tmpfs (its sockets stay there) and whose
 * `/etc/machine-id` is a fresh id, with `Storage=volatile`, so its journal files land in the
 * host's `/run/log/journal/<that id>/`, where the agent reads them through libsystemd. Lines
 * are written with `systemd-cat` from a process in a service's cgroup: journald stamps them
 * with that `_SYSTEMD_UNIT` and a `PRIORITY` from each line's `<N>` prefix.
 *
 * Checked: N messages at each priority give exact counts per level (PRIORITY → level, the
 * text carrying no level word) under `source="journald"`, through a journal file rotation
 * (SIGUSR2) and a journald restart.
 *
 * Needs root, `unshare`, `nsenter`, systemd-journald and systemd-cat (Debian's `systemd`),
 * and the built libosprey.
 *
 * @module
 */
import { deepEqual } from "node:assert/strict";
import { withContainerAgent } from "../containers/agent.ts";
import { TestCgroup } from "../containers/cgroups.ts";
import { type Scrape, scrapeParsed, sleep, waitFor } from "../containers/metrics.ts";
import { privilegedIgnoreReason } from "../privileged/_helpers.ts";
import {
  CONTAINERS_CONF,
  podmanIgnoreReason,
  removeContainers,
  touchInContainer,
  uniqueName,
} from "../containers/podman.ts";
import { ensureTestImage } from "../containers/rootfs.ts";
import { eachLevel, expectLevelCounts, LEVEL_WORDS, levelCounts, TEST_LEVELS } from "./_harness.ts";

const JOURNALD = "/lib/systemd/systemd-journald";

function ignoreReason(): string {
  const r = privilegedIgnoreReason();
  if (r) return r;
  for (const f of [JOURNALD, "/usr/bin/systemd-cat", "/usr/bin/unshare", "/usr/bin/nsenter"]) {
    try {
      Deno.statSync(f);
    } catch {
      return `${f} is missing (apt-get install systemd util-linux)`;
    }
  }
  return "";
}
const IGNORE = ignoreReason();
if (IGNORE) console.warn(`tests/logs/journald_test.ts ignored: ${IGNORE}`);

/** A journald of the test's own; see the module documentation. */
class TestJournald {
  readonly machineId: string;
  readonly #tmp: string;
  readonly #holder: Deno.ChildProcess;
  #daemon: Deno.ChildProcess | undefined;

  private constructor(machineId: string, tmp: string, holder: Deno.ChildProcess) {
    this.machineId = machineId;
    this.#tmp = tmp;
    this.#holder = holder;
  }

  /** The directory its journal files go to. */
  get dir(): string {
    return `/run/log/journal/${this.machineId}`;
  }

  static async start(): Promise<TestJournald> {
    const id = [...crypto.getRandomValues(new Uint8Array(16))]
      .map((b) => b.toString(16).padStart(2, "0")).join("");
    const tmp = await Deno.makeTempDir({ prefix: "osprey-journald-" });
    await Deno.writeTextFile(`${tmp}/machine-id`, id + "\n");
    await Deno.writeTextFile(`${tmp}/journald.conf`, "[Journal]\nStorage=volatile\n");
    // the namespace lives as long as this holder (sh, then sleep)
    const holder = new Deno.Command("unshare", {
      args: [
        "--mount",
        "--propagation",
        "private",
        "sh",
        "-c",
        `mount --bind ${tmp}/machine-id /etc/machine-id
mount --bind ${tmp}/journald.conf /etc/systemd/journald.conf
mount -t tmpfs tmpfs /run/systemd
mkdir -p /run/systemd/journal
echo ready
exec sleep 3600`,
      ],
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    const r = holder.stdout.getReader();
    const { value } = await r.read();
    r.releaseLock();
    await holder.stdout.cancel();
    if (!new TextDecoder().decode(value).includes("ready")) {
      throw new Error("the journald namespace did not come up");
    }
    const j = new TestJournald(id, tmp, holder);
    await j.startDaemon();
    return j;
  }

  /** Starts systemd-journald in the namespace and waits for its stdout socket. */
  async startDaemon(): Promise<void> {
    this.#daemon = new Deno.Command("nsenter", {
      args: ["-t", String(this.#holder.pid), "-m", JOURNALD],
      stdout: "null",
      stderr: "null",
    }).spawn();
    const sock = `/proc/${this.#holder.pid}/root/run/systemd/journal/stdout`;
    await waitFor("journald's stdout socket", async () => {
      try {
        await Deno.stat(sock);
        return true;
      } catch {
        return undefined;
      }
    }, { timeoutMs: 10_000 });
  }

  /** Stops systemd-journald (SIGTERM) and waits for it. */
  async stopDaemon(): Promise<void> {
    const d = this.#daemon;
    this.#daemon = undefined;
    if (d === undefined) return;
    d.kill("SIGTERM");
    await d.status;
    // the next daemon makes its sockets again
    await Deno.remove(`/proc/${this.#holder.pid}/root/run/systemd/journal`, { recursive: true });
    await Deno.mkdir(`/proc/${this.#holder.pid}/root/run/systemd/journal`);
  }

  /** Asks journald to rotate its files (SIGUSR2). */
  rotate(): void {
    this.#daemon?.kill("SIGUSR2");
  }

  /**
   * A `systemd-cat` in `cg` (journald reads the unit from the writer's cgroup); each line may
   * start with a `<N>` priority prefix. It stays alive between writes: journald looks the
   * writer's cgroup up in /proc when it handles the stream, and a writer that already exited
   * would leave the entries without `_SYSTEMD_UNIT`.
   */
  writer(cg: TestCgroup): JournalWriter {
    return new JournalWriter(this.#holder.pid, cg);
  }

  /**
   * Runs a command in the namespace (so it logs to this journald). Its output is not piped:
   * what it leaves running (conmon) would hold a pipe open.
   */
  async run(cmd: string[], env: Record<string, string> = {}): Promise<void> {
    const st = await new Deno.Command("nsenter", {
      args: ["-t", String(this.#holder.pid), "-m", ...cmd],
      env,
      stdin: "null",
      stdout: "null",
      stderr: "inherit",
    }).spawn().status;
    if (!st.success) throw new Error(`${cmd.join(" ")} exited ${st.code}`);
  }

  async stop(): Promise<void> {
    await this.stopDaemon().catch(() => {});
    try {
      this.#holder.kill("SIGKILL");
    } catch { /* gone */ }
    await this.#holder.status;
    await Deno.remove(this.dir, { recursive: true }).catch(() => {});
    await Deno.remove(this.#tmp, { recursive: true });
  }
}

/** A long-lived `systemd-cat` in a cgroup, inside the journald's namespace. */
class JournalWriter {
  readonly #p: Deno.ChildProcess;
  readonly #w: WritableStreamDefaultWriter<Uint8Array>;

  constructor(nsPid: number, cg: TestCgroup) {
    this.#p = new Deno.Command("nsenter", {
      args: [
        "-t",
        String(nsPid),
        "-m",
        "sh",
        "-c",
        `${cg.joinScript()}\nexec systemd-cat -t osprey-test`,
      ],
      stdin: "piped",
      stdout: "null",
      stderr: "null",
    }).spawn();
    this.#w = this.#p.stdin.getWriter();
  }

  async write(lines: readonly string[]): Promise<void> {
    await this.#w.write(new TextEncoder().encode(lines.map((l) => l + "\n").join("")));
  }

  /** Ends it (closing its stream); a writer whose journald stopped has ended already. */
  async stop(): Promise<void> {
    await this.#w.close().catch(() => {});
    await this.#p.status;
  }
}

/** Lines at each priority journald maps to a level (text without a level word). */
const PRIORITIES = { critical: 2, error: 3, warning: 4, info: 6, debug: 7 } as const;

function priorityLines(n: number, tag: string): string[] {
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    for (const p of Object.values(PRIORITIES)) {
      out.push(`<${p}>${tag} job ${i} finished on node ${i % 3}`);
    }
  }
  return out;
}

const N = 20;

Deno.test({
  name: "journald: N messages at each priority counted exactly per level under source journald " +
    "for the service's unit, through a journal file rotation and a journald restart",
  ignore: IGNORE !== "",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const unit = `osprey-jd-${Deno.pid}.service`;
    const id = `/system.slice/${unit}`;
    const cg = await TestCgroup.create(`system.slice/${unit}`);
    const jd = await TestJournald.start();
    let sleeper: Deno.ChildProcess | undefined;
    let writer: JournalWriter | undefined;
    try {
      // a journal file exists before the agent starts
      writer = jd.writer(cg);
      await writer.write(["<6>journal for the osprey test"]);
      await withContainerAgent({}, async (agent) => {
        // a long-lived process of the service, so the agent knows the container
        sleeper = new Deno.Command("sh", {
          args: ["-c", `${cg.joinScript()}\nexec sleep 3600`],
          stdout: "null",
        }).spawn();
        await waitFor(`series of ${id}`, async () => {
          const s = await scrapeParsed(agent.url);
          return s.ofContainer(id).length > 0 ? true : undefined;
        });
        // warm-up debug lines until the agent routes the unit's entries
        let last: Scrape | undefined;
        await waitFor("the first journald entry of the unit", async () => {
          await writer!.write(["<7>warmup tick"]);
          last = await scrapeParsed(agent.url);
          return (levelCounts(last, id, "journald").debug ?? 0) > 0 ? true : undefined;
        }, { timeoutMs: 30_000, describe: () => last?.linesOf(id) ?? "" });
        await sleep(2000);
        const warm = levelCounts(await scrapeParsed(agent.url), id, "journald").debug ?? 0;
        const want = (n: number) => ({
          critical: n,
          error: n,
          warning: n,
          info: n,
          debug: warm + n,
        });

        await writer!.write(priorityLines(N, "first"));
        await expectLevelCounts(agent.url, id, "journald", want(N));

        jd.rotate();
        await sleep(500);
        await writer!.write(priorityLines(N, "after-rotation"));
        await expectLevelCounts(agent.url, id, "journald", want(2 * N));

        await jd.stopDaemon();
        await writer!.stop(); // its stream ended with the daemon
        await jd.startDaemon();
        writer = jd.writer(cg);
        await writer.write(priorityLines(N, "after-restart"));
        const s = await expectLevelCounts(agent.url, id, "journald", want(3 * N));
        // only this unit's container carries them
        const ids = new Set(
          s.find("container_log_messages_total", { source: "journald" })
            .filter((x) => x.labels.sample.includes("job"))
            .map((x) => x.labels.container_id),
        );
        deepEqual([...ids], [id]);
      });
    } finally {
      if (sleeper !== undefined) {
        sleeper.kill("SIGKILL");
        await sleeper.status;
      }
      await writer?.stop();
      await jd.stop();
      await cg.remove();
    }
  },
});

const PODMAN_IGNORE = IGNORE || podmanIgnoreReason();

Deno.test({
  name: "podman with the journald log driver: its entries are found by CONTAINER_ID_FULL and " +
    "counted exactly per level under source stdout/stderr",
  ignore: PODMAN_IGNORE !== "",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const { image } = await ensureTestImage();
    const jd = await TestJournald.start();
    const name = uniqueName("journald");
    try {
      await withContainerAgent({}, async (agent) => {
        const body = TEST_LEVELS.map((l) => {
          const redirect = l === "warning" || l === "critical" ? " >&2" : "";
          return `echo "${LEVEL_WORDS[l]} payment $i settled in batch $((i % 4))"${redirect}`;
        }).join("; ");
        // warm-up lines until /go, silence until /go2 (the test reads how many warm-up lines
        // it counted), then the lines at each level
        const script = `while [ ! -f /go ]; do echo warmup tick; sleep 0.2; done
while [ ! -f /go2 ]; do sleep 0.1; done
i=0; while [ $i -lt ${N} ]; do ${body}; i=$((i+1)); done; exec sleep 3600`;
        // run from inside the journald's namespace: conmon logs to that journald
        await jd.run([
          "podman",
          "run",
          "-d",
          "--name",
          name,
          "--network",
          "none",
          "--log-driver",
          "journald",
          image,
          "sh",
          "-c",
          script,
        ], { CONTAINERS_CONF });
        const id = `/podman/${name}`;
        // warm-up lines have no level word: stdout's PRIORITY 6 makes them info
        let last: Scrape | undefined;
        await waitFor("a warm-up entry of the container", async () => {
          last = await scrapeParsed(agent.url);
          return (levelCounts(last, id, "stdout/stderr").info ?? 0) > 0 ? true : undefined;
        }, { timeoutMs: 30_000, describe: () => last?.linesOf(id) ?? "" });
        await touchInContainer(name, "/go");
        await sleep(2000); // the last warm-up line is read and counted
        const warm = levelCounts(await scrapeParsed(agent.url), id, "stdout/stderr").info ?? 0;
        await touchInContainer(name, "/go2");
        const want = eachLevel(N);
        want.info += warm;
        await expectLevelCounts(agent.url, id, "stdout/stderr", want);
      });
    } finally {
      await removeContainers([name]);
      await jd.stop();
    }
  },
});
