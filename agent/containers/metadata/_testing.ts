/**
 * Test helpers: the fixture host roots under tests/fixtures/runtimes and the container ids
 * they hold.
 *
 * @module
 */

import { type HostPaths, hostPaths } from "../../paths.ts";
import type { MetadataOptions } from "./types.ts";

/** tests/fixtures/runtimes, absolute. */
export const FIXTURES: string = new URL("../../../tests/fixtures/runtimes", import.meta.url)
  .pathname;

/** Host paths for one fixture root (`podman`, `docker`, ...). */
export function fixturePaths(name: string): HostPaths {
  return hostPaths({ hostRoot: `${FIXTURES}/${name}` });
}

/** Lookup options over one fixture root. */
export function fixtureOptions(
  name: string,
  extra: Partial<MetadataOptions> = {},
): MetadataOptions {
  return { paths: fixturePaths(name), ...extra };
}

/** The container ids in the fixture trees. */
export const IDS = {
  /** Recorded from a live Podman 4.3 container "osprey-meta-test". */
  podmanRecorded: "4d4d3c9f5f540e4f6fcd1af6173d62013ccf2653661cbe5c5976927a951086fa",
  podmanStopped: "24c963a7670b688e63f030b85128e2c2e7eaf36c1d3205f42359bd4d55c85acf",
  podmanRootless: "56dfa3bc944415a972b0fe05883435f6f061150cc65600d923a24fd565932362",
  podmanRootfs: "65bd18b7999b7f4d90c2156d9bec30e6a545cf8396d88544a2642419c80cda39",
  podmanReused: "749fd3656439f00b6de44076d293bbeda6fa5c5bd1b735edf174a77a590d749a",
  containerdWeb: "c4a2bc20f38a09761db0d60600e10a322035618b03c708bcb954c73fb72276d3",
  containerdSandbox: "686afb79c61189c03d29367f736cb1bc0a2eeba634a5a0656eb9b9316834fd49",
  containerdK3s: "e85088af89d45023f3718eefa3b43528ff6b6732faf2719275f78ed9000794de",
  containerdNoUid: "28d5494c7ad22763667c1a1d030fb77735f2c0be55de90d631eeae886e384032",
  mobyOnly: "82225d6a43c736d284ad5db7589d7aa9fea1cf7998d03ee02b1ba7c908f44308",
  crioApi: "f3bc94f0e72ee14eb1ae3a2468b8c65842471e98f5728ce9b80d43f4876cca91",
  crioSandbox: "95395323bb577295626452f0471bfcdc94c0fea68331bde3490517274a268b08",
  crioSidecar: "b86cc946586f07ddf9df3dc01eac659a302d0867f79389aaf6ddc34f5933c06e",
  dockerWeb: "7082330809044540e361660ddc431d686c26e7fbe4f91fc97bfa82946bfed305",
  dockerSwarm: "c3f773c5e145954e33355a424438acdd6ed146babedee7ed6a108aeb9dba4fa0",
  dockerDb: "aed4cebcaf364cb3d8e610e862b1e5ecdeae9c59aaab8913729ae5647465b7bc",
} as const;

/** A hex id that no fixture holds. */
export const MISSING_ID = "0".repeat(64);

/** Copies a fixture root into a fresh temporary directory and returns its path. */
export async function copyFixture(name: string): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: `osprey-meta-${name}-` });
  const out = await new Deno.Command("cp", {
    args: ["-a", `${FIXTURES}/${name}/.`, dir],
    stderr: "piped",
  }).output();
  if (!out.success) {
    throw new Error(`Cannot copy fixture "${name}": ${new TextDecoder().decode(out.stderr)}`);
  }
  return dir;
}
