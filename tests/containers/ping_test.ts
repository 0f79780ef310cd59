/**
 * The pinger with a real Podman container as the source namespace: libosprey
 * enters the container's network namespace through its main process's
 * `/proc/<pid>/ns/net` (the host view under /run/osprey/host when it exists,
 * as the agent would) and pings the container's own loopback, over raw
 * sockets, and over ICMP datagram sockets where the container's
 * net.ipv4.ping_group_range allows them (Docker sets it so by default; Podman
 * 4.3 leaves it closed unless asked). The containers have no network
 * (`--network none`): nothing leaves them.
 *
 * Needs root, podman, runc, busybox-static, gcc + libc6-dev and the built
 * libosprey. Run: `deno test -A tests/containers/ping_test.ts`.
 *
 * @module
 */
import { deepEqual, equal, ok } from "node:assert/strict";
import { defaultLibraryPath, openLibrary, type PingResult } from "../../ffi/mod.ts";
import { containerPid, ContainerScope, podmanIgnoreReason } from "./podman.ts";
import { ensureTestImage } from "./rootfs.ts";

function libReason(): string {
  const lib = defaultLibraryPath();
  try {
    if (lib && Deno.statSync(lib).isFile) return "";
  } catch { /* missing */ }
  return "libosprey not built (deno task build)";
}
const IGNORE_REASON = podmanIgnoreReason() || libReason();
if (IGNORE_REASON) console.warn(`tests/containers/ping_test.ts ignored: ${IGNORE_REASON}`);

/** The container's network namespace file, as the agent would name it. */
function netnsPath(pid: number): string {
  const view = `/run/osprey/host/proc/${pid}/ns/net`;
  try {
    Deno.statSync(view);
    return view;
  } catch {
    return `/proc/${pid}/ns/net`;
  }
}

function rtt(r: PingResult): number {
  if ("error" in r) throw new Error(`${r.address}: expected a reply, got ${r.error}`);
  return r.rttSeconds;
}

Deno.test({
  name: "ping() from inside a Podman container's network namespace, raw and datagram",
  ignore: IGNORE_REASON !== "",
  async fn() {
    const { image } = await ensureTestImage();
    const scope = new ContainerScope();
    using lib = openLibrary();
    try {
      const closed = await scope.run("ping", { image, cmd: ["sleep", "3600"] });
      const open = await scope.run("ping", {
        image,
        cmd: ["sleep", "3600"],
        extra: ["--sysctl", "net.ipv4.ping_group_range=0 0"],
      });
      const closedNs = netnsPath(await containerPid(closed));
      const openNs = netnsPath(await containerPid(open));
      ok(Deno.statSync(closedNs).ino !== Deno.statSync("/proc/self/ns/net").ino);

      const raw = await lib.ping(closedNs, ["127.0.0.1", "::1"], { timeoutMs: 2000 });
      for (const r of raw) {
        const s = rtt(r);
        ok(s > 0 && s < 1, `${r.address}: ${s} s`);
        equal("socket" in r && r.socket, "raw");
      }

      deepEqual(await lib.ping(closedNs, ["127.0.0.1", "::1"], { datagramOnly: true }), [
        { address: "127.0.0.1", error: "EPERM", errno: 1, sent: false },
        { address: "::1", error: "EPERM", errno: 1, sent: false },
      ]);
      const dgram = await lib.ping(openNs, ["127.0.0.1", "::1"], {
        datagramOnly: true,
        timeoutMs: 2000,
      });
      for (const r of dgram) {
        const s = rtt(r);
        ok(s > 0 && s < 1, `${r.address}: ${s} s`);
        equal("socket" in r && r.socket, "datagram");
      }
    } finally {
      await scope.cleanup();
    }
  },
});
