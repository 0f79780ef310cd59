/**
 * Test helpers for the container registry: a fake host whose `<proc>` the test edits (processes
 * appear, move between cgroups and exit), a manual clock, a metadata lookup from a table, and a
 * reader of the exposition.
 *
 * @module
 */
import { createLogger } from "../log.ts";
import type { Logger } from "../log.ts";
import { Registry } from "../metrics/mod.ts";
import { hostPaths } from "../paths.ts";
import type { HostPaths } from "../paths.ts";
import type { ContainerMetadata, ContainerRuntime } from "./metadata/mod.ts";
import { MetadataError } from "./metadata/mod.ts";
import { ContainerFamilies } from "./metrics.ts";
import { ContainerRegistry, type ContainerRegistryOptions } from "./registry.ts";
import type { ProcessEventLike } from "./registry.ts";

/** tests/fixtures, absolute. */
export const FIXTURES: string = new URL("../../tests/fixtures", import.meta.url).pathname;

/** 64-hex runtime ids for tests. */
export function hexId(n: number): string {
  return n.toString(16).padStart(4, "0").repeat(16);
}

/** A Podman cgroup path (cgroupfs driver, as on this machine). */
export function podmanCgroup(id: string): string {
  return `/libpod_parent/libpod-${id}`;
}

/** Wall clock and boot time the fake host agrees on. */
export const T0 = Date.UTC(2026, 10, 27, 9, 0, 0);
export const BOOT = T0 - 10 * 24 * 3_600_000;

/** Options of {@linkcode FakeHost.spawn}. */
export interface SpawnOptions {
  /** v2 cgroup path, or full `/proc/<pid>/cgroup` text when it contains a newline. */
  cgroup: string;
  /** Wall-clock start in ms. */
  startMs: number;
  cmdline?: string[];
  /** Target of `<proc>/<pid>/exe`. */
  exe?: string;
  comm?: string;
  ppid?: number;
  mountinfo?: string;
}

/** A `<proc>` (and optionally other host trees) in a temporary directory. */
export class FakeHost {
  readonly dir: string;
  readonly paths: HostPaths;

  private constructor(dir: string, paths: HostPaths) {
    this.dir = dir;
    this.paths = paths;
  }

  /** A fresh host; `hostRoot` points metadata lookups at a runtime fixture tree. */
  static create(opts: { hostRoot?: string; cgroupfsRoot?: string } = {}): FakeHost {
    const dir = Deno.makeTempDirSync({ prefix: "osprey-containers-" });
    Deno.mkdirSync(`${dir}/proc`);
    Deno.mkdirSync(`${dir}/sys/dev/block`, { recursive: true });
    Deno.writeTextFileSync(`${dir}/proc/uptime`, `${(T0 - BOOT) / 1000}.00 10.00\n`);
    const paths = hostPaths({
      hostRoot: opts.hostRoot ?? dir,
      procfsRoot: `${dir}/proc`,
      sysfsRoot: `${dir}/sys`,
      cgroupfsRoot: opts.cgroupfsRoot ?? `${dir}/sys/fs/cgroup`,
      hostView: `${dir}/no-view`,
    });
    return new FakeHost(dir, paths);
  }

  /** Writes `<proc>/<pid>/{cgroup,stat,cmdline}`. */
  spawn(pid: number, o: SpawnOptions): void {
    const d = `${this.dir}/proc/${pid}`;
    Deno.mkdirSync(d, { recursive: true });
    this.setCgroup(pid, o.cgroup);
    const ticks = Math.round(((o.startMs - BOOT) / 1000) * 100);
    const fields = ["S", String(o.ppid ?? 1), String(pid), String(pid), "0", "-1", "4194560"];
    while (fields.length < 19) fields.push("0");
    fields.push(String(ticks), "2322432", "380");
    while (fields.length < 50) fields.push("0");
    Deno.writeTextFileSync(`${d}/stat`, `${pid} (${o.comm ?? "proc"}) ${fields.join(" ")}\n`);
    const argv = o.cmdline ?? ["sleep", "300"];
    Deno.writeTextFileSync(`${d}/cmdline`, argv.map((a) => a + "\0").join(""));
    if (o.mountinfo !== undefined) Deno.writeTextFileSync(`${d}/mountinfo`, o.mountinfo);
    if (o.exe !== undefined) this.setExe(pid, o.exe);
  }

  /** Rewrites a process's command line (an exec, or a process that retitles itself). */
  setCmdline(pid: number, argv: readonly string[]): void {
    Deno.writeTextFileSync(`${this.dir}/proc/${pid}/cmdline`, argv.map((a) => a + "\0").join(""));
  }

  /** Points `<proc>/<pid>/exe` at a file (a real binary, for the ELF checks). */
  setExe(pid: number, target: string): void {
    const link = `${this.dir}/proc/${pid}/exe`;
    try {
      Deno.removeSync(link);
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound)) throw err;
    }
    Deno.symlinkSync(target, link);
  }

  /** Moves a process to another cgroup. */
  setCgroup(pid: number, cgroup: string): void {
    const text = cgroup.includes("\n") ? cgroup : `0::${cgroup}\n`;
    Deno.writeTextFileSync(`${this.dir}/proc/${pid}/cgroup`, text);
  }

  /** Removes a process. */
  kill(pid: number): void {
    Deno.removeSync(`${this.dir}/proc/${pid}`, { recursive: true });
  }

  cleanup(): void {
    Deno.removeSync(this.dir, { recursive: true });
  }
}

/** A clock the test moves. */
export class Clock {
  ms = T0;
  now = (): number => this.ms;
  advance(ms: number): void {
    this.ms += ms;
  }
}

/** A lookup answering from a table: metadata, an error, or a promise the test controls. */
export class FakeMetadata {
  readonly table = new Map<
    string,
    ContainerMetadata | MetadataError | Promise<ContainerMetadata>
  >();
  calls = 0;

  /** Registers a named container. */
  add(runtime: ContainerRuntime, id: string, md: Partial<ContainerMetadata> = {}): void {
    this.table.set(`${runtime}:${id}`, { runtime, id, labels: {}, sources: [], ...md });
  }

  fail(runtime: ContainerRuntime, id: string, reason: MetadataError["reason"]): void {
    this.table.set(`${runtime}:${id}`, new MetadataError(runtime, id, reason, `fake ${reason}`));
  }

  lookup = (runtime: ContainerRuntime, id: string): Promise<ContainerMetadata> => {
    this.calls++;
    const v = this.table.get(`${runtime}:${id}`);
    if (v === undefined) {
      return Promise.reject(new MetadataError(runtime, id, "not_found", "fake: no such container"));
    }
    if (v instanceof MetadataError) return Promise.reject(v);
    return Promise.resolve(v);
  };
}

/** A registry over a fake host, with its metric registry and captured log lines. */
export interface Harness {
  readonly host: FakeHost;
  readonly clock: Clock;
  readonly md: FakeMetadata;
  readonly metrics: Registry;
  readonly families: ContainerFamilies;
  readonly reg: ContainerRegistry;
  readonly logLines: string[];
  readonly log: Logger;
  /** The text exposition. */
  text(): string;
  /** The samples of `name` (optionally only those of one container). */
  samples(name: string, containerId?: string): { labels: Record<string, string>; value: number }[];
  /** One sample's value, or undefined. */
  value(name: string, labels: Record<string, string>): number | undefined;
  event(e: Partial<ProcessEventLike> & { type: string; pid: number }): void;
  close(): void;
}

/** Builds a {@linkcode Harness}. */
export function harness(
  opts: Partial<ContainerRegistryOptions> & { hostRoot?: string; cgroupfsRoot?: string } = {},
): Harness {
  const host = FakeHost.create({ hostRoot: opts.hostRoot, cgroupfsRoot: opts.cgroupfsRoot });
  const clock = new Clock();
  const md = new FakeMetadata();
  const metrics = new Registry();
  const families = new ContainerFamilies(metrics);
  const logLines: string[] = [];
  const { log } = createLogger({ write: (l) => logLines.push(l), level: "debug", burst: 1000 });
  const reg = new ContainerRegistry({
    paths: host.paths,
    families,
    log,
    lookupMetadata: md.lookup,
    minContainerAgeMs: 0,
    gcGraceMs: 60_000,
    metadataRetryDelaysMs: [],
    metadataTimeoutMs: 1000,
    // a loaded CI machine may take longer than the agent's 2 s to read a binary's headers
    exeTimeoutMs: 60_000,
    now: clock.now,
    bootTimeMs: BOOT,
    userHz: 100,
    ...opts,
  });
  const text = () => new TextDecoder().decode(metrics.encode("text"));
  const samples = (name: string, containerId?: string) => {
    const out: { labels: Record<string, string>; value: number }[] = [];
    for (const line of text().split("\n")) {
      if (!line.startsWith(name + "{") && !line.startsWith(name + " ")) continue;
      const m = /^[^{ ]+(?:\{(.*)\})? (\S+)$/.exec(line);
      if (!m) continue;
      const labels: Record<string, string> = {};
      for (const p of (m[1] ?? "").matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[p[1]] = p[2];
      if (containerId !== undefined && labels.container_id !== containerId) continue;
      out.push({ labels, value: Number(m[2]) });
    }
    return out;
  };
  const value = (name: string, labels: Record<string, string>) =>
    samples(name).find((s) => Object.entries(labels).every(([k, v]) => s.labels[k] === v))
      ?.value;
  const event = (e: Partial<ProcessEventLike> & { type: string; pid: number }) =>
    reg.handleEvent({
      ppid: 1,
      cgroupId: 0,
      oomKilled: false,
      filename: "",
      tsNs: (clock.ms - BOOT) * 1e6,
      ...e,
    });
  return {
    host,
    clock,
    md,
    metrics,
    families,
    reg,
    logLines,
    log,
    text,
    samples,
    value,
    event,
    close() {
      reg.close();
      host.cleanup();
    },
  };
}
