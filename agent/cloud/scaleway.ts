/**
 * Scaleway Instance metadata. Per Scaleway's documentation (the Instance metadata API, and
 * cloud-init's Scaleway datasource page, which names the service's addresses 169.254.42.42 and
 * fd00:42::42): `GET http://169.254.42.42/conf` answers shell-style `KEY=VALUE` lines, among
 * them `ID`, `ZONE` (`fr-par-1`) and `COMMERCIAL_TYPE` (`DEV1-S`); values that hold special
 * characters are single-quoted. The region is the zone without its `-<number>` (`fr-par`).
 *
 * @module
 */
import type { ProviderClient } from "./client.ts";
import { checkValue, requireValue } from "./client.ts";
import { CloudMetadataError } from "./http_client.ts";
import type { CloudInfo } from "./info.ts";
import { cloudInfo } from "./info.ts";

/** The `KEY=VALUE` lines of `/conf` (single or double quotes around a value removed). */
export function parseScalewayConf(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split(/\r?\n/)) {
    const m = /^([A-Z0-9_]+)=(.*)$/.exec(line);
    if (m === null) continue;
    let v = m[2];
    if (v.length >= 2 && (v[0] === "'" || v[0] === '"') && v.endsWith(v[0])) v = v.slice(1, -1);
    out.set(m[1], v);
  }
  return out;
}

/** A zone's region: `fr-par-1` → `fr-par` (the zone unchanged when it has no `-<number>`). */
export function regionOfNumberedZone(zone: string): string {
  return zone.replace(/-\d+$/, "");
}

/** `node_cloud_info` values from `/conf`; `bad_response` when it has no `ID` or `ZONE`. */
export function parseScalewayMetadata(body: string): CloudInfo {
  const m = parseScalewayConf(body);
  if (!m.has("ID")) throw new CloudMetadataError("bad_response", "Scaleway /conf: no ID line");
  const zone = requireValue("ZONE", m.get("ZONE"));
  return cloudInfo({
    provider: "Scaleway",
    instance_id: requireValue("ID", m.get("ID")),
    availability_zone: zone,
    region: regionOfNumberedZone(zone),
    instance_type: checkValue("COMMERCIAL_TYPE", m.get("COMMERCIAL_TYPE")),
  });
}

/** The Scaleway client. */
export const scalewayClient: ProviderClient = {
  provider: "Scaleway",
  bases: ["http://169.254.42.42"],
  async fetch(c): Promise<CloudInfo> {
    return parseScalewayMetadata(await c.body({ path: "/conf" }));
  },
};
