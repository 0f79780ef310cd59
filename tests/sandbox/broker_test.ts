/**
 * osprey-broker (README, "Security model"; ffi/launcher/broker.c): the launcher forks it before
 * it enters the Landlock domain, so it answers the procfs reads the kernel refuses inside the
 * domain; its request set is closed and every malformed or out-of-set request is refused with
 * an errno; it is confined (seccomp, no_new_privs, two capabilities) and goes with the agent;
 * and the sandboxed agent gets a Podman container's volume sizes through it (none without it).
 *
 * Needs root, a kernel with Landlock, the built launcher and libosprey (`deno task build`), and
 * Podman for the volume test.
 */
import { deepEqual, equal, ok } from "node:assert/strict";
import {
  freePort,
  REPO_ROOT,
  SANDBOX_LAUNCHER,
  sandboxWrap,
  startAgent,
} from "../helpers/agent_process.ts";
import { containerAgentArgs, ensureHostView, withStderr } from "../containers/agent.ts";
import { ContainerScope, podmanIgnoreReason } from "../containers/podman.ts";
import { ensureTestImage } from "../containers/rootfs.ts";
import { scrapeParsed, waitFor } from "../containers/metrics.ts";

const VIEW_PROC = "/run/osprey/host/proc";
const decoder = new TextDecoder();

function ignoreReason(): string {
  if (Deno.uid() !== 0) return "not root";
  try {
    Deno.statSync(SANDBOX_LAUNCHER);
  } catch {
    return "launcher not built (deno task build)";
  }
  const out = new Deno.Command(SANDBOX_LAUNCHER, {
    args: ["--rx=/", "--", "sh", "-c", 'echo "$OSPREY_SANDBOX"'],
    stdout: "piped",
    stderr: "null",
  }).outputSync();
  if (!decoder.decode(out.stdout).startsWith("landlock:")) return "no Landlock in this kernel";
  return "";
}
const IGNORE = ignoreReason();
if (IGNORE !== "") console.warn(`tests/sandbox/broker_test.ts ignored: ${IGNORE}`);

type Outcome = { ok: true; value: unknown } | { ok: false; code: string };

/** Runs tests/sandbox/broker_probe.ts under the launcher with the agent set's rules. */
async function probe(reqs: unknown[]): Promise<Outcome[]> {
  const wrap = sandboxWrap(["--listen=127.0.0.1:1"]);
  const out = await new Deno.Command(wrap[0], {
    args: [
      ...wrap.slice(1),
      Deno.execPath(),
      "run",
      "--quiet",
      "-A",
      `${REPO_ROOT}/tests/sandbox/broker_probe.ts`,
      VIEW_PROC,
      JSON.stringify(reqs),
    ],
    env: { NO_COLOR: "1", DENO_NO_UPDATE_CHECK: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = decoder.decode(out.stdout);
  ok(out.success, `probe exited ${out.code}: ${text}${decoder.decode(out.stderr)}`);
  return JSON.parse(text) as Outcome[];
}

/** A request's bytes (the wire format of ffi/include/osprey_broker.h) as hex. */
function raw(
  op: number,
  pid: number,
  o: { arg?: number; offset?: bigint; path?: Uint8Array } = {},
) {
  const path = o.path ?? new Uint8Array(0);
  const b = new Uint8Array(24 + path.length);
  const v = new DataView(b.buffer);
  v.setUint32(4, op, true);
  v.setInt32(8, pid, true);
  v.setUint32(12, o.arg ?? 0, true);
  v.setBigUint64(16, o.offset ?? 0n, true);
  b.set(path, 24);
  return { op: "raw", hex: [...b].map((x) => x.toString(16).padStart(2, "0")).join("") };
}

const bytes = (s: string) => new TextEncoder().encode(s);
const codeOf = (o: Outcome) => o.ok ? "ok" : o.code;

Deno.test({
  name: "broker: answers the closed request set for a process outside the agent's domain, " +
    "whose links the kernel refuses the agent (EACCES)",
  ignore: IGNORE !== "",
  async fn() {
    await ensureHostView();
    // a process outside the domain that holds a listening socket
    const other = new Deno.Command("python3", {
      args: [
        "-c",
        "import socket,sys,time\ns=socket.socket()\ns.bind(('127.0.0.1',0))\ns.listen()\n" +
        "print('up',flush=True)\ntime.sleep(60)",
      ],
      stdout: "piped",
    }).spawn();
    const pid = other.pid;
    const reader = other.stdout.getReader();
    try {
      await reader.read(); // "up": the socket is there
      // what the test itself (outside any domain) reads
      const sockets: { fd: number; inode: number }[] = [];
      let fds = 0;
      for (const e of [...Deno.readDirSync(`/proc/${pid}/fd`)].sort((a, b) => +a.name - +b.name)) {
        fds++;
        const m = /^socket:\[(\d+)\]$/.exec(Deno.readLinkSync(`/proc/${pid}/fd/${e.name}`));
        if (m !== null) sockets.push({ fd: Number(e.name), inode: Number(m[1]) });
      }
      equal(sockets.length, 1);
      const r = await probe([
        { op: "direct", path: `${VIEW_PROC}/${pid}/ns/net` },
        { op: "direct", path: `${VIEW_PROC}/${pid}/exe` },
        { op: "ns", pid, kind: "net" },
        { op: "exeLink", pid },
        { op: "socketFds", pid },
        { op: "readExe", pid, offset: 0, len: 16 },
        { op: "statfs", pid, path: "/" },
        { op: "statfs", pid, path: "/tmp" },
        { op: "netnsOpen", pid },
        { op: "direct", path: `${VIEW_PROC}/${pid}/ns/net` }, // still refused: a descriptor, no grant
      ]);
      // the kernel refuses the agent's own reads: Landlock's ptrace rule
      deepEqual([codeOf(r[0]), codeOf(r[1])], ["EACCES", "EACCES"], JSON.stringify(r));
      const own = Deno.readLinkSync(`/proc/${pid}/ns/net`);
      deepEqual(r[2], { ok: true, value: own });
      deepEqual(r[3], { ok: true, value: Deno.realPathSync("/proc/" + pid + "/exe") });
      deepEqual(r[4], { ok: true, value: { fds, gone: 0, sockets } }, JSON.stringify(r[4]));
      const exe = r[5] as { ok: true; value: { bytesRead: number; head: number[]; size: number } };
      deepEqual(exe.value.head, [0x7f, 0x45, 0x4c, 0x46]); // \x7fELF
      equal(exe.value.bytesRead, 16);
      equal(exe.value.size, Deno.statSync(`/proc/${pid}/exe`).size);
      const fs = r[6] as { ok: true; value: { blocks: number; bsize: number } };
      ok(fs.ok && fs.value.blocks > 0 && fs.value.bsize > 0, JSON.stringify(r[6]));
      ok(r[7].ok, JSON.stringify(r[7]));
      // the namespace descriptor the broker passed names the process's namespace
      deepEqual(r[8], { ok: true, value: own });
      equal(codeOf(r[9]), "EACCES");
    } finally {
      reader.releaseLock();
      other.kill();
      await other.stdout.cancel();
      await other.status;
    }
  },
});

Deno.test({
  name: "broker: refuses malformed and out-of-set requests with an errno and keeps answering",
  ignore: IGNORE !== "",
  async fn() {
    await ensureHostView();
    const self = Deno.pid; // outside the probe's domain, like every process the agent asks about
    const long = bytes("/" + "a".repeat(4096));
    const cases: [string, unknown, number | string][] = [
      ["a request shorter than its header", { op: "raw", hex: "0000000002000000" }, -22],
      ["an unknown operation", raw(99, self), -95],
      ["pid 0", raw(2, 0, { arg: 1 }), -3],
      ["a negative pid", raw(2, -5, { arg: 1 }), -3],
      ["a pid above PID_MAX_LIMIT", raw(2, 4194305, { arg: 1 }), -3],
      ["an unknown namespace kind", raw(2, self, { arg: 99 }), -22],
      ["a path on a request that takes none", raw(2, self, { arg: 1, path: bytes("/etc") }), -22],
      ["a relative path", raw(6, self, { path: bytes("etc") }), -22],
      ["a .. component", raw(6, self, { path: bytes("/tmp/../etc") }), -22],
      ["a . component", raw(6, self, { path: bytes("/./etc") }), -22],
      ["a NUL in the path", raw(6, self, { path: bytes("/etc\0/x") }), -22],
      ["a path over 4096 bytes", raw(6, self, { path: long }), -36],
      ["a file, not a directory", raw(6, self, { path: bytes("/etc/hostname") }), -20],
      ["an exe read over 64 KiB", raw(5, self, { arg: 70000 }), -22],
      ["a first fd above INT32_MAX", raw(3, self, { offset: 1n << 40n }), -22],
      ["log fds: an unknown mode", raw(8, self, { arg: 2 }), -22],
      ["log fds: a first fd above INT32_MAX", raw(8, self, { offset: 1n << 31n }), -22],
      ["log fds: a path", raw(8, self, { path: bytes("/var/log") }), -22],
      ["log fds: pid 0", raw(8, 0), -3],
      ["log fds: a process that does not exist", raw(8, 4194303), -2],
      ["log fds: one fd that is not open", raw(8, self, { arg: 1, offset: 1_000_000n }), -2],
      ["a process that does not exist", raw(2, 4194303, { arg: 1 }), -2],
      ["a namespace of a process that does not exist", raw(7, 4194303), -2],
      ["a path on a namespace open", raw(7, self, { path: bytes("/x") }), -22],
      ["a second bind", { op: "bind", path: VIEW_PROC }, "EALREADY"],
    ];
    // a symbolic link on the way is not followed (Debian's /bin is one, to usr/bin)
    const binIsLink = Deno.lstatSync("/bin").isSymlink;
    if (binIsLink) cases.push(["a symbolic link", raw(6, self, { path: bytes("/bin") }), -20]);
    const r = await probe([...cases.map((c) => c[1]), { op: "ns", pid: self, kind: "net" }]);
    const got = cases.map((c, i) => {
      const o = r[i];
      return [c[0], o.ok ? o.value : o.code];
    });
    deepEqual(got, cases.map((c) => [c[0], c[2]]));
    // still answering after all of them
    deepEqual(r[cases.length], { ok: true, value: Deno.readLinkSync("/proc/self/ns/net") });
  },
});

Deno.test({
  name: "broker: lists only the files under /var/log/ another process holds with write access, " +
    "paged, which the kernel refuses the agent itself",
  ignore: IGNORE !== "",
  async fn() {
    await ensureHostView();
    const dir = await Deno.makeTempDir({ dir: "/var/log", prefix: "osprey-broker-" });
    const tmp = await Deno.makeTempDir({ prefix: "osprey-broker-" });
    // 40 write-only fds (more than one 64 KiB page of the broker's worst-case entries), one
    // read-write, one read-only under /var/log, one write-only elsewhere
    const script = [
      "import os,sys,time",
      "d,t=sys.argv[1],sys.argv[2]",
      "w=[os.open(d+'/app.log',os.O_WRONLY|os.O_CREAT|os.O_APPEND,0o644) for _ in range(40)]",
      "rw=os.open(d+'/rw.log',os.O_RDWR|os.O_CREAT,0o644)",
      "ro=os.open(d+'/app.log',os.O_RDONLY)",
      "el=os.open(t+'/else.log',os.O_WRONLY|os.O_CREAT,0o644)",
      "print(' '.join(map(str,[rw,ro,el]+w)),flush=True)",
      "time.sleep(60)",
    ].join("\n");
    const other = new Deno.Command("python3", {
      args: ["-c", script, dir, tmp],
      stdout: "piped",
    }).spawn();
    const reader = other.stdout.getReader();
    try {
      const line = decoder.decode((await reader.read()).value).trim();
      const [rw, ro, el, ...w] = line.split(" ").map(Number);
      const pid = other.pid;
      const flagsOf = (fd: number) =>
        parseInt(
          /^flags:\s*([0-7]+)/m.exec(Deno.readTextFileSync(`/proc/${pid}/fdinfo/${fd}`))![1],
          8,
        );
      const fds = Deno.readDirSync(`/proc/${pid}/fd`).toArray().length;
      const want = [...w.map((fd) => ({ fd, flags: flagsOf(fd), path: `${dir}/app.log` })), {
        fd: rw,
        flags: flagsOf(rw),
        path: `${dir}/rw.log`,
      }].sort((a, b) => a.fd - b.fd);
      const r = await probe([
        { op: "direct", path: `${VIEW_PROC}/${pid}/fd/${w[0]}` },
        { op: "logFds", pid },
        { op: "logFd", pid, fd: w[0] },
        { op: "logFd", pid, fd: rw },
        { op: "logFd", pid, fd: ro },
        { op: "logFd", pid, fd: el },
      ]);
      equal(codeOf(r[0]), "EACCES", JSON.stringify(r[0]));
      deepEqual(r[1], { ok: true, value: { fds, gone: 0, files: want } });
      deepEqual(r[2], { ok: true, value: want.find((f) => f.fd === w[0]) });
      deepEqual(r[3], { ok: true, value: want.find((f) => f.fd === rw) });
      deepEqual(r[4], { ok: true, value: null }); // read-only
      deepEqual(r[5], { ok: true, value: null }); // not under /var/log
    } finally {
      reader.releaseLock();
      other.kill();
      await other.stdout.cancel();
      await other.status;
      await Deno.remove(dir, { recursive: true });
      await Deno.remove(tmp, { recursive: true });
    }
  },
});

Deno.test({
  name: "broker: binds only to the root of a procfs mount",
  ignore: IGNORE !== "",
  async fn() {
    await ensureHostView();
    const wrap = sandboxWrap(["--listen=127.0.0.1:1"]);
    for (const root of ["/", "/run/osprey/host/proc/self", "relative"]) {
      const out = await new Deno.Command(wrap[0], {
        args: [
          ...wrap.slice(1),
          Deno.execPath(),
          "run",
          "--quiet",
          "-A",
          `${REPO_ROOT}/tests/sandbox/broker_probe.ts`,
          root,
          "[]",
        ],
        stdout: "piped",
        stderr: "piped",
      }).output();
      equal(out.success, false, root);
      ok(/EINVAL/.test(decoder.decode(out.stderr)), decoder.decode(out.stderr));
    }
  },
});

/** The broker process of a launcher-started agent: the one child of its main thread. */
function brokerOf(agentPid: number): number {
  const kids = Deno.readTextFileSync(`/proc/${agentPid}/task/${agentPid}/children`).trim();
  const pids = kids === "" ? [] : kids.split(" ").map(Number);
  equal(pids.length, 1, `children of ${agentPid}: ${kids}`);
  return pids[0];
}

function status(pid: number): Map<string, string> {
  const m = new Map<string, string>();
  for (const line of Deno.readTextFileSync(`/proc/${pid}/status`).split("\n")) {
    const i = line.indexOf(":");
    if (i > 0) m.set(line.slice(0, i), line.slice(i + 1).trim());
  }
  return m;
}

const PODMAN = podmanIgnoreReason();

Deno.test({
  name: "broker: the sandboxed agent serves a Podman volume's disk sizes through a confined " +
    "broker that goes with it; with --broker=off it cannot",
  ignore: IGNORE !== "" || PODMAN !== "",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    await ensureHostView();
    const { image } = await ensureTestImage();
    const scope = new ContainerScope();
    const volume = await Deno.makeTempDir({ prefix: "osprey-broker-vol-" });
    try {
      const name = await scope.run("broker-vol", {
        image,
        cmd: ["sleep", "600"],
        extra: ["-v", `${volume}:/data`],
      });
      const id = `/podman/${name}`;
      const sizeOf = async (url: string) =>
        (await scrapeParsed(url)).find("container_resources_disk_size_bytes", {
          container_id: id,
          mount_point: "/data",
        });
      for (const broker of ["on", "off"]) {
        const args = [
          ...containerAgentArgs({ extraArgs: ["--container-disk-interval=1s"] }),
          `--listen=127.0.0.1:${freePort()}`,
        ];
        const wrap = sandboxWrap(args);
        if (broker === "off") wrap.splice(1, 0, "--broker=off");
        const agent = startAgent({ permissions: ["-P=agent"], args, wrap });
        try {
          await agent.waitReady();
          if (broker === "on") {
            const b = brokerOf(agent.child.pid);
            const st = status(b);
            equal(st.get("Name"), "osprey-broker");
            equal(st.get("Seccomp"), "2", "a seccomp filter");
            equal(st.get("NoNewPrivs"), "1");
            // CAP_DAC_READ_SEARCH (2) and CAP_SYS_PTRACE (19), nothing else
            equal(BigInt(`0x${st.get("CapEff")}`), (1n << 2n) | (1n << 19n));
            equal(BigInt(`0x${st.get("CapPrm")}`), (1n << 2n) | (1n << 19n));
            const got = await waitFor("the volume's disk size", async () => {
              const s = await sizeOf(agent.url);
              return s.length > 0 ? s : undefined;
            }, { timeoutMs: 20_000, describe: () => agent.stderr() });
            ok(got[0].value > 0, JSON.stringify(got));
            const s = await scrapeParsed(agent.url);
            equal(s.value("osprey_procfs_broker_up", {}), 1);
            ok(/^BROKER {3}on:/m.test(agent.stderr()), agent.stderr());
            await agent.stop();
            // the broker saw its socket close (or its parent die) and exited
            await waitFor("the broker gone", () => {
              try {
                const state = status(b).get("State") ?? "";
                return Promise.resolve(state.startsWith("Z") ? true : undefined);
              } catch (e) {
                if (e instanceof Deno.errors.NotFound) return Promise.resolve(true);
                throw e;
              }
            }, { timeoutMs: 5000 });
          } else {
            ok(/^BROKER {3}off \(no OSPREY_BROKER_FD/m.test(agent.stderr()), agent.stderr());
            // the container is seen, its volume's size is not (the kernel refuses its root)
            await waitFor("the container", async () => {
              const s = await scrapeParsed(agent.url);
              return s.find("container_info", { container_id: id }).length > 0 ? true : undefined;
            }, { timeoutMs: 15_000, describe: () => agent.stderr() });
            await new Promise((r) => setTimeout(r, 2500)); // two disk rounds
            deepEqual(await sizeOf(agent.url), []);
            equal((await scrapeParsed(agent.url)).value("osprey_procfs_broker_up", {}), 0);
          }
        } catch (e) {
          throw withStderr(e, agent);
        } finally {
          await agent.stop();
        }
      }
    } finally {
      await scope.cleanup();
      await Deno.remove(volume, { recursive: true });
    }
  },
});
