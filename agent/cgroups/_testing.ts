/**
 * Helpers for the cgroups tests: fixture locations and a seeded PRNG.
 *
 * @module
 */

/** `tests/fixtures/cgroups/` as an absolute path. */
export const FIXTURES: string = new URL("../../tests/fixtures/cgroups", import.meta.url).pathname;

/** The `/proc/<pid>/cgroup` text of a layout fixture. */
export function procCgroupText(layout: string): string {
  return Deno.readTextFileSync(`${FIXTURES}/proc/${layout}/cgroup`);
}

/** Every layout fixture's name. */
export function layouts(): string[] {
  return [...Deno.readDirSync(`${FIXTURES}/proc`)].filter((e) => e.isDirectory).map((e) => e.name)
    .sort();
}

/** A fixture cgroup file system root: `v1`, `v2` or `hybrid`. */
export function fsRoot(layout: "v1" | "v2" | "hybrid"): string {
  return `${FIXTURES}/fs/${layout}`;
}

/** Mulberry32: a small seeded PRNG, uniform in [0, 1). */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
