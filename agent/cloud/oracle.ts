/**
 * Oracle Cloud Infrastructure instance metadata (IMDS v2). Per Oracle's documentation
 * ("Getting Instance Metadata", docs.oracle.com/iaas/Content/Compute/Tasks/gettingmetadata.htm):
 * `GET /opc/v2/instance/` with the header `Authorization: Bearer Oracle` (v2 refuses requests
 * without it), answered with JSON: `id` (an OCID), `canonicalRegionName` (`us-phoenix-1`),
 * `availabilityDomain` (`Uocm:PHX-AD-1`) and `shape`. The availability zone is written
 * `<region>-ad-<n>` from the domain's `-AD-<n>` suffix, as the reference does.
 *
 * @module
 */
import type { ProviderClient } from "./client.ts";
import { checkValue, parseJsonObject, requireValue } from "./client.ts";
import type { CloudInfo } from "./info.ts";
import { cloudInfo } from "./info.ts";

/** `node_cloud_info` values from the instance JSON; `bad_response` when it is not that. */
export function parseOracleInstance(body: string): CloudInfo {
  const doc = parseJsonObject("Oracle instance metadata", body);
  const region = requireValue("canonicalRegionName", doc.canonicalRegionName);
  const domain = checkValue("availabilityDomain", doc.availabilityDomain);
  const n = /-AD-(\d+)$/.exec(domain)?.[1];
  return cloudInfo({
    provider: "Oracle",
    instance_id: requireValue("id", doc.id),
    region,
    availability_zone: n === undefined ? "" : `${region}-ad-${n}`,
    instance_type: checkValue("shape", doc.shape),
  });
}

/** The Oracle client. */
export const oracleClient: ProviderClient = {
  provider: "Oracle",
  bases: ["http://169.254.169.254"],
  async fetch(c): Promise<CloudInfo> {
    return parseOracleInstance(
      await c.body({ path: "/opc/v2/instance/", headers: { Authorization: "Bearer Oracle" } }),
    );
  },
};
