/**
 * Test helper: a loopback server (127.0.0.1, a free port) that answers like one provider's
 * metadata service as its public documentation describes it (see each client's module doc for
 * the page): the same paths, the same required headers and token handshakes (a request
 * without them is refused with the status the documentation names and recorded as rejected),
 * the same body formats (plain text, JSON, YAML, KEY=VALUE). Faults make it fail on purpose:
 * 404, 500, garbage bodies, a refusing token endpoint, a hang, one byte per second.
 *
 * Private to the cloud module's tests and tests/cloud/.
 *
 * @module
 */
import type { Provider } from "./detect.ts";
import type { CloudInfo } from "./info.ts";
import { cloudInfo } from "./info.ts";

/** What the server does wrong, if anything. */
export type MockFault =
  | "none"
  /** Every metadata path answers 404 (token endpoints still work). */
  | "not_found"
  /** Every metadata path answers 500. */
  | "server_error"
  /** Every metadata path answers 200 with bytes that are not what the provider sends. */
  | "garbage"
  /** The token endpoint (AWS, IBM) answers 403; providers without one are not affected. */
  | "token_refused"
  /** No request is ever answered (until the server closes). */
  | "hang"
  /** Every answer is sent one byte per second. */
  | "trickle";

/** One request the server received. */
export interface RecordedRequest {
  readonly method: string;
  /** Path and query. */
  readonly path: string;
  readonly headers: Readonly<Record<string, string>>;
  /** Refused for a missing header, token or query (the provider's documented refusal). */
  readonly rejected: boolean;
}

/** A running mock service. */
export interface MockMetadataServer {
  /** `http://127.0.0.1:<port>`: pass it as `--cloud-metadata-base-url`. */
  readonly url: string;
  readonly port: number;
  readonly requests: RecordedRequest[];
  fault: MockFault;
  /** Changes one answer (e.g. the public address) from now on. */
  set(values: Partial<CloudInfo>): void;
  close(): Promise<void>;
}

/** What each mock answers, as `node_cloud_info` values the client must produce from it. */
export const MOCK_EXPECTED: Readonly<Record<Provider, CloudInfo>> = {
  AWS: cloudInfo({
    provider: "AWS",
    account_id: "123456789012",
    instance_id: "i-0abcdef1234567890",
    instance_type: "m5.large",
    instance_life_cycle: "spot",
    region: "us-east-1",
    availability_zone: "us-east-1a",
    availability_zone_id: "use1-az6",
    local_ipv4: "10.0.1.23",
    public_ipv4: "203.0.113.10",
  }),
  GCP: cloudInfo({
    provider: "GCP",
    account_id: "my-project-123",
    instance_id: "4567890123456789012",
    instance_type: "e2-standard-4",
    instance_life_cycle: "preemptible",
    region: "europe-west1",
    availability_zone: "europe-west1-b",
    local_ipv4: "10.132.0.7",
    public_ipv4: "198.51.100.7",
  }),
  Azure: cloudInfo({
    provider: "Azure",
    account_id: "8d10da13-8125-4ba9-a717-bf7490507b3d",
    instance_id: "13f56399-bd52-4150-9748-7190aae1ff21",
    instance_type: "Standard_D2s_v3",
    region: "westeurope",
    availability_zone: "2",
    local_ipv4: "10.1.0.4",
    public_ipv4: "20.13.0.42",
  }),
  Hetzner: cloudInfo({
    provider: "Hetzner",
    instance_id: "42424242",
    region: "eu-central",
    availability_zone: "fsn1-dc14",
    public_ipv4: "203.0.113.77",
  }),
  DigitalOcean: cloudInfo({
    provider: "DigitalOcean",
    instance_id: "2756294",
    region: "nyc3",
    availability_zone: "nyc3",
  }),
  Alibaba: cloudInfo({
    provider: "Alibaba",
    account_id: "1234567890123456",
    instance_id: "i-bp67acfmxazb4p****",
    instance_type: "ecs.g7.large",
    region: "cn-hangzhou",
    availability_zone: "cn-hangzhou-i",
    local_ipv4: "192.168.0.10",
  }),
  Scaleway: cloudInfo({
    provider: "Scaleway",
    instance_id: "8a7e1f2c-4b3d-4c5e-9f6a-0b1c2d3e4f5a",
    instance_type: "DEV1-S",
    region: "fr-par",
    availability_zone: "fr-par-1",
  }),
  IBM: cloudInfo({
    provider: "IBM",
    instance_id: "0717_e21b7391-2ca2-4ab5-84a8-b92157a633b0",
    instance_type: "bx2-2x8",
    region: "us-south",
    availability_zone: "us-south-1",
  }),
  Oracle: cloudInfo({
    provider: "Oracle",
    instance_id: "ocid1.instance.oc1.phx.exampleuniqueID",
    instance_type: "VM.Standard.E4.Flex",
    region: "us-phoenix-1",
    availability_zone: "us-phoenix-1-ad-1",
  }),
};

const AWS_TOKEN = "AQAEAFmock-imdsv2-token==";
const IBM_TOKEN = "eyJhbGciOiJSUzI1NiJ9.mock.ibm";

type Answer = { status: number; body: string; type?: string } | "reject";

function text(body: string, status = 200): Answer {
  return { status, body, type: "text/plain" };
}
function json(v: unknown): Answer {
  return { status: 200, body: JSON.stringify(v), type: "application/json" };
}
const NOT_FOUND: Answer = text("Not Found", 404);

/** The documented answer of `provider` for a request, from the values `v`. */
function answer(
  provider: Provider,
  v: CloudInfo,
  req: { method: string; path: string; query: URLSearchParams; headers: Headers },
): Answer | { token: Answer } {
  const h = (n: string) => req.headers.get(n);
  switch (provider) {
    case "AWS": {
      if (req.path === "/latest/api/token") {
        const ttl = Number(h("x-aws-ec2-metadata-token-ttl-seconds"));
        if (req.method !== "PUT" || !(ttl >= 1 && ttl <= 21600)) return { token: text("", 400) };
        return { token: text(AWS_TOKEN) };
      }
      if (!req.path.startsWith("/latest/meta-data/")) return NOT_FOUND;
      if (h("x-aws-ec2-metadata-token") !== AWS_TOKEN) return "reject"; // 401 (IMDSv2 required)
      const item = req.path.slice("/latest/meta-data/".length);
      const values: Record<string, string> = {
        "instance-id": v.instance_id,
        "instance-life-cycle": v.instance_life_cycle,
        "instance-type": v.instance_type,
        "placement/region": v.region,
        "placement/availability-zone": v.availability_zone,
        "placement/availability-zone-id": v.availability_zone_id,
        "local-ipv4": v.local_ipv4,
        "public-ipv4": v.public_ipv4,
      };
      if (item === "identity-credentials/ec2/info") {
        return json({
          Code: "Success",
          LastUpdated: "2026-11-30T06:00:00Z",
          AccountId: v.account_id,
        });
      }
      return values[item] ? text(values[item]) : NOT_FOUND;
    }
    case "GCP": {
      if (!req.path.startsWith("/computeMetadata/v1/")) return NOT_FOUND;
      if (h("metadata-flavor") !== "Google") return "reject"; // 403
      const key = req.path.slice("/computeMetadata/v1/".length);
      const values: Record<string, string> = {
        "project/project-id": v.account_id,
        "instance/id": v.instance_id,
        "instance/zone": `projects/1234567890/zones/${v.availability_zone}`,
        "instance/machine-type": `projects/1234567890/machineTypes/${v.instance_type}`,
        "instance/scheduling/preemptible": v.instance_life_cycle === "preemptible"
          ? "TRUE"
          : "FALSE",
        "instance/network-interfaces/0/ip": v.local_ipv4,
        "instance/network-interfaces/0/access-configs/0/external-ip": v.public_ipv4,
      };
      return values[key] ? text(values[key]) : NOT_FOUND;
    }
    case "Azure": {
      if (req.path !== "/metadata/instance") return NOT_FOUND;
      if (h("metadata") !== "true" || !req.query.get("api-version")) return "reject"; // 400
      return json({
        compute: {
          location: v.region,
          name: "osprey-test-vm",
          subscriptionId: v.account_id,
          vmId: v.instance_id,
          vmSize: v.instance_type,
          zone: v.availability_zone,
          priority: "Regular",
          osType: "Linux",
        },
        network: {
          interface: [{
            ipv4: {
              ipAddress: [{ privateIpAddress: v.local_ipv4, publicIpAddress: v.public_ipv4 }],
              subnet: [{ address: "10.1.0.0", prefix: "24" }],
            },
            ipv6: { ipAddress: [] },
            macAddress: "000D3AF806EC",
          }],
        },
      });
    }
    case "Hetzner": {
      if (req.path !== "/hetzner/v1/metadata") return NOT_FOUND;
      return text(
        `availability-zone: ${v.availability_zone}\nhostname: osprey-test\n` +
          `instance-id: ${v.instance_id}\nlocal-ipv4: '${v.local_ipv4}'\n` +
          `public-ipv4: ${v.public_ipv4}\nregion: ${v.region}\npublic-keys:\n` +
          `- ssh-ed25519 AAAAC3Nza test@example\nvendor_data: |\n  #cloud-config\n  runcmd: []\n`,
      );
    }
    case "DigitalOcean": {
      if (req.path === "/metadata/v1/id") return text(v.instance_id);
      if (req.path === "/metadata/v1/region") return text(v.region);
      return NOT_FOUND;
    }
    case "Alibaba": {
      if (!req.path.startsWith("/latest/meta-data/")) return NOT_FOUND;
      const values: Record<string, string> = {
        "instance-id": v.instance_id,
        "region-id": v.region,
        "zone-id": v.availability_zone,
        "owner-account-id": v.account_id,
        "instance/instance-type": v.instance_type,
        "private-ipv4": v.local_ipv4,
      };
      const item = req.path.slice("/latest/meta-data/".length);
      return values[item] ? text(values[item]) : NOT_FOUND;
    }
    case "Scaleway": {
      if (req.path !== "/conf") return NOT_FOUND;
      return text(
        `ID=${v.instance_id}\nNAME='osprey test'\nORGANIZATION=0b1c2d3e\n` +
          `COMMERCIAL_TYPE=${v.instance_type}\nZONE=${v.availability_zone}\n` +
          `PRIVATE_IP=10.64.12.3\nPUBLIC_IP_ADDRESS=51.15.0.1\nTAGS=0\n`,
      );
    }
    case "IBM": {
      if (req.path === "/instance_identity/v1/token") {
        if (req.method !== "PUT" || h("metadata-flavor") !== "ibm" || !req.query.get("version")) {
          return { token: text("", 400) };
        }
        return {
          token: json({
            access_token: IBM_TOKEN,
            created_at: "2026-11-30T06:00:00Z",
            expires_at: "2026-11-30T06:05:00Z",
            expires_in: 300,
          }),
        };
      }
      if (req.path !== "/metadata/v1/instance") return NOT_FOUND;
      if (h("authorization") !== `Bearer ${IBM_TOKEN}` || !req.query.get("version")) {
        return "reject"; // 401
      }
      return json({
        id: v.instance_id,
        name: "osprey-test",
        crn: "crn:v1:bluemix:public:is:us-south-1:a/123::instance:" + v.instance_id,
        profile: { name: v.instance_type },
        zone: { name: v.availability_zone },
        vpc: { id: "r006-4727d842-f94f-4a2d-824a-9bc9b02c523b" },
      });
    }
    case "Oracle": {
      if (req.path !== "/opc/v2/instance/") return NOT_FOUND;
      if (h("authorization") !== "Bearer Oracle") return "reject"; // 401
      const n = /-ad-(\d+)$/.exec(v.availability_zone)?.[1] ?? "1";
      return json({
        availabilityDomain: `Uocm:PHX-AD-${n}`,
        faultDomain: "FAULT-DOMAIN-2",
        compartmentId: "ocid1.tenancy.oc1..exampleuniqueID",
        displayName: "osprey-test",
        id: v.instance_id,
        region: "phx",
        canonicalRegionName: v.region,
        shape: v.instance_type,
        state: "Running",
      });
    }
  }
}

const REJECT_STATUS: Record<Provider, number> = {
  AWS: 401,
  GCP: 403,
  Azure: 400,
  Hetzner: 400,
  DigitalOcean: 400,
  Alibaba: 403,
  Scaleway: 400,
  IBM: 401,
  Oracle: 401,
};

/** Starts a mock of `provider`'s metadata service on 127.0.0.1. */
export function startMockMetadata(
  provider: Provider,
  opts: { fault?: MockFault; values?: Partial<CloudInfo> } = {},
): MockMetadataServer {
  let values: CloudInfo = { ...MOCK_EXPECTED[provider], ...opts.values };
  const requests: RecordedRequest[] = [];
  const closing = Promise.withResolvers<void>();
  const timers = new Set<ReturnType<typeof setInterval>>();
  const state = { fault: opts.fault ?? "none" as MockFault };

  const respond = (
    a: { status: number; body: string; type?: string },
  ): Response | Promise<Response> => {
    const headers: Record<string, string> = { "content-type": a.type ?? "text/plain" };
    if (provider === "GCP") headers["metadata-flavor"] = "Google";
    if (state.fault === "hang") {
      return closing.promise.then(() => new Response("closing", { status: 503 }));
    }
    if (state.fault !== "trickle") return new Response(a.body, { status: a.status, headers });
    const bytes = new TextEncoder().encode(a.body);
    let i = 0;
    let timer: ReturnType<typeof setInterval> | undefined;
    const body = new ReadableStream<Uint8Array>({
      start(ctl) {
        timer = setInterval(() => {
          if (i >= bytes.length) {
            clearInterval(timer);
            timers.delete(timer!);
            ctl.close();
            return;
          }
          ctl.enqueue(bytes.subarray(i, ++i));
        }, 1000);
        timers.add(timer);
      },
      cancel() {
        clearInterval(timer);
        timers.delete(timer!);
      },
    });
    return new Response(body, { status: a.status, headers });
  };

  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (r) => {
    const u = new URL(r.url);
    const headers: Record<string, string> = {};
    r.headers.forEach((v, k) => headers[k] = v);
    const a = answer(provider, values, {
      method: r.method,
      path: u.pathname,
      query: u.searchParams,
      headers: r.headers,
    });
    const isToken = typeof a === "object" && "token" in a;
    const rejected = a === "reject" ||
      (isToken && (a as { token: { status: number } }).token.status !== 200);
    requests.push({ method: r.method, path: u.pathname + u.search, headers, rejected });
    if (a === "reject") {
      return respond(
        text("refused: missing header or token", REJECT_STATUS[provider]) as {
          status: number;
          body: string;
        },
      );
    }
    if (isToken) {
      const t = (a as { token: { status: number; body: string; type?: string } }).token;
      if (state.fault === "token_refused") return respond({ status: 403, body: "Forbidden" });
      return respond(t);
    }
    const ok = a as { status: number; body: string; type?: string };
    switch (state.fault) {
      case "not_found":
        return respond({ status: 404, body: "Not Found" });
      case "server_error":
        return respond({ status: 500, body: "Internal Server Error" });
      case "garbage":
        return respond({ status: 200, body: "\u0000\u00ff<html>\u0007{not: [metadata" });
      default:
        return respond(ok);
    }
  });
  const port = (server.addr as Deno.NetAddr).port;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    requests,
    get fault() {
      return state.fault;
    },
    set fault(f: MockFault) {
      state.fault = f;
    },
    set(v) {
      values = { ...values, ...v };
    },
    async close() {
      closing.resolve();
      for (const t of timers) clearInterval(t);
      await server.shutdown();
    },
  };
}
