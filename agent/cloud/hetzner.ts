/**
 * Hetzner Cloud server metadata. Per Hetzner's documentation ("Server Metadata", Hetzner Cloud
 * API reference, docs.hetzner.cloud): `GET /hetzner/v1/metadata` answers one YAML mapping with,
 * among others, `availability-zone` (a data centre such as `fsn1-dc14`), `instance-id`,
 * `region` (`eu-central`), `public-ipv4` and `local-ipv4`. No header is needed.
 *
 * Only the top-level scalar entries are read (`key: value`, a value maybe quoted); nested
 * entries and block scalars (`public-keys`, `vendor_data`) are skipped, so no YAML library is
 * needed.
 *
 * @module
 */
import type { ProviderClient } from "./client.ts";
import { checkValue, requireValue } from "./client.ts";
import { CloudMetadataError } from "./http_client.ts";
import type { CloudInfo } from "./info.ts";
import { cloudInfo } from "./info.ts";

/** Unquotes a YAML flow scalar: `'a''b'` → `a'b`, `"a"` → `a` (escapes other than `\"` and `\\` kept). */
function unquote(v: string): string {
  if (v.length >= 2 && v.startsWith("'") && v.endsWith("'")) {
    return v.slice(1, -1).replaceAll("''", "'");
  }
  if (v.length >= 2 && v.startsWith('"') && v.endsWith('"')) {
    return v.slice(1, -1).replace(/\\(["\\])/g, "$1");
  }
  return v;
}

/** The top-level `key: scalar` entries of a YAML mapping (comments and nested lines skipped). */
export function parseTopLevelYaml(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split(/\r?\n/)) {
    const m = /^([A-Za-z0-9_.-]+):(?:[ \t]+(.*))?$/.exec(line);
    if (m === null) continue;
    let v = (m[2] ?? "").trim();
    if (v.startsWith("#") || v === "|" || v === ">" || /^[|>][-+0-9]*$/.test(v)) v = "";
    else v = unquote(v.replace(/[ \t]+#.*$/, ""));
    out.set(m[1], v);
  }
  return out;
}

/** `node_cloud_info` values from the metadata YAML; `bad_response` when it is not that. */
export function parseHetznerMetadata(body: string): CloudInfo {
  const m = parseTopLevelYaml(body);
  if (!m.has("instance-id")) {
    throw new CloudMetadataError("bad_response", "Hetzner metadata: no instance-id entry");
  }
  return cloudInfo({
    provider: "Hetzner",
    instance_id: requireValue("instance-id", m.get("instance-id")),
    region: requireValue("region", m.get("region")),
    availability_zone: requireValue("availability-zone", m.get("availability-zone")),
    local_ipv4: checkValue("local-ipv4", m.get("local-ipv4")),
    public_ipv4: checkValue("public-ipv4", m.get("public-ipv4")),
  });
}

/** The Hetzner client. */
export const hetznerClient: ProviderClient = {
  provider: "Hetzner",
  bases: ["http://169.254.169.254"],
  async fetch(c): Promise<CloudInfo> {
    return parseHetznerMetadata(await c.body({ path: "/hetzner/v1/metadata" }));
  },
};
