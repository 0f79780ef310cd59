/**
 * CRI-O: the OCI spec it saves in c/storage's container directory,
 * `<storage>/overlay-containers/<id>/userdata/config.json`, whose `io.kubernetes.cri-o.*`
 * annotations carry the pod identity, the image name and the CRI log path.
 *
 * @module
 */

import { buildMetadata, isSafeSegment, type LookupContext } from "./_fs.ts";
import { isObject, parseJson, setKey, str, strMap } from "./_json.ts";
import {
  containerTypeOf,
  KUBERNETES_LABELS,
  type KubernetesIdentity,
  kubernetesLabels,
} from "./containerd.ts";
import { DEFAULT_KUBELET_POD_LOG_DIR, findKubeletLog } from "./kubelet.ts";
import { parseOciConfig } from "./oci.ts";
import {
  type ContainerMetadata,
  type ContainerMount,
  type MetadataOptions,
  MetadataParseError,
} from "./types.ts";

/** CRI-O's default c/storage graph root and run root, as the host names them. */
export const DEFAULT_CRIO_ROOTS: readonly string[] = [
  "/var/lib/containers/storage",
  "/run/containers/storage",
];

/** The annotation names CRI-O writes into a container's OCI spec. */
export const CRIO_ANNOTATIONS = {
  containerType: "io.kubernetes.cri-o.ContainerType",
  containerName: "io.kubernetes.cri-o.ContainerName",
  labels: "io.kubernetes.cri-o.Labels",
  metadata: "io.kubernetes.cri-o.Metadata",
  annotations: "io.kubernetes.cri-o.Annotations",
  image: "io.kubernetes.cri-o.Image",
  imageName: "io.kubernetes.cri-o.ImageName",
  imageRef: "io.kubernetes.cri-o.ImageRef",
  logPath: "io.kubernetes.cri-o.LogPath",
  sandboxId: "io.kubernetes.cri-o.SandboxID",
  sandboxName: "io.kubernetes.cri-o.SandboxName",
  kubeName: "io.kubernetes.cri-o.KubeName",
  namespace: "io.kubernetes.cri-o.Namespace",
  created: "io.kubernetes.cri-o.Created",
  volumes: "io.kubernetes.cri-o.Volumes",
} as const;

/** What CRI-O's annotations say about a container. */
export interface CrioInfo extends KubernetesIdentity {
  /** The CRI labels (`io.kubernetes.cri-o.Labels`), which hold the pod identity. */
  labels: Record<string, string>;
  /** The kubelet's annotations (`io.kubernetes.cri-o.Annotations`). */
  kubeAnnotations: Record<string, string>;
  /** The CRI name, e.g. "k8s_web_web-0_default_<uid>_0". */
  criName?: string;
  logPath?: string;
  created?: string;
  /** `io.kubernetes.cri-o.Volumes`: the CRI volume mounts. */
  volumes: ContainerMount[];
}

function jsonAnnotation(annotations: Readonly<Record<string, string>>, key: string): unknown {
  if (!Object.hasOwn(annotations, key)) return undefined;
  const text = annotations[key];
  if (text === undefined || text.length === 0) return undefined;
  return parseJson(text, `CRI-O annotation ${key}`);
}

/**
 * Reads CRI-O's annotations. Throws {@linkcode MetadataParseError} when one of its JSON
 * annotations (Labels, Metadata, Annotations, Volumes) is not valid JSON of the right shape.
 */
export function parseCriOAnnotations(annotations: Readonly<Record<string, string>>): CrioInfo {
  const get = (k: string) => {
    const v = Object.hasOwn(annotations, k) ? annotations[k] : undefined;
    return v === undefined || v.length === 0 ? undefined : v;
  };
  const labelsJson = jsonAnnotation(annotations, CRIO_ANNOTATIONS.labels);
  if (labelsJson !== undefined && !isObject(labelsJson)) {
    throw new MetadataParseError(`CRI-O annotation ${CRIO_ANNOTATIONS.labels}`, "not an object");
  }
  const labels = strMap(labelsJson);
  const meta = jsonAnnotation(annotations, CRIO_ANNOTATIONS.metadata);
  if (meta !== undefined && !isObject(meta)) {
    throw new MetadataParseError(`CRI-O annotation ${CRIO_ANNOTATIONS.metadata}`, "not an object");
  }
  const kubeJson = jsonAnnotation(annotations, CRIO_ANNOTATIONS.annotations);
  const kubeAnnotations = strMap(kubeJson);
  const volumes: ContainerMount[] = [];
  const volumesJson = jsonAnnotation(annotations, CRIO_ANNOTATIONS.volumes);
  if (Array.isArray(volumesJson)) {
    for (const v of volumesJson) {
      if (!isObject(v)) continue;
      const destination = str(v.container_path);
      const source = str(v.host_path);
      if (destination !== undefined && source !== undefined) {
        volumes.push({ destination, source, type: "bind" });
      }
    }
  }
  const metaObj = isObject(meta) ? meta : {};
  const label = (k: string) => Object.hasOwn(labels, k) ? str(labels[k]) : undefined;
  const type = containerTypeOf(get(CRIO_ANNOTATIONS.containerType));
  const out: CrioInfo = { labels, kubeAnnotations, volumes };
  if (type !== undefined) out.containerType = type;
  const containerName = label(KUBERNETES_LABELS.containerName) ??
    (type === "sandbox" ? undefined : str(metaObj.name));
  const podName = label(KUBERNETES_LABELS.podName) ?? get(CRIO_ANNOTATIONS.kubeName) ??
    (type === "sandbox" ? str(metaObj.name) : undefined);
  const podNamespace = label(KUBERNETES_LABELS.podNamespace) ?? get(CRIO_ANNOTATIONS.namespace) ??
    str(metaObj.namespace);
  const podUid = label(KUBERNETES_LABELS.podUid) ?? str(metaObj.uid);
  const set: [keyof CrioInfo, string | undefined][] = [
    ["containerName", containerName],
    ["podName", podName],
    ["podNamespace", podNamespace],
    ["podUid", podUid],
    ["image", get(CRIO_ANNOTATIONS.imageName) ?? get(CRIO_ANNOTATIONS.image)],
    ["sandboxId", get(CRIO_ANNOTATIONS.sandboxId)],
    ["criName", get(CRIO_ANNOTATIONS.containerName)],
    ["logPath", get(CRIO_ANNOTATIONS.logPath)],
    ["created", get(CRIO_ANNOTATIONS.created)],
  ];
  for (const [field, value] of set) {
    if (value !== undefined) (out as unknown as Record<string, string>)[field] = value;
  }
  return out;
}

/**
 * The container directories of a c/storage root: `overlay-containers` first, then any other
 * `<driver>-containers` present (vfs, btrfs, zfs).
 */
export async function storageContainerDirs(ctx: LookupContext, root: string): Promise<string[]> {
  const names = await ctx.list(root);
  if (names === undefined) return [];
  const dirs = names.filter((n) => n.endsWith("-containers") && isSafeSegment(n)).sort();
  const i = dirs.indexOf("overlay-containers");
  if (i > 0) dirs.unshift(...dirs.splice(i, 1));
  return dirs.map((d) => `${root}/${d}`);
}

/** Looks a CRI-O container up by id. */
export async function lookupCrio(
  ctx: LookupContext,
  opts: MetadataOptions,
): Promise<ContainerMetadata> {
  const roots = opts.crioRoots ?? DEFAULT_CRIO_ROOTS;
  let file: string | undefined;
  let spec: ReturnType<typeof parseOciConfig> | undefined;
  search: for (const root of roots) {
    for (const dir of await storageContainerDirs(ctx, ctx.host(root))) {
      const candidate = `${dir}/${ctx.id}/userdata/config.json`;
      spec = await ctx.read(candidate, parseOciConfig);
      if (spec !== undefined) {
        file = candidate;
        break search;
      }
    }
  }
  if (spec === undefined || file === undefined) {
    throw ctx.error(
      "not_found",
      `No CRI-O config.json for "${ctx.id}" under ${
        roots.map((r) => `${r}/*-containers/${ctx.id}/userdata`).join(", ")
      }`,
      ctx.host(
        `${roots[0] ?? DEFAULT_CRIO_ROOTS[0]}/overlay-containers/${ctx.id}/userdata/config.json`,
      ),
    );
  }
  const specFile = file;
  const annotations = spec.annotations;
  const info = ctx.guard(specFile, () => parseCriOAnnotations(annotations));
  const labels: Record<string, string> = { ...info.labels };
  for (const [k, v] of Object.entries(kubernetesLabels(info))) setKey(labels, k, v);
  const sandbox = info.containerType === "sandbox";
  let logPath = sandbox ? undefined : info.logPath;
  if (logPath === undefined && !sandbox) {
    if (
      info.podNamespace !== undefined && info.podName !== undefined &&
      info.podUid !== undefined && info.containerName !== undefined
    ) {
      logPath = await findKubeletLog(ctx, {
        namespace: info.podNamespace,
        pod: info.podName,
        uid: info.podUid,
        container: info.containerName,
      }, opts.kubeletPodLogDir ?? DEFAULT_KUBELET_POD_LOG_DIR);
    }
  }
  const mounts = [...spec.mounts];
  for (const v of info.volumes) {
    if (!mounts.some((m) => m.destination === v.destination)) mounts.push(v);
  }
  return buildMetadata(ctx, {
    name: sandbox ? undefined : info.containerName,
    image: info.image,
    labels,
    env: spec.env,
    logPath,
    logFormat: logPath === undefined ? undefined : "cri",
    mounts,
    annotations: spec.annotations,
    containerType: info.containerType,
    createdAt: info.created,
  });
}
