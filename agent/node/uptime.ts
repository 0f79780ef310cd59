/**
 * `node_uptime_seconds`: the first field of `<proc>/uptime` (seconds since boot, including time
 * suspended, with centisecond resolution).
 *
 * @module
 */
import type { Collector } from "../collector.ts";
import { under } from "../paths.ts";
import type { NodeContext } from "./_context.ts";
import { HostFileFormatError, quoteLine } from "./_errors.ts";
import { round } from "./_read.ts";

/** Parses /proc/uptime ("<uptime> <idle>") into the uptime in seconds. */
export function parseUptime(text: string, file = "/proc/uptime"): number {
  const line = text.split("\n")[0];
  const m = /^\s*(\d+(?:\.\d+)?)\s+(\d+(?:\.\d+)?)\s*$/.exec(line);
  if (!m) {
    throw new HostFileFormatError(
      file,
      1,
      `expected "<uptime> <idle>" seconds, got ${quoteLine(line)}`,
    );
  }
  return Number(m[1]);
}

/** The collector of `node_uptime_seconds`. */
export function uptimeCollector({ registry, paths, files }: NodeContext): Collector {
  const uptime = registry.gauge({
    name: "node_uptime_seconds",
    help: "Seconds since the host booted",
    labelNames: [] as const,
  });
  const file = files.get(under(paths.proc, "uptime"));
  return {
    name: "node_uptime",
    collect: () =>
      round([uptime], () => {
        uptime.labels().set(parseUptime(file.read(), file.path));
      }),
  };
}
