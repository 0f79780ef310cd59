/**
 * Builds Osprey's OCI image from the Containerfile with Podman, once per source state: the
 * image carries a label with a hash of every file the build reads (the same set
 * `.containerignore` lets through), and a build is skipped when the tag already has that hash.
 *
 * `deno task image` runs this file: `localhost/osprey:<version>`. The pod test builds
 * `localhost/osprey:test` with `--pull=never` after tests/pod/base_images.sh.
 *
 * A TLS-intercepting proxy between the build and the npm registry is handled by passing this
 * machine's CA bundle as the build secret `ca-certificates` (see the Containerfile).
 *
 * @module
 */
import { CONTAINERS_CONF } from "../containers/podman.ts";

const REPO = new URL("../../", import.meta.url).pathname.replace(/\/$/, "");
/** The label that records the source hash. */
export const SOURCE_LABEL = "osprey.source.sha256";
/** What the build reads; `.containerignore` lets exactly these through. */
export const SOURCES: readonly string[] = [
  "Containerfile",
  ".containerignore",
  "deno.json",
  "deno.lock",
  "tools/deno/package.json",
  "tools/deno/package-lock.json",
  "agent",
  "bpf",
  "ffi",
  "tools/sandbox",
];
const CA_BUNDLE = "/etc/ssl/certs/ca-certificates.crt";

function skipped(name: string): boolean {
  return name === ".output" || name === "testdata" || name.endsWith("_test.ts");
}

async function* files(rel: string): AsyncGenerator<string> {
  const info = await Deno.stat(`${REPO}/${rel}`);
  if (info.isFile) {
    yield rel;
    return;
  }
  const names: string[] = [];
  for await (const e of Deno.readDir(`${REPO}/${rel}`)) if (!skipped(e.name)) names.push(e.name);
  for (const n of names.sort()) yield* files(`${rel}/${n}`);
}

/** sha256 over the path and content of every build input, in a stable order. */
export async function sourceHash(): Promise<string> {
  const enc = new TextEncoder();
  const parts: Uint8Array[] = [];
  for (const top of SOURCES) {
    for await (const rel of files(top)) {
      parts.push(enc.encode(`${rel}\0`), await Deno.readFile(`${REPO}/${rel}`), enc.encode("\0"));
    }
  }
  const all = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let off = 0;
  for (const p of parts) {
    all.set(p, off);
    off += p.length;
  }
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", all));
  return Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
}

async function podman(args: string[], inherit = false): Promise<{ code: number; out: string }> {
  const r = await new Deno.Command("podman", {
    args,
    cwd: REPO,
    env: { CONTAINERS_CONF: Deno.env.get("CONTAINERS_CONF") ?? CONTAINERS_CONF },
    stdin: "null",
    stdout: inherit ? "inherit" : "piped",
    stderr: inherit ? "inherit" : "piped",
  }).output();
  const text = inherit
    ? ""
    : new TextDecoder().decode(r.stdout) + new TextDecoder().decode(r.stderr);
  return { code: r.code, out: text.trim() };
}

/** Options for {@linkcode buildImage}. */
export interface BuildOptions {
  /** e.g. `localhost/osprey:test`. */
  tag: string;
  /** `--pull=never` where no registry is reachable (the base images are local stand-ins). */
  pullNever?: boolean;
  /** `--no-cache`: rebuild every layer (timings of a first build). */
  noCache?: boolean;
  /** Show podman's output (default: only on failure). */
  verbose?: boolean;
}

/** What {@linkcode buildImage} did. */
export interface BuildResult {
  built: boolean;
  hash: string;
  ms: number;
}

/** Builds the image unless `tag` already carries the current source hash. */
export async function buildImage(o: BuildOptions): Promise<BuildResult> {
  const t0 = Date.now();
  const hash = await sourceHash();
  const have = await podman([
    "image",
    "inspect",
    "--format",
    `{{index .Labels "${SOURCE_LABEL}"}}`,
    o.tag,
  ]);
  if (have.code === 0 && have.out === hash && !o.noCache) {
    return { built: false, hash, ms: Date.now() - t0 };
  }
  const version = JSON.parse(await Deno.readTextFile(`${REPO}/deno.json`)).version as string;
  const args = ["build", "-f", "Containerfile", "-t", o.tag, "--build-arg", `VERSION=${version}`];
  args.push("--label", `${SOURCE_LABEL}=${hash}`);
  if (o.pullNever) args.push("--pull=never");
  if (o.noCache) args.push("--no-cache");
  try {
    if ((await Deno.stat(CA_BUNDLE)).isFile) {
      args.push("--secret", `id=ca-certificates,src=${CA_BUNDLE}`);
    }
  } catch { /* no system CA bundle: the build trusts its own */ }
  args.push(".");
  const r = await podman(args, o.verbose);
  if (r.code !== 0) {
    throw new Error(
      `podman ${args.join(" ")} exited ${r.code}${r.out ? `:\n${r.out.slice(-4000)}` : ""}`,
    );
  }
  return { built: true, hash, ms: Date.now() - t0 };
}

if (import.meta.main) {
  const version = JSON.parse(await Deno.readTextFile(`${REPO}/deno.json`)).version as string;
  const tag = Deno.args[0] ?? `localhost/osprey:${version}`;
  const r = await buildImage({ tag, verbose: true });
  console.error(
    r.built
      ? `image: built ${tag} in ${(r.ms / 1000).toFixed(1)} s`
      : `image: ${tag} is up to date (sources ${r.hash.slice(0, 12)})`,
  );
}

/** Whether something is at `path`. */
export function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}

/**
 * The host paths a DaemonSet-like agent container mounts, as (source, target) pairs: the host's
 * /proc and /sys under /host, each cgroup hierarchy under /sys/fs/cgroup on its own (a
 * non-recursive bind would leave them out), and each of `same` that exists at its own path.
 */
export function hostMountPairs(same: readonly string[]): Array<[string, string]> {
  const pairs: Array<[string, string]> = [["/proc", "/host/proc"], ["/sys", "/host/sys"]];
  for (const line of Deno.readTextFileSync("/proc/self/mountinfo").split("\n")) {
    const mp = line.split(" ")[4];
    if (mp === "/sys/fs/cgroup" || mp?.startsWith("/sys/fs/cgroup/")) {
      pairs.push([mp, `/host${mp}`]);
    }
  }
  for (const p of same) if (exists(p)) pairs.push([p, p]);
  return pairs;
}

/** Whether `cmd args` runs and exits 0 (a tool present and working). */
export function commandWorks(cmd: string, args: string[]): boolean {
  try {
    return new Deno.Command(cmd, { args, stdout: "null", stderr: "null" }).outputSync().success;
  } catch {
    return false;
  }
}
