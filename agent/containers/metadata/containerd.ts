/**
 * containerd: the OCI bundle each shim keeps under the state directory,
 * `<state>/io.containerd.runtime.v2.task/<namespace>/<id>/config.json`. In the `k8s.io`
 * namespace the CRI plugin writes the pod identity into the spec's annotations; the log path is
 * rebuilt from it under the kubelet's pod log directory.
 *
 * @module
 */

import { isSafeSegment, type LookupContext } from "./_fs.ts";
import { buildMetadata } from "./_fs.ts";
import { setKey } from "./_json.ts";
import { DEFAULT_KUBELET_POD_LOG_DIR, findKubeletLog } from "./kubelet.ts";
import { type OciConfig, parseOciConfig } from "./oci.ts";
import type { ContainerMetadata, MetadataOptions } from "./types.ts";

/** containerd state directories of the common distributions, as the host names them. */
export const DEFAULT_CONTAINERD_STATE_DIRS: readonly string[] = [
  "/run/containerd",
  "/run/k3s/containerd",
  "/run/k0s/containerd",
  "/var/snap/microk8s/common/run/containerd",
];

/** Per-namespace bundle roots inside a state directory: the v2 shims, then the legacy v1 shim. */
export const CONTAINERD_TASK_DIRS: readonly string[] = [
  "io.containerd.runtime.v2.task",
  "io.containerd.runtime.v1.linux",
];

/** The annotation names of containerd's CRI plugin. */
export const CRI_ANNOTATIONS = {
  containerType: "io.kubernetes.cri.container-type",
  containerName: "io.kubernetes.cri.container-name",
  sandboxId: "io.kubernetes.cri.sandbox-id",
  sandboxName: "io.kubernetes.cri.sandbox-name",
  sandboxNamespace: "io.kubernetes.cri.sandbox-namespace",
  sandboxUid: "io.kubernetes.cri.sandbox-uid",
  sandboxLogDir: "io.kubernetes.cri.sandbox-log-directory",
  imageName: "io.kubernetes.cri.image-name",
} as const;

/** The Kubernetes label names the registry reads, whatever the runtime calls them. */
export const KUBERNETES_LABELS = {
  podName: "io.kubernetes.pod.name",
  podNamespace: "io.kubernetes.pod.namespace",
  podUid: "io.kubernetes.pod.uid",
  containerName: "io.kubernetes.container.name",
} as const;

/** Pod identity as a Kubernetes runtime records it. */
export interface KubernetesIdentity {
  containerType?: "container" | "sandbox";
  containerName?: string;
  podName?: string;
  podNamespace?: string;
  podUid?: string;
  image?: string;
  sandboxId?: string;
}

/** What containerd's CRI annotations say. */
export interface ContainerdCriInfo extends KubernetesIdentity {
  /** `io.kubernetes.cri.sandbox-log-directory` (sandboxes only). */
  sandboxLogDir?: string;
}

function nonEmpty(v: string | undefined): string | undefined {
  return v === undefined || v.length === 0 ? undefined : v;
}

/** Reads "container" or "sandbox"; anything else is unknown. */
export function containerTypeOf(v: string | undefined): "container" | "sandbox" | undefined {
  return v === "container" || v === "sandbox" ? v : undefined;
}

/**
 * Reads the pod identity from containerd CRI annotations. Never throws: a missing annotation is
 * an absent field.
 *
 * @example
 * ```ts
 * parseContainerdCriAnnotations({ "io.kubernetes.cri.sandbox-name": "web-0" }).podName; // "web-0"
 * ```
 */
export function parseContainerdCriAnnotations(
  annotations: Readonly<Record<string, string>>,
): ContainerdCriInfo {
  const get = (k: string) => Object.hasOwn(annotations, k) ? nonEmpty(annotations[k]) : undefined;
  const out: ContainerdCriInfo = {};
  const fields: [keyof ContainerdCriInfo, string][] = [
    ["containerName", CRI_ANNOTATIONS.containerName],
    ["podName", CRI_ANNOTATIONS.sandboxName],
    ["podNamespace", CRI_ANNOTATIONS.sandboxNamespace],
    ["podUid", CRI_ANNOTATIONS.sandboxUid],
    ["image", CRI_ANNOTATIONS.imageName],
    ["sandboxId", CRI_ANNOTATIONS.sandboxId],
    ["sandboxLogDir", CRI_ANNOTATIONS.sandboxLogDir],
  ];
  for (const [field, key] of fields) {
    const v = get(key);
    if (v !== undefined) (out as Record<string, string>)[field] = v;
  }
  const type = containerTypeOf(get(CRI_ANNOTATIONS.containerType));
  if (type !== undefined) out.containerType = type;
  return out;
}

/** The `io.kubernetes.*` labels for a pod identity. */
export function kubernetesLabels(id: KubernetesIdentity): Record<string, string> {
  const labels: Record<string, string> = {};
  if (id.podName !== undefined) setKey(labels, KUBERNETES_LABELS.podName, id.podName);
  if (id.podNamespace !== undefined) {
    setKey(labels, KUBERNETES_LABELS.podNamespace, id.podNamespace);
  }
  if (id.podUid !== undefined) setKey(labels, KUBERNETES_LABELS.podUid, id.podUid);
  if (id.containerName !== undefined) {
    setKey(labels, KUBERNETES_LABELS.containerName, id.containerName);
  }
  return labels;
}

/** A bundle spec found on disk. */
export interface FoundBundle {
  file: string;
  namespace: string;
  spec: OciConfig;
}

/**
 * Finds a container's bundle `config.json` in the state directories, trying the preferred
 * namespaces first, then every other namespace in name order.
 */
export async function findContainerdBundle(
  ctx: LookupContext,
  stateDirs: readonly string[],
  preferred: readonly string[],
): Promise<FoundBundle | undefined> {
  for (const stateDir of stateDirs) {
    for (const taskDir of CONTAINERD_TASK_DIRS) {
      const base = ctx.host(`${stateDir}/${taskDir}`);
      const listed = await ctx.list(base);
      if (listed === undefined) continue;
      const order = [
        ...preferred.filter((n) => listed.includes(n)),
        ...listed.filter((n) => !preferred.includes(n)).sort(),
      ];
      for (const namespace of order) {
        if (!isSafeSegment(namespace)) continue;
        const file = `${base}/${namespace}/${ctx.id}/config.json`;
        const spec = await ctx.read(file, parseOciConfig);
        if (spec !== undefined) return { file, namespace, spec };
      }
    }
  }
  return undefined;
}

/** Looks a containerd container up by id. */
export async function lookupContainerd(
  ctx: LookupContext,
  opts: MetadataOptions,
): Promise<ContainerMetadata> {
  const stateDirs = opts.containerdStateDirs ?? DEFAULT_CONTAINERD_STATE_DIRS;
  const found = await findContainerdBundle(ctx, stateDirs, ["k8s.io", "moby"]);
  if (found === undefined) {
    const where = stateDirs.map((d) => `${d}/${CONTAINERD_TASK_DIRS[0]}/*/${ctx.id}`).join(", ");
    throw ctx.error(
      "not_found",
      `No containerd bundle config.json for "${ctx.id}" under ${where}`,
      ctx.host(
        `${stateDirs[0] ?? "/run/containerd"}/${
          CONTAINERD_TASK_DIRS[0]
        }/k8s.io/${ctx.id}/config.json`,
      ),
    );
  }
  const { spec, namespace } = found;
  const cri = parseContainerdCriAnnotations(spec.annotations);
  const labels = kubernetesLabels(cri);
  let logPath: string | undefined;
  let name: string | undefined;
  if (cri.containerType !== "sandbox" && cri.containerName !== undefined) {
    name = cri.containerName;
    if (cri.podNamespace !== undefined && cri.podName !== undefined && cri.podUid !== undefined) {
      logPath = await findKubeletLog(ctx, {
        namespace: cri.podNamespace,
        pod: cri.podName,
        uid: cri.podUid,
        container: cri.containerName,
      }, opts.kubeletPodLogDir ?? DEFAULT_KUBELET_POD_LOG_DIR);
    } else {
      ctx.note("CRI annotations lack the pod namespace, name or uid: no kubelet log path");
    }
  } else if (namespace === "k8s.io" && cri.containerType === undefined) {
    ctx.note(`bundle in namespace "k8s.io" has no ${CRI_ANNOTATIONS.containerType} annotation`);
  }
  return buildMetadata(ctx, {
    name,
    image: cri.image,
    labels,
    env: spec.env,
    logPath,
    logFormat: logPath === undefined ? undefined : "cri",
    mounts: spec.mounts,
    annotations: spec.annotations,
    containerType: cri.containerType,
    namespace,
  });
}
