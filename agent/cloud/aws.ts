/**
 * AWS EC2 instance metadata (IMDSv2). Per AWS's documentation ("Use the Instance Metadata
 * Service to access instance metadata" and "Instance metadata categories", EC2 User Guide,
 * docs.aws.amazon.com/AWSEC2/latest/UserGuide/instancedata-data-categories.html): a session
 * token from `PUT /latest/api/token` with `X-aws-ec2-metadata-token-ttl-seconds` (1 to 21600),
 * then `GET /latest/meta-data/<category>` with `X-aws-ec2-metadata-token`; each category is
 * plain text, 404 when the instance lacks it (no public address), 401 without a valid token
 * where IMDSv2 is required. `identity-credentials/ec2/info` is JSON with `AccountId`.
 *
 * @module
 */
import type { MetadataClient, ProviderClient } from "./client.ts";
import { checkValue, parseJsonObject, requireValue } from "./client.ts";
import { CloudMetadataError } from "./http_client.ts";
import type { CloudInfo } from "./info.ts";
import { cloudInfo } from "./info.ts";

/** The token's lifetime asked for, in seconds (the reference's, the maximum). */
export const AWS_TOKEN_TTL_SECONDS = 21600;

/** The account ID from the `identity-credentials/ec2/info` JSON ("" when it has none). */
export function parseAwsAccountId(body: string): string {
  return checkValue("AccountId", parseJsonObject("identity-credentials/ec2/info", body).AccountId);
}

async function token(c: MetadataClient): Promise<string> {
  const res = await c.send({
    method: "PUT",
    path: "/latest/api/token",
    headers: { "X-aws-ec2-metadata-token-ttl-seconds": String(AWS_TOKEN_TTL_SECONDS) },
  });
  if (res.status !== 200) {
    throw new CloudMetadataError(
      "token_refused",
      `PUT ${c.base}/latest/api/token answered ${res.status}`,
    );
  }
  const t = res.body.trim();
  if (t === "" || t.length > 4096 || !/^[\x21-\x7e]+$/.test(t)) {
    throw new CloudMetadataError("token_refused", "the IMDSv2 token is empty or not printable");
  }
  return t;
}

/** The AWS client. */
export const awsClient: ProviderClient = {
  provider: "AWS",
  bases: ["http://169.254.169.254"],
  async fetch(c): Promise<CloudInfo> {
    const headers = { "X-aws-ec2-metadata-token": await token(c) };
    const get = (path: string, optional = false) =>
      c.body({ path: `/latest/meta-data/${path}`, headers, optional });
    const info = await get("identity-credentials/ec2/info", true);
    return cloudInfo({
      provider: "AWS",
      instance_id: requireValue("instance-id", await get("instance-id")),
      instance_life_cycle: checkValue(
        "instance-life-cycle",
        await get("instance-life-cycle", true),
      ),
      instance_type: requireValue("instance-type", await get("instance-type")),
      region: requireValue("placement/region", await get("placement/region")),
      availability_zone: requireValue(
        "placement/availability-zone",
        await get("placement/availability-zone"),
      ),
      availability_zone_id: checkValue(
        "placement/availability-zone-id",
        await get("placement/availability-zone-id", true),
      ),
      local_ipv4: checkValue("local-ipv4", await get("local-ipv4", true)),
      public_ipv4: checkValue("public-ipv4", await get("public-ipv4", true)),
      account_id: info === "" ? "" : parseAwsAccountId(info),
    });
  },
};
