/**
 * Boots a Debian kernel under `qemu-system-x86_64` (TCG: software emulation, one CPU) with the
 * checkout shared read-only over 9p, runs a shell script inside the guest from the checkout, and
 * streams the serial console back. QEMU's user-mode network is `restrict=on`: the guest reaches
 * nothing outside (no cloud metadata, no registry), and only the forwarded port connects in.
 *
 * `deno task dev:vm [--kernel=6.1] [--listen=127.0.0.1:9100] [-- agent flags]` runs the agent in
 * the guest on 0.0.0.0:9100, forwarded to `--listen` on the host. Ctrl-C stops the VM.
 *
 * @module
 */
import { type CachedKernel, ensureKernel, KERNELS, type KernelSeries } from "./kernels.ts";
import { ensureInitramfs } from "./initramfs.ts";

/** The checkout this file belongs to. */
export const REPO = new URL("../../", import.meta.url).pathname.replace(/\/$/, "");

/** Options of {@linkcode bootVm}. */
export interface VmOptions {
  kernel: KernelSeries;
  /** The script init runs in the guest, with the checkout as its working directory. */
  script: string;
  /** Host `addr:port` forwarded to the guest's `guestPort` (none when absent). */
  forward?: string;
  /** Guest TCP port behind `forward` (default 9100). */
  guestPort?: number;
  /** Guest memory in MiB (default 1024). */
  memoryMiB?: number;
  /** Extra kernel command-line words. */
  append?: string[];
  /** Called with each console line (default: written to stderr). */
  onLine?: (line: string) => void;
  /** Kill the VM after this long (default: never). */
  timeoutMs?: number;
  /**
   * Called once QEMU runs, with the host path of the guest's `/run/ctl` (a file written there,
   * say `stop`, is how a caller signals the guest script).
   */
  onStart?: (ctl: string) => void;
}

/** How a VM run ended. */
export interface VmResult {
  kernel: CachedKernel;
  /** The script's exit code, or -1 when the guest stopped without writing it. */
  code: number;
  /** QEMU spawned → init reports its mounts done, ms; -1 if never seen. */
  bootMs: number;
  /** QEMU spawned → QEMU exited, ms. */
  totalMs: number;
  timedOut: boolean;
  /** Every file the guest left in `/run/ctl` (besides run.sh and rc), by name. */
  files: Record<string, string>;
}

/** QEMU could not be started (not installed: `apt-get install qemu-system-x86`). */
export class VmStartError extends Error {
  override name = "VmStartError";
}

/**
 * Boot, run the script, power off. The VM is killed when `timeoutMs` passes, and always before
 * this returns or throws.
 *
 * @throws VmStartError when qemu-system-x86_64 cannot be spawned
 * @throws KernelFetchError / InitramfsError when the kernel or root cannot be prepared
 */
export async function bootVm(o: VmOptions): Promise<VmResult> {
  const kernel = await ensureKernel(o.kernel);
  const initrd = await ensureInitramfs(kernel);
  const ctl = await Deno.makeTempDir({ prefix: "osprey-vm-ctl-" });
  const denoDir = Deno.execPath().replace(/\/[^/]*$/, "");
  await Deno.writeTextFile(`${ctl}/run.sh`, o.script);
  const onLine = o.onLine ?? ((l: string) => console.error(l));
  let net = "user,id=n0,restrict=on";
  if (o.forward) {
    const i = o.forward.lastIndexOf(":");
    const addr = o.forward.slice(0, i).replace(/^\[|\]$/g, "") || "127.0.0.1";
    net += `,hostfwd=tcp:${addr}:${o.forward.slice(i + 1)}-:${o.guestPort ?? 9100}`;
  }
  const share = (tag: string, path: string, ro: boolean) => [
    "-fsdev",
    `local,id=${tag},path=${path},security_model=none${ro ? ",readonly=on" : ""}`,
    "-device",
    `virtio-9p-pci,fsdev=${tag},mount_tag=${tag}`,
  ];
  const args = [
    "-machine",
    "pc,accel=tcg",
    "-cpu",
    "max",
    "-smp",
    "1",
    "-m",
    String(o.memoryMiB ?? 1024),
    "-display",
    "none",
    "-monitor",
    "none",
    "-serial",
    "stdio",
    "-no-reboot",
    "-kernel",
    kernel.vmlinuz,
    "-initrd",
    initrd,
    "-append",
    [
      "console=ttyS0",
      "panic=-1",
      "loglevel=4",
      `osprey.repo=${REPO}`,
      `osprey.deno=${denoDir}`,
      ...(o.append ?? []),
    ].join(" "),
    "-netdev",
    net,
    "-device",
    "virtio-net-pci,netdev=n0",
    ...share("usr", "/usr", true),
    ...share("repo", REPO, true),
    ...share("denobin", denoDir, true),
    ...share("ctl", ctl, false),
  ];
  const t0 = performance.now();
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command("qemu-system-x86_64", {
      args,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
  } catch (e) {
    await Deno.remove(ctl, { recursive: true });
    throw new VmStartError(`start qemu-system-x86_64 (apt-get install qemu-system-x86): ${e}`, {
      cause: e,
    });
  }
  o.onStart?.(ctl);
  let bootMs = -1;
  let timedOut = false;
  const timer = o.timeoutMs === undefined ? undefined : setTimeout(() => {
    timedOut = true;
    try {
      child.kill("SIGKILL");
    } catch { /* already gone */ }
  }, o.timeoutMs);
  const pump = async (stream: ReadableStream<Uint8Array>, prefix: string) => {
    const dec = new TextDecoder();
    let buf = "";
    for await (const chunk of stream) {
      buf += dec.decode(chunk, { stream: true });
      let nl;
      while ((nl = buf.indexOf("\n")) >= 0) {
        const line = buf.slice(0, nl).replace(/\r$/, "");
        buf = buf.slice(nl + 1);
        if (bootMs < 0 && line.startsWith("init: up in ")) bootMs = performance.now() - t0;
        onLine(prefix + line);
      }
    }
    if (buf) onLine(prefix + buf);
  };
  try {
    await Promise.all([pump(child.stdout, ""), pump(child.stderr, "qemu: "), child.status]);
    let code = -1;
    try {
      code = Number((await Deno.readTextFile(`${ctl}/rc`)).trim());
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    }
    const files: Record<string, string> = {};
    for await (const e of Deno.readDir(ctl)) {
      if (e.isFile && e.name !== "run.sh" && e.name !== "rc") {
        files[e.name] = await Deno.readTextFile(`${ctl}/${e.name}`);
      }
    }
    return { kernel, code, bootMs, totalMs: performance.now() - t0, timedOut, files };
  } finally {
    clearTimeout(timer);
    try {
      child.kill("SIGKILL");
    } catch { /* exited */ }
    await Deno.remove(ctl, { recursive: true });
  }
}

function shellQuote(s: string): string {
  return `'${s.replaceAll("'", `'\\''`)}'`;
}

/** The guest script of `dev:vm`: the agent as `deno task start` runs it, on 0.0.0.0:port. */
export function agentScript(port: number, agentArgs: string[]): string {
  return [
    "sh agent/host_view.sh",
    "# a heartbeat: one short process every 5 s, so process events flow on an idle guest",
    "(while :; do /bin/sleep 5; done) &",
    "export MALLOC_ARENA_MAX=2 MALLOC_MMAP_THRESHOLD_=131072",
    "exec deno run -P=agent --v8-flags=--max-semi-space-size=1,--expose-gc agent/main.ts " +
    [`--listen=0.0.0.0:${port}`, ...agentArgs].map(shellQuote).join(" "),
  ].join("\n") + "\n";
}

if (import.meta.main) {
  let kernel: KernelSeries = "6.1";
  let listen = "127.0.0.1:9100";
  const rest: string[] = [];
  for (const a of Deno.args) {
    if (a.startsWith("--kernel=")) {
      const k = a.slice(9);
      if (!KERNELS.some((s) => s.series === k)) {
        console.error(`dev:vm: --kernel must be one of ${KERNELS.map((s) => s.series).join(", ")}`);
        Deno.exit(2);
      }
      kernel = k as KernelSeries;
    } else if (a.startsWith("--listen=")) listen = a.slice(9);
    else if (a !== "--") rest.push(a);
  }
  console.error(`dev:vm: booting Debian ${kernel} under TCG; agent at http://${listen}/metrics`);
  const r = await bootVm({ kernel, script: agentScript(9100, rest), forward: listen });
  console.error(
    `dev:vm: ${r.kernel.release}: boot ${(r.bootMs / 1000).toFixed(1)} s, ` +
      `ran ${(r.totalMs / 1000).toFixed(1)} s, exit ${r.code}`,
  );
  Deno.exit(r.code < 0 ? 1 : r.code);
}
