/**
 * DigitalOcean Droplet metadata. Per DigitalOcean's documentation ("Metadata API",
 * docs.digitalocean.com/reference/api/metadata-api/): `GET /metadata/v1/id` (the Droplet ID)
 * and `GET /metadata/v1/region` (a region slug such as `nyc3`), plain text, no header. A
 * region is the only placement DigitalOcean has, so it is the availability zone too (as in the
 * reference).
 *
 * @module
 */
import type { ProviderClient } from "./client.ts";
import { requireValue } from "./client.ts";
import type { CloudInfo } from "./info.ts";
import { cloudInfo } from "./info.ts";

/** The DigitalOcean client. */
export const digitalOceanClient: ProviderClient = {
  provider: "DigitalOcean",
  bases: ["http://169.254.169.254"],
  async fetch(c): Promise<CloudInfo> {
    const id = requireValue("id", await c.body({ path: "/metadata/v1/id" }));
    const region = requireValue("region", await c.body({ path: "/metadata/v1/region" }));
    return cloudInfo({
      provider: "DigitalOcean",
      instance_id: id,
      region,
      availability_zone: region,
    });
  },
};
