/**
 * The kubelet's pod log directories: `<dir>/<namespace>_<pod>_<uid>/<container>/<restart>.log`.
 * containerd keeps a CRI container's log path only in its metadata database, so the path is
 * rebuilt from the pod identity found in the OCI annotations.
 *
 * @module
 */

import type { LookupContext } from "./_fs.ts";
import { isSafeSegment } from "./_fs.ts";

/** The kubelet's default pod log directory, as the host names it. */
export const DEFAULT_KUBELET_POD_LOG_DIR = "/var/log/pods";

const RESTART_LOG_REGEXP = /^(\d{1,9})\.log$/;

/**
 * Picks the current log among a container directory's entries: the `<n>.log` with the highest
 * restart number. Rotated (`0.log.20240102-030405`), compressed and other files are ignored.
 *
 * @example
 * ```ts
 * pickCriLogFile(["0.log", "1.log", "1.log.20240102-030405.gz", "10.log"]); // "10.log"
 * ```
 */
export function pickCriLogFile(names: Iterable<string>): string | undefined {
  let best: string | undefined;
  let bestN = -1;
  for (const name of names) {
    const m = RESTART_LOG_REGEXP.exec(name);
    if (m === null) continue;
    const n = Number(m[1]);
    if (n > bestN) {
      bestN = n;
      best = name;
    }
  }
  return best;
}

/** The pod identity that names a kubelet log directory. */
export interface PodLogIdentity {
  namespace: string;
  pod: string;
  uid: string;
  container: string;
}

/** The pod's log directory name: `<namespace>_<pod>_<uid>`. */
export function podLogDirName(id: Omit<PodLogIdentity, "container">): string {
  return `${id.namespace}_${id.pod}_${id.uid}`;
}

/**
 * Finds the container's current CRI log under the kubelet pod log directory. Returns the host
 * path ("/var/log/pods/..."), or undefined with a note on the context.
 */
export async function findKubeletLog(
  ctx: LookupContext,
  pod: PodLogIdentity,
  podLogDir: string = DEFAULT_KUBELET_POD_LOG_DIR,
): Promise<string | undefined> {
  const podDir = podLogDirName(pod);
  if (!isSafeSegment(podDir) || !isSafeSegment(pod.container)) {
    ctx.note(`pod identity "${podDir}/${pod.container}" is not a usable log directory name`);
    return undefined;
  }
  const base = podLogDir.endsWith("/") ? podLogDir.slice(0, -1) : podLogDir;
  const hostDir = `${base}/${podDir}/${pod.container}`;
  const names = await ctx.list(ctx.host(hostDir));
  if (names === undefined) {
    ctx.note(`no kubelet log directory "${hostDir}"`);
    return undefined;
  }
  const file = pickCriLogFile(names);
  if (file === undefined) {
    ctx.note(`no <restart>.log in kubelet log directory "${hostDir}"`);
    return undefined;
  }
  return `${hostDir}/${file}`;
}
