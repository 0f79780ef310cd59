import { deepEqual, equal, rejects } from "node:assert/strict";
import { providerFromDmi, readDmiFacts } from "./detect.ts";
import type { Provider } from "./detect.ts";

const FIXTURES = new URL("../../tests/fixtures/cloud/", import.meta.url).pathname;

Deno.test("providerFromDmi() names each cloud from its fixture DMI tree", async () => {
  const cases: [string, Provider | undefined][] = [
    ["aws", "AWS"],
    ["aws-xen", "AWS"],
    ["gcp", "GCP"],
    ["azure", "Azure"],
    ["hetzner", "Hetzner"],
    ["digitalocean", "DigitalOcean"],
    ["alibaba", "Alibaba"],
    ["scaleway", "Scaleway"],
    ["ibm", "IBM"],
    ["oracle", "Oracle"],
    ["qemu", undefined],
  ];
  for (const [dir, want] of cases) {
    equal(providerFromDmi(await readDmiFacts(`${FIXTURES}${dir}/sys`)), want, dir);
  }
});

Deno.test("readDmiFacts() reads the files as they are and leaves missing ones undefined", async () => {
  deepEqual(await readDmiFacts(`${FIXTURES}aws-xen/sys`), {
    hypervisorUuid: "ec2e1916-9099-7caf-fd21-012345abcdef\n",
    boardVendor: undefined,
    sysVendor: "Xen\n",
    chassisVendor: "Xen\n",
    chassisAssetTag: undefined,
  });
  deepEqual(await readDmiFacts("/nonexistent-osprey-sysfs"), {
    hypervisorUuid: undefined,
    boardVendor: undefined,
    sysVendor: undefined,
    chassisVendor: undefined,
    chassisAssetTag: undefined,
  });
});

Deno.test("readDmiFacts() fails with the path when a file exists but cannot be read", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.mkdir(`${dir}/class/dmi/id/board_vendor`, { recursive: true }); // a directory
    await rejects(readDmiFacts(dir), /Cannot read ".*board_vendor" to detect the cloud provider/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("providerFromDmi() follows the reference's order and matching rules", () => {
  equal(providerFromDmi({}), undefined);
  // the hypervisor UUID wins, case-insensitively
  equal(providerFromDmi({ hypervisorUuid: "EC2ABCD", boardVendor: "Google" }), "AWS");
  equal(providerFromDmi({ hypervisorUuid: "4f1d0c2e-..." }), undefined);
  // board vendor before sys vendor; values trimmed
  equal(providerFromDmi({ boardVendor: " Google \n", sysVendor: "Hetzner" }), "GCP");
  equal(providerFromDmi({ boardVendor: "Googlex", sysVendor: "Hetzner\n" }), "Hetzner");
  // the IBM chassis vendor is a prefix match, Oracle's asset tag an exact (trimmed) one
  equal(providerFromDmi({ chassisVendor: "IBM:Cloud Compute Server 1.0:x" }), "IBM");
  equal(providerFromDmi({ chassisVendor: " IBM:Cloud Compute Server" }), undefined);
  equal(providerFromDmi({ chassisAssetTag: "OracleCloud.com\n" }), "Oracle");
  equal(providerFromDmi({ chassisAssetTag: "OracleCloud.com.example" }), undefined);
  // inherited object keys are not vendors
  equal(providerFromDmi({ boardVendor: "constructor", sysVendor: "toString" }), undefined);
});
