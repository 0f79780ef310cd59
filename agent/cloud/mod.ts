/**
 * The cloud module: which cloud, account, instance, type, life cycle, region and zone the node
 * is in (reference §7), for `node_cloud_info` (§2.1) and the `az`/`region` labels of container
 * series (§1.4).
 *
 * - **Detection** reads sysfs only (`detect.ts`): the hypervisor UUID and the DMI vendor
 *   fields under `<sys>/class/dmi/id`. When they name no provider, the module asks nothing of
 *   any network, ever; `--provider` only sets the label (as in the reference).
 * - **One client per provider** (`aws.ts`, `gcp.ts`, `azure.ts`, `hetzner.ts`,
 *   `digitalocean.ts`, `alibaba.ts`, `scaleway.ts`, `ibm.ts`, `oracle.ts`), each around pure
 *   parsers of the documented answers, all through `http_client.ts` (`node:http`, a 5 s
 *   deadline per request, no proxy, no keep-alive).
 * - **In the background** (`refresher.ts`): the first round starts with the module and nothing
 *   waits for it; good rounds every 10 minutes, failed ones retried from 30 s; the last good
 *   answer is kept on failure.
 * - **Overrides** (`--provider`, `--region`, `--availability-zone`, `--instance-type`,
 *   `--instance-life-cycle`) win over discovered values; they are applied by
 *   {@linkcode configureCloud} at start, whether or not the module runs.
 * - **Least privilege:** the module needs net on the metadata addresses only (169.254.169.254,
 *   100.100.100.200, 169.254.42.42, api.metadata.cloud.ibm.com) and read on the DMI files;
 *   without them it is off and the start-up table names the flag.
 *
 * @module
 */
import type { FlagSpec, FlagValues } from "../flags.ts";
import type { Logger } from "../log.ts";
import type { Registry } from "../metrics/mod.ts";
import type { ModuleSpec, PermissionNeed } from "../modules.ts";
import { alibabaClient } from "./alibaba.ts";
import { awsClient } from "./aws.ts";
import { azureClient } from "./azure.ts";
import type { ProviderClient } from "./client.ts";
import { dmiPaths, providerFromDmi, readDmiFacts } from "./detect.ts";
import type { Provider } from "./detect.ts";
import { digitalOceanClient } from "./digitalocean.ts";
import { gcpClient } from "./gcp.ts";
import { hetznerClient } from "./hetzner.ts";
import type { CloudMetadataHub } from "./hub.ts";
import { cloudMetadata } from "./hub.ts";
import { nodeMetadataHttp } from "./http_client.ts";
import type { MetadataHttp } from "./http_client.ts";
import { IBM_METADATA_HOST, ibmClient } from "./ibm.ts";
import type { CloudOverrides, ZoneLabels } from "./info.ts";
import { zoneLabels } from "./info.ts";
import { oracleClient } from "./oracle.ts";
import { scalewayClient } from "./scaleway.ts";
import { cloudMetrics, CloudRefresher } from "./refresher.ts";

export { cloudMetadata, CloudMetadataHub } from "./hub.ts";
export {
  applyOverrides,
  CLOUD_INFO_LABELS,
  cloudInfo,
  emptyCloudInfo,
  zoneLabels,
} from "./info.ts";
export type { CloudInfo, CloudOverrides, ZoneLabels } from "./info.ts";
export { providerFromDmi, PROVIDERS } from "./detect.ts";
export type { DmiFacts, Provider } from "./detect.ts";
export { CloudMetadataError } from "./http_client.ts";
export type {
  FailureReason,
  MetadataHttp,
  MetadataRequest,
  MetadataResponse,
} from "./http_client.ts";
export { REFRESH_MS, REQUEST_TIMEOUT_MS, RETRY_MIN_MS } from "./refresher.ts";

const GROUP = "Cloud metadata";

/** The name of the flag that points every client at one base URL (tests). */
export const BASE_URL_FLAG = "cloud-metadata-base-url";

function checkBaseUrl(text: string): string | undefined {
  if (text === "") return undefined;
  if (!URL.canParse(text)) return "not an absolute URL";
  const u = new URL(text);
  if (u.protocol !== "http:" && u.protocol !== "https:") return "not an http or https URL";
  if (u.search !== "" || u.hash !== "" || u.username !== "") {
    return "has a query, fragment or user";
  }
  return undefined;
}

/** The module's flags: the reference's five overrides, and the base URL for tests. */
export const CLOUD_FLAGS: readonly FlagSpec[] = [
  {
    name: "provider",
    env: "PROVIDER",
    kind: "string",
    help: "The provider label of node_cloud_info, instead of the one found (does not choose " +
      "which metadata service is asked)",
    group: GROUP,
  },
  {
    name: "region",
    env: "REGION",
    kind: "string",
    help: "The region label of node_cloud_info and of container series, instead of the one found",
    group: GROUP,
  },
  {
    name: "availability-zone",
    env: "AVAILABILITY_ZONE",
    kind: "string",
    help: "The availability_zone label of node_cloud_info (az of container series), instead of " +
      "the one found",
    group: GROUP,
  },
  {
    name: "instance-type",
    env: "INSTANCE_TYPE",
    kind: "string",
    help: "The instance_type label of node_cloud_info, instead of the one found",
    group: GROUP,
  },
  {
    name: "instance-life-cycle",
    env: "INSTANCE_LIFE_CYCLE",
    kind: "string",
    help: "The instance_life_cycle label of node_cloud_info, instead of the one found",
    group: GROUP,
  },
  {
    name: BASE_URL_FLAG,
    env: "CLOUD_METADATA_BASE_URL",
    kind: "string",
    check: checkBaseUrl,
    accepts: "an http or https URL without query",
    help: "For tests: send every metadata request to this base URL instead of the detected " +
      "provider's address (it must be granted with --allow-net)",
    group: GROUP,
  },
];

/** The overrides the flags set. */
export function cloudOverrides(flags: FlagValues): CloudOverrides {
  const s = (n: string) => String(flags[n] ?? "");
  return {
    provider: s("provider"),
    region: s("region"),
    availabilityZone: s("availability-zone"),
    instanceType: s("instance-type"),
    instanceLifeCycle: s("instance-life-cycle"),
  };
}

/** The families that carry `az` and `region`: every container series and `ip_to_fqdn` (§1.4). */
export function isContainerFamily(name: string): boolean {
  return name.startsWith("container_") || name === "ip_to_fqdn";
}

/**
 * Keeps the registry's scoped labels `{az, region}` on the container families in step with
 * the hub: set while both are known, removed otherwise; re-rendered only when they change.
 * Returns the function that stops following the hub.
 */
export function bindZoneLabels(
  registry: Registry,
  hub: CloudMetadataHub,
  log?: Logger,
): () => void {
  let current: ZoneLabels | undefined;
  const apply = () => {
    const z = zoneLabels(hub.info());
    if (z?.az === current?.az && z?.region === current?.region) return;
    try {
      registry.setScopedConstLabels(isContainerFamily, z ? { az: z.az, region: z.region } : {});
      current = z;
      log?.info("container series labels", { az: z?.az ?? "", region: z?.region ?? "" });
    } catch (err) {
      log?.error("cannot label container series with az and region", { error: err });
    }
  };
  apply();
  return hub.subscribe(apply);
}

/**
 * What the agent does with the cloud flags at start, before any module: the overrides go to
 * the hub (so `node_cloud_info` and the container labels use them even when the cloud module
 * is off), and the container families follow the hub's `az`/`region`.
 */
export function configureCloud(
  flags: FlagValues,
  registry: Registry,
  opts: { hub?: CloudMetadataHub; log?: Logger } = {},
): () => void {
  const hub = opts.hub ?? cloudMetadata;
  hub.setOverrides(cloudOverrides(flags));
  return bindZoneLabels(registry, hub, opts.log);
}

const CLIENTS: Readonly<Record<Provider, ProviderClient>> = {
  AWS: awsClient,
  GCP: gcpClient,
  Azure: azureClient,
  Hetzner: hetznerClient,
  DigitalOcean: digitalOceanClient,
  Alibaba: alibabaClient,
  Scaleway: scalewayClient,
  IBM: ibmClient,
  Oracle: oracleClient,
};

/** The client of a provider. */
export function providerClient(p: Provider): ProviderClient {
  return CLIENTS[p];
}

/** The addresses the clients reach by default: what the module's net grant must cover. */
export const METADATA_HOSTS: readonly string[] = [
  "169.254.169.254",
  "100.100.100.200",
  "169.254.42.42",
  IBM_METADATA_HOST,
];

/** Deno's net descriptor host (`host:port`) of a base URL. */
export function netHostOf(url: string): string {
  const u = new URL(url);
  return `${u.hostname}:${u.port || (u.protocol === "https:" ? "443" : "80")}`;
}

/** Replaceable parts of the module (tests). */
export interface CloudModuleDeps {
  /** @default nodeMetadataHttp */
  readonly http?: MetadataHttp;
  /** @default cloudMetadata */
  readonly hub?: CloudMetadataHub;
  readonly timeoutMs?: number;
  readonly refreshMs?: number;
  readonly retryMinMs?: number;
}

/** Builds the module definition around `deps` (the agent uses {@linkcode cloudModule}). */
export function createCloudModule(deps: CloudModuleDeps = {}): ModuleSpec {
  return {
    name: "cloud",
    description: "Cloud provider, account, instance, type, region and zone from the metadata " +
      "service",
    flags: CLOUD_FLAGS,
    permissions(flags, paths) {
      const { dmi, hypervisor } = dmiPaths(paths.sys);
      const needs: PermissionNeed[] = [dmi, hypervisor].map((path) => ({
        descriptor: { name: "read", path },
        flag: `--allow-read=${path}`,
      }));
      const base = String(flags[BASE_URL_FLAG] ?? "");
      if (base !== "") {
        const host = netHostOf(base);
        needs.push({ descriptor: { name: "net", host }, flag: `--allow-net=${host}` });
      } else {
        const flag = `--allow-net=${METADATA_HOSTS.join(",")}`;
        for (const host of METADATA_HOSTS) needs.push({ descriptor: { name: "net", host }, flag });
      }
      return needs;
    },
    async start(ctx) {
      const { dmi } = dmiPaths(ctx.paths.sys);
      const provider = providerFromDmi(await readDmiFacts(ctx.paths.sys));
      if (provider === undefined) {
        ctx.log.info("no cloud vendor in DMI; no metadata service is asked", { dmi });
        return { note: `no cloud vendor in ${dmi}: nothing asked`, stop() {} };
      }
      const base = String(ctx.flags[BASE_URL_FLAG] ?? "");
      const refresher = new CloudRefresher({
        client: CLIENTS[provider],
        http: deps.http ?? nodeMetadataHttp,
        hub: deps.hub ?? cloudMetadata,
        metrics: cloudMetrics(ctx.registry),
        log: ctx.log,
        baseUrl: base || undefined,
        timeoutMs: deps.timeoutMs,
        refreshMs: deps.refreshMs,
        retryMinMs: deps.retryMinMs,
      });
      ctx.log.info("cloud provider from DMI", { provider, base_url: base || undefined });
      refresher.start();
      return {
        note: base ? `${provider}, asking ${base} (test base URL)` : provider,
        stop: () => refresher.stop(),
      };
    },
  };
}

/** The cloud module. */
export const cloudModule: ModuleSpec = createCloudModule();
