/**
 * Seeded fuzzing of every parser and of lookupMetadata() over corrupted fixture trees: truncated,
 * bit-flipped, spliced, retyped and binary input. Parsers may only throw MetadataParseError (the
 * "never throws" ones nothing at all); lookups may only reject with MetadataError, and never
 * because of a TypeError or RangeError inside Osprey's own code.
 *
 * @module
 */

import assert from "node:assert/strict";
import {
  type ContainerRuntime,
  indexPodmanEvents,
  lookupMetadata,
  MetadataError,
  MetadataParseError,
  parseConmonCmdline,
  parseContainerdCriAnnotations,
  parseCriOAnnotations,
  parseDockerConfigV2,
  parseDockerHostConfig,
  parseIncusBackupYaml,
  parseLxcConfig,
  parseOciConfig,
  parsePodmanEvents,
  parseStorageContainersJson,
  parseStorageImagesJson,
  pickCriLogFile,
} from "./mod.ts";
import { copyFixture, FIXTURES, IDS } from "./_testing.ts";
import { clearParseCache } from "./_fs.ts";
import { clearEventsFollowers } from "./podman.ts";
import { hostPaths } from "../../paths.ts";
import { prng } from "../../_fuzz_testing.ts";

const SEED = 0x05b7e1;
const PARSER_ITERATIONS = 2400;
const LOOKUP_ITERATIONS = 600;

const rand = prng(SEED);
const int = (n: number) => Math.floor(rand() * n);
const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)]!;

const JUNK = [
  "\u0000",
  "\uFFFD",
  "{",
  "}",
  "[",
  "]",
  '"',
  ":",
  ",",
  "\n",
  "\t",
  "=",
  "-",
  "- ",
  "\\",
  "\\u00",
  "null",
  "1e999",
  "-0",
  "true",
  '"__proto__"',
  "\uD800",
  "#",
  "|",
  "'",
  "k8s-file:",
  "\u0000-l\u0000",
];

function randomText(n: number): string {
  let s = "";
  for (let i = 0; i < n; i++) s += String.fromCharCode(int(rand() < 0.7 ? 128 : 0x10000));
  return s;
}

/** One random mutation (sometimes several) of a text. */
function mutate(text: string): string {
  let s = text;
  const rounds = 1 + int(3);
  for (let r = 0; r < rounds; r++) {
    const at = int(s.length + 1);
    switch (int(10)) {
      case 0: // truncate
        s = s.slice(0, at);
        break;
      case 1: { // flip characters
        const chars = s.split("");
        for (let k = 0; k < 1 + int(8) && chars.length > 0; k++) {
          chars[int(chars.length)] = String.fromCharCode(int(256));
        }
        s = chars.join("");
        break;
      }
      case 2: // insert junk
        s = s.slice(0, at) + pick(JUNK) + s.slice(at);
        break;
      case 3: // delete a span
        s = s.slice(0, at) + s.slice(at + int(64));
        break;
      case 4: { // duplicate a span
        const len = int(128);
        s = s.slice(0, at) + s.slice(at, at + len) + s.slice(at);
        break;
      }
      case 5: // retype a JSON string value
        s = s.replace(/"[^"\\]{1,40}"(?=\s*[,}\]])/, pick(["1", "null", "[]", "{}", "true", '"']));
        break;
      case 6: // binary garbage
        s = randomText(int(512));
        break;
      case 7: // deep nesting
        s = "[".repeat(int(5000)) + s;
        break;
      case 8: // swap two halves
        s = s.slice(at) + s.slice(0, at);
        break;
      default: // empty or whitespace
        s = pick(["", " ", "\n", "{}", "[]", "null"]);
    }
  }
  return s;
}

async function read(rel: string): Promise<string> {
  return await Deno.readTextFile(`${FIXTURES}/${rel}`);
}

const storage = "var/lib/containers/storage";
const seeds = {
  oci: [
    await read(`podman/${storage}/overlay-containers/${IDS.podmanRecorded}/userdata/config.json`),
    await read(
      `containerd/run/containerd/io.containerd.runtime.v2.task/k8s.io/${IDS.containerdWeb}/config.json`,
    ),
    await read(`crio/${storage}/overlay-containers/${IDS.crioApi}/userdata/config.json`),
  ],
  docker: [
    await read(`docker/var/lib/docker/containers/${IDS.dockerWeb}/config.v2.json`),
    await read(`docker/var/lib/docker/containers/${IDS.dockerDb}/config.v2.json`),
  ],
  hostconfig: [await read(`docker/var/lib/docker/containers/${IDS.dockerWeb}/hostconfig.json`)],
  containers: [
    await read(`podman/${storage}/overlay-containers/containers.json`),
    await read(`crio/${storage}/overlay-containers/containers.json`),
  ],
  images: [await read(`podman/${storage}/overlay-images/images.json`)],
  conmon: [await read("podman/proc/4242/cmdline"), await read("podman-variants/proc/6161/cmdline")],
  events: [
    await read("podman/run/libpod/events/events.log"),
    await read("podman-variants/run/libpod/events/events.log"),
  ],
  lxc: [await read("lxc/var/lib/lxc/web/config"), await read("lxc/var/lib/lxc/legacy/config")],
  incus: [
    await read("lxc/var/lib/incus/containers/db/backup.yaml"),
    await read("lxc/var/lib/incus/containers/shop_cache/backup.yaml"),
  ],
};

function annotationsOf(text: string): Record<string, string> | undefined {
  try {
    const doc = JSON.parse(text);
    const a = doc?.annotations;
    if (typeof a !== "object" || a === null || Array.isArray(a)) return undefined;
    return a as Record<string, string>;
  } catch {
    return undefined;
  }
}

type Parser = { name: string; seeds: string[]; run: (text: string) => unknown; total?: boolean };

const PARSERS: Parser[] = [
  { name: "parseOciConfig", seeds: seeds.oci, run: parseOciConfig },
  { name: "parseDockerConfigV2", seeds: seeds.docker, run: parseDockerConfigV2 },
  { name: "parseDockerHostConfig", seeds: seeds.hostconfig, run: parseDockerHostConfig },
  { name: "parseStorageContainersJson", seeds: seeds.containers, run: parseStorageContainersJson },
  { name: "parseStorageImagesJson", seeds: seeds.images, run: parseStorageImagesJson },
  { name: "parseConmonCmdline", seeds: seeds.conmon, run: parseConmonCmdline },
  {
    name: "parsePodmanEvents",
    seeds: seeds.events,
    run: (t) => parsePodmanEvents(t, IDS.podmanStopped),
    total: true,
  },
  { name: "indexPodmanEvents", seeds: seeds.events, run: (t) => indexPodmanEvents(t), total: true },
  { name: "parseLxcConfig", seeds: seeds.lxc, run: parseLxcConfig },
  { name: "parseIncusBackupYaml", seeds: seeds.incus, run: parseIncusBackupYaml },
  {
    name: "parseCriOAnnotations",
    seeds: seeds.oci,
    run: (t) => {
      const a = annotationsOf(t);
      return a === undefined ? undefined : parseCriOAnnotations(a);
    },
  },
  {
    name: "parseContainerdCriAnnotations",
    seeds: seeds.oci,
    run: (t) => {
      const a = annotationsOf(t);
      return a === undefined ? undefined : parseContainerdCriAnnotations(a);
    },
    total: true,
  },
  {
    name: "pickCriLogFile",
    seeds: ["0.log\n1.log\n2.log.gz"],
    run: (t) => pickCriLogFile(t.split("\n")),
    total: true,
  },
];

function isOwnBug(e: unknown): boolean {
  return e instanceof TypeError || e instanceof RangeError || e instanceof ReferenceError;
}

Deno.test(`fuzz: ${PARSER_ITERATIONS} mutated inputs make the parsers throw only MetadataParseError`, () => {
  const stats: Record<string, { ok: number; rejected: number }> = {};
  for (let i = 0; i < PARSER_ITERATIONS; i++) {
    const p = PARSERS[i % PARSERS.length]!;
    const input = mutate(pick(p.seeds));
    const s = stats[p.name] ??= { ok: 0, rejected: 0 };
    try {
      p.run(input);
      s.ok++;
    } catch (e) {
      if (p.total || !(e instanceof MetadataParseError)) {
        throw new Error(
          `${p.name} threw ${e instanceof Error ? e.name : typeof e} on ${
            JSON.stringify(input.slice(0, 200))
          }`,
          { cause: e },
        );
      }
      s.rejected++;
    }
  }
  const rejected = Object.values(stats).reduce((n, s) => n + s.rejected, 0);
  console.log(`parsers: ${PARSER_ITERATIONS} inputs, ${rejected} rejected with MetadataParseError`);
  assert.ok(rejected > 0);
});

interface Target {
  fixture: string;
  runtime: ContainerRuntime;
  id: string;
  /** Files (relative to the fixture root) to corrupt. */
  files: string[];
  opts?: { podmanRoots?: string[] };
}

const TARGETS: Target[] = [
  {
    fixture: "podman",
    runtime: "podman",
    id: IDS.podmanRecorded,
    files: [
      `${storage}/overlay-containers/containers.json`,
      `${storage}/overlay-containers/${IDS.podmanRecorded}/userdata/config.json`,
      `run/containers/storage/overlay-containers/${IDS.podmanRecorded}/userdata/conmon.pid`,
      "proc/4242/cmdline",
      "run/libpod/events/events.log",
      `${storage}/overlay-images/images.json`,
    ],
  },
  {
    fixture: "podman-variants",
    runtime: "podman",
    id: IDS.podmanStopped,
    files: [
      `${storage}/overlay-containers/containers.json`,
      `${storage}/overlay-images/images.json`,
      "run/libpod/events/events.log",
    ],
  },
  {
    fixture: "docker",
    runtime: "docker",
    id: IDS.dockerDb,
    files: [
      `var/lib/docker/containers/${IDS.dockerDb}/config.v2.json`,
      `var/lib/docker/containers/${IDS.dockerDb}/hostconfig.json`,
    ],
  },
  {
    fixture: "containerd",
    runtime: "containerd",
    id: IDS.containerdWeb,
    files: [`run/containerd/io.containerd.runtime.v2.task/k8s.io/${IDS.containerdWeb}/config.json`],
  },
  {
    fixture: "crio",
    runtime: "crio",
    id: IDS.crioApi,
    files: [`${storage}/overlay-containers/${IDS.crioApi}/userdata/config.json`],
  },
  {
    fixture: "lxc",
    runtime: "lxc",
    id: "web",
    files: ["var/lib/lxc/web/config"],
  },
  {
    fixture: "lxc",
    runtime: "lxc",
    id: "db",
    files: ["var/lib/incus/containers/db/backup.yaml"],
  },
];

Deno.test(`fuzz: ${LOOKUP_ITERATIONS} lookups on corrupted fixture trees reject only with MetadataError`, async () => {
  const roots = new Map<string, string>();
  for (const t of TARGETS) {
    if (!roots.has(t.fixture)) roots.set(t.fixture, await copyFixture(t.fixture));
  }
  const outcomes: Record<string, number> = {};
  try {
    for (let i = 0; i < LOOKUP_ITERATIONS; i++) {
      const t = TARGETS[i % TARGETS.length]!;
      const root = roots.get(t.fixture)!;
      const rel = pick(t.files);
      const file = `${root}/${rel}`;
      const original = await Deno.readFile(file);
      const how = int(20);
      if (how === 0) {
        await Deno.remove(file);
      } else if (how === 1) {
        await Deno.remove(file);
        await Deno.mkdir(file);
      } else if (how === 2) {
        await Deno.remove(file);
        await Deno.symlink(file, file); // a loop
      } else {
        await Deno.writeTextFile(file, mutate(new TextDecoder().decode(original)));
      }
      clearParseCache(); // a rewrite within one mtime tick must not hit the last parse
      clearEventsFollowers();
      try {
        await lookupMetadata(t.runtime, t.id, { paths: hostPaths({ hostRoot: root }), ...t.opts });
        outcomes.ok = (outcomes.ok ?? 0) + 1;
      } catch (e) {
        if (!(e instanceof MetadataError)) {
          throw new Error(`lookup ${t.runtime} ${rel} rejected with ${String(e)}`, { cause: e });
        }
        if (isOwnBug(e.cause)) {
          throw new Error(`lookup ${t.runtime} ${rel}: ${e.message}`, { cause: e.cause });
        }
        outcomes[e.reason] = (outcomes[e.reason] ?? 0) + 1;
      } finally {
        await Deno.remove(file, { recursive: true }).catch(() => {});
        await Deno.writeFile(file, original);
      }
    }
  } finally {
    for (const root of roots.values()) await Deno.remove(root, { recursive: true });
  }
  console.log(
    `lookups: ${LOOKUP_ITERATIONS} on corrupted trees, outcomes ${JSON.stringify(outcomes)}`,
  );
  assert.ok((outcomes.ok ?? 0) > 0 && (outcomes.malformed ?? 0) > 0);
});
