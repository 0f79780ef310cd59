/**
 * Builds the container tests' root filesystem and image locally (no registry is reachable):
 * Debian's static busybox with its applet links, /etc/passwd and /etc/group, a world-writable
 * /tmp, and `/bin/hog` (hog.c, compiled with `gcc -static`) that allocates memory on demand for
 * the OOM tests. The tree and its tarball are cached under `tests/containers/.output/`
 * (git-ignored) and imported once as `localhost/osprey-test-busybox:<key>`, where the key
 * hashes everything the tree is built from, so a changed input gives a new tag and an
 * unchanged one is never rebuilt.
 *
 * Needs: busybox-static, gcc and libc6-dev (for `-static`), podman.
 *
 * @module
 */
import { podman, podmanRaw } from "./podman.ts";

const HERE = new URL(".", import.meta.url).pathname.replace(/\/$/, "");
/** Where built trees and tarballs are cached. */
export const OUTPUT_DIR: string = `${HERE}/.output`;
/** The repository of the imported image. */
export const IMAGE_REPO = "localhost/osprey-test-busybox";
const BUSYBOX = "/bin/busybox";
const HOG_SOURCE = `${HERE}/hog.c`;
/** Bump when the layout below changes. */
const LAYOUT_VERSION = "1";

/** A built root filesystem and the image imported from it. */
export interface TestImage {
  /** Content key: the image tag and the cache directory suffix. */
  key: string;
  /** Directory usable with `podman run --rootfs`. */
  rootfs: string;
  tarball: string;
  /** `localhost/osprey-test-busybox:<key>`. */
  image: string;
}

async function run(cmd: string, args: string[], cwd?: string): Promise<string> {
  let out: Deno.CommandOutput;
  try {
    out = await new Deno.Command(cmd, { args, cwd, stdout: "piped", stderr: "piped" }).output();
  } catch (e) {
    throw new Error(`cannot run ${cmd}: ${e instanceof Error ? e.message : e}`);
  }
  const d = new TextDecoder();
  if (out.code !== 0) {
    throw new Error(`${cmd} ${args.join(" ")} exited ${out.code}: ${d.decode(out.stderr).trim()}`);
  }
  return d.decode(out.stdout);
}

/** True when the ELF file has no PT_INTERP program header (statically linked). */
function isStaticElf(bytes: Uint8Array): boolean {
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (v.getUint32(0) !== 0x7f454c46 || bytes[4] !== 2) return false; // ELF64 only
  const phoff = Number(v.getBigUint64(0x20, true));
  const phentsize = v.getUint16(0x36, true);
  const phnum = v.getUint16(0x38, true);
  for (let i = 0; i < phnum; i++) {
    if (v.getUint32(phoff + i * phentsize, true) === 3) return false; // PT_INTERP
  }
  return true;
}

async function sha256Hex(parts: Uint8Array[]): Promise<string> {
  const total = parts.reduce((n, p) => n + p.length, 0);
  const all = new Uint8Array(total);
  let off = 0;
  for (const p of parts) {
    all.set(p, off);
    off += p.length;
  }
  const h = new Uint8Array(await crypto.subtle.digest("SHA-256", all));
  return Array.from(h, (b) => b.toString(16).padStart(2, "0")).join("");
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return false;
    throw e;
  }
}

async function buildTree(dir: string, busybox: Uint8Array): Promise<void> {
  for (const d of ["bin", "etc", "root", "proc", "sys", "dev", "run", "var"]) {
    await Deno.mkdir(`${dir}/${d}`, { recursive: true });
  }
  await Deno.mkdir(`${dir}/tmp`);
  await Deno.chmod(`${dir}/tmp`, 0o1777);
  await Deno.writeFile(`${dir}/bin/busybox`, busybox, { mode: 0o755 });
  const applets = (await run(BUSYBOX, ["--list"])).split("\n").filter((a) => /^[\w.[-]+$/.test(a));
  for (const a of applets) {
    if (a !== "busybox") await Deno.symlink("busybox", `${dir}/bin/${a}`);
  }
  // PATH inside podman includes /usr/bin and /sbin; point them at /bin.
  await Deno.mkdir(`${dir}/usr`);
  await Deno.symlink("../bin", `${dir}/usr/bin`);
  await Deno.symlink("bin", `${dir}/sbin`);
  await Deno.writeTextFile(
    `${dir}/etc/passwd`,
    "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n",
  );
  await Deno.writeTextFile(`${dir}/etc/group`, "root:x:0:\nnogroup:x:65534:\n");
  try {
    await run("gcc", ["-static", "-O2", "-s", "-o", `${dir}/bin/hog`, HOG_SOURCE]);
  } catch (e) {
    throw new Error(
      `building /bin/hog needs gcc and libc6-dev (static libc): ${
        e instanceof Error ? e.message : e
      }`,
    );
  }
}

let cached: Promise<TestImage> | undefined;

/**
 * Builds (once per input) the root filesystem and its tarball and imports the image unless a
 * image with that tag exists. Safe to call from every test; concurrent builders each build in a
 * private directory and the first rename wins.
 */
export function ensureTestImage(): Promise<TestImage> {
  cached ??= build().catch((e) => {
    cached = undefined;
    throw e;
  });
  return cached;
}

async function build(): Promise<TestImage> {
  let busybox: Uint8Array;
  try {
    busybox = await Deno.readFile(BUSYBOX);
  } catch {
    throw new Error(`${BUSYBOX} missing: apt-get install busybox-static`);
  }
  if (!isStaticElf(busybox)) {
    throw new Error(`${BUSYBOX} is dynamically linked: apt-get install busybox-static`);
  }
  const enc = new TextEncoder();
  const key = (await sha256Hex([
    enc.encode(`layout ${LAYOUT_VERSION}\n`),
    busybox,
    await Deno.readFile(HOG_SOURCE),
  ])).slice(0, 16);
  const rootfs = `${OUTPUT_DIR}/rootfs-${key}`;
  const tarball = `${OUTPUT_DIR}/rootfs-${key}.tar`;
  const image = `${IMAGE_REPO}:${key}`;
  await Deno.mkdir(OUTPUT_DIR, { recursive: true });

  if (!(await exists(rootfs))) {
    const tmp = `${rootfs}.tmp-${Deno.pid}`;
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
    await Deno.mkdir(tmp);
    try {
      await buildTree(tmp, busybox);
      await Deno.rename(tmp, rootfs);
    } catch (e) {
      await Deno.remove(tmp, { recursive: true }).catch(() => {});
      if (!(await exists(rootfs))) throw e; // else another builder won the rename
    }
  }
  if (!(await exists(tarball))) {
    const tmp = `${tarball}.tmp-${Deno.pid}`;
    await run("tar", [
      "--numeric-owner",
      "--owner=0",
      "--group=0",
      "--sort=name",
      "-C",
      rootfs,
      "-cf",
      tmp,
      ".",
    ]);
    await Deno.rename(tmp, tarball);
  }
  if ((await podmanRaw(["image", "exists", image])).code !== 0) {
    await podman([
      "import",
      "--message",
      "osprey test rootfs (busybox-static + hog)",
      tarball,
      image,
    ]);
  }
  return { key, rootfs, tarball, image };
}

if (import.meta.main) {
  const img = await ensureTestImage();
  console.log(JSON.stringify(img, null, 2));
}
