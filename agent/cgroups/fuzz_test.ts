/**
 * Fuzz: random bytes, truncated texts and mutated lines of every fixture, fed to every parser,
 * to classifyCgroup and to the readers (through an in-memory file source). Only the declared
 * errors may escape; every number returned must be finite. Seeded, so a failure reproduces.
 */
import { equal } from "node:assert/strict";
import { classifyCgroup } from "./classify.ts";
import { CgroupFormatError, CgroupReadError } from "./errors.ts";
import {
  flatKeyedValues,
  parseBlkio,
  parseCpuMax,
  parseFlatKeyed,
  parseIoStat,
  parseMemoryMax,
  parsePressure,
  parseSingleValue,
  parseV1CpuLimit,
  parseV1MemoryLimit,
} from "./parse.ts";
import { parseProcCgroup, primaryCgroupPath } from "./proc_cgroup.ts";
import { type CgroupFileSource, readCpu, readIo, readMemory, readPsi } from "./read.ts";
import { FIXTURES, layouts, prng, procCgroupText } from "./_testing.ts";

const ITERATIONS = 5000;
const SEED = 0x05b7e1;

/** Every file under the fs fixtures, by base name. */
function corpus(): Map<string, string[]> {
  const out = new Map<string, string[]>();
  const walk = (dir: string) => {
    for (const e of Deno.readDirSync(dir)) {
      const p = `${dir}/${e.name}`;
      if (e.isDirectory) walk(p);
      else if (e.isFile) {
        const list = out.get(e.name) ?? [];
        list.push(Deno.readTextFileSync(p));
        out.set(e.name, list);
      }
    }
  };
  walk(`${FIXTURES}/fs`);
  out.set("cgroup", layouts().map(procCgroupText));
  return out;
}

const ALPHABET = " \n:=-/,.0123456789abcdefxyzTRW\t\r\u0000\u00e9\ud83d";

function mutate(text: string, rnd: () => number): string {
  const pick = (s: string) => s[Math.floor(rnd() * s.length)];
  const at = () => Math.floor(rnd() * (text.length + 1));
  switch (Math.floor(rnd() * 8)) {
    case 0: { // random bytes
      let s = "";
      const n = Math.floor(rnd() * 64);
      for (let i = 0; i < n; i++) s += String.fromCharCode(Math.floor(rnd() * 256));
      return s;
    }
    case 1: // truncated
      return text.slice(0, at());
    case 2: { // a character replaced, a few times
      let s = text;
      for (let k = 1 + Math.floor(rnd() * 4); k > 0; k--) {
        const i = Math.floor(rnd() * Math.max(1, s.length));
        s = s.slice(0, i) + pick(ALPHABET) + s.slice(i + 1);
      }
      return s;
    }
    case 3: { // characters inserted
      const i = at();
      let ins = "";
      for (let k = 1 + Math.floor(rnd() * 6); k > 0; k--) ins += pick(ALPHABET);
      return text.slice(0, i) + ins + text.slice(i);
    }
    case 4: { // a line dropped or duplicated
      const lines = text.split("\n");
      const i = Math.floor(rnd() * lines.length);
      if (rnd() < 0.5) lines.splice(i, 1);
      else lines.splice(i, 0, lines[i]);
      return lines.join("\n");
    }
    case 5: { // a huge or negative number
      const i = at();
      const n = rnd() < 0.5 ? "9".repeat(1 + Math.floor(rnd() * 400)) : "-1";
      return text.slice(0, i) + n + text.slice(i);
    }
    case 6: // a span deleted
      return text.slice(0, at()) + text.slice(at());
    default: { // lines shuffled
      const lines = text.split("\n");
      for (let i = lines.length - 1; i > 0; i--) {
        const j = Math.floor(rnd() * (i + 1));
        [lines[i], lines[j]] = [lines[j], lines[i]];
      }
      return lines.join("\n");
    }
  }
}

/** Throws if `v` holds a number that is not finite. */
function checkFinite(v: unknown, where: string): void {
  if (typeof v === "number") {
    if (!Number.isFinite(v)) throw new Error(`${where}: non-finite ${v}`);
  } else if (v instanceof Map) {
    for (const x of v.values()) checkFinite(x, where);
  } else if (v && typeof v === "object") {
    for (const x of Object.values(v)) checkFinite(x, where);
  }
}

type Target = { name: string; file: string; run: (text: string) => unknown };

const TARGETS: Target[] = [
  {
    name: "parseProcCgroup+primary+classify",
    file: "cgroup",
    run: (t) => {
      const c = parseProcCgroup(t);
      const p = primaryCgroupPath(c);
      return p === null ? null : classifyCgroup(p);
    },
  },
  { name: "parseFlatKeyed(cpu.stat)", file: "cpu.stat", run: (t) => parseFlatKeyed(t, "cpu.stat") },
  {
    name: "parseFlatKeyed(memory.stat)",
    file: "memory.stat",
    run: (t) => parseFlatKeyed(t, "memory.stat"),
  },
  {
    name: "flatKeyedValues(memory.stat)",
    file: "memory.stat",
    run: (t) => flatKeyedValues(t, "memory.stat", ["total_rss", "anon", "file"]),
  },
  { name: "parseSingleValue", file: "cpuacct.usage", run: (t) => parseSingleValue(t, "x") },
  { name: "parseV1MemoryLimit", file: "memory.limit_in_bytes", run: (t) => parseV1MemoryLimit(t) },
  {
    name: "parseV1CpuLimit",
    file: "cpu.cfs_quota_us",
    run: (t) => parseV1CpuLimit(t, t.length % 2 ? "100000" : t),
  },
  { name: "parseCpuMax", file: "cpu.max", run: (t) => parseCpuMax(t) },
  { name: "parseMemoryMax", file: "memory.max", run: (t) => parseMemoryMax(t) },
  { name: "parseIoStat", file: "io.stat", run: (t) => parseIoStat(t) },
  { name: "parseBlkio", file: "blkio.throttle.io_serviced", run: (t) => parseBlkio(t) },
  { name: "parsePressure", file: "cpu.pressure", run: (t) => parsePressure(t) },
];

Deno.test(`fuzz: ${ITERATIONS} mutated inputs per target; only declared errors escape`, () => {
  const rnd = prng(SEED);
  const files = corpus();
  const unexpected: string[] = [];
  const stats: string[] = [];
  const started = performance.now();

  for (const target of TARGETS) {
    const seeds = files.get(target.file) ?? [];
    if (seeds.length === 0) throw new Error(`no fixture named ${target.file}`);
    let rejected = 0;
    for (let i = 0; i < ITERATIONS; i++) {
      const input = mutate(seeds[Math.floor(rnd() * seeds.length)], rnd);
      try {
        checkFinite(target.run(input), target.name);
      } catch (err) {
        if (err instanceof CgroupFormatError) rejected++;
        else if (unexpected.length < 10) {
          unexpected.push(`${target.name} on ${JSON.stringify(input.slice(0, 200))}: ${err}`);
        } else unexpected.push("");
      }
    }
    stats.push(`${target.name}: ${ITERATIONS - rejected} accepted, ${rejected} rejected`);
  }

  // classifyCgroup alone on arbitrary strings, including ones that are not paths.
  let classified = 0;
  for (let i = 0; i < ITERATIONS; i++) {
    const base = rnd() < 0.5 ? "/kubepods/burstable/pod1/" : "/";
    const path = mutate(base + "system.slice/docker-" + "a".repeat(64) + ".scope", rnd);
    try {
      classifyCgroup(path);
      classified++;
    } catch (err) {
      unexpected.push(`classifyCgroup(${JSON.stringify(path)}): ${err}`);
    }
  }
  stats.push(`classifyCgroup: ${classified} classified`);

  // The readers, through an in-memory source whose files are mutated fixtures.
  const readers = { readCpu, readMemory, readIo, readPsi };
  let readOk = 0, readErr = 0;
  const source: CgroupFileSource = {
    read(path: string) {
      const name = path.slice(path.lastIndexOf("/") + 1);
      const seeds = files.get(name);
      if (!seeds || rnd() < 0.05) return undefined; // now and then a missing file
      const text = seeds[Math.floor(rnd() * seeds.length)];
      return rnd() < 0.3 ? text : mutate(text, rnd);
    },
  };
  const layouts = [{ cpu: "/c", cpuacct: "/c", memory: "/m", blkio: "/b", v2: "/u" }, { v2: "/u" }];
  for (let i = 0; i < ITERATIONS; i++) {
    const d = layouts[i % 2];
    for (const [name, read] of Object.entries(readers)) {
      try {
        checkFinite(read(d, source), name);
        readOk++;
      } catch (err) {
        if (err instanceof CgroupReadError) readErr++;
        else unexpected.push(`${name}: ${err}`);
      }
    }
  }
  stats.push(`readers: ${readOk} read, ${readErr} CgroupReadError`);
  const ms = performance.now() - started;
  console.log(`fuzz (seed ${SEED}, ${ms.toFixed(0)} ms)\n  ${stats.join("\n  ")}`);
  equal(unexpected.length, 0, unexpected.join("\n"));
});
