/**
 * OTLP/HTTP logs and traces from the push module to a loopback receiver that decodes the
 * protobuf with the official OTLP definitions (as compiled in @opentelemetry/otlp-transformer)
 * and checks each record and span field by field: resource, scope, body, severity, observed
 * timestamp, `pattern.hash`, JSON attributes, trace context; span kind, name, times, status,
 * peer and protocol attributes; head sampling; a refused batch dropped and counted.
 *
 * The test calls the sinks the logs and L7 modules call (`pushSinks.logs?.emit`,
 * `pushSinks.traces?.emit`); tests/logs/otlp_logs_test.ts runs the logs module's side.
 */
import { deepEqual, equal, ok } from "node:assert/strict";
import { CollectorScheduler } from "../../agent/collector.ts";
import { parseFlags } from "../../agent/flags.ts";
import { silentLogger } from "../../agent/log.ts";
import { agentFlags } from "../../agent/main.ts";
import { Registry } from "../../agent/metrics/mod.ts";
import type { ModuleInstance } from "../../agent/modules.ts";
import { hostPaths } from "../../agent/paths.ts";
import { createPushModule, loadOtlpTypes, pushSinks } from "../../agent/push/mod.ts";
import type { L7Request, LogMessage } from "../../agent/push/mod.ts";
import { sleep } from "../containers/metrics.ts";
import { until } from "./harness.ts";

const types = await loadOtlpTypes();
/** A host root with only /etc/hostname (host.name of the span resources). */
const HOST_ROOT = await Deno.makeTempDir({ prefix: "osprey-otlp-host-" });
await Deno.mkdir(`${HOST_ROOT}/etc`);
await Deno.writeTextFile(`${HOST_ROOT}/etc/hostname`, "test-node\n");
globalThis.addEventListener("unload", () => Deno.removeSync(HOST_ROOT, { recursive: true }));
const AS_JSON = { longs: String, enums: Number, bytes: String, defaults: false };

interface Received {
  path: string;
  headers: Headers;
  // deno-lint-ignore no-explicit-any
  body: any;
}

function receiver(status: () => number) {
  const got: Received[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    const bytes = new Uint8Array(await req.arrayBuffer());
    const path = new URL(req.url).pathname;
    const type = path === "/v1/logs"
      ? types.ExportLogsServiceRequest
      : types.ExportTraceServiceRequest;
    got.push({ path, headers: req.headers, body: type.toObject(type.decode(bytes), AS_JSON) });
    return new Response(null, { status: status() });
  });
  return { got, server, url: `http://127.0.0.1:${server.addr.port}` };
}

async function startModule(args: string[], random?: () => number) {
  const reg = new Registry({ constLabels: { machine_id: "m-1", system_uuid: "" } });
  const flags = parseFlags(agentFlags(), args, () => undefined).values;
  const mod = createPushModule("9.9.9", { otlpDelayMs: 100, retryMinMs: 100, random });
  const inst: ModuleInstance = await mod.start({
    flags,
    paths: hostPaths({ hostRoot: HOST_ROOT }),
    registry: reg,
    scheduler: new CollectorScheduler(reg, silentLogger, { intervalMs: 60_000, timeoutMs: 1000 }),
    log: silentLogger,
    signal: new AbortController().signal,
  });
  return { reg, inst };
}

const b64 = (hex: string) =>
  btoa(String.fromCharCode(...hex.match(/../g)!.map((h) => parseInt(h, 16))));

Deno.test({
  name: "OTLP logs and traces: every field, as the official definitions decode them",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const rx = receiver(() => 200);
    const { reg, inst } = await startModule([
      `--logs-endpoint=${rx.url}/v1/logs`,
      `--traces-endpoint=${rx.url}/v1/traces`,
      "--api-key=otlp-key",
    ]);
    try {
      const trace = "4bf92f3577b34da6a3ce929d0e0e4736";
      const span = "00f067aa0ba902b7";
      const msg: LogMessage = {
        content: "payment failed\n  at charge()",
        level: "error",
        timestampMs: 1_764_000_000_123,
        patternHash: "5d41402abc4b2a76b9719d911017c592",
        sample: "payment failed",
        attributes: { "trace_id": trace, "span.id": span, "user": "u-7" },
      };
      pushSinks.logs!.emit("/k8s/shop/pay-5d8f7-x2x9q/app", "/k8s/shop/pay", msg);
      pushSinks.logs!.emit("/docker/abc", "/docker/abc", {
        ...msg,
        level: "unknown",
        patternHash: "",
        attributes: undefined,
      });
      const http: L7Request = {
        containerId: "/docker/abc",
        serviceName: "/docker/abc",
        protocol: "http",
        peerHost: "10.1.2.3",
        peerPort: 8080,
        endMs: 1_764_000_001_500,
        durationMs: 250,
        method: "POST",
        path: "/api/pay?x=1",
        status: 503,
      };
      const redis: L7Request = {
        containerId: "/docker/abc",
        serviceName: "/docker/abc",
        protocol: "redis",
        peerHost: "10.1.2.4",
        peerPort: 6379,
        endMs: 1_764_000_002_000,
        durationMs: 1,
        method: "GET",
        query: "session:1",
      };
      pushSinks.traces!.emit(http);
      pushSinks.traces!.emit(redis);
      pushSinks.traces!.emit({ ...redis, method: "" }); // no command: no span (as the reference)
      await until(
        "both exports",
        () =>
          rx.got.some((g) => g.path === "/v1/logs") && rx.got.some((g) => g.path === "/v1/traces"),
      );

      const logs = rx.got.find((g) => g.path === "/v1/logs")!;
      equal(logs.headers.get("content-type"), "application/x-protobuf");
      equal(logs.headers.get("x-api-key"), "otlp-key");
      const rl = logs.body.resourceLogs;
      equal(rl.length, 2);
      deepEqual(rl[0].resource.attributes, [
        { key: "service.name", value: { stringValue: "/k8s/shop/pay" } },
        { key: "container.id", value: { stringValue: "/k8s/shop/pay-5d8f7-x2x9q/app" } },
      ]);
      deepEqual(rl[0].scopeLogs[0].scope, { name: "coroot-node-agent", version: "9.9.9" });
      deepEqual(rl[0].scopeLogs[0].logRecords, [{
        observedTimeUnixNano: "1764000000123000000",
        severityNumber: 17,
        severityText: "error",
        body: { stringValue: "payment failed\n  at charge()" },
        attributes: [
          { key: "pattern.hash", value: { stringValue: "5d41402abc4b2a76b9719d911017c592" } },
          { key: "user", value: { stringValue: "u-7" } },
        ],
        traceId: b64(trace),
        spanId: b64(span),
      }]);
      const unknown = rl[1].scopeLogs[0].logRecords[0];
      equal(unknown.severityNumber, 0); // SEVERITY_NUMBER_UNSPECIFIED
      equal(unknown.severityText, "unknown");
      deepEqual(unknown.attributes, [{ key: "pattern.hash", value: { stringValue: "" } }]);

      const traces = rx.got.find((g) => g.path === "/v1/traces")!;
      const rs = traces.body.resourceSpans;
      equal(rs.length, 1);
      deepEqual(rs[0].resource.attributes, [
        { key: "host.name", value: { stringValue: "test-node" } },
        { key: "host.id", value: { stringValue: "m-1" } },
        { key: "service.name", value: { stringValue: "/docker/abc" } },
        { key: "container.id", value: { stringValue: "/docker/abc" } },
      ]);
      const spans = rs[0].scopeSpans[0].spans;
      equal(spans.length, 2);
      const [h, r] = spans;
      equal(h.name, "POST");
      equal(h.kind, 3); // SPAN_KIND_CLIENT
      equal(h.startTimeUnixNano, "1764000001250000000");
      equal(h.endTimeUnixNano, "1764000001500000000");
      deepEqual(h.status, { code: 2 }); // STATUS_CODE_ERROR
      deepEqual(h.attributes, [
        { key: "http.url", value: { stringValue: "http://10.1.2.3:8080/api/pay?x=1" } },
        { key: "http.method", value: { stringValue: "POST" } },
        { key: "http.status_code", value: { intValue: "503" } },
        { key: "net.peer.name", value: { stringValue: "10.1.2.3" } },
        { key: "net.peer.port", value: { intValue: "8080" } },
      ]);
      equal(atob(h.traceId).length, 16);
      equal(atob(h.spanId).length, 8);
      ok(h.traceId !== r.traceId, "each request is its own trace");
      equal(r.name, "GET");
      deepEqual(r.status, {});
      deepEqual(r.attributes.slice(0, 3), [
        { key: "db.system", value: { stringValue: "redis" } },
        { key: "db.operation", value: { stringValue: "GET" } },
        { key: "db.statement", value: { stringValue: "GET session:1" } },
      ]);
      const text = new TextDecoder().decode(reg.encode());
      ok(
        /osprey_push_records_total\{signal="logs",outcome="sent",reason="",[^}]*\} 2/.test(text),
        text,
      );
      ok(
        /osprey_push_records_total\{signal="traces",outcome="sent",reason="",[^}]*\} 2/.test(text),
      );
    } finally {
      await inst.stop();
      await rx.server.shutdown();
    }
    equal(pushSinks.logs, undefined, "the sinks go with the module");
  },
});

Deno.test({
  name: "OTLP: head sampling by --traces-sampling; a 400 drops the batch and counts its records",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const rx = receiver(() => 400);
    const draws = [0.05, 0.5, 0.2, 0.09];
    const { reg, inst } = await startModule(
      [`--traces-endpoint=${rx.url}/v1/traces`, "--traces-sampling=0.1"],
      () => draws.shift()!,
    );
    try {
      const req: L7Request = {
        containerId: "/docker/a",
        serviceName: "/docker/a",
        protocol: "postgres",
        peerHost: "db",
        peerPort: 5432,
        endMs: 1_764_000_000_000,
        durationMs: 3,
        query: "select 1",
        failed: true,
      };
      for (let i = 0; i < 4; i++) pushSinks.traces!.emit(req);
      await until("the export", () => rx.got.length > 0);
      await sleep(300);
      const spans = rx.got[0].body.resourceSpans[0].scopeSpans[0].spans;
      equal(spans.length, 2, "draws 0.05 and 0.09 are below 0.1");
      deepEqual(spans[0].attributes.slice(0, 2), [
        { key: "db.system", value: { stringValue: "postgresql" } },
        { key: "db.statement", value: { stringValue: "select 1" } },
      ]);
      deepEqual(spans[0].status, { code: 2 });
      equal(rx.got.length, 1, "a refused batch is not retried");
      const text = new TextDecoder().decode(reg.encode());
      ok(
        /osprey_push_records_total\{signal="traces",outcome="dropped",reason="rejected",[^}]*\} 2/
          .test(text),
        text,
      );
      ok(
        /osprey_push_dropped_batches_total\{signal="traces",reason="rejected",[^}]*\} 1/.test(text),
      );
    } finally {
      await inst.stop();
      await rx.server.shutdown();
    }
  },
});
