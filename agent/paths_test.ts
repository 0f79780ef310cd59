import { equal } from "node:assert/strict";
import { hostPaths, under } from "./paths.ts";

const FIXTURE = new URL("../tests/fixtures/host", import.meta.url).pathname;

Deno.test("hostPaths() puts proc, sys and the cgroup root under the host root", () => {
  const p = hostPaths({ hostRoot: FIXTURE });
  equal(p.root, FIXTURE);
  equal(p.proc, `${FIXTURE}/proc`);
  equal(p.sys, `${FIXTURE}/sys`);
  equal(p.cgroup, `${FIXTURE}/sys/fs/cgroup`);
  equal(hostPaths({ hostRoot: FIXTURE, cgroupfsRoot: "/x/cg" }).cgroup, "/x/cg");
  equal(under(p.proc, "/1/net/dev"), `${FIXTURE}/proc/1/net/dev`);
});

Deno.test("hostPaths() tells a fixture tree from a live procfs, wherever it is mounted", async () => {
  equal(hostPaths({ hostRoot: FIXTURE }).fixture, true);
  // A live procfs under another root (a pod's /host/proc) is not a fixture: the test's own
  // procfs, reached through a symlinked root, stands in for it.
  const dir = await Deno.makeTempDir();
  try {
    await Deno.symlink("/proc", `${dir}/proc`);
    equal(hostPaths({ hostRoot: dir }).fixture, false);
    equal(hostPaths({ procfsRoot: `${dir}/proc` }).fixture, false);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
