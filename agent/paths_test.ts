import { deepEqual, equal } from "node:assert/strict";
import {
  decodeHostText,
  encodeHostPath,
  hostPaths,
  isRawHostPath,
  printableHostPath,
  under,
} from "./paths.ts";

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

Deno.test("decodeHostText() keeps every byte: UTF-8 as text, other bytes as U+DC00 + byte", () => {
  const bytes = (...b: number[]) => new Uint8Array(b);
  const cases: Array<[Uint8Array, string]> = [
    [utf8("/system.slice/café.service"), "/system.slice/café.service"],
    [bytes(0x63, 0x61, 0x66, 0xe9), "caf\udce9"], // Latin-1 é
    [bytes(0xef, 0xbb, 0xbf, 0x41), "\ufeffA"], // a BOM is data, not dropped
    [bytes(0xc0, 0xaf), "\udcc0\udcaf"], // overlong "/"
    [bytes(0xed, 0xa0, 0x80), "\udced\udca0\udc80"], // an encoded surrogate
    [bytes(0xf4, 0x90, 0x80, 0x80), "\udcf4\udc90\udc80\udc80"], // above U+10FFFF
    [bytes(0xe2, 0x82), "\udce2\udc82"], // truncated
    [bytes(0xf0, 0x9f, 0x90, 0xb1, 0xff), "🐱\udcff"],
  ];
  for (const [b, want] of cases) {
    equal(decodeHostText(b), want, JSON.stringify([...b]));
    deepEqual(encodeHostPath(decodeHostText(b)), b, `round trip of ${JSON.stringify([...b])}`);
  }
  // every single byte and every pair round-trips
  for (let x = 0; x < 256; x++) {
    for (let y = 0; y < 256; y += 17) {
      const b = bytes(x, y, 0x2f);
      deepEqual(encodeHostPath(decodeHostText(b)), b);
    }
  }
});

Deno.test("isRawHostPath() and printableHostPath(): only undecodable bytes need care", () => {
  equal(isRawHostPath("/system.slice/café.service"), false);
  equal(isRawHostPath("/system.slice/caf\udce9.service"), true);
  equal(printableHostPath("/system.slice/café.service"), "/system.slice/café.service");
  equal(printableHostPath("/system.slice/caf\udce9.service"), "/system.slice/caf\\xe9.service");
  equal(printableHostPath("a\udc80\udcffb🐱"), "a\\x80\\xffb🐱");
  equal(printableHostPath("\ud800x\udc00"), "\ufffdx\ufffd"); // not escaped bytes
  deepEqual(encodeHostPath("\ud800"), new Uint8Array([0xef, 0xbf, 0xbd]));
});

function utf8(s: string): Uint8Array {
  return new TextEncoder().encode(s);
}
