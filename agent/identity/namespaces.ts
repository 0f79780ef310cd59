/**
 * Whether the agent shares a Linux namespace with the host's init (PID 1 of `<proc>`).
 *
 * `<proc>/<pid>/ns/<kind>` is a magic link whose text, `uts:[4026531838]`, names the namespace
 * by inode; two processes are in the same namespace exactly when the texts are equal. Reading
 * PID 1's links needs ptrace-read access to it (root, or CAP_SYS_PTRACE), so the answer can be
 * "unknown". Under the Landlock sandbox another process's links come from the procfs broker.
 *
 * @module
 */
import type { HostPaths } from "../paths.ts";
import { under } from "../paths.ts";
import { procBrokerFor } from "../self/proc_broker.ts";

/** The namespace kinds the agent compares. */
export type NamespaceKind = "net" | "uts" | "mnt" | "pid";

/** Reads `<proc>/<pid>/ns/<kind>`, or undefined when it cannot be read. */
export async function namespaceOf(
  paths: HostPaths,
  pid: "self" | number,
  kind: NamespaceKind,
): Promise<string | undefined> {
  try {
    const broker = pid === "self" ? undefined : procBrokerFor(paths.proc);
    if (broker !== undefined) return broker.namespaceLink(pid as number, kind);
    return await Deno.readLink(under(paths.proc, `${pid}/ns/${kind}`));
  } catch {
    return undefined;
  }
}

/**
 * True when the agent is in PID 1's namespace of this kind, false when it is not, undefined when
 * either link cannot be read.
 */
export async function sharesHostNamespace(
  paths: HostPaths,
  kind: NamespaceKind,
): Promise<boolean | undefined> {
  const [own, host] = await Promise.all([
    namespaceOf(paths, "self", kind),
    namespaceOf(paths, 1, kind),
  ]);
  if (own === undefined || host === undefined) return undefined;
  return own === host;
}

/** Inode of a namespace link's text (`net:[4026531840]`), 0 when it is not one. */
export function namespaceInode(link: string): number {
  const m = /^[a-z]+:\[(\d+)\]$/.exec(link);
  return m ? Number(m[1]) : 0;
}

/**
 * Inode of `<proc>/<pid>/ns/net` (the network namespace), 0 when it cannot be read (the
 * process is gone, or `<proc>/1` refuses even root in some sandboxes). Another process's link
 * goes through the procfs broker when the agent has one (agent/self/proc_broker.ts).
 */
export function netNamespaceInode(paths: HostPaths, pid: number | "self"): number {
  try {
    const broker = pid === "self" ? undefined : procBrokerFor(paths.proc);
    if (broker !== undefined) return namespaceInode(broker.namespaceLink(pid as number, "net"));
    return namespaceInode(Deno.readLinkSync(under(paths.proc, `${pid}/ns/net`)));
  } catch {
    return 0;
  }
}
