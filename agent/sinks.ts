/**
 * Where modules hand records to the push module's exporters (README, "Push mode"): a shared
 * place, so the logs and L7 modules need not import the push module, nor it them. The push module
 * sets a sink while it runs with that signal's endpoint; producers read the property at each call.
 *
 * @module
 */
import type { LogMessage } from "./logs/parser/mod.ts";
import type { L7Request } from "./push/otlp_traces.ts";

/** Hands log messages to the OTLP logs exporter. */
export interface LogSink {
  /**
   * Queues one parsed message of a container for export; never waits, never throws (a full
   * queue drops and counts).
   */
  emit(containerId: string, serviceName: string, msg: LogMessage): void;
}

/** Hands outbound L7 requests to the OTLP traces exporter. */
export interface TraceSink {
  /** Samples (`--traces-sampling`) and queues one request as a span; never waits or throws. */
  emit(req: L7Request): void;
}

/**
 * Where other modules hand records to push: set while the push module runs with a logs or
 * traces endpoint, undefined otherwise. Read the property at each call (the push module may
 * start after the caller):
 *
 * ```ts
 * pushSinks.logs?.emit(containerId, serviceName, msg);
 * pushSinks.traces?.emit(request);
 * ```
 */
export const pushSinks: { logs?: LogSink; traces?: TraceSink } = {};
