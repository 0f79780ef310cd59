/**
 * Azure Instance Metadata Service. Per Microsoft's documentation ("Azure Instance Metadata
 * Service", learn.microsoft.com/azure/virtual-machines/instance-metadata-service): `GET
 * /metadata/instance?api-version=<date>&format=json` with the header `Metadata: true` (400
 * without it or without `api-version`), answered with one JSON document: `compute.location`,
 * `compute.vmId`, `compute.vmSize`, `compute.zone` ("" outside availability zones),
 * `compute.subscriptionId`, and `network.interface[].ipv4.ipAddress[].{privateIpAddress,
 * publicIpAddress}`.
 *
 * @module
 */
import type { ProviderClient } from "./client.ts";
import { checkValue, firstAt, objectAt, parseJsonObject, requireValue } from "./client.ts";
import type { CloudInfo } from "./info.ts";
import { cloudInfo } from "./info.ts";

/** The API version asked for (the reference's). */
export const AZURE_API_VERSION = "2021-05-01";

/** `node_cloud_info` values from the instance document; `bad_response` when it is not one. */
export function parseAzureInstance(body: string): CloudInfo {
  const doc = parseJsonObject("Azure instance metadata", body);
  const compute = objectAt(doc, "compute");
  const address = firstAt(
    objectAt(firstAt(objectAt(doc, "network"), "interface"), "ipv4"),
    "ipAddress",
  );
  return cloudInfo({
    provider: "Azure",
    account_id: checkValue("compute.subscriptionId", compute.subscriptionId),
    instance_id: requireValue("compute.vmId", compute.vmId),
    instance_type: checkValue("compute.vmSize", compute.vmSize),
    region: requireValue("compute.location", compute.location),
    availability_zone: checkValue("compute.zone", compute.zone),
    local_ipv4: checkValue("privateIpAddress", address.privateIpAddress),
    public_ipv4: checkValue("publicIpAddress", address.publicIpAddress),
  });
}

/** The Azure client. */
export const azureClient: ProviderClient = {
  provider: "Azure",
  bases: ["http://169.254.169.254"],
  async fetch(c): Promise<CloudInfo> {
    return parseAzureInstance(
      await c.body({
        path: `/metadata/instance?api-version=${AZURE_API_VERSION}&format=json`,
        headers: { Metadata: "true" },
      }),
    );
  },
};
