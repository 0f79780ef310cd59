/**
 * Helpers for the cgroups tests: fixture locations and a seeded PRNG.
 *
 * @module
 */

export { prng } from "../_fuzz_testing.ts";

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
