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
 * while a sysfs mounted inside a container's own network namespace shows the container's. For
 * an interface of `<proc>/1/net/dev` missing from `<sys>/class/net`, the state is read from
 * `<proc>/1/root/sys/class/net/<if>/operstate`, the sysfs of the host's init (it needs ptrace
 * access to PID 1: root with CAP_SYS_PTRACE in the host's PID namespace). When neither can be
 * read the series is 0, which is what the reference reports for the kernel's own `unknown`
 * state (its rule is "1 when the state is up, else 0"): never a guessed 1. Each interface's
 * source is logged when it is not `<sys>`.
 *
 * @module
 */
import type { Collector } from "../collector.ts";
import { under } from "../paths.ts";
import type { NodeContext } from "./_context.ts";
import type { SkipLine } from "../file_format_error.ts";
import { skipOrThrow } from "../file_format_error.ts";
import { parseU64Text, textLines } from "../host_text.ts";
import { HostFileFormatError, quoteLine } from "./_errors.ts";
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

/** True for an interface name as /proc/net/dev can show it: not empty, no whitespace. */
function isInterfaceName(s: string): boolean {
  if (s.length === 0) return false;
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) <= 32) return false;
  return true;
}

/**
 * Parses /proc/net/dev: two header lines, then one line per interface.
 *
 * The kernel prints each line as the name right-aligned in 6 columns, a colon, then 16
 * counters (`%6s:%8llu %7llu ...`, net/core/net-procfs.c), so a long name has no space before
 * the colon and a receive byte count of 8 digits or more has none after it
 * (`lo:181005683161 ...`). Counters never hold a colon, so the name is everything before the
 * line's last colon (trimmed) and the counters everything after; a name may then hold a colon
 * itself (`team0:1`, an address label some kernels listed), which the interface filter leaves
 * out. A line is readable with exactly 16 counters; a second line for a name already read is
 * skipped (the first wins).
 *
 * Each skipped line goes to `skip`; without it the first one is thrown. Throws
 * {@linkcode HostFileFormatError} when the header is missing, or when there are interface
 * lines and not one can be read.
 */
export function parseNetDev(text: string, file = "/proc/net/dev", skip?: SkipLine): NetDevStat[] {
  const lines = textLines(text);
  if (lines.length < 2 || !lines[0].includes("|") || !lines[1].includes("|")) {
    throw new HostFileFormatError(file, 1, "missing the two header lines");
  }
  const out: NetDevStat[] = [];
  const seen = new Set<string>();
  let unreadable = 0;
  for (let i = 2; i < lines.length; i++) {
    const line = lines[i];
    if (line === "") continue;
    const colon = line.lastIndexOf(":");
    const iface = colon < 0 ? "" : line.slice(0, colon).trim();
    let reason: string | undefined;
    let n: number[] = [];
    if (!isInterfaceName(iface)) {
      reason = `expected "<interface>: <counters>", got ${quoteLine(line)}`;
    } else {
      const f = line.slice(colon + 1).trim().split(/\s+/);
      if (f.length !== 16) {
        reason = `${f.length} counters for "${iface}", expected 16: ${quoteLine(line)}`;
      } else {
        n = f.map(parseU64Text);
        const bad = n.findIndex(Number.isNaN);
        if (bad >= 0) {
          reason = `"${iface}" counter ${bad + 1} is ${JSON.stringify(f[bad])}, not a count`;
        } else if (seen.has(iface)) reason = `a second "${iface}" line`;
      }
    }
    if (reason !== undefined) {
      unreadable++;
      skipOrThrow(new HostFileFormatError(file, i + 1, reason), skip);
      continue;
    }
    seen.add(iface);
    out.push({ iface, rxBytes: n[0], rxPackets: n[1], txBytes: n[8], txPackets: n[9] });
  }
  if (out.length === 0 && unreadable > 0) {
    throw new HostFileFormatError(file, 0, `none of its ${unreadable} interface lines can be read`);
  }
  return out;
}

/**
 * Parses an `operstate` file (RFC 2863 state: up, down, unknown, dormant, …) into "is up".
 * Throws {@linkcode HostFileFormatError} when the text is not one lower-case word.
 */
export function parseOperstate(text: string, file = "operstate"): boolean {
  const state = text.replace(/\r?\n$/, "");
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

/** Where an interface's operational state was read, or why it was not. */
export type OperstateSource = "sysfs" | "host_sysfs" | "unknown";

/** The collector of the interface counters and `node_net_interface_up`. */
export function netCollector(
  { registry, paths, files, parseErrors, log }: NodeContext,
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
    help: "Whether the interface's operational state is up (1) or not known to be up (0)",
    labelNames: ["interface"] as const,
  });
  const counters = [rxBytes, txBytes, rxPackets, txPackets];
  const families = [...counters, up];
  const file = files.get(under(paths.proc, "1/net/dev"));
  const sets = new LabelSets();
  const upSets = new LabelSets();
  const series = new SeriesCache<{ set(v: number): void }[]>();
  const upSeries = new SeriesCache<{ set(v: number): void }>();
  const skip = parseErrors.sink("node_net", "net/dev");
  const skipState = parseErrors.sink("node_net", "operstate");
  const sources = new Map<string, OperstateSource>();
  // The host's sysfs as the host's init sees it: the same network namespace as <proc>/1/net/dev
  // when <sys> is another namespace's (a sysfs mounted inside a container's own namespace).
  const hostSys = under(paths.proc, "1/root/sys");
  const tryRead = (path: string): string | undefined => {
    try {
      return files.get(path).readOptional();
    } catch {
      return undefined; // EACCES without ptrace access to PID 1, EINVAL, ...: not available
    }
  };
  /** 1 or 0 from the first operstate found; undefined for a garbled one (counted). */
  const stateOf = (iface: string): number | undefined => {
    let source: OperstateSource = "sysfs";
    let path = under(paths.sys, `class/net/${iface}/operstate`);
    let text = tryRead(path);
    if (text === undefined) {
      source = "host_sysfs";
      path = under(hostSys, `class/net/${iface}/operstate`);
      text = tryRead(path);
    }
    if (text === undefined) source = "unknown";
    if (sources.get(iface) !== source) {
      if (source !== "sysfs") {
        log.warn(
          source === "host_sysfs"
            ? "interface state read through the host's init, not <sysfs>"
            : "interface state not readable: reported as not known to be up (0)",
          { interface: iface, sysfs: paths.sys, host_sysfs: hostSys },
        );
      }
      sources.set(iface, source);
    }
    if (text === undefined) return 0; // as the kernel's own "unknown" state: not known up
    try {
      return parseOperstate(text, path) ? 1 : 0;
    } catch (err) {
      if (!(err instanceof HostFileFormatError)) throw err;
      skipState(err);
      return undefined;
    }
  };
  return {
    name: "node_net",
    collect: () =>
      round([...families, sets, upSets, series, upSeries], () => {
        const ifaces = selectInterfaces(parseNetDev(file.read(), file.path, skip), filter);
        // Kept open like the procfs files: sysfs regenerates an attribute read from offset 0.
        // Only interfaces that pass the filter get one, so churning veths cost nothing.
        const states = ifaces.map(({ iface }) => stateOf(iface));
        for (const [gone] of sets.update(ifaces.map((s) => [s.iface]))) {
          for (const f of counters) f.remove(gone);
          series.delete(gone);
          sources.delete(gone);
          // a removed interface's sysfs file stays open until closed: churning interfaces
          // (veths matched by an extra regex) would pile up descriptors
          files.forget(under(paths.sys, `class/net/${gone}/operstate`));
          files.forget(under(hostSys, `class/net/${gone}/operstate`));
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
          if (st !== undefined) upSeries.get(s.iface, () => up.labels(s.iface)).set(st);
        });
      }),
  };
}
