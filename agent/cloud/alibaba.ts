/**
 * Alibaba Cloud ECS instance metadata. Per Alibaba Cloud's documentation ("Instance metadata",
 * ECS user guide, alibabacloud.com/help/en/ecs/user-guide/view-instance-metadata): `GET
 * http://100.100.100.200/latest/meta-data/<item>`, plain text: `instance-id`, `region-id`,
 * `zone-id`, `owner-account-id`, `instance/instance-type`, `private-ipv4`. Asked in the normal
 * mode, without the hardened mode's token (as the reference does).
 *
 * @module
 */
import type { ProviderClient } from "./client.ts";
import { checkValue, requireValue } from "./client.ts";
import type { CloudInfo } from "./info.ts";
import { cloudInfo } from "./info.ts";

/** The Alibaba client. */
export const alibabaClient: ProviderClient = {
  provider: "Alibaba",
  bases: ["http://100.100.100.200"],
  async fetch(c): Promise<CloudInfo> {
    const get = (item: string, optional = false) =>
      c.body({ path: `/latest/meta-data/${item}`, optional });
    return cloudInfo({
      provider: "Alibaba",
      instance_id: requireValue("instance-id", await get("instance-id")),
      region: requireValue("region-id", await get("region-id")),
      availability_zone: requireValue("zone-id", await get("zone-id")),
      account_id: checkValue("owner-account-id", await get("owner-account-id", true)),
      instance_type: checkValue(
        "instance/instance-type",
        await get("instance/instance-type", true),
      ),
      local_ipv4: checkValue("private-ipv4", await get("private-ipv4", true)),
    });
  },
};
