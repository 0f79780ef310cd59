/**
 * `deno task dev:vm` end to end on Debian's 6.1 kernel (tools/vm/): the guest boots under QEMU
 * (TCG), runs the agent from the read-only checkout, and the host scrapes it through the
 * forwarded port: `node_info` names the guest's kernel, process events flow (a heartbeat process
 * a second), the net module loads its fentry programs there; SIGTERM inside the guest ends the
 * agent with exit code 0. One boot, about a minute under TCG.
 *
 * Needs root, qemu-system-x86_64 (apt-get install qemu-system-x86), busybox-static, a built
 * libosprey, and Debian's archive for the kernel's first download (cached in /var/cache/osprey-vm).
 */
import { equal, ok } from "node:assert/strict";
import { freePort, isRoot, REPO_ROOT } from "../helpers/agent_process.ts";
import { type Scrape, scrapeParsed, waitFor } from "../containers/metrics.ts";
import { bootVm } from "../../tools/vm/vm.ts";

function works(cmd: string, args: string[]): boolean {
  try {
    return new Deno.Command(cmd, { args, stdout: "null", stderr: "null" }).outputSync().success;
  } catch {
    return false;
  }
}

function ignoreReason(): string {
  if (!isRoot()) return "not root";
  if (!works("qemu-system-x86_64", ["--version"])) return "qemu-system-x86_64 is missing";
  try {
    Deno.statSync("/bin/busybox");
    Deno.statSync(`${REPO_ROOT}/ffi/.output/libosprey.so`);
  } catch {
    return "busybox-static or the built libosprey is missing";
  }
  return "";
}

const GUEST_SCRIPT = `
sh agent/host_view.sh
(while :; do /bin/sleep 1; done) &
deno run -P=agent --no-check agent/main.ts --listen=0.0.0.0:9100 --collect-interval=2s &
pid=$!
while [ ! -e /run/ctl/stop ] && kill -0 $pid 2>/dev/null; do /bin/sleep 0.5; done
kill -TERM $pid
wait $pid
echo $? > /run/ctl/agent-exit
`;

Deno.test({
  name: "dev:vm on 6.1: the host scrapes the guest's agent, which sees the guest's kernel",
  ignore: ignoreReason() !== "",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const port = freePort();
    let ctl = "";
    const console_: string[] = [];
    const run = bootVm({
      kernel: "6.1",
      script: GUEST_SCRIPT,
      forward: `127.0.0.1:${port}`,
      timeoutMs: 300_000,
      onStart: (dir) => ctl = dir,
      onLine: (l) => console_.push(l),
    });
    let stopped = false;
    const stop = async () => {
      if (!stopped && ctl) await Deno.writeTextFile(`${ctl}/stop`, "");
      stopped = true;
    };
    try {
      let seen: Scrape | undefined;
      const s = await waitFor("node_info and process records from the guest", async () => {
        const now = seen = await scrapeParsed(`http://127.0.0.1:${port}`);
        const execs = now.value("osprey_ringbuf_records_total", {
          ring: "proc_events",
          record_type: "exec",
        }) ?? 0;
        return now.find("node_info").length && execs > 0 ? now : undefined;
      }, {
        timeoutMs: 180_000,
        everyMs: 1000,
        describe: () => `${seen ? "scraped" : "never scraped"}\n${console_.slice(-40).join("\n")}`,
      });
      const [info] = s.find("node_info");
      ok(/^6\.1\.0-\d+-amd64$/.test(info.labels.kernel_version), info.labels.kernel_version);
      ok(info.labels.kernel_version !== Deno.osRelease(), "the guest's kernel, not the host's");
      equal(info.labels.hostname, "osprey-vm");
      equal(s.value("osprey_containers_event_source", { source: "bpf" }), 1);
      for (const module of ["process_events", "net", "node", "containers"]) {
        equal(s.value("osprey_module_state", { module, state: "on" }), 1, module);
      }
      // 6.1 runs fentry programs (the development kernel refuses them).
      ok(
        s.find("osprey_bpf_program_attached").some((p) =>
          p.labels.variant === "fexit" && p.value === 1
        ),
        "an fexit program is attached",
      );
      await stop();
      const r = await run;
      equal(r.kernel.series, "6.1");
      equal(r.files["agent-exit"]?.trim(), "0", console_.slice(-40).join("\n"));
      equal(r.code, 0);
      console.log(
        `dev:vm: ${r.kernel.release}: boot ${(r.bootMs / 1000).toFixed(1)} s, ` +
          `whole ${(r.totalMs / 1000).toFixed(1)} s`,
      );
    } finally {
      await stop();
      await run.catch(() => {});
    }
  },
});
