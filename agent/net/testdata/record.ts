/**
 * Records testdata/netns/ from this machine (as root, with the host view mounted:
 * `sh agent/host_view.sh`): a fresh network namespace running sockets.py, then its
 * `/proc/<pid>/net/tcp` and `tcp6` (through the host view), `ss -tanOe` in it (the kernel's
 * netlink view of the same sockets), the program's socket fd links and its own report.
 *
 *     deno run -A agent/net/testdata/record.ts
 *
 * @module
 */
import { hostPaths } from "../../paths.ts";
import { inNetns, startSocketsNamespace, TESTDATA } from "../_reconcile_testing.ts";

const out = `${TESTDATA}/netns`;
const paths = hostPaths();
const ns = await startSocketsNamespace();
try {
  const pid = ns.report.pid;
  await Deno.mkdir(out, { recursive: true });
  Deno.writeTextFileSync(`${out}/tcp`, Deno.readTextFileSync(`${paths.proc}/${pid}/net/tcp`));
  Deno.writeTextFileSync(`${out}/tcp6`, Deno.readTextFileSync(`${paths.proc}/${pid}/net/tcp6`));
  Deno.writeTextFileSync(`${out}/ss.txt`, await inNetns(ns.name, "ss", ["-tanOe"]));
  const fds: Record<string, string> = {};
  for (const e of Deno.readDirSync(`${paths.proc}/${pid}/fd`)) {
    const link = Deno.readLinkSync(`${paths.proc}/${pid}/fd/${e.name}`);
    if (link.startsWith("socket:")) fds[e.name] = link; // only sockets: the rest says nothing here
  }
  const sorted = Object.fromEntries(
    Object.entries(fds).sort((a, b) => Number(a[0]) - Number(b[0])),
  );
  Deno.writeTextFileSync(`${out}/fds.json`, JSON.stringify(sorted, null, 1) + "\n");
  Deno.writeTextFileSync(`${out}/sockets.json`, JSON.stringify(ns.report, null, 1) + "\n");
  console.log(`recorded ${out} (pid ${pid}, netns ${ns.inode})`);
} finally {
  await ns.close();
}
