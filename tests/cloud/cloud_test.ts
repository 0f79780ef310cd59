/**
 * The cloud module in the real agent: a copy of the recorded fixture host (which carries a
 * Podman container) with one cloud's DMI files from tests/fixtures/cloud, and that provider's
 * loopback mock (agent/cloud/_mock_metadata.ts) as `--cloud-metadata-base-url`. Every test here
 * that gives the agent a cloud's DMI also gives it the loopback base URL: nothing is ever sent
 * to a metadata address. About 40 s (one agent per cloud, and one 5 s timeout).
 */
import { deepEqual, equal, match, ok } from "node:assert/strict";
import { PROVIDERS } from "../../agent/cloud/mod.ts";
import type { CloudInfo, Provider } from "../../agent/cloud/mod.ts";
import { CLOUD_INFO_LABELS } from "../../agent/cloud/mod.ts";
import { MOCK_EXPECTED, startMockMetadata } from "../../agent/cloud/_mock_metadata.ts";
import type { MockMetadataServer } from "../../agent/cloud/_mock_metadata.ts";
import { freePort, REPO_ROOT, scrape, startAgent } from "../helpers/agent_process.ts";
import type { AgentProcess } from "../helpers/agent_process.ts";

const FIXTURE_DIR: Record<Provider, string> = {
  AWS: "aws",
  GCP: "gcp",
  Azure: "azure",
  Hetzner: "hetzner",
  DigitalOcean: "digitalocean",
  Alibaba: "alibaba",
  Scaleway: "scaleway",
  IBM: "ibm",
  Oracle: "oracle",
};

/** A temporary copy of tests/fixtures/host with `cloud`'s DMI files laid over its sysfs. */
async function hostWithDmi(cloud: string): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "osprey-cloud-" });
  const cp = async (from: string, to: string) => {
    const r = await new Deno.Command("cp", { args: ["-a", from, to] }).output();
    if (!r.success) throw new Error(`cp ${from} ${to}: ${new TextDecoder().decode(r.stderr)}`);
  };
  await cp(`${REPO_ROOT}/tests/fixtures/host/.`, dir);
  await cp(`${REPO_ROOT}/tests/fixtures/cloud/${cloud}/sys/.`, `${dir}/sys`);
  return dir;
}

/** The `cloud` row of the start-up table on the agent's stderr. */
function cloudRow(stderr: string): string {
  return stderr.split("\n").find((l) => /^cloud\s/.test(l)) ?? "";
}

function labelsOf(line: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of line.matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) out[m[1]] = m[2];
  return out;
}

function cloudInfoOf(text: string): CloudInfo | undefined {
  const line = text.split("\n").find((l) => l.startsWith("node_cloud_info{"));
  if (line === undefined) return undefined;
  const l = labelsOf(line);
  return Object.fromEntries(CLOUD_INFO_LABELS.map((k) => [k, l[k]])) as CloudInfo;
}

async function waitScrape(
  agent: AgentProcess,
  what: string,
  cond: (text: string) => boolean,
  timeoutMs = 20_000,
): Promise<string> {
  const end = Date.now() + timeoutMs;
  let text = "";
  while (Date.now() < end) {
    text = await scrape(agent.url);
    if (cond(text)) return text;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(
    `timed out waiting for ${what}; last scrape:\n${text}\nstderr:\n${agent.stderr()}`,
  );
}

async function withAgent(
  opts: { cloud: string; mock: MockMetadataServer; permissions?: string[]; args?: string[] },
  fn: (agent: AgentProcess, host: string) => Promise<void>,
): Promise<void> {
  const host = await hostWithDmi(opts.cloud);
  const agent = startAgent({
    permissions: opts.permissions ?? ["-A"],
    args: [
      `--host-root=${host}`,
      "--disable-bpf",
      "--collect-interval=500ms",
      `--cloud-metadata-base-url=${opts.mock.url}`,
      ...(opts.args ?? []),
    ],
  });
  try {
    await agent.waitListening();
    await fn(agent, host);
  } finally {
    const { status } = await agent.stop();
    equal(status.code, 0, agent.stderr());
    await Deno.remove(host, { recursive: true });
  }
}

for (const provider of PROVIDERS) {
  Deno.test(`the agent on a ${provider} DMI fills node_cloud_info from the loopback ${provider} mock`, async () => {
    const mock = startMockMetadata(provider);
    try {
      await withAgent({ cloud: FIXTURE_DIR[provider], mock }, async (agent) => {
        const text = await waitScrape(
          agent,
          "node_cloud_info",
          (t) => cloudInfoOf(t)?.provider === provider && /^container_info\{/m.test(t),
        );
        deepEqual(cloudInfoOf(text), MOCK_EXPECTED[provider]);
        match(
          cloudRow(agent.stderr()),
          new RegExp(`^cloud\\s+on\\s+${provider}, asking ${mock.url} `),
        );
        deepEqual(mock.requests.filter((r) => r.rejected), []);
        // az/region on the container series, not on node or self series
        const { region, availability_zone: az } = MOCK_EXPECTED[provider];
        const info = text.split("\n").find((l) => l.startsWith("container_info{"));
        ok(info, "the fixture's container is served");
        const l = labelsOf(info);
        deepEqual([l.az, l.region], [az, region]);
        for (const name of ["node_info{", "node_cloud_info{", "osprey_module_state{"]) {
          ok(
            text.split("\n").filter((x) => x.startsWith(name)).every((x) => !/\baz="/.test(x)),
            name,
          );
        }
        equal(
          text.includes(`osprey_cloud_metadata_requests_total{provider="${provider}",`),
          true,
        );
      });
    } finally {
      await mock.close();
    }
  });
}

Deno.test("a metadata service that hangs delays neither start-up nor a scrape, and is counted", async () => {
  const mock = startMockMetadata("Azure", { fault: "hang" });
  try {
    await withAgent({ cloud: "azure", mock }, async (agent) => {
      await agent.waitReady();
      // The request is in flight and unanswered (the mock answers only when it closes), yet
      // /readyz is 200 and every scrape completes.
      const end = Date.now() + 10_000;
      while (mock.requests.length === 0 && Date.now() < end) {
        await new Promise((r) => setTimeout(r, 50));
      }
      ok(mock.requests.length >= 1, "no request reached the mock");
      const text = await scrape(agent.url);
      // the scrape completed before the hang ended (its 5 s deadline is not counted yet)
      ok(!/reason="timeout",[^}]*\} 1$/m.test(text), "the scrape waited for the hang");
      equal(cloudInfoOf(text)?.provider, "");
      match(text, /^node_info\{/m);
      ok(!/^container_info\{[^}]*\baz="/m.test(text), "az without an answer");
      await waitScrape(
        agent,
        "the timeout to be counted",
        (t) =>
          /^osprey_cloud_metadata_errors_total\{provider="Azure",reason="timeout",[^}]*\} 1$/m.test(
            t,
          ),
      );
    });
  } finally {
    await mock.close();
  }
});

Deno.test("without the net grant the module is off, names the flag, asks nothing; overrides still apply", async () => {
  const mock = startMockMetadata("AWS");
  const port = freePort();
  try {
    await withAgent({
      cloud: "aws",
      mock,
      permissions: [
        "--allow-read",
        `--allow-net=127.0.0.1:${port}`,
        "--allow-env",
        "--allow-sys",
      ],
      args: [`--listen=127.0.0.1:${port}`, "--region=eu-west-3", "--availability-zone=eu-west-3c"],
    }, async (agent) => {
      const row = cloudRow(agent.stderr());
      match(
        row,
        new RegExp(
          `^cloud\\s+off\\s+not granted: net 127\\.0\\.0\\.1:${mock.port}\\s+--allow-net=127\\.0\\.0\\.1:${mock.port}$`,
        ),
      );
      const text = await waitScrape(
        agent,
        "the overrides",
        (t) => cloudInfoOf(t)?.region === "eu-west-3" && /^container_info\{/m.test(t),
      );
      equal(cloudInfoOf(text)?.availability_zone, "eu-west-3c");
      equal(cloudInfoOf(text)?.provider, "");
      match(text, /^osprey_module_state\{module="cloud",state="off",[^}]*\} 1$/m);
      const info = labelsOf(text.split("\n").find((l) => l.startsWith("container_info{")) ?? "");
      deepEqual([info.az, info.region], ["eu-west-3c", "eu-west-3"]);
      equal(mock.requests.length, 0);
    });
  } finally {
    await mock.close();
  }
});

Deno.test("with this host's own sysfs (no cloud vendor) the agent asks nothing", async () => {
  // The base URL points at a recording mock: were the host a cloud VM, the requests would land
  // here, not at a metadata address.
  const mock = startMockMetadata("AWS");
  const agent = startAgent({
    permissions: ["-P=agent"],
    args: ["--disable-bpf", "--provider=AWS", `--cloud-metadata-base-url=${mock.url}`],
  });
  try {
    await agent.waitReady();
    const text = await scrape(agent.url);
    const row = cloudRow(agent.stderr());
    if (/no cloud vendor/.test(row)) {
      match(row, /^cloud\s+on\s+no cloud vendor in \S+\/class\/dmi\/id: nothing asked$/);
      equal(mock.requests.length, 0);
      ok(!text.includes("osprey_cloud_metadata_requests_total"));
      equal(cloudInfoOf(text)?.provider, "AWS", "--provider still labels node_cloud_info");
    } else {
      console.warn(`this host's DMI names a cloud (${row}); its requests went to ${mock.url}`);
    }
  } finally {
    await agent.stop();
    await mock.close();
  }
});
