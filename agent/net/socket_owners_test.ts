import { deepEqual, equal, ok } from "node:assert/strict";
import { hostPaths } from "../paths.ts";
import {
  parseNetNamespaceLink,
  parseSocketLink,
  scanNetNamespaces,
  scanSocketOwners,
} from "./socket_owners.ts";

Deno.test("parseSocketLink() and parseNetNamespaceLink() read the inode of the kernel's link text", () => {
  equal(parseSocketLink("socket:[12345]"), 12345);
  equal(parseSocketLink("socket:[0]"), 0);
  equal(parseSocketLink("socket:[]"), undefined);
  equal(parseSocketLink("socket:[12a]"), undefined);
  equal(parseSocketLink("socket:[123"), undefined);
  equal(parseSocketLink("pipe:[123]"), undefined);
  equal(parseSocketLink("/dev/null"), undefined);
  equal(parseSocketLink("anon_inode:[eventpoll]"), undefined);
  equal(parseSocketLink("socket:[" + "9".repeat(16) + "]"), undefined);
  equal(parseNetNamespaceLink("net:[4026531840]"), 4026531840);
  equal(parseNetNamespaceLink("mnt:[4026531840]"), undefined);
  equal(parseNetNamespaceLink("net:[-1]"), undefined);
});

/** A procfs look-alike: `<pid>/fd/<n>` and `<pid>/ns/net` as symlinks with the kernel's texts. */
async function fakeProc(
  tree: Record<number, { fds?: Record<number, string>; net?: string }>,
): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "osprey-net-proc-" });
  for (const [pid, p] of Object.entries(tree)) {
    await Deno.mkdir(`${dir}/${pid}`);
    if (p.fds) {
      await Deno.mkdir(`${dir}/${pid}/fd`);
      for (const [fd, link] of Object.entries(p.fds)) {
        if (link === "<dir>") await Deno.mkdir(`${dir}/${pid}/fd/${fd}`);
        else await Deno.symlink(link, `${dir}/${pid}/fd/${fd}`);
      }
    }
    if (p.net) {
      await Deno.mkdir(`${dir}/${pid}/ns`);
      await Deno.symlink(p.net, `${dir}/${pid}/ns/net`);
    }
  }
  return dir;
}

Deno.test("scanSocketOwners() collects every holder of each socket, sorted, and counts what it skips", async () => {
  const proc = await fakeProc({
    10: { fds: { 5: "socket:[100]", 3: "socket:[100]", 4: "/dev/null", 6: "pipe:[7]" } },
    11: { fds: { 0: "socket:[100]", 7: "socket:[200]", 8: "<dir>" } },
    12: {}, // exited: no fd directory any more
  });
  try {
    const { owners, stats } = await scanSocketOwners(proc, [11, 10, 12, 13]);
    deepEqual([...owners.entries()].sort((a, b) => a[0] - b[0]), [
      [100, [{ pid: 10, fd: 3 }, { pid: 10, fd: 5 }, { pid: 11, fd: 0 }]],
      [200, [{ pid: 11, fd: 7 }]],
    ]);
    equal(stats.processes, 4);
    equal(stats.processesGone, 2);
    equal(stats.fds, 7);
    equal(stats.socketFds, 4);
    equal(stats.errors, 1); // fd 8 is a directory: readlink says EINVAL
    equal(stats.complete, true);

    const only = await scanSocketOwners(proc, [10, 11], { inodes: new Set([200]) });
    deepEqual([...only.owners.keys()], [200]);
    equal(only.stats.socketFds, 4);
  } finally {
    await Deno.remove(proc, { recursive: true });
  }
});

Deno.test("scanNetNamespaces() maps pids to namespace inodes; unreadable or odd links are counted", async () => {
  const proc = await fakeProc({
    1: { net: "net:[4026531840]" },
    2: { net: "net:[4026532000]" },
    3: { net: "mnt:[4026531841]" },
  });
  try {
    const { netns, stats } = await scanNetNamespaces(proc, [1, 2, 3, 4]);
    deepEqual([...netns], [[1, 4026531840], [2, 4026532000]]);
    equal(stats.processesGone, 1);
    equal(stats.errors, 1);
  } finally {
    await Deno.remove(proc, { recursive: true });
  }
});

Deno.test("scans stop at the deadline or when aborted, and say they are incomplete", async () => {
  const proc = await fakeProc({ 1: { fds: { 3: "socket:[1]" }, net: "net:[1]" } });
  try {
    const late = await scanSocketOwners(proc, [1], { deadline: performance.now() - 1 });
    equal(late.stats.complete, false);
    equal(late.stats.processes, 0);
    const aborted = await scanNetNamespaces(proc, [1], { signal: AbortSignal.abort() });
    equal(aborted.stats.complete, false);
    equal(aborted.netns.size, 0);
  } finally {
    await Deno.remove(proc, { recursive: true });
  }
});

const LIVE = hostPaths();
const NO_VIEW = LIVE.fixture || (() => {
  try {
    Deno.readLinkSync(`${LIVE.proc}/self/ns/net`);
    return false;
  } catch {
    return true;
  }
})();

Deno.test({
  name: "scanSocketOwners() on the live procfs finds this process's sockets under their fds",
  ignore: NO_VIEW,
  async fn() {
    using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const fds: Record<string, string> = {};
    const dir = `${LIVE.proc}/${Deno.pid}/fd`;
    for (const e of Deno.readDirSync(dir)) {
      try {
        fds[e.name] = Deno.readLinkSync(`${dir}/${e.name}`);
      } catch (err) {
        // the directory's own fd, closed once listed
        if (!(err instanceof Deno.errors.NotFound)) throw err;
      }
    }
    const sockets = Object.entries(fds).filter(([, l]) => l.startsWith("socket:["));
    ok(sockets.length >= 1);
    const { owners, stats } = await scanSocketOwners(LIVE.proc, [Deno.pid]);
    equal(stats.processesDenied + stats.processesGone + stats.errors, 0);
    const expected = new Map<number, { pid: number; fd: number }[]>();
    for (const [fd, link] of sockets) {
      const inode = parseSocketLink(link)!;
      expected.set(inode, [...expected.get(inode) ?? [], { pid: Deno.pid, fd: Number(fd) }]);
    }
    for (const list of expected.values()) list.sort((a, b) => a.fd - b.fd);
    deepEqual(
      new Map([...owners].sort((a, b) => a[0] - b[0])),
      new Map([...expected].sort((a, b) => a[0] - b[0])),
    );
    void listener.addr;
  },
});

Deno.test({
  name: "scans count processes that exited before their turn as gone (real pids)",
  ignore: NO_VIEW,
  async fn() {
    const dead: number[] = [];
    for (let i = 0; i < 5; i++) {
      const child = new Deno.Command("true").spawn();
      await child.status;
      dead.push(child.pid);
    }
    const owners = await scanSocketOwners(LIVE.proc, [Deno.pid, ...dead]);
    equal(owners.stats.processes, 6);
    equal(owners.stats.processesGone, 5);
    const ns = await scanNetNamespaces(LIVE.proc, [Deno.pid, ...dead]);
    equal(ns.netns.size, 1);
    equal(ns.stats.processesGone, 5);
  },
});

Deno.test({
  name: "scans as an unprivileged user count the refused processes and still see their own",
  ignore: NO_VIEW || Deno.uid() !== 0,
  async fn() {
    const home = await Deno.makeTempDir({ prefix: "osprey-net-nobody-" });
    await Deno.chmod(home, 0o777);
    const script = `${home}/scan.ts`;
    const mod = new URL("./socket_owners.ts", import.meta.url).href;
    const procfs = new URL("../procfs.ts", import.meta.url).href;
    await Deno.writeTextFile(
      script,
      `import { scanSocketOwners, scanNetNamespaces, parseSocketLink } from "${mod}";
import { listPids } from "${procfs}";
const proc = ${JSON.stringify(LIVE.proc)};
using l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
const pids = listPids(proc);
const own = [];
for (const e of Deno.readDirSync(proc + "/" + Deno.pid + "/fd")) {
  let link;
  try { link = Deno.readLinkSync(proc + "/" + Deno.pid + "/fd/" + e.name); } catch { continue; }
  const ino = parseSocketLink(link);
  if (ino !== undefined) own.push([ino, Number(e.name)]);
}
const o = await scanSocketOwners(proc, pids);
const n = await scanNetNamespaces(proc, pids);
console.log(JSON.stringify({ pid: Deno.pid, pids: pids.length, own,
  found: own.map(([ino]) => o.owners.get(ino) ?? null), owners: o.stats, ns: n.stats,
  ownNs: n.netns.get(Deno.pid) ?? null }));
void l;
`,
    );
    try {
      const out = await new Deno.Command("setpriv", {
        args: [
          "--reuid=65534",
          "--regid=65534",
          "--clear-groups",
          Deno.execPath(),
          "run",
          "--no-config",
          "--no-lock",
          `--allow-read=${LIVE.proc},${new URL("..", import.meta.url).pathname}`,
          "--allow-net=127.0.0.1",
          script,
        ],
        env: { HOME: home, DENO_DIR: `${home}/deno`, NO_COLOR: "1", DENO_NO_UPDATE_CHECK: "1" },
        stdout: "piped",
        stderr: "piped",
      }).output();
      const err = new TextDecoder().decode(out.stderr);
      ok(out.success, err);
      const r = JSON.parse(new TextDecoder().decode(out.stdout));
      ok(r.owners.processesDenied > 0, JSON.stringify(r.owners));
      ok(r.ns.processesDenied > 0, JSON.stringify(r.ns));
      equal(r.owners.processes, r.pids);
      ok(r.own.length >= 1);
      for (let i = 0; i < r.own.length; i++) {
        const [ino, fd] = r.own[i];
        const want = r.own.filter((o: [number, number]) => o[0] === ino)
          .map((o: [number, number]) => ({ pid: r.pid, fd: o[1] }))
          .sort((a: { fd: number }, b: { fd: number }) => a.fd - b.fd);
        deepEqual(r.found[i], want, `fd ${fd}`);
      }
      ok(r.ownNs !== null);
    } finally {
      await Deno.remove(home, { recursive: true });
    }
  },
});
