/**
 * The guest's root: an initramfs holding Debian's static busybox, the kernel modules the guest
 * needs to reach its 9p shares and its network card (virtio-pci, virtio-net, 9p; resolved with
 * their dependencies from the kernel's own `modules.dep`, skipped where `modules.builtin` has
 * them), a few `/etc` files and `init` (tools/vm/init.sh). Everything else (`/usr` with deno's
 * libraries, libbpf, bpftool; the checkout; the deno binary) comes from the host over read-only
 * 9p shares that init mounts. Built once per kernel and init script, under the kernel's cache dir.
 *
 * @module
 */
import type { CachedKernel } from "./kernels.ts";

/** Modules init loads, in this order after their dependencies. */
const WANTED = ["virtio_pci", "virtio_net", "9pnet_virtio", "9p"];
const BUSYBOX = "/bin/busybox";
const INIT = new URL("./init.sh", import.meta.url).pathname;

/** Building the initramfs failed. */
export class InitramfsError extends Error {
  override name = "InitramfsError";
}

async function sh(script: string, what: string): Promise<void> {
  const r = await new Deno.Command("sh", {
    args: ["-euc", script],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (r.code !== 0) {
    throw new InitramfsError(`${what}: ${new TextDecoder().decode(r.stderr).trim().slice(-2000)}`);
  }
}

function moduleName(path: string): string {
  return path.replace(/^.*\//, "").replace(/\.ko(\.xz|\.zst|\.gz)?$/, "").replaceAll("-", "_");
}

async function moduleBytes(path: string): Promise<Uint8Array> {
  if (!path.endsWith(".xz")) return await Deno.readFile(path);
  const r = await new Deno.Command("xz", { args: ["-dc", path], stdout: "piped", stderr: "piped" })
    .output();
  if (r.code !== 0) {
    throw new InitramfsError(`xz -dc ${path}: ${new TextDecoder().decode(r.stderr).trim()}`);
  }
  return r.stdout;
}

/** The `depends=` field of a module's `.modinfo` section (module names, may be empty). */
export function moduleDepends(ko: Uint8Array): string[] {
  const text = new TextDecoder("latin1").decode(ko);
  const at = text.indexOf("\0depends=");
  if (at < 0) return [];
  const end = text.indexOf("\0", at + 1);
  return text.slice(at + 9, end).split(",").filter(Boolean).map((n) => n.replaceAll("-", "_"));
}

async function walk(dir: string, out: Map<string, string>, rel = ""): Promise<void> {
  for await (const e of Deno.readDir(`${dir}/${rel}`)) {
    const r = rel ? `${rel}/${e.name}` : e.name;
    if (e.isDirectory) await walk(dir, out, r);
    else if (/\.ko(\.xz)?$/.test(e.name)) out.set(moduleName(e.name), r);
  }
}

/**
 * The modules to load, dependencies first, each with its uncompressed bytes. Dependencies come
 * from each module's own `depends=` field (the package ships no `modules.dep`: its postinst runs
 * depmod, and kmod need not be installed here).
 *
 * @param modulesDir `lib/modules/<release>` of the unpacked kernel
 * @throws InitramfsError when a wanted module is neither a file nor built in
 */
export async function moduleOrder(
  modulesDir: string,
): Promise<{ name: string; bytes: Uint8Array }[]> {
  const files = new Map<string, string>();
  await walk(`${modulesDir}/kernel`, files);
  const builtin = new Set(
    (await Deno.readTextFile(`${modulesDir}/modules.builtin`)).split("\n").filter(Boolean).map(
      moduleName,
    ),
  );
  const order: { name: string; bytes: Uint8Array }[] = [];
  const seen = new Set<string>();
  const visit = async (name: string) => {
    if (seen.has(name) || builtin.has(name)) return;
    seen.add(name);
    const rel = files.get(name);
    if (!rel) throw new InitramfsError(`module ${name} is neither a file nor built in`);
    const bytes = await moduleBytes(`${modulesDir}/kernel/${rel}`);
    for (const d of moduleDepends(bytes)) await visit(d);
    order.push({ name, bytes });
  };
  for (const w of WANTED) await visit(w);
  return order;
}

/**
 * Build (or reuse) the initramfs of a kernel.
 *
 * @returns the path of the gzip'd newc cpio archive
 * @throws InitramfsError when a module or a tool is missing
 */
export async function ensureInitramfs(k: CachedKernel): Promise<string> {
  const init = await Deno.readFile(INIT);
  const busybox = await Deno.stat(BUSYBOX).catch(() => {
    throw new InitramfsError(`${BUSYBOX} is missing: apt-get install busybox-static`);
  });
  const key = new Uint8Array(
    await crypto.subtle.digest(
      "SHA-256",
      new Uint8Array([...init, ...new TextEncoder().encode(`${busybox.size}:${k.release}`)]),
    ),
  );
  const tag = Array.from(key.slice(0, 6), (b) => b.toString(16).padStart(2, "0")).join("");
  const out = `${k.root}/../initramfs-${tag}.cpio.gz`;
  try {
    await Deno.stat(out);
    return out;
  } catch { /* build it */ }

  const modulesDir = `${k.root}/lib/modules/${k.release}`;
  const order = await moduleOrder(modulesDir);
  const stage = await Deno.makeTempDir({ prefix: "osprey-initramfs-" });
  try {
    await Deno.mkdir(`${stage}/modules`, { recursive: true });
    await Deno.mkdir(`${stage}/etc`);
    await Deno.mkdir(`${stage}/dev`);
    const list: string[] = [];
    for (const [i, m] of order.entries()) {
      const name = `${String(i).padStart(2, "0")}-${m.name}.ko`;
      await Deno.writeFile(`${stage}/modules/${name}`, m.bytes);
      list.push(name);
    }
    await Deno.writeTextFile(`${stage}/modules/order`, list.join("\n") + "\n");
    await Deno.copyFile(BUSYBOX, `${stage}/busybox`);
    await Deno.writeFile(`${stage}/init`, init, { mode: 0o755 });
    await Deno.writeTextFile(`${stage}/etc/passwd`, "root:x:0:0:root:/root:/bin/sh\n");
    await Deno.writeTextFile(`${stage}/etc/group`, "root:x:0:\n");
    await Deno.writeTextFile(`${stage}/etc/hostname`, "osprey-vm\n");
    await Deno.writeTextFile(`${stage}/etc/hosts`, "127.0.0.1 localhost osprey-vm\n");
    // A fixed id per kernel: the guest is a throwaway machine, its identity need only be stable.
    const id = Array.from(key.slice(0, 16), (b) => b.toString(16).padStart(2, "0")).join("");
    await Deno.writeTextFile(`${stage}/etc/machine-id`, id + "\n");
    await Deno.copyFile("/etc/ld.so.cache", `${stage}/etc/ld.so.cache`);
    await sh(
      `cd '${stage}' && mknod dev/console c 5 1 && mknod dev/null c 1 3 && ` +
        `find . | '${BUSYBOX}' cpio -o -H newc 2>/dev/null | gzip -1 > '${out}.tmp' && mv '${out}.tmp' '${out}'`,
      "pack the initramfs",
    );
    return out;
  } finally {
    await Deno.remove(stage, { recursive: true });
  }
}
