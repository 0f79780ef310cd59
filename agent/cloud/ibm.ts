/**
 * IBM Cloud VPC instance metadata. Per IBM's documentation ("Accessing the metadata service"
 * and the VPC Metadata and Identity API references, cloud.ibm.com/apidocs/vpc-metadata): an
 * identity access token from `PUT /instance_identity/v1/token?version=<date>` with the header
 * `Metadata-Flavor: ibm` (a JSON body such as `{"expires_in": 300}`), answered with JSON
 * holding `access_token`; then `GET /metadata/v1/instance?version=<date>` with
 * `Authorization: Bearer <token>`, answered with the instance as JSON: `id`, `profile.name`,
 * `zone.name` (`us-south-1`). The service is `api.metadata.cloud.ibm.com` over http, or https
 * when the instance enables secure access: http is tried first, then https (as the reference
 * does). The region is the zone without its `-<number>`.
 *
 * @module
 */
import type { ProviderClient } from "./client.ts";
import { checkValue, objectAt, parseJsonObject, requireValue } from "./client.ts";
import { CloudMetadataError } from "./http_client.ts";
import type { CloudInfo } from "./info.ts";
import { cloudInfo } from "./info.ts";
import { regionOfNumberedZone } from "./scaleway.ts";

/** The API version date asked for (the reference's). */
export const IBM_API_VERSION = "2025-04-22";

/** The metadata service's host name (resolved by the VPC's DNS). */
export const IBM_METADATA_HOST = "api.metadata.cloud.ibm.com";

/** The access token of a token answer; `token_refused` when there is none. */
export function parseIbmToken(body: string): string {
  let doc: Record<string, unknown>;
  try {
    doc = parseJsonObject("IBM token", body);
  } catch (err) {
    throw new CloudMetadataError("token_refused", "IBM token answer is not a JSON object", {
      cause: err,
    });
  }
  const t = doc.access_token;
  if (typeof t !== "string" || t === "" || !/^[\x21-\x7e]+$/.test(t)) {
    throw new CloudMetadataError("token_refused", "IBM token answer has no access_token");
  }
  return t;
}

/** `node_cloud_info` values from the instance JSON; `bad_response` when it is not that. */
export function parseIbmInstance(body: string): CloudInfo {
  const doc = parseJsonObject("IBM instance metadata", body);
  const zone = requireValue("zone.name", objectAt(doc, "zone").name);
  return cloudInfo({
    provider: "IBM",
    instance_id: requireValue("id", doc.id),
    instance_type: checkValue("profile.name", objectAt(doc, "profile").name),
    availability_zone: zone,
    region: regionOfNumberedZone(zone),
  });
}

/** The IBM client. */
export const ibmClient: ProviderClient = {
  provider: "IBM",
  bases: [`http://${IBM_METADATA_HOST}`, `https://${IBM_METADATA_HOST}`],
  async fetch(c): Promise<CloudInfo> {
    const res = await c.send({
      method: "PUT",
      path: `/instance_identity/v1/token?version=${IBM_API_VERSION}`,
      headers: { "Metadata-Flavor": "ibm", "Content-Type": "application/json" },
      body: JSON.stringify({ expires_in: 300 }),
    });
    if (res.status !== 200) {
      throw new CloudMetadataError("token_refused", `IBM token request answered ${res.status}`);
    }
    const token = parseIbmToken(res.body);
    return parseIbmInstance(
      await c.body({
        path: `/metadata/v1/instance?version=${IBM_API_VERSION}`,
        headers: { Authorization: `Bearer ${token}` },
      }),
    );
  },
};
