/**
 * Google Compute Engine metadata server. Per Google's documentation ("About VM metadata" and
 * "Predefined metadata keys", cloud.google.com/compute/docs/metadata/predefined-metadata-keys):
 * `GET /computeMetadata/v1/<key>` with the header `Metadata-Flavor: Google` (refused with 403
 * without it); values are plain text; `instance/zone` is `projects/<number>/zones/<zone>`,
 * `instance/machine-type` `projects/<number>/machineTypes/<type>`,
 * `instance/scheduling/preemptible` `TRUE` or `FALSE`; a key the instance lacks (no external
 * address) is 404.
 *
 * @module
 */
import type { ProviderClient } from "./client.ts";
import { checkValue, requireValue } from "./client.ts";
import { CloudMetadataError } from "./http_client.ts";
import type { CloudInfo } from "./info.ts";
import { cloudInfo } from "./info.ts";

/** The last part of `projects/<n>/<kind>/<name>`; `bad_response` for another shape. */
export function parseGcpResourceName(field: string, value: string, kind: string): string {
  const parts = value.trim().split("/");
  if (parts.length !== 4 || parts[0] !== "projects" || parts[2] !== kind || parts[3] === "") {
    throw new CloudMetadataError("bad_response", `${field}: not projects/<n>/${kind}/<name>`);
  }
  return requireValue(field, parts[3]);
}

/** The region of a zone: the zone without its last `-<letter>` part (`us-central1-a` → `us-central1`). */
export function gcpRegionOfZone(zone: string): string {
  const i = zone.lastIndexOf("-");
  return i > 0 ? zone.slice(0, i) : "";
}

/** `instance/scheduling/preemptible` as a life cycle: `preemptible`, `on-demand` or "". */
export function gcpLifeCycle(value: string): string {
  switch (value.trim().toLowerCase()) {
    case "true":
      return "preemptible";
    case "false":
      return "on-demand";
    default:
      return "";
  }
}

/** The GCP client. */
export const gcpClient: ProviderClient = {
  provider: "GCP",
  bases: ["http://169.254.169.254"],
  async fetch(c): Promise<CloudInfo> {
    const headers = { "Metadata-Flavor": "Google" };
    const get = (key: string, optional = false) =>
      c.body({ path: `/computeMetadata/v1/${key}`, headers, optional });
    const project = requireValue("project/project-id", await get("project/project-id"));
    const id = requireValue("instance/id", await get("instance/id"));
    const zone = parseGcpResourceName("instance/zone", await get("instance/zone"), "zones");
    const type = parseGcpResourceName(
      "instance/machine-type",
      await get("instance/machine-type"),
      "machineTypes",
    );
    return cloudInfo({
      provider: "GCP",
      account_id: project,
      instance_id: id,
      instance_type: type,
      instance_life_cycle: gcpLifeCycle(await get("instance/scheduling/preemptible", true)),
      availability_zone: zone,
      region: gcpRegionOfZone(zone),
      local_ipv4: checkValue("ip", await get("instance/network-interfaces/0/ip", true)),
      public_ipv4: checkValue(
        "external-ip",
        await get("instance/network-interfaces/0/access-configs/0/external-ip", true),
      ),
    });
  },
};
