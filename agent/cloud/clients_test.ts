/**
 * Every provider's client against a loopback server that answers as the provider documents
 * (`_mock_metadata.ts`): the right `node_cloud_info` values for all nine, and no request the
 * server had to refuse, so the required headers and tokens were sent. Nothing leaves 127.0.0.1.
 */
import { deepEqual, equal, ok } from "node:assert/strict";
import { MetadataClient } from "./client.ts";
import { PROVIDERS } from "./detect.ts";
import { nodeMetadataHttp } from "./http_client.ts";
import { MOCK_EXPECTED, startMockMetadata } from "./_mock_metadata.ts";
import { providerClient } from "./mod.ts";

function clientFor(url: string, count?: { n: number }): MetadataClient {
  return new MetadataClient(url, {
    http: nodeMetadataHttp,
    timeoutMs: 2000,
    onRequest: () => count && count.n++,
  });
}

for (const provider of PROVIDERS) {
  Deno.test(`${provider} client reads node_cloud_info from the documented answers`, async () => {
    const mock = startMockMetadata(provider);
    try {
      const count = { n: 0 };
      const info = await providerClient(provider).fetch(clientFor(mock.url, count));
      deepEqual(info, MOCK_EXPECTED[provider]);
      deepEqual(mock.requests.filter((r) => r.rejected), [], "a request lacked a header");
      equal(count.n, mock.requests.length);
    } finally {
      await mock.close();
    }
  });
}

Deno.test("the mocks refuse requests without the documented headers, tokens or query", async () => {
  const cases: [Parameters<typeof startMockMetadata>[0], string, string, number][] = [
    ["AWS", "GET", "/latest/meta-data/instance-id", 401],
    ["AWS", "PUT", "/latest/api/token", 400],
    ["GCP", "GET", "/computeMetadata/v1/instance/id", 403],
    ["Azure", "GET", "/metadata/instance?api-version=2021-05-01&format=json", 400],
    ["IBM", "PUT", "/instance_identity/v1/token?version=2025-04-22", 400],
    ["IBM", "GET", "/metadata/v1/instance?version=2025-04-22", 401],
    ["Oracle", "GET", "/opc/v2/instance/", 401],
  ];
  for (const [provider, method, path, status] of cases) {
    const mock = startMockMetadata(provider);
    try {
      const res = await nodeMetadataHttp(
        { method: method as "GET" | "PUT", url: mock.url + path },
        {
          timeoutMs: 2000,
        },
      );
      equal(res.status, status, `${provider} ${method} ${path}`);
      ok(mock.requests[0].rejected);
    } finally {
      await mock.close();
    }
  }
});

Deno.test("the AWS client sends the IMDSv2 token and TTL headers it documents", async () => {
  const mock = startMockMetadata("AWS");
  try {
    await providerClient("AWS").fetch(clientFor(mock.url));
    const [put, ...gets] = mock.requests;
    equal(put.method, "PUT");
    equal(put.path, "/latest/api/token");
    equal(put.headers["x-aws-ec2-metadata-token-ttl-seconds"], "21600");
    ok(
      gets.length >= 8 &&
        gets.every((g) => g.method === "GET" && g.headers["x-aws-ec2-metadata-token"]),
    );
  } finally {
    await mock.close();
  }
});

Deno.test("a value the instance lacks (404 on an optional path) is empty, not a failure", async () => {
  const mock = startMockMetadata("AWS", { values: { public_ipv4: "", availability_zone_id: "" } });
  try {
    const info = await providerClient("AWS").fetch(clientFor(mock.url));
    equal(info.public_ipv4, "");
    equal(info.availability_zone_id, "");
    equal(info.instance_id, MOCK_EXPECTED.AWS.instance_id);
  } finally {
    await mock.close();
  }
});
