/**
 * The push module: what current Coroot deployments use instead of scraping (reference §8.5,
 * §8.6, §5.2 end, §9.1).
 *
 * - **Metrics** by Prometheus remote write 1.0 from the registry `/metrics` serves, every
 *   `--scrape-interval`, through a disk spool under `--wal-dir` ({@linkcode RemoteWriter}).
 * - **Logs and traces** by OTLP/HTTP protobuf, batched in bounded queues
 *   ({@linkcode BatchExporter}); other modules hand records over through {@linkcode pushSinks}.
 * - **Endpoints** from `--collector-endpoint` (`<base>/v1/metrics|logs|traces`) or one by one;
 *   pushing metrics moves the listen address to `127.0.0.1:10300` (done in main.ts through
 *   {@linkcode effectiveListen}).
 * - **Least privilege:** net only on the endpoints' `host:port`, write (and read) only on
 *   `--wal-dir`, read on `--ca-file`.
 *
 * @module
 */
import type { FlagSpec, FlagValues } from "../flags.ts";
import { checkHttpUrl } from "../flag_syntax.ts";
import type { ModuleSpec, PermissionNeed } from "../modules.ts";
import type { HostPaths } from "../paths.ts";
import { under } from "../paths.ts";
import { netHost, printableUrl, pushEndpoints } from "./endpoints.ts";
import { pushHttpClient } from "./http.ts";
import { BatchExporter, loadOtlpTypes } from "./otlp_exporter.ts";
import { encodeLogs } from "./otlp_logs.ts";
import type { LogEntry } from "./otlp_logs.ts";
import { encodeSpans, newIds, spanShape } from "./otlp_traces.ts";
import type { SpanEntry } from "./otlp_traces.ts";
import { pushSinks } from "../sinks.ts";
import { pushMetrics } from "./push_metrics.ts";
import { RemoteWriter } from "./remote_writer.ts";

export { effectiveListen, joinSignalPath, PUSH_LISTEN, pushEndpoints } from "./endpoints.ts";
export type { PushEndpoints } from "./endpoints.ts";
export type { LogMessage } from "./otlp_logs.ts";
export type { L7Request } from "./otlp_traces.ts";
export { buildWriteRequest, instanceLabel, JOB, snappyUncompress } from "./remote_write.ts";
export { loadOtlpTypes } from "./otlp_exporter.ts";

const GROUP = "Push to a collector";
const DAY_MS = 86_400_000;
const URL_ACCEPTS = "an absolute http or https URL";

/** The module's flags (the reference's, plus Osprey's `--push-retry-max`). */
export const PUSH_FLAGS: readonly FlagSpec[] = [
  {
    name: "collector-endpoint",
    env: "COLLECTOR_ENDPOINT",
    kind: "string",
    check: checkHttpUrl,
    accepts: URL_ACCEPTS,
    help: "Base URL of a Coroot collector; metrics, logs, traces and profiles go to its " +
      "/v1/metrics, /v1/logs, /v1/traces and /v1/profiles unless set one by one (pushing " +
      "metrics moves --listen to 127.0.0.1:10300)",
    group: GROUP,
  },
  {
    name: "api-key",
    env: "API_KEY",
    kind: "string",
    help: "Coroot API key, sent as X-Api-Key",
    group: GROUP,
  },
  {
    name: "metrics-endpoint",
    env: "METRICS_ENDPOINT",
    kind: "string",
    check: checkHttpUrl,
    accepts: URL_ACCEPTS,
    help: "Prometheus remote-write URL to push metrics to (moves --listen to 127.0.0.1:10300)",
    group: GROUP,
  },
  {
    name: "logs-endpoint",
    env: "LOGS_ENDPOINT",
    kind: "string",
    check: checkHttpUrl,
    accepts: URL_ACCEPTS,
    help: "OTLP/HTTP URL to send container logs to",
    group: GROUP,
  },
  {
    name: "traces-endpoint",
    env: "TRACES_ENDPOINT",
    kind: "string",
    check: checkHttpUrl,
    accepts: URL_ACCEPTS,
    help: "OTLP/HTTP URL to send traces to",
    group: GROUP,
  },
  {
    name: "traces-sampling",
    env: "TRACES_SAMPLING",
    kind: "number",
    default: 1,
    min: 0,
    max: 1,
    help: "Share of outbound requests sent as spans (head sampling)",
    group: GROUP,
  },
  {
    name: "insecure-skip-verify",
    env: "INSECURE_SKIP_VERIFY",
    kind: "bool",
    help: "Do not verify the collector's TLS certificate (Deno needs " +
      "--unsafely-ignore-certificate-errors=<host> too; deno task start adds it)",
    group: GROUP,
  },
  {
    name: "ca-file",
    env: "CA_FILE",
    kind: "string",
    help: "Extra CA certificate file (PEM) for the collector's TLS",
    group: GROUP,
  },
  {
    name: "scrape-interval",
    env: "SCRAPE_INTERVAL",
    kind: "duration",
    default: 15_000,
    min: 1000,
    max: DAY_MS,
    help: "How often metrics are gathered and pushed to the metrics endpoint",
    group: GROUP,
  },
  {
    name: "wal-dir",
    env: "WAL_DIR",
    kind: "string",
    default: "/tmp/coroot-node-agent",
    help: "Directory of the spool that holds metrics the collector has not taken yet",
    group: GROUP,
  },
  {
    name: "max-spool-size",
    env: "MAX_SPOOL_SIZE",
    kind: "bytes",
    default: 500 * 1024 * 1024,
    min: 0,
    help: "Largest size of that spool; beyond it the oldest batches are dropped",
    group: GROUP,
  },
  {
    name: "push-retry-max",
    env: "PUSH_RETRY_MAX",
    kind: "duration",
    default: 60_000,
    min: 1000,
    max: DAY_MS,
    help: "Osprey only: longest wait between two attempts to send (the wait starts at 5 s " +
      "and doubles per failure)",
    group: GROUP,
  },
];

export { type LogSink, pushSinks, type TraceSink } from "../sinks.ts";

function walDir(flags: FlagValues): string {
  return String(flags["wal-dir"]);
}

/** What the module needs, from the flags. */
export function pushPermissions(flags: FlagValues): PermissionNeed[] {
  const eps = pushEndpoints(flags);
  const needs: PermissionNeed[] = [];
  const hosts = [
    ...new Set([eps.metrics, eps.logs, eps.traces].filter((u) => u).map((u) => netHost(u!))),
  ];
  const netFlag = `--allow-net=${hosts.join(",")}`;
  for (const host of hosts) needs.push({ descriptor: { name: "net", host }, flag: netFlag });
  if (eps.metrics !== undefined) {
    const dir = walDir(flags);
    needs.push({ descriptor: { name: "write", path: dir }, flag: `--allow-write=${dir}` });
    needs.push({ descriptor: { name: "read", path: dir }, flag: `--allow-read=${dir}` });
  }
  const ca = String(flags["ca-file"] ?? "");
  if (ca !== "") needs.push({ descriptor: { name: "read", path: ca }, flag: `--allow-read=${ca}` });
  return needs;
}

/**
 * The host name for `host.name`: the kernel's (`<proc>/sys/kernel/hostname`, as the node module
 * reads it), else `<root>/etc/hostname`, else "".
 */
async function readHostName(paths: HostPaths): Promise<string> {
  for (
    const file of [under(paths.proc, "sys/kernel/hostname"), under(paths.root, "etc/hostname")]
  ) {
    try {
      const name = (await Deno.readTextFile(file)).trim();
      if (name !== "") return name;
    } catch {
      // next source
    }
  }
  return "";
}

/** Test seams of the module. */
export interface PushModuleDeps {
  /** @default 5000 */
  readonly retryMinMs?: number;
  /** OTLP batch delay. @default 5000 */
  readonly otlpDelayMs?: number;
  /** Random source for sampling. @default Math.random */
  readonly random?: () => number;
}

/** Builds the module definition (the agent uses {@linkcode pushModule}). */
export function createPushModule(version: string, deps: PushModuleDeps = {}): ModuleSpec {
  return {
    name: "push",
    description: "Remote write of metrics with a disk spool; OTLP logs and traces",
    flags: PUSH_FLAGS,
    permissions: (flags) => pushPermissions(flags),
    disabledBy(flags) {
      const e = pushEndpoints(flags);
      if (e.metrics || e.logs || e.traces) return undefined;
      return {
        reason: "no push endpoint",
        flag:
          "--collector-endpoint=<url> (or --metrics-endpoint/--logs-endpoint/--traces-endpoint)",
      };
    },
    async start(ctx) {
      const { flags, log, registry } = ctx;
      const eps = pushEndpoints(flags);
      const apiKey = String(flags["api-key"] ?? "");
      const client = pushHttpClient(String(flags["ca-file"] ?? ""));
      const metrics = pushMetrics(registry);
      const retryMaxMs = Number(flags["push-retry-max"]);
      const stops: Array<() => Promise<void> | void> = [() => client.close()];
      const notes: string[] = [];
      if (flags["insecure-skip-verify"] === true) {
        const hosts = [eps.metrics, eps.logs, eps.traces].filter((u) => u?.protocol === "https:")
          .map((u) => u!.hostname);
        log.warn(
          "--insecure-skip-verify: Deno verifies certificates unless it was started with " +
            "--unsafely-ignore-certificate-errors for the endpoint hosts (deno task start adds it)",
          { hosts: [...new Set(hosts)].join(",") },
        );
      }
      try {
        if (eps.metrics !== undefined) {
          registry.gauge({ name: "up", help: "" }).labels().set(1);
          const writer = new RemoteWriter({
            registry,
            endpoint: eps.metrics,
            client,
            apiKey,
            walDir: walDir(flags),
            maxSpoolBytes: Number(flags["max-spool-size"]),
            intervalMs: Number(flags["scrape-interval"]),
            metrics,
            log: log.with({ signal: "metrics" }),
            retryMinMs: deps.retryMinMs,
            retryMaxMs,
          });
          await writer.start();
          stops.unshift(() => writer.stop());
          notes.push(`metrics → ${printableUrl(eps.metrics)}`);
          log.info("metrics remote write endpoint", {
            endpoint: printableUrl(eps.metrics),
            spool: writer.spool?.dir,
            interval_ms: Number(flags["scrape-interval"]),
          });
        }
        if (eps.logs !== undefined || eps.traces !== undefined) {
          const types = await loadOtlpTypes();
          if (eps.logs !== undefined) {
            const exporter = new BatchExporter<LogEntry>({
              signal: "logs",
              endpoint: eps.logs,
              client,
              apiKey,
              metrics,
              log,
              encode: (batch) => encodeLogs(types, batch, version),
              delayMs: deps.otlpDelayMs,
              retryMinMs: deps.retryMinMs,
              retryMaxMs,
            });
            exporter.start();
            pushSinks.logs = {
              emit: (containerId, serviceName, msg) =>
                exporter.push({ containerId, serviceName, msg }),
            };
            stops.unshift(async () => {
              pushSinks.logs = undefined;
              await exporter.stop();
            });
            notes.push(`logs → ${printableUrl(eps.logs)}`);
            log.info("OTLP logs endpoint", { endpoint: printableUrl(eps.logs) });
          }
          if (eps.traces !== undefined) {
            const host = {
              hostName: await readHostName(ctx.paths),
              hostId: registry.constLabels.machine_id ?? "",
            };
            const sampling = Number(flags["traces-sampling"]);
            const random = deps.random ?? Math.random;
            const exporter = new BatchExporter<SpanEntry>({
              signal: "traces",
              endpoint: eps.traces,
              client,
              apiKey,
              metrics,
              log,
              encode: (batch) => encodeSpans(types, batch, host, version),
              delayMs: deps.otlpDelayMs,
              retryMinMs: deps.retryMinMs,
              retryMaxMs,
            });
            exporter.start();
            pushSinks.traces = {
              emit(req) {
                if (spanShape(req) === undefined) return; // a request the reference makes no span of
                if (sampling < 1 && !(random() < sampling)) return;
                exporter.push({ req, ...newIds() });
              },
            };
            stops.unshift(async () => {
              pushSinks.traces = undefined;
              await exporter.stop();
            });
            notes.push(`traces → ${printableUrl(eps.traces)}`);
            log.info("OTLP traces endpoint", { endpoint: printableUrl(eps.traces), sampling });
          }
        }
      } catch (err) {
        for (const stop of stops) await stop();
        throw err;
      }
      return {
        note: notes.join(", "),
        async stop() {
          for (const stop of stops) await stop();
        },
      };
    },
  };
}
