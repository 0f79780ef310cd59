/**
 * Cost of the start-up reconciliation (agent/net/existing_sockets.ts): one `existingSockets()`
 * over the live host, first as the host is, then with a load of N processes of F fds each (a
 * listener and two connections to itself, 5 TCP sockets, the rest `/dev/null`) in a network
 * namespace of its own. Prints the median of 3 runs: wall time, its parts (namespace scan,
 * socket-table reads, fd scan), what was found, and the longest the event loop was kept from
 * running (a 1 ms interval timer's largest gap), which the time slicing bounds.
 *
 * Usage: deno run -A bench/net/existing_sockets_bench.ts [processes=1000] [fds=100]
 * (root, with the host view: sh agent/host_view.sh)
 *
 * @module
 */
import { type ExistingSockets, existingSockets } from "../../agent/net/existing_sockets.ts";
import { hostPaths } from "../../agent/paths.ts";

const PROCESSES = Number(Deno.args[0] ?? 1000);
const FDS = Number(Deno.args[1] ?? 100);
const paths = hostPaths();

/** Forks PROCESSES children that each hold FDS fds, says "ready", and ends them on stdin EOF. */
const LOAD = `
import os, socket, sys
n, fds = int(sys.argv[1]), int(sys.argv[2])
r, w = os.pipe()
for i in range(n):
    if os.fork() == 0:
        os.close(w)
        keep = []
        l = socket.socket(); l.bind(("127.0.0.1", 0)); l.listen(4); keep.append(l)
        for k in range(2):
            c = socket.create_connection(l.getsockname()); a, _ = l.accept(); keep += [c, a]
        while len(keep) + 4 < fds:
            keep.append(open("/dev/null"))
        sys.stdout.flush()
        os.read(r, 1)
        os._exit(0)
os.close(r)
print("ready", flush=True)
sys.stdin.read()
`;

interface Run {
  ms: number;
  nsMs: number;
  tablesMs: number;
  fdMs: number;
  maxGapMs: number;
  result: ExistingSockets;
}

async function measure(): Promise<Run> {
  let last = performance.now();
  let maxGap = 0;
  const timer = setInterval(() => {
    const now = performance.now();
    maxGap = Math.max(maxGap, now - last);
    last = now;
  }, 1);
  const t0 = performance.now();
  last = t0;
  const result = await existingSockets(paths, { timeoutMs: 60_000 });
  const ms = performance.now() - t0;
  clearInterval(timer);
  const s = result.stats;
  const nsMs = s.namespaceScan.elapsedMs, fdMs = s.ownerScan.elapsedMs;
  return { ms, nsMs, fdMs, tablesMs: ms - nsMs - fdMs, maxGapMs: maxGap, result };
}

async function report(label: string): Promise<void> {
  await measure(); // warm-up
  const runs: Run[] = [];
  for (let i = 0; i < 3; i++) runs.push(await measure());
  runs.sort((a, b) => a.ms - b.ms);
  const m = runs[1];
  const s = m.result.stats;
  console.log(
    `${label}: ${m.ms.toFixed(0)} ms (namespaces ${m.nsMs.toFixed(0)}, tables ${
      m.tablesMs.toFixed(0)
    }, fds ${m.fdMs.toFixed(0)}); ` +
      `${s.ownerScan.processes} processes, ${s.ownerScan.fds} fds, ${s.namespaces} namespaces, ` +
      `${s.sockets} sockets -> ${m.result.listens.length} listens, ${m.result.connections.length} ` +
      `connections; skipped: ${s.noInode} no inode, ${s.otherState} other state, ` +
      `${s.ownerNotFound} no holder; event loop blocked at most ${m.maxGapMs.toFixed(1)} ms`,
  );
}

async function run(cmd: string, args: string[]): Promise<void> {
  const out = await new Deno.Command(cmd, { args, stderr: "piped" }).output();
  if (!out.success) {
    throw new Error(`${cmd} ${args.join(" ")}: ${new TextDecoder().decode(out.stderr)}`);
  }
}

await report("this host");

const ns = `osprey-bench-${Deno.pid}`;
await run("ip", ["netns", "add", ns]);
let child: Deno.ChildProcess | undefined;
try {
  await run("ip", ["-n", ns, "link", "set", "lo", "up"]);
  const t0 = performance.now();
  child = new Deno.Command("ip", {
    args: ["netns", "exec", ns, "python3", "-c", LOAD, String(PROCESSES), String(FDS)],
    stdin: "piped",
    stdout: "piped",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  while (!text.includes("ready")) {
    const { value, done } = await reader.read();
    if (done) throw new Error("the load generator ended early");
    text += value;
  }
  console.log(
    `load: ${PROCESSES} processes x ${FDS} fds started in ${
      (performance.now() - t0).toFixed(0)
    } ms`,
  );
  await report(`with the load`);
  reader.releaseLock();
} finally {
  if (child) {
    await child.stdin.close();
    await child.stdout.cancel().catch(() => {});
    await child.status;
  }
  await run("ip", ["netns", "del", ns]);
}
