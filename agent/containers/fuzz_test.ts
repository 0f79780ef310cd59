/**
 * Seeded fuzz of what the registry reads from `<proc>` and receives as events: mutated
 * `/proc/<pid>/{cgroup,stat,cmdline,mountinfo}` and random event sequences never make scan(),
 * handleEvent() or a collector round throw, and every file that does not parse is counted.
 */
import { equal, ok } from "node:assert/strict";
import { harness, hexId, podmanCgroup, T0 } from "./_testing.ts";
import { ContainerDisks, diskCollector } from "./resources.ts";
import { parseMountInfo, parseProcStat, ProcFormatError } from "./proc.ts";

/** A small deterministic PRNG (mulberry32). */
function rng(seed: number): () => number {
  return () => {
    seed |= 0;
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const JUNK = [
  "",
  "\0",
  "\n",
  ":",
  "::",
  "(",
  ")",
  " ",
  "-1",
  "99999999999999999999",
  "é",
  "/..",
  "x",
];

function mutate(text: string, r: () => number): string {
  let s = text;
  const n = 1 + Math.floor(r() * 4);
  for (let i = 0; i < n; i++) {
    const at = Math.floor(r() * (s.length + 1));
    switch (Math.floor(r() * 4)) {
      case 0: // delete a run
        s = s.slice(0, at) + s.slice(at + 1 + Math.floor(r() * 8));
        break;
      case 1: // insert junk
        s = s.slice(0, at) + JUNK[Math.floor(r() * JUNK.length)] + s.slice(at);
        break;
      case 2: // truncate
        s = s.slice(0, at);
        break;
      default: // duplicate a line
        s = s + s.slice(0, at);
    }
  }
  return s;
}

Deno.test("fuzz: mutated proc files and random events never throw; failures are counted", async () => {
  const r = rng(20261127);
  const h = harness({ metadataRetryDelaysMs: [] });
  try {
    const ids = [hexId(1), hexId(2), hexId(3)];
    ids.forEach((id, i) => h.md.add("podman", id, { name: `c${i}` }));
    const goodCgroup = (i: number) =>
      `1:cpu:${podmanCgroup(ids[i % 3])}\n0::${podmanCgroup(ids[i % 3])}\n`;
    const mountinfo = "120 103 254:1 /srv/data /data rw - ext4 /dev/vda1 rw\n";
    let thrown = 0;
    for (let round = 0; round < 40; round++) {
      for (let k = 0; k < 10; k++) {
        const pid = 100 + Math.floor(r() * 60);
        try {
          h.host.kill(pid);
        } catch { /* not there */ }
        h.host.spawn(pid, {
          cgroup: r() < 0.5 ? mutate(goodCgroup(pid), r) + "\n" : goodCgroup(pid),
          startMs: T0 - Math.floor(r() * 100_000),
          cmdline: [mutate("nginx: worker", r)],
          mountinfo: r() < 0.5 ? mutate(mountinfo, r) : mountinfo,
        });
        if (r() < 0.3) {
          const stat = `${h.host.dir}/proc/${pid}/stat`;
          Deno.writeTextFileSync(stat, mutate(Deno.readTextFileSync(stat), r));
        }
        const type = ["start", "exec", "exit", "bogus"][Math.floor(r() * 4)];
        try {
          h.event({
            type,
            pid,
            ppid: 100 + Math.floor(r() * 60),
            cgroupId: Math.floor(r() * 5),
            oomKilled: r() < 0.2,
          });
        } catch {
          thrown++;
        }
      }
      try {
        h.reg.scan();
      } catch {
        thrown++;
      }
      h.clock.advance(1000);
    }
    await h.reg.settled();
    const disk = diskCollector({
      containers: () => h.reg.containers(),
      families: h.families,
      paths: h.host.paths,
      disks: new ContainerDisks(h.host.paths),
    });
    await disk.collect(new AbortController().signal);
    equal(thrown, 0);
    const parseErrors = h.samples("osprey_parse_errors_total")
      .reduce((a, s) => a + s.value, 0);
    ok(parseErrors > 0, "some mutations were counted");
    const lines = h.text().split("\n").filter((l) => l !== "" && !l.startsWith("#"));
    const keys = lines.map((l) => l.slice(0, l.lastIndexOf(" ")));
    equal(new Set(keys).size, keys.length, "no duplicate series");
    console.log(`fuzz: ${h.reg.processCount} processes, ${parseErrors} parse failures counted`);
  } finally {
    h.close();
  }
});

Deno.test("fuzz: the proc parsers throw only ProcFormatError; mountinfo counts bad lines", () => {
  const r = rng(7);
  const stat = "21345 (sh) S 21335 21345 21345 0 -1 4194560 1686 3801 0 0 1 3 7 0 20 0 1 0 " +
    "199656 2322432 380 18446744073709551615 4198400 5785993 0 0 0 0 0 4 65538 1 0 0 17 0\n";
  const mi = "36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue\n";
  let rejected = 0;
  for (let i = 0; i < 2000; i++) {
    try {
      parseProcStat(mutate(stat, r));
    } catch (e) {
      if (!(e instanceof ProcFormatError)) throw e;
      rejected++;
    }
    let bad = 0;
    const mounts = parseMountInfo(mutate(mi, r), "mountinfo", () => bad++);
    ok(mounts.length + bad >= 0);
  }
  ok(rejected > 0);
});
