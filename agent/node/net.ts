/**
 * `node_net_{received,transmitted}_{bytes,packets}_total{interface}` and
 * `node_net_interface_up{interface}` for the host's interfaces.
 *
 * Network namespace: `<proc>/net/dev` is a link to `<proc>/self/net/dev`, the counters of the
 * READER's namespace, which inside a container are the container's. We read
 * `<proc>/1/net/dev` instead: the namespace of the host's init, i.e. the host's, whenever `<proc>`
 * is the host's procfs seen with the host's PID namespace (hostPID, or the agent on the host).
 * This file has the same counters the reference agent gets from netlink `RTM_GETLINK`.
 *
 * Operational state comes from `<sys>/class/net/<if>/operstate`. sysfs shows the network
 * namespace of the process that mounted it, not of the reader: the host's /sys (the agent on the
 * host, or the host's /sys mounted into the container at `<sys>`) shows the host's interfaces,
 * while a sysfs mounted inside a container's own network namespace shows the container's. An
 * interface of `<proc>/1/net/dev` missing from `<sys>/class/net` gets no `up` series rather
 * than a guessed one.
 *
 * @module
 */
import type { Collector } from "../collector.ts";
import { under } from "../paths.ts";
import type { NodeContext } from "./_context.ts";
import { HostFileFormatError, parseCount, quoteLine } from "./_errors.ts";
import { LabelSets, round, SeriesCache } from "./_read.ts";
import type { NameFilter } from "./filters.ts";

/** The counters of one /proc/net/dev line that the contract uses. */
export interface NetDevStat {
  readonly iface: string;
  readonly rxBytes: number;
  readonly rxPackets: number;
  readonly txBytes: number;
  readonly txPackets: number;
}

/**
 * Parses /proc/net/dev: two header lines, then `name: <8 receive> <8 transmit>` counters.
 * Old kernels wrote large counters glued to the colon (`eth0:1234567`), which is accepted.
 */
export function parseNetDev(text: string, file = "/proc/net/dev"): NetDevStat[] {
  const lines = text.split("\n");
  if (lines.length < 2 || !lines[0].includes("|") || !lines[1].includes("|")) {
    throw new HostFileFormatError(file, 1, "missing the two header lines");
  }
  const out: NetDevStat[] = [];
  for (let i = 2; i < lines.length; i++) {
    const line = lines[i];
    if (line.trim() === "") continue;
    const colon = line.indexOf(":");
    const iface = colon < 0 ? "" : line.slice(0, colon).trim();
    if (iface === "") {
      throw new HostFileFormatError(
        file,
        i + 1,
        `expected "<interface>: <counters>", got ${quoteLine(line)}`,
      );
    }
    const f = line.slice(colon + 1).trim().split(/\s+/);
    if (f.length !== 16) {
      throw new HostFileFormatError(
        file,
        i + 1,
        `${f.length} counters for "${iface}", expected 16: ${quoteLine(line)}`,
      );
    }
    const n = f.map((v, c) => parseCount(v, file, i + 1, `"${iface}" counter ${c + 1}`));
    out.push({ iface, rxBytes: n[0], rxPackets: n[1], txBytes: n[8], txPackets: n[9] });
  }
  return out;
}

/** Parses an `operstate` file (RFC 2863 state: up, down, unknown, dormant, …) into "is up". */
export function parseOperstate(text: string, file = "operstate"): boolean {
  const state = text.trim();
  if (!/^[a-z]+$/.test(state)) {
    throw new HostFileFormatError(file, 1, `unexpected operational state ${quoteLine(state)}`);
  }
  return state === "up";
}

/** Keeps the interfaces `filter` accepts, each once (the first line wins). */
export function selectInterfaces(stats: readonly NetDevStat[], filter: NameFilter): NetDevStat[] {
  const seen = new Set<string>();
  return stats.filter((s) => {
    if (!filter(s.iface) || seen.has(s.iface)) return false;
    seen.add(s.iface);
    return true;
  });
}

/** The collector of the interface counters and `node_net_interface_up`. */
export function netCollector(
  { registry, paths, files }: NodeContext,
  filter: NameFilter,
): Collector {
  const c = (name: string, help: string) =>
    registry.counter({ name, help, labelNames: ["interface"] as const });
  const rxBytes = c("node_net_received_bytes_total", "Bytes received by the interface");
  const txBytes = c("node_net_transmitted_bytes_total", "Bytes transmitted by the interface");
  const rxPackets = c("node_net_received_packets_total", "Packets received by the interface");
  const txPackets = c("node_net_transmitted_packets_total", "Packets transmitted by the interface");
  const up = registry.gauge({
    name: "node_net_interface_up",
    help: "Whether the interface's operational state is up (1) or not (0)",
    labelNames: ["interface"] as const,
  });
  const counters = [rxBytes, txBytes, rxPackets, txPackets];
  const families = [...counters, up];
  const file = files.get(under(paths.proc, "1/net/dev"));
  const sets = new LabelSets();
  const upSets = new LabelSets();
  const series = new SeriesCache<{ set(v: number): void }[]>();
  const upSeries = new SeriesCache<{ set(v: number): void }>();
  return {
    name: "node_net",
    collect: () =>
      round([...families, sets, upSets, series, upSeries], () => {
        const ifaces = selectInterfaces(parseNetDev(file.read(), file.path), filter);
        const states = ifaces.map(({ iface }) => {
          // Kept open like the procfs files: sysfs regenerates an attribute read from offset 0.
          // Only interfaces that pass the filter get one, so churning veths cost nothing.
          const file = files.get(under(paths.sys, `class/net/${iface}/operstate`));
          const text = file.readOptional();
          return text === undefined ? undefined : parseOperstate(text, file.path);
        });
        for (const [gone] of sets.update(ifaces.map((s) => [s.iface]))) {
          for (const f of counters) f.remove(gone);
          series.delete(gone);
          // a removed interface's sysfs file stays open until closed: churning interfaces
          // (veths matched by an extra regex) would pile up descriptors
          files.forget(under(paths.sys, `class/net/${gone}/operstate`));
        }
        const withState = ifaces.filter((_, i) => states[i] !== undefined);
        for (const [gone] of upSets.update(withState.map((s) => [s.iface]))) {
          up.remove(gone);
          upSeries.delete(gone);
        }
        ifaces.forEach((s, i) => {
          const h = series.get(s.iface, () => counters.map((f) => f.labels(s.iface)));
          h[0].set(s.rxBytes);
          h[1].set(s.txBytes);
          h[2].set(s.rxPackets);
          h[3].set(s.txPackets);
          const st = states[i];
          if (st !== undefined) upSeries.get(s.iface, () => up.labels(s.iface)).set(st ? 1 : 0);
        });
      }),
  };
}
