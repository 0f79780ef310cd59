/** The providers' pure parsers on documented answers and on what must be refused. */
import { deepEqual, equal, throws } from "node:assert/strict";
import { parseAwsAccountId } from "./aws.ts";
import { parseAzureInstance } from "./azure.ts";
import { checkValue, requireValue } from "./client.ts";
import { gcpLifeCycle, gcpRegionOfZone, parseGcpResourceName } from "./gcp.ts";
import { parseHetznerMetadata, parseTopLevelYaml } from "./hetzner.ts";
import { CloudMetadataError } from "./http_client.ts";
import { parseIbmInstance, parseIbmToken } from "./ibm.ts";
import { cloudInfo } from "./info.ts";
import { parseOracleInstance } from "./oracle.ts";
import { parseScalewayConf, parseScalewayMetadata, regionOfNumberedZone } from "./scaleway.ts";

function reason(r: string) {
  return (e: unknown) => e instanceof CloudMetadataError && e.reason === r;
}

Deno.test("checkValue() takes printable ASCII up to 256 characters and refuses the rest", () => {
  equal(checkValue("x", " i-123\n"), "i-123");
  equal(checkValue("x", 42), "42");
  equal(checkValue("x", undefined), "");
  throws(() => checkValue("x", "a\u0000b"), reason("bad_response"));
  throws(() => checkValue("x", "é"), reason("bad_response"));
  throws(() => checkValue("x", "a".repeat(257)), reason("bad_response"));
  throws(() => checkValue("x", { a: 1 }), reason("bad_response"));
  throws(() => requireValue("instance-id", ""), /instance-id: missing or empty/);
});

Deno.test("parseAwsAccountId() reads AccountId from identity-credentials/ec2/info", () => {
  equal(parseAwsAccountId('{"Code":"Success","AccountId":"123456789012"}'), "123456789012");
  equal(parseAwsAccountId('{"Code":"Success"}'), "");
  throws(() => parseAwsAccountId("<html>"), reason("bad_response"));
  throws(() => parseAwsAccountId("[1]"), reason("bad_response"));
});

Deno.test("GCP: zone and machine type from resource names, region and life cycle", () => {
  equal(parseGcpResourceName("z", "projects/123/zones/us-central1-a\n", "zones"), "us-central1-a");
  equal(
    parseGcpResourceName("t", "projects/123/machineTypes/e2-medium", "machineTypes"),
    "e2-medium",
  );
  throws(() => parseGcpResourceName("z", "us-central1-a", "zones"), reason("bad_response"));
  throws(() => parseGcpResourceName("z", "projects/1/regions/x", "zones"), reason("bad_response"));
  equal(gcpRegionOfZone("us-central1-a"), "us-central1");
  equal(gcpRegionOfZone("nozone"), "");
  equal(gcpLifeCycle("TRUE"), "preemptible");
  equal(gcpLifeCycle("false\n"), "on-demand");
  equal(gcpLifeCycle(""), "");
});

Deno.test("parseAzureInstance() reads compute and the first NIC's first IPv4 address", () => {
  const doc = {
    compute: {
      location: "eastus",
      vmId: "02aab8a4-74ef-476e-8182-f6d2ba4166a6",
      vmSize: "Standard_A3",
      zone: "",
      subscriptionId: "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx",
    },
    network: {
      interface: [{
        ipv4: { ipAddress: [{ privateIpAddress: "10.144.133.132", publicIpAddress: "" }] },
      }],
    },
  };
  deepEqual(
    parseAzureInstance(JSON.stringify(doc)),
    cloudInfo({
      provider: "Azure",
      account_id: "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx",
      instance_id: "02aab8a4-74ef-476e-8182-f6d2ba4166a6",
      instance_type: "Standard_A3",
      region: "eastus",
      local_ipv4: "10.144.133.132",
    }),
  );
  // no network section: no addresses, still an answer
  equal(parseAzureInstance(JSON.stringify({ compute: doc.compute })).local_ipv4, "");
  throws(() => parseAzureInstance(JSON.stringify({ compute: {} })), /compute.vmId: missing/);
  throws(() => parseAzureInstance("not json"), reason("bad_response"));
});

Deno.test("parseTopLevelYaml() reads top-level scalars and skips nested and block entries", () => {
  const m = parseTopLevelYaml(
    "a: 1\nb: 'x''y'\nc: \"q\"\nd:\n- item\ne: |\n  line: not-top\nf: v # comment\n# g: no\n",
  );
  deepEqual([...m], [["a", "1"], ["b", "x'y"], ["c", "q"], ["d", ""], ["e", ""], ["f", "v"]]);
});

Deno.test("parseHetznerMetadata() needs instance-id, region and availability-zone", () => {
  equal(
    parseHetznerMetadata("availability-zone: nbg1-dc3\ninstance-id: 7\nregion: eu-central\n")
      .availability_zone,
    "nbg1-dc3",
  );
  throws(() => parseHetznerMetadata("<html>garbage</html>"), reason("bad_response"));
  throws(() => parseHetznerMetadata("instance-id: 7\nregion: eu-central\n"), /availability-zone/);
});

Deno.test("Scaleway: KEY=VALUE lines, quotes removed, region from the zone", () => {
  deepEqual(
    [...parseScalewayConf("ID=abc\nNAME='my server'\nX=\"q\"\nnot a line\nEMPTY=\n")],
    [["ID", "abc"], ["NAME", "my server"], ["X", "q"], ["EMPTY", ""]],
  );
  equal(regionOfNumberedZone("fr-par-1"), "fr-par");
  equal(regionOfNumberedZone("pl-waw"), "pl-waw");
  equal(parseScalewayMetadata("ID=1\nZONE=nl-ams-2\n").region, "nl-ams");
  throws(() => parseScalewayMetadata("garbage"), reason("bad_response"));
});

Deno.test("IBM: the token answer's access_token, and the instance's id, profile and zone", () => {
  equal(parseIbmToken('{"access_token":"abc.def","expires_in":300}'), "abc.def");
  throws(() => parseIbmToken('{"expires_in":300}'), reason("token_refused"));
  throws(() => parseIbmToken("nope"), reason("token_refused"));
  deepEqual(
    parseIbmInstance('{"id":"0717_x","profile":{"name":"bx2-2x8"},"zone":{"name":"eu-de-2"}}'),
    cloudInfo({
      provider: "IBM",
      instance_id: "0717_x",
      instance_type: "bx2-2x8",
      availability_zone: "eu-de-2",
      region: "eu-de",
    }),
  );
  throws(() => parseIbmInstance('{"id":"x"}'), /zone.name: missing/);
});

Deno.test("parseOracleInstance() writes the zone <region>-ad-<n> from the availability domain", () => {
  const doc = {
    id: "ocid1.instance.oc1.iad.x",
    canonicalRegionName: "us-ashburn-1",
    availabilityDomain: "Uocm:US-ASHBURN-AD-3",
    shape: "VM.Standard2.1",
  };
  equal(parseOracleInstance(JSON.stringify(doc)).availability_zone, "us-ashburn-1-ad-3");
  equal(
    parseOracleInstance(JSON.stringify({ ...doc, availabilityDomain: "odd" })).availability_zone,
    "",
  );
  throws(() => parseOracleInstance("{}"), /canonicalRegionName: missing/);
});
