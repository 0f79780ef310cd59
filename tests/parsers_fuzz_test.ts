/**
 * Line-level fuzz of every host-file parser (node, cgroup, `/proc/<pid>`), each against a
 * small independent statement of its file's format (a "spec", mostly one regular expression a
 * line). For every seeded mutation of a recorded file (tests/helpers/line_mutations.ts):
 *
 * - the parser, given a skip callback, returns exactly what the spec reads, and throws only
 *   when the spec says the file as a whole is unreadable (a lost header, not one readable line);
 * - every line it skipped is one the spec cannot read (or a repeat of a key), and no other:
 *   the skipped count equals the number of mutated lines that became unreadable;
 * - every unchanged line whose key it reports gives exactly its original value.
 *
 * Then the collectors: the node collectors on a host tree whose files each have mutated lines
 * fail only where the spec says the file is wholly unreadable, count exactly the spec's skipped
 * lines in `osprey_parse_errors_total`, and report the unchanged lines' values; the cgroup
 * readers lose only what the damaged lines held.
 *
 * Seeded, so a failure names its seed and mutation and reproduces.
 */
import { deepEqual, equal, ok } from "node:assert/strict";
import { CgroupFormatError, CgroupReadError } from "../agent/cgroups/errors.ts";
import {
  flatKeyedValues,
  parseBlkio,
  parseCpuMax,
  parseFlatKeyed,
  parseIoStat,
  parseMemoryMax,
  parsePressure,
  parseSingleValue,
} from "../agent/cgroups/parse.ts";
import { parseProcCgroup } from "../agent/cgroups/proc_cgroup.ts";
import {
  type CgroupFileSource,
  readCpu,
  readIo,
  readMemory,
  readPsi,
} from "../agent/cgroups/read.ts";
import { CollectorScheduler } from "../agent/collector.ts";
import {
  parseMountInfo,
  parseProcStat as parsePidStat,
  ProcFormatError,
  unescapeMountPath,
} from "../agent/containers/proc.ts";
import type { FileFormatError, SkipLine } from "../agent/file_format_error.ts";
import { silentLogger } from "../agent/log.ts";
import { Registry } from "../agent/metrics/mod.ts";
import { HostFileFormatError } from "../agent/node/_errors.ts";
import { byLabel, parseExposition, scratchHost } from "../agent/node/_testing.ts";
import {
  formatIpv6,
  parseFibTrieLocal,
  parseIfInet6,
  parseRoutes,
} from "../agent/node/addresses.ts";
import { CPU_MODES, parseProcStat } from "../agent/node/cpu.ts";
import { parseDiskstats } from "../agent/node/disk.ts";
import { parseMeminfo } from "../agent/node/memory.ts";
import { nodeCollectors } from "../agent/node/mod.ts";
import { parseNetDev } from "../agent/node/net.ts";
import { mutate, type Mutated, prng } from "./helpers/line_mutations.ts";

/** The seed; `FUZZ_SEED=<n>` explores others (the suite runs the fixed one). */
const SEED = Number(Deno.env.get("FUZZ_SEED") ?? 0x7e57_0007);
const ITERATIONS = 400; // per target

// ---- fixtures ---------------------------------------------------------------------------

const FIX = new URL("./fixtures/", import.meta.url).pathname;
const read = (rel: string) => Deno.readTextFileSync(FIX + rel);

/** Every file under the cgroup fixtures, by base name. */
function cgroupFiles(): Map<string, string[]> {
  const out = new Map<string, string[]>();
  const walk = (dir: string) => {
    for (const e of Deno.readDirSync(dir)) {
      const p = `${dir}/${e.name}`;
      if (e.isDirectory) walk(p);
      else if (e.isFile) out.set(e.name, [...out.get(e.name) ?? [], Deno.readTextFileSync(p)]);
    }
  };
  walk(`${FIX}cgroups/fs`);
  return out;
}
const CGROUP = cgroupFiles();
const cg = (name: string) => {
  const seeds = CGROUP.get(name);
  if (!seeds) throw new Error(`no cgroup fixture named ${name}`);
  return seeds;
};

// ---- what a spec says -------------------------------------------------------------------

/** A spec's reading of a text: values by key, which line gave each key, the skipped lines. */
interface Reading {
  readonly values: Map<string, unknown>;
  /** 0-based line index → the key it gave (lines that won their key). */
  readonly winners: Map<number, string>;
  /** 1-based numbers of the lines that cannot be read (reported before a whole-file failure too). */
  readonly skipped: number[];
  /** The file as a whole cannot be read: the parser throws. */
  readonly whole?: boolean;
}

type Spec = (text: string) => Reading;

const whole = (r: Reading): Reading => ({ ...r, whole: true });
const NONE: Reading = { values: new Map(), winners: new Map(), skipped: [], whole: true };

const U64_MAX = 18446744073709551615n;
const isU64 = (s: string) => /^\d+$/.test(s) && BigInt(s) <= U64_MAX;
const u64 = (s: string) => Number(BigInt(s));

/** The text's lines without `\n` and a `\r` before it; `last` is the index of an unterminated last line, else -1. */
function specLines(text: string): { lines: string[]; last: number } {
  const lines = text.split("\n").map((l) => l.replace(/\r$/, ""));
  return { lines, last: text.endsWith("\n") || text === "" ? -1 : lines.length - 1 };
}

/** A reading built line by line: `readLine` gives [key, value], "skip", or undefined (ignored). */
function keyedSpec(
  lines: string[],
  readLine: (line: string, i: number) => [string, unknown] | "skip" | undefined,
  opts: { from?: number; repeatsSkipped?: boolean } = {},
): Reading & { read: number } {
  const values = new Map<string, unknown>();
  const winners = new Map<number, string>();
  const skipped: number[] = [];
  let readCount = 0;
  for (let i = opts.from ?? 0; i < lines.length; i++) {
    const r = readLine(lines[i], i);
    if (r === undefined) continue;
    if (r === "skip" || (opts.repeatsSkipped !== false && values.has(r[0]))) {
      skipped.push(i + 1);
      continue;
    }
    readCount++;
    if (values.has(r[0])) continue; // a repeat that is not an error (an address listed twice)
    values.set(r[0], r[1]);
    winners.set(i, r[0]);
  }
  return { values, winners, skipped, read: readCount };
}

// ---- specs ------------------------------------------------------------------------------

const MEMINFO_KEYS = new Set(["MemTotal", "MemFree", "MemAvailable", "Cached"]);

const meminfoSpec: Spec = (text) => {
  const { lines } = specLines(text);
  const r = keyedSpec(lines, (line) => {
    if (line === "") return undefined;
    const m = /^([!-9;-~]+): *(\d+)( kB)?$/.exec(line);
    if (!m || !isU64(m[2]) || (MEMINFO_KEYS.has(m[1]) && !m[3])) return "skip";
    return [m[1], Number(BigInt(m[2]) * (m[3] ? 1024n : 1n))];
  });
  return r.values.size === 0 ? whole(r) : r;
};

const statSpec: Spec = (text) => {
  const { lines, last } = specLines(text);
  let ticks: Record<string, number> | undefined;
  const cores = new Set<string>();
  let odd = false;
  const skipped: number[] = [];
  const winners = new Map<number, string>();
  lines.forEach((line, i) => {
    if (!line.startsWith("cpu")) return;
    const [label, ...cols] = line.trim().split(/\s+/);
    if (label === "cpu") {
      if (ticks || i === last || cols.length < 4 || !cols.every(isU64)) skipped.push(i + 1);
      else {
        ticks = {};
        cols.slice(0, CPU_MODES.length).forEach((c, k) => ticks![CPU_MODES[k]] = u64(c));
        winners.set(i, "ticks");
      }
    } else if (/^cpu\d+$/.test(label)) {
      if (cores.has(label)) skipped.push(i + 1);
      cores.add(label);
    } else {
      odd = true;
      skipped.push(i + 1);
    }
  });
  if (!ticks && cores.size === 0) return { values: new Map(), winners, skipped, whole: true };
  const values = new Map<string, unknown>([
    ["ticks", ticks],
    ["cores", cores.size === 0 || odd ? undefined : cores.size],
  ]);
  return { values, winners, skipped };
};

const diskstatsSpec: Spec = (text) => {
  const { lines } = specLines(text);
  let partitions = 0;
  const r = keyedSpec(lines, (line) => {
    if (line === "") return undefined;
    const f = line.trim().split(/\s+/);
    const n = f.length;
    if (!(n === 7 || n === 14 || n === 18 || n >= 20)) return "skip";
    if (!f.every((x, c) => c === 2 || isU64(x))) return "skip";
    if (n === 7) {
      partitions++;
      return undefined;
    }
    const v = f.map((x, c) => c === 2 ? 0 : u64(x));
    return [f[2], {
      major: v[0],
      minor: v[1],
      device: f[2],
      readsCompleted: v[3],
      sectorsRead: v[5],
      readMs: v[6],
      writesCompleted: v[7],
      sectorsWritten: v[9],
      writeMs: v[10],
      ioMs: v[12],
    }];
  });
  return r.read + partitions === 0 && r.skipped.length > 0 ? whole(r) : r;
};

const netDevSpec: Spec = (text) => {
  const { lines } = specLines(text);
  if (lines.length < 2 || !lines[0].includes("|") || !lines[1].includes("|")) return NONE;
  const r = keyedSpec(lines, (line) => {
    if (line === "") return undefined;
    const m = /^(.*):([^:]*)$/s.exec(line);
    const name = m?.[1].trim() ?? "";
    if (name === "" || [...name].some((c) => c.charCodeAt(0) <= 32)) return "skip";
    const c = m![2].trim().split(/\s+/);
    if (c.length !== 16 || !c.every(isU64)) return "skip";
    const n = c.map(u64);
    return [name, { iface: name, rxBytes: n[0], rxPackets: n[1], txBytes: n[8], txPackets: n[9] }];
  }, { from: 2 });
  return r.read === 0 && r.skipped.length > 0 ? whole(r) : r;
};

const ifInet6Spec: Spec = (text) =>
  keyedSpec(specLines(text).lines, (line) => {
    if (line.trim() === "") return undefined;
    const m = /^([0-9a-f]{32}) ([0-9a-f]+) ([0-9a-f]+) ([0-9a-f]+) ([0-9a-f]+)\s+(\S+)$/.exec(
      line.trim(),
    );
    if (!m) return "skip";
    return [`${m[6]} ${formatIpv6(m[1])}`, [parseInt(m[2], 16), parseInt(m[3], 16)]];
  }, { repeatsSkipped: false });

const routeSpec: Spec = (text) => {
  const { lines } = specLines(text);
  if (!/^Iface\s+Destination\s+Gateway\s+Flags/.test(lines[0])) return NONE;
  return keyedSpec(lines, (line) => {
    if (line.trim() === "") return undefined;
    const f = line.trim().split(/\s+/);
    const hex8 = /^[0-9A-Fa-f]{8}$/;
    if (
      f.length < 8 || !/^[0-9A-Fa-f]{1,4}$/.test(f[3]) || !/^\d+$/.test(f[6]) ||
      !hex8.test(f[1]) || !hex8.test(f[2]) || !hex8.test(f[7])
    ) return "skip";
    const h = (x: string) => parseInt(x, 16) >>> 0;
    const up = (x: string) => x.toUpperCase();
    return [`${f[0]} ${up(f[1])} ${up(f[7])} ${up(f[2])} ${Number(f[6])}`, [h(f[3]), Number(f[6])]];
  }, { from: 1, repeatsSkipped: false });
};

/** cpu.stat / memory.stat; `wanted` limits keys (and repeats noticed) to those. */
function flatSpec(wanted?: readonly string[]): Spec {
  return (text) => {
    const r = keyedSpec(specLines(text).lines, (line) => {
      if (line === "") return undefined;
      const m = /^([^ ]+) (-?)(\d+)$/.exec(line);
      if (!m || !isU64(m[3])) return "skip";
      const key = wanted === undefined || wanted.includes(m[1]) ? m[1] : `\0${m[1]}`;
      return [key, (m[2] ? -1 : 1) * u64(m[3])];
    }, { repeatsSkipped: true });
    // Repeats of keys not wanted are not noticed by flatKeyedValues: not skipped.
    const hidden = (i: number) => {
      const m = /^([^ ]+) (-?)(\d+)$/.exec(specLines(text).lines[i - 1]);
      return m !== null && isU64(m[3]) && wanted !== undefined && !wanted.includes(m[1]);
    };
    const skipped = r.skipped.filter((i) => !hidden(i));
    for (const k of [...r.values.keys()]) if (k.startsWith("\0")) r.values.delete(k);
    return { ...r, skipped, whole: r.read === 0 && r.skipped.length > 0 };
  };
}

const ioStatSpec: Spec = (text) => {
  const r = keyedSpec(specLines(text).lines, (line) => {
    if (line === "") return undefined;
    const sp = line.indexOf(" ");
    const dev = sp < 0 ? line : line.slice(0, sp);
    const d = /^(\d+):(\d+)$/.exec(dev);
    if (!d || !isU64(d[1]) || !isU64(d[2])) return "skip";
    const tokens = sp < 0 ? [] : line.slice(sp + 1).split(" ");
    if (tokens.length > 1 && tokens[tokens.length - 1] === "") tokens.pop();
    const v: Record<string, number> = {};
    for (const t of tokens) {
      const eq = t.indexOf("=");
      if (eq <= 0) return "skip";
      const k = t.slice(0, eq);
      if (["rbytes", "wbytes", "rios", "wios"].includes(k)) {
        if (!isU64(t.slice(eq + 1))) return "skip";
        v[k] = u64(t.slice(eq + 1));
      }
    }
    if (Object.keys(v).length < 4) return "skip";
    return [dev, {
      device: dev,
      reads: v.rios,
      writes: v.wios,
      readBytes: v.rbytes,
      writtenBytes: v.wbytes,
    }];
  });
  return r.read === 0 && r.skipped.length > 0 ? whole(r) : r;
};

const blkioSpec: Spec = (text) => {
  const r = keyedSpec(specLines(text).lines, (line) => {
    if (line === "") return undefined;
    const t = /^Total (\d+)$/.exec(line);
    if (t) return isU64(t[1]) ? ["Total", u64(t[1])] : "skip";
    const m = /^(\d+):(\d+) ([^ ]+) (\d+)$/.exec(line);
    if (!m || !isU64(m[1]) || !isU64(m[2]) || !isU64(m[4])) return "skip";
    return [`${m[1]}:${m[2]} ${m[3]}`, u64(m[4])];
  });
  for (const k of [...r.values.keys()]) if (!/ (Read|Write)$/.test(k)) r.values.delete(k);
  return r.read === 0 && r.skipped.length > 0 ? whole(r) : r;
};

const pressureSpec: Spec = (text) => {
  const { lines } = specLines(text);
  let mayBeSome = false, mayBeFull = false;
  const r = keyedSpec(lines, (line) => {
    if (line === "") return undefined;
    const kind = /^(some|full) /.exec(line)?.[1];
    const at = line.indexOf(" total=");
    const v = at < 0 ? "" : line.slice(at + 7).split(" ")[0];
    if (kind === undefined || at < 0 || !isU64(v)) {
      if (kind !== "full") mayBeSome = true;
      if (kind !== "some") mayBeFull = true;
      return "skip";
    }
    return [kind, u64(v) / 1e6];
  });
  // A repeated kind is skipped; it may not be "the" line of that kind, but it is that kind.
  for (const i of r.skipped) {
    const kind = /^(some|full) /.exec(lines[i - 1])?.[1];
    if (kind === "some") mayBeSome = true;
    if (kind === "full") mayBeFull = true;
  }
  const some = r.values.get("some"), full = r.values.get("full");
  if (some === undefined && full === undefined && r.skipped.length > 0) return whole(r);
  if (some === undefined && !mayBeSome) return whole(r);
  r.values.set("some", some);
  r.values.set("full", full ?? (mayBeFull ? undefined : 0));
  return r;
};

const mountinfoSpec: Spec = (text) =>
  keyedSpec(specLines(text).lines, (line) => {
    if (line === "") return undefined;
    const m =
      /^(\d+) (\d+) (\d+):(\d+) ([^ ]+) ([^ ]+) [^ ]*(?: [^ ]*)*? - ([^ ]*) ([^ ]*)(?: .*)?$/s
        .exec(line);
    if (!m || ![m[1], m[2], m[3], m[4]].every(isU64)) return "skip";
    return [String(u64(m[1])), {
      id: u64(m[1]),
      major: u64(m[3]),
      minor: u64(m[4]),
      root: unescapeMountPath(m[5]),
      mountPoint: unescapeMountPath(m[6]),
      fsType: m[7],
      source: unescapeMountPath(m[8]),
    }];
  });

// ---- targets: parser + how its result reads as values by key ------------------------------

interface Target {
  readonly name: string;
  readonly seeds: string[];
  readonly header?: number;
  readonly spec: Spec;
  /** Runs the parser with `skip` and returns its result as values by key. */
  run(text: string, skip: SkipLine): Map<string, unknown>;
  /** The error class a whole-file failure must have. */
  readonly error: typeof FileFormatError;
}

const byKey = <T>(xs: T[], key: (x: T) => string) => {
  const m = new Map<string, unknown>();
  for (const x of xs) if (!m.has(key(x))) m.set(key(x), x);
  return m;
};

const NODE = `${FIX}node/`;
const TARGETS: Target[] = [
  {
    name: "meminfo",
    seeds: ["host/proc/meminfo", "variants/meminfo_3.10.txt", "variants/meminfo_arm64_wsl.txt"]
      .map((f) => Deno.readTextFileSync(NODE + f)),
    spec: meminfoSpec,
    run: (t, skip) => parseMeminfo(t, "meminfo", skip),
    error: HostFileFormatError,
  },
  {
    name: "stat",
    seeds: ["host/proc/stat", "variants/stat_2.4.txt", "variants/stat_2.6.10.txt"]
      .map((f) => Deno.readTextFileSync(NODE + f)),
    spec: statSpec,
    run: (t, skip) => {
      const s = parseProcStat(t, "stat", skip);
      return new Map<string, unknown>([["ticks", s.ticks], ["cores", s.logicalCores]]);
    },
    error: HostFileFormatError,
  },
  {
    name: "diskstats",
    seeds: ["host/proc/diskstats", "variants/diskstats_4.17.txt", "variants/diskstats_2.6.18.txt"]
      .map((f) => Deno.readTextFileSync(NODE + f)),
    spec: diskstatsSpec,
    run: (t, skip) => byKey(parseDiskstats(t, "diskstats", skip), (d) => d.device),
    error: HostFileFormatError,
  },
  {
    name: "net/dev",
    seeds: ["host/proc/1/net/dev", "variants/net_dev_multi.txt"].map((f) =>
      Deno.readTextFileSync(NODE + f)
    ),
    header: 2,
    spec: netDevSpec,
    run: (t, skip) => byKey(parseNetDev(t, "net/dev", skip), (s) => s.iface),
    error: HostFileFormatError,
  },
  {
    name: "if_inet6",
    seeds: ["host/proc/1/net/if_inet6", "variants/if_inet6_multi.txt"].map((f) =>
      Deno.readTextFileSync(NODE + f)
    ),
    spec: ifInet6Spec,
    run: (t, skip) => {
      const m = new Map<string, unknown>();
      for (const a of parseIfInet6(t, "if_inet6", skip)) {
        const k = `${a.iface} ${a.ip}`;
        if (!m.has(k)) m.set(k, [a.ifindex, a.prefixLength]);
      }
      return m;
    },
    error: HostFileFormatError,
  },
  {
    name: "route",
    seeds: ["host/proc/1/net/route", "variants/route_multi.txt", "variants/route_gcp.txt"].map((
      f,
    ) => Deno.readTextFileSync(NODE + f)),
    header: 1,
    spec: routeSpec,
    run: (t, skip) => {
      const m = new Map<string, unknown>();
      const hex = (n: number) => n.toString(16).toUpperCase().padStart(8, "0");
      for (const r of parseRoutes(t, "route", { littleEndian: false, skip })) {
        const k = `${r.iface} ${hex(r.destination)} ${hex(r.mask)} ${hex(r.gateway)} ${r.metric}`;
        if (!m.has(k)) m.set(k, [r.flags, r.metric]);
      }
      return m;
    },
    error: HostFileFormatError,
  },
  ...["cpu.stat", "memory.stat"].map((file): Target => ({
    name: file,
    seeds: cg(file),
    spec: flatSpec(),
    run: (t, skip) => parseFlatKeyed(t, file, skip),
    error: CgroupFormatError,
  })),
  {
    name: "memory.stat (three keys)",
    seeds: cg("memory.stat"),
    spec: flatSpec(["total_rss", "anon", "file"]),
    run: (t, skip) => {
      const keys = ["total_rss", "anon", "file"];
      const v = flatKeyedValues(t, "memory.stat", keys, skip);
      return new Map(keys.flatMap((k, i) => v[i] === undefined ? [] : [[k, v[i]]]));
    },
    error: CgroupFormatError,
  },
  {
    name: "io.stat",
    seeds: cg("io.stat"),
    spec: ioStatSpec,
    run: (t, skip) => byKey(parseIoStat(t, "io.stat", skip), (s) => s.device),
    error: CgroupFormatError,
  },
  ...["blkio.throttle.io_serviced", "blkio.throttle.io_service_bytes"].map((file): Target => ({
    name: file,
    seeds: cg(file),
    spec: blkioSpec,
    run: (t, skip) => {
      const m = new Map<string, unknown>();
      for (const d of parseBlkio(t, file, skip)) {
        if (d.read !== undefined) m.set(`${d.device} Read`, d.read);
        if (d.write !== undefined) m.set(`${d.device} Write`, d.write);
      }
      return m;
    },
    error: CgroupFormatError,
  })),
  ...["cpu.pressure", "memory.pressure", "io.pressure"].map((file): Target => ({
    name: file,
    seeds: cg(file),
    spec: pressureSpec,
    run: (t, skip) => {
      const p = parsePressure(t, file, skip);
      return new Map<string, unknown>([["some", p.some], ["full", p.full]]);
    },
    error: CgroupFormatError,
  })),
  {
    name: "mountinfo",
    seeds: [read("containers/mountinfo_podman_overlay.txt")],
    spec: mountinfoSpec,
    run: (t, skip) => byKey(parseMountInfo(t, "mountinfo", skip), (m) => String(m.id)),
    error: ProcFormatError,
  },
];

/** Checks one mutated text against the target's spec; returns a problem or undefined. */
function check(target: Target, original: Reading, m: Mutated): string | undefined {
  const skipped: FileFormatError[] = [];
  let got: Map<string, unknown> | undefined;
  let thrown: unknown;
  try {
    got = target.run(m.text, (e) => skipped.push(e));
  } catch (err) {
    thrown = err;
  }
  const want = target.spec(m.text);
  const lines = skipped.map((e) => e.line);
  if (lines.join() !== want.skipped.join()) {
    return `skipped lines ${lines} (${
      skipped.map((e) => e.reason).join("; ")
    }), spec ${want.skipped}`;
  }
  if (want.whole) {
    if (!(thrown instanceof target.error) || thrown.line > 1) {
      return `expected a whole-file ${target.error.name}, got ${thrown ?? "a result"}`;
    }
    return undefined;
  }
  if (thrown !== undefined) return `threw ${thrown}`;
  try {
    deepEqual(Object.fromEntries(got!), Object.fromEntries(want.values));
  } catch (err) {
    return `values differ from the spec: ${(err as Error).message}`;
  }
  // Every unchanged line that gives its key gives its original value.
  for (const [i, key] of want.winners) {
    const o = m.origin[i];
    if (o === undefined || o < 0) continue;
    const originalKey = original.winners.get(o);
    if (originalKey !== key) continue;
    try {
      deepEqual(got!.get(key), original.values.get(key));
    } catch {
      return `unchanged line ${i + 1} (${key}) changed value`;
    }
  }
  return undefined;
}

Deno.test(`parsers: ${ITERATIONS} line mutations each agree with their format's spec`, () => {
  const rnd = prng(SEED);
  const problems: string[] = [];
  const stats: string[] = [];
  const started = performance.now();
  for (const target of TARGETS) {
    let skippedLines = 0, wholeFiles = 0;
    for (const seed of target.seeds) {
      const original = target.spec(seed);
      if (original.whole) throw new Error(`${target.name}: a seed is unreadable`);
      // The seeds themselves parse exactly, skipping only what the spec skips (repeats).
      const p = check(target, original, {
        text: seed,
        origin: seed.split("\n").map((_, i) => i),
        done: [],
      });
      if (p) problems.push(`${target.name} seed: ${p}`);
    }
    for (let i = 0; i < ITERATIONS; i++) {
      const seed = target.seeds[Math.floor(rnd() * target.seeds.length)];
      const m = mutate(seed, rnd, { header: target.header });
      const original = target.spec(seed);
      const want = target.spec(m.text);
      if (want.whole) wholeFiles++;
      skippedLines += want.skipped.length - original.skipped.length;
      const p = check(target, original, m);
      if (p && problems.length < 20) {
        problems.push(
          `${target.name} [${m.done.join(", ")}] ${JSON.stringify(m.text.slice(0, 300))}: ${p}`,
        );
      }
    }
    stats.push(`${target.name}: ${skippedLines} lines skipped, ${wholeFiles} files unreadable`);
  }
  const ms = performance.now() - started;
  console.log(`line fuzz (seed ${SEED}, ${ms.toFixed(0)} ms)\n  ${stats.join("\n  ")}`);
  equal(problems.length, 0, problems.join("\n"));
});

Deno.test("parsers: fib_trie with mutated lines never throws with a callback and keeps unchanged leaves", () => {
  const rnd = prng(SEED + 1);
  const seeds = [
    "host/proc/1/net/fib_trie",
    "variants/fib_trie_multi.txt",
    "variants/fib_trie_gcp.txt",
  ]
    .map((f) => Deno.readTextFileSync(NODE + f));
  for (let i = 0; i < ITERATIONS; i++) {
    const seed = seeds[i % seeds.length];
    const m = mutate(seed, rnd);
    let skipped = 0;
    const got = parseFibTrieLocal(m.text, "fib_trie", () => skipped++);
    // Lines are not independent in a trie: a damaged leaf takes its entries with it. What comes
    // out is always one of the addresses the text names, as a leaf followed by a LOCAL entry.
    for (const ip of got) ok(m.text.includes(`|-- ${ip}`), `${ip} from ${m.done}`);
    if (m.done.length === 0) deepEqual(got, parseFibTrieLocal(seed));
    ok(skipped <= m.text.split("\n").length);
  }
});

Deno.test("parsers: one-line files (cgroup values, /proc/<pid>/stat, /proc/<pid>/cgroup) read exactly or throw their error", () => {
  const rnd = prng(SEED + 2);
  const oneLine: [string, (t: string) => unknown, typeof FileFormatError][] = [
    ["cpuacct.usage", (t) => parseSingleValue(t, "cpuacct.usage"), CgroupFormatError],
    ["cpu.cfs_quota_us", (t) => parseSingleValue(t, "q"), CgroupFormatError],
    ["memory.limit_in_bytes", (t) => parseSingleValue(t, "l"), CgroupFormatError],
    ["cpu.max", (t) => parseCpuMax(t), CgroupFormatError],
    ["memory.max", (t) => parseMemoryMax(t), CgroupFormatError],
  ];
  const pidStat =
    "21345 (my (odd) cmd) S 21335 21345 21345 0 -1 4194560 1686 3801 0 0 1 3 7 0 20 " +
    "0 1 0 199656 2322432 380 18446744073709551615 4198400 5785993 0 0 0 0 0 4 65538 1 0 0 17 0\n";
  const procCgroups = [...Deno.readDirSync(`${FIX}cgroups/proc`)].map((e) =>
    read(`cgroups/proc/${e.name}/cgroup`)
  );
  const targets: [string, string[], (t: string) => unknown, typeof FileFormatError][] = [
    ...oneLine.map((
      [f, run, err],
    ): [string, string[], (t: string) => unknown, typeof FileFormatError] => [f, cg(f), run, err]),
    ["<pid>/stat", [pidStat], (t) => parsePidStat(t), ProcFormatError],
    ["<pid>/cgroup", procCgroups, (t) => parseProcCgroup(t), CgroupFormatError],
  ];
  for (const [name, seeds, run, error] of targets) {
    for (const seed of seeds) {
      const want = run(seed);
      for (let i = 0; i < ITERATIONS / 4; i++) {
        const m = mutate(seed, rnd);
        try {
          const got = run(m.text);
          // A file whose lines are all unchanged (or only lost its final newline, or got CRLF)
          // reads exactly as the original.
          if (m.origin.length > 0 && m.origin.every((o) => o >= 0)) deepEqual(got, want, name);
        } catch (err) {
          if (!(err instanceof error)) throw new Error(`${name} threw ${err} on ${m.done}`);
        }
      }
    }
  }
  // The pid stat's numbers come out exactly, the odd comm kept.
  deepEqual(parsePidStat(pidStat), {
    pid: 21345,
    comm: "my (odd) cmd",
    ppid: 21335,
    startTicks: 199656,
  });
});

// ---- collectors -------------------------------------------------------------------------

Deno.test("node collectors on files with mutated lines: fail only on a wholly unreadable file, count every skipped line, keep good values", async () => {
  const rnd = prng(SEED + 3);
  const files: [string, string, Spec, number][] = [
    ["proc/stat", "node_cpu stat", statSpec, 0],
    ["proc/meminfo", "node_memory meminfo", meminfoSpec, 0],
    ["proc/diskstats", "node_disk diskstats", diskstatsSpec, 0],
    ["proc/1/net/dev", "node_net net/dev", netDevSpec, 2],
  ];
  const collectorOf: Record<string, string> = {
    "proc/stat": "node_cpu",
    "proc/meminfo": "node_memory",
    "proc/diskstats": "node_disk",
    "proc/1/net/dev": "node_net",
  };
  const host = await scratchHost();
  try {
    const originals = files.map(([rel]) => Deno.readTextFileSync(`${host.root}/${rel}`));
    for (let round = 0; round < 25; round++) {
      const expectSkipped: Record<string, number> = {};
      const expectFailed = new Set<string>();
      const readings: Reading[] = [];
      files.forEach(([rel, key, spec, header], k) => {
        const m = mutate(originals[k], rnd, { header, fileLevel: 0.15 });
        Deno.writeTextFileSync(`${host.root}/${rel}`, m.text);
        const want = spec(m.text);
        readings.push(want);
        if (want.whole) expectFailed.add(collectorOf[rel]);
        if (want.skipped.length > 0) expectSkipped[key] = want.skipped.length;
      });
      const reg = new Registry();
      const scheduler = new CollectorScheduler(reg, silentLogger, {
        intervalMs: 3_600_000,
        timeoutMs: 5_000,
      });
      try {
        using node = await nodeCollectors(reg, host, { userHz: 100 });
        for (const c of node.collectors) scheduler.add(c);
        while (!scheduler.firstRoundDone) await new Promise((r) => setTimeout(r, 1));
      } finally {
        scheduler.stop();
      }
      const s = parseExposition(new TextDecoder().decode(reg.encode("text")));
      const success = Object.fromEntries(byLabel(s, "osprey_collector_success", "collector"));
      for (const c of Object.values(collectorOf)) {
        equal(success[c], expectFailed.has(c) ? 0 : 1, `${c} in round ${round}`);
      }
      const counted = Object.fromEntries(
        s.filter((x) => x.name === "osprey_parse_errors_total").map((x) => [
          `${x.labels.collector} ${x.labels.file}`,
          x.value,
        ]),
      );
      for (const [, key] of files) {
        equal(counted[key] ?? 0, expectSkipped[key] ?? 0, `${key} in round ${round}`);
      }
      // Good values: memory series whose line is unchanged carry the original value.
      const mem = readings[1];
      if (!mem.whole) {
        for (
          const [k, series] of [["MemTotal", "total"], ["MemFree", "free"], ["Cached", "cached"]]
        ) {
          const v = mem.values.get(k);
          equal(
            byLabel(s, `node_resources_memory_${series}_bytes`).get(""),
            v,
            `${k} round ${round}`,
          );
        }
      }
      const disks = readings[2];
      if (!disks.whole && disks.values.has("vda")) {
        const vda = disks.values.get("vda") as { readsCompleted: number };
        equal(
          byLabel(s, "node_resources_disk_reads_total", "device").get("vda"),
          vda.readsCompleted,
        );
      }
      const net = readings[3];
      if (!net.whole && net.values.has("eth0")) {
        const eth0 = net.values.get("eth0") as { rxBytes: number };
        equal(byLabel(s, "node_net_received_bytes_total", "interface").get("eth0"), eth0.rxBytes);
      }
    }
  } finally {
    await host.cleanup();
  }
});

Deno.test("cgroup readers on files with mutated lines: lose only what the damaged lines held", () => {
  const rnd = prng(SEED + 4);
  let partial = 0, failed = 0;
  for (let i = 0; i < ITERATIONS; i++) {
    const texts = new Map<string, Mutated>();
    const source: CgroupFileSource = {
      read(path: string) {
        const name = path.slice(path.lastIndexOf("/") + 1);
        const seeds = CGROUP.get(name);
        if (!seeds) return undefined;
        let m = texts.get(path);
        if (!m) texts.set(path, m = mutate(seeds[i % seeds.length], rnd, { maxLines: 2 }));
        return m.text;
      },
    };
    const skipped: FileFormatError[] = [];
    const skip = (e: FileFormatError) => skipped.push(e);
    const layouts = [{ cpu: "/c", cpuacct: "/c", memory: "/m", blkio: "/b", v2: "/u" }, {
      v2: "/u",
    }];
    for (const read of [readCpu, readMemory, readIo, readPsi]) {
      try {
        const r = read(layouts[i % 2], source, skip);
        if (r !== undefined && JSON.stringify(r).length > 2) partial++;
      } catch (err) {
        // Only a needed file without one readable line fails its group.
        ok(err instanceof CgroupReadError && err.problem === "format", String(err));
        ok(err.cause instanceof CgroupFormatError && err.cause.line === 0, String(err));
        failed++;
      }
    }
    // A skipped problem is a line, or a wanted key that has none (line 0: the file as a whole).
    for (const e of skipped) {
      ok(
        e instanceof CgroupFormatError && (e.line > 0 || /^no "\w+" line$/.test(e.reason)),
        String(e),
      );
    }
  }
  ok(partial > failed, `${partial} partial or whole readings, ${failed} failed groups`);
});
