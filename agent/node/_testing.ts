/**
 * Helpers for the node and identity tests: fixture locations, a copy of a fixture host tree
 * that a test may damage, and a small reader of the text exposition.
 *
 * @module
 */
import type { HostPaths } from "../paths.ts";
import { hostPaths } from "../paths.ts";

/** `tests/fixtures/node/` as an absolute path. */
export const FIXTURES: string = new URL("../../tests/fixtures/node/", import.meta.url).pathname
  .replace(/\/$/, "");

/** The host tree recorded from a real machine. */
export function fixtureHost(): HostPaths {
  return hostPaths({ hostRoot: `${FIXTURES}/host` });
}

/** A hand-written variant file from `tests/fixtures/node/variants/`. */
export function variant(name: string): string {
  return Deno.readTextFileSync(`${FIXTURES}/variants/${name}`);
}

/** Copies a directory tree, symlinks as symlinks. */
export async function copyTree(src: string, dst: string): Promise<void> {
  await Deno.mkdir(dst, { recursive: true });
  for await (const e of Deno.readDir(src)) {
    const from = `${src}/${e.name}`, to = `${dst}/${e.name}`;
    if (e.isSymlink) await Deno.symlink(await Deno.readLink(from), to);
    else if (e.isDirectory) await copyTree(from, to);
    else await Deno.copyFile(from, to);
  }
}

/** A copy of the recorded host tree in a temporary directory; `edit` may change it. */
export async function scratchHost(
  edit?: (root: string) => Promise<void> | void,
): Promise<HostPaths & { cleanup(): Promise<void> }> {
  const dir = await Deno.makeTempDir({ prefix: "osprey-node-" });
  await copyTree(`${FIXTURES}/host`, dir);
  await edit?.(dir);
  return { ...hostPaths({ hostRoot: dir }), cleanup: () => Deno.remove(dir, { recursive: true }) };
}

/** One sample of the text exposition. */
export interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

/** Parses the Prometheus text format (label values without escapes, which is all we emit here). */
export function parseExposition(text: string | Uint8Array): Sample[] {
  const s = typeof text === "string" ? text : new TextDecoder().decode(text);
  const out: Sample[] = [];
  for (const line of s.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) throw new SyntaxError(`Cannot parse exposition line ${JSON.stringify(line)}`);
    const labels: Record<string, string> = {};
    for (const p of (m[2] ?? "").matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) {
      labels[p[1]] = p[2];
    }
    const v = m[3] === "+Inf" ? Infinity : m[3] === "-Inf" ? -Infinity : Number(m[3]);
    out.push({ name: m[1], labels, value: v });
  }
  return out;
}

/** Samples of one family, keyed by the value of one label ("" for no label). */
export function byLabel(samples: readonly Sample[], name: string, label = ""): Map<string, number> {
  const out = new Map<string, number>();
  for (const s of samples) if (s.name === name) out.set(label ? s.labels[label] : "", s.value);
  return out;
}
