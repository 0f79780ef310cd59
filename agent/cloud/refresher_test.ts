/**
 * The background rounds against loopback mocks that fail on purpose: every failure is counted
 * by reason, the last good answer stays, and the rounds carry on (a retry recovers, a refresh
 * picks up a change). Deadlines are short here (300 ms) so hangs end quickly.
 */
import { deepEqual, equal, ok } from "node:assert/strict";
import { silentLogger } from "../log.ts";
import { Registry } from "../metrics/mod.ts";
import { PROVIDERS } from "./detect.ts";
import type { Provider } from "./detect.ts";
import { CloudMetadataHub } from "./hub.ts";
import { nodeMetadataHttp } from "./http_client.ts";
import type { FailureReason } from "./http_client.ts";
import type { MockFault } from "./_mock_metadata.ts";
import { MOCK_EXPECTED, startMockMetadata } from "./_mock_metadata.ts";
import { providerClient } from "./mod.ts";
import { cloudMetrics, CloudRefresher } from "./refresher.ts";

function setup(
  provider: Provider,
  base: string,
  opts: { refreshMs?: number; retryMinMs?: number } = {},
) {
  const registry = new Registry();
  const hub = new CloudMetadataHub();
  const r = new CloudRefresher({
    client: providerClient(provider),
    http: nodeMetadataHttp,
    hub,
    metrics: cloudMetrics(registry),
    log: silentLogger,
    baseUrl: base,
    timeoutMs: 300,
    ...opts,
  });
  const sample = (name: string, labels: string) => {
    const line = new TextDecoder().decode(registry.encode()).split("\n")
      .find((l) => l.startsWith(`${name}{${labels}}`));
    return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(" ") + 1));
  };
  return { registry, hub, r, sample };
}

const FAULTS: [MockFault, FailureReason][] = [
  ["not_found", "http_status"],
  ["server_error", "http_status"],
  ["garbage", "bad_response"],
  ["hang", "timeout"],
  ["trickle", "timeout"],
];

for (const provider of PROVIDERS) {
  Deno.test(`${provider}: each failure is counted by reason and the last good answer stays`, async () => {
    const mock = startMockMetadata(provider);
    const { hub, r, sample } = setup(provider, mock.url);
    try {
      const first = await r.round();
      ok(first.ok);
      deepEqual(hub.discovered, MOCK_EXPECTED[provider]);
      const faults = [...FAULTS];
      if (provider === "AWS" || provider === "IBM") faults.push(["token_refused", "token_refused"]);
      for (const [fault, reason] of faults) {
        mock.fault = fault;
        const res = await r.round();
        equal(res.ok, false, fault);
        if (!res.ok) equal(res.error.reason, reason, `${fault}: ${res.error.message}`);
        const n = sample(
          "osprey_cloud_metadata_errors_total",
          `provider="${provider}",reason="${reason}"`,
        );
        ok((n ?? 0) > 0, `${fault} not counted`);
        deepEqual(hub.info(), MOCK_EXPECTED[provider], `${fault} changed the answer`);
      }
      const counted = faults.filter(([, rs]) => rs === "http_status").length;
      equal(
        sample("osprey_cloud_metadata_errors_total", `provider="${provider}",reason="http_status"`),
        counted,
      );
    } finally {
      await r.stop();
      await mock.close();
    }
  });
}

Deno.test("a service that is not there fails as unreachable, counted", async () => {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close(); // nothing listens there now: connection refused
  const { r, sample } = setup("Oracle", `http://127.0.0.1:${port}`);
  const res = await r.round();
  equal(res.ok, false);
  if (!res.ok) equal(res.error.reason, "unreachable");
  equal(sample("osprey_cloud_metadata_errors_total", 'provider="Oracle",reason="unreachable"'), 1);
  equal(sample("osprey_cloud_metadata_requests_total", 'provider="Oracle"'), 1);
});

async function until(what: string, cond: () => boolean, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((res) => setTimeout(res, 20));
  }
}

Deno.test("the rounds retry after a failure and refresh after success, in the background", async () => {
  const mock = startMockMetadata("GCP", { fault: "server_error" });
  const { hub, r } = setup("GCP", mock.url, { refreshMs: 100, retryMinMs: 50 });
  try {
    r.start(); // returns at once; nothing is awaited
    equal(hub.discovered, undefined);
    await until("a failed round", () => mock.requests.length > 0);
    mock.fault = "none";
    await until("recovery", () => hub.discovered !== undefined);
    deepEqual(hub.info(), MOCK_EXPECTED.GCP);
    mock.set({ public_ipv4: "198.51.100.99" });
    await until("the refresh", () => hub.info().public_ipv4 === "198.51.100.99");
  } finally {
    await r.stop();
    await mock.close();
  }
});

Deno.test("stop() aborts a request that hangs", async () => {
  const mock = startMockMetadata("Azure", { fault: "hang" });
  const { r } = setup("Azure", mock.url);
  try {
    r.start();
    await until("the request", () => mock.requests.length > 0);
    await r.stop(); // would wait for the 300 ms deadline at most; resolves on the abort
  } finally {
    await mock.close();
  }
});

Deno.test("a connection Deno does not grant fails as not_granted", async () => {
  const mock = startMockMetadata("Hetzner");
  const script = await Deno.makeTempFile({ suffix: ".ts" });
  try {
    const client = new URL("./http_client.ts", import.meta.url).href;
    await Deno.writeTextFile(
      script,
      `import { nodeMetadataHttp } from ${JSON.stringify(client)};\n` +
        "try {\n" +
        '  await nodeMetadataHttp({ method: "GET", url: Deno.args[0] }, { timeoutMs: 2000 });\n' +
        '  console.log("answered");\n' +
        "} catch (e) { console.log(e.reason); }\n",
    );
    const out = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--no-prompt",
        "--no-check",
        "--allow-net=127.0.0.1:1",
        script,
        `${mock.url}/hetzner/v1/metadata`,
      ],
      env: { NO_COLOR: "1", DENO_NO_UPDATE_CHECK: "1" },
    }).output();
    equal(
      new TextDecoder().decode(out.stdout).trim(),
      "not_granted",
      new TextDecoder().decode(out.stderr),
    );
    equal(mock.requests.length, 0);
  } finally {
    await Deno.remove(script);
    await mock.close();
  }
});
