/**
 * Debian kernels for the fixture VM: which series the archive offers, how each is fetched
 * (`apt-get download` of the `linux-image-*` package its meta package names) and where it is
 * cached: `$OSPREY_VM_CACHE` (default `/var/cache/osprey-vm`), outside the checkout.
 *
 * Series and where they come from (checked against deb.debian.org on 2026-11-30):
 * - `6.1`: bookworm's `linux-image-amd64` (the machine's own apt sources).
 * - `6.12`: bookworm's `linux-image-6.12-amd64` (bookworm-security carries 6.12).
 * - `5.10`: bullseye's `linux-image-amd64`, through a private apt configuration under the cache
 *   (`apt-bullseye/`), so the machine's sources stay untouched.
 * - buster (4.19, no BTF, no ring buffers) is gone from deb.debian.org (`dists/buster` is 404),
 *   so no kernel older than 5.10 can be fetched here.
 *
 * @module
 */

/** A kernel series the VM tools know. */
export type KernelSeries = "5.10" | "6.1" | "6.12";

/** Where a series comes from. */
export interface KernelSource {
  series: KernelSeries;
  /** Debian suite. */
  suite: "bookworm" | "bullseye";
  /** The meta package whose dependency names the versioned image package. */
  meta: string;
}

/** Every series, oldest first. */
export const KERNELS: readonly KernelSource[] = [
  { series: "5.10", suite: "bullseye", meta: "linux-image-amd64" },
  { series: "6.1", suite: "bookworm", meta: "linux-image-amd64" },
  { series: "6.12", suite: "bookworm", meta: "linux-image-6.12-amd64" },
];

/** A kernel unpacked in the cache. */
export interface CachedKernel {
  series: KernelSeries;
  /** `uname -r` of the guest, e.g. `6.1.0-57-amd64`. */
  release: string;
  /** The Debian package it came from, e.g. `linux-image-6.1.0-57-amd64_6.1.192-3_amd64.deb`. */
  deb: string;
  /** The unpacked package: `boot/vmlinuz-<release>`, `lib/modules/<release>/`. */
  root: string;
  vmlinuz: string;
  /** The kernel's build configuration. */
  config: string;
}

/** A step of fetching or unpacking failed (apt-get or dpkg-deb said why). */
export class KernelFetchError extends Error {
  override name = "KernelFetchError";
}

/** The cache directory: `$OSPREY_VM_CACHE` or `/var/cache/osprey-vm`. */
export function cacheDir(): string {
  return Deno.env.get("OSPREY_VM_CACHE") ?? "/var/cache/osprey-vm";
}

function aptOptions(suite: KernelSource["suite"]): string[] {
  if (suite === "bookworm") return [];
  const a = `${cacheDir()}/apt-${suite}`;
  return [
    "-o",
    `Dir::Etc::SourceList=${a}/etc/sources.list`,
    "-o",
    "Dir::Etc::SourceParts=/dev/null",
    "-o",
    `Dir::State::Lists=${a}/lists`,
    "-o",
    `Dir::Cache=${a}/cache`,
    "-o",
    `Dir::Cache::archives=${a}/archives`,
    "-o",
    "Debug::NoLocking=1",
    "-o",
    "APT::Sandbox::User=root",
  ];
}

async function run(cmd: string, args: string[], what: string, cwd?: string): Promise<string> {
  const r = await new Deno.Command(cmd, {
    args,
    cwd,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  })
    .output();
  const dec = new TextDecoder();
  if (r.code !== 0) {
    throw new KernelFetchError(
      `${what}: ${cmd} ${args.join(" ")} exited ${r.code}: ${
        dec.decode(r.stderr).trim().slice(-2000)
      }`,
    );
  }
  return dec.decode(r.stdout);
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return false;
    throw e;
  }
}

/** Write the private apt configuration of a suite other than the machine's and update it once. */
async function prepareSuite(suite: KernelSource["suite"]): Promise<void> {
  if (suite === "bookworm") return;
  const a = `${cacheDir()}/apt-${suite}`;
  if (await exists(`${a}/.updated`)) return;
  for (const d of ["etc", "lists/partial", "cache", "archives/partial"]) {
    await Deno.mkdir(`${a}/${d}`, { recursive: true });
  }
  await Deno.writeTextFile(
    `${a}/etc/sources.list`,
    `deb http://deb.debian.org/debian ${suite} main\n` +
      `deb http://deb.debian.org/debian-security ${suite}-security main\n`,
  );
  await run("apt-get", [...aptOptions(suite), "update"], `update the ${suite} package lists`);
  await Deno.writeTextFile(`${a}/.updated`, new Date().toISOString() + "\n");
}

/**
 * The kernel of a series, fetched and unpacked on first use.
 *
 * @throws KernelFetchError when apt-get or dpkg-deb fails (the message carries their stderr)
 */
export async function ensureKernel(series: KernelSeries): Promise<CachedKernel> {
  const src = KERNELS.find((k) => k.series === series);
  if (!src) throw new KernelFetchError(`unknown kernel series ${series}`);
  const dir = `${cacheDir()}/kernels/${series}`;
  const stamp = `${dir}/kernel.json`;
  if (await exists(stamp)) return JSON.parse(await Deno.readTextFile(stamp)) as CachedKernel;

  await prepareSuite(src.suite);
  const opts = aptOptions(src.suite);
  const deps = await run("apt-cache", [...opts, "depends", src.meta], `resolve ${src.meta}`);
  const pkg = deps.match(/Depends: (linux-image-[^\s]+)/)?.[1];
  if (!pkg) throw new KernelFetchError(`${src.meta} (${src.suite}) names no linux-image package`);
  const debs = `${cacheDir()}/debs`;
  await Deno.mkdir(debs, { recursive: true });
  await run("apt-get", [...opts, "download", pkg], `download ${pkg}`, debs);
  let deb = "";
  for await (const e of Deno.readDir(debs)) {
    if (e.name.startsWith(`${pkg}_`) && e.name.endsWith(".deb")) deb = e.name;
  }
  if (!deb) throw new KernelFetchError(`apt-get download ${pkg} left no .deb in ${debs}`);
  const root = `${dir}/root`;
  await Deno.remove(dir, { recursive: true }).catch(() => {});
  await Deno.mkdir(root, { recursive: true });
  await run("dpkg-deb", ["-x", `${debs}/${deb}`, root], `unpack ${deb}`);
  const release = pkg.replace(/^linux-image-/, "");
  const k: CachedKernel = {
    series,
    release,
    deb,
    root,
    vmlinuz: `${root}/boot/vmlinuz-${release}`,
    config: `${root}/boot/config-${release}`,
  };
  if (!await exists(k.vmlinuz)) throw new KernelFetchError(`${deb} has no ${k.vmlinuz}`);
  await Deno.writeTextFile(stamp, JSON.stringify(k, null, 2) + "\n");
  return k;
}
