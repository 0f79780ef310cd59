import { deepEqual, equal, throws } from "node:assert/strict";
import { Registry } from "../metrics/mod.ts";
import { HostFiles } from "./_read.ts";
import { FIXTURES, scratchHost, variant } from "./_testing.ts";
import type { FileFormatError } from "../file_format_error.ts";
import { createLogger } from "../log.ts";
import { ParseErrors } from "../parse_errors.ts";
import { interfaceFilter, isContractInterface } from "./filters.ts";
import { netCollector, parseNetDev, parseOperstate, selectInterfaces } from "./net.ts";

const contract = isContractInterface;

/** Parses with a skip callback; returns the stats and the skipped lines as [line, reason]. */
function lenient(text: string) {
  const skipped: FileFormatError[] = [];
  const stats = parseNetDev(text, "/proc/1/net/dev", (e) => skipped.push(e));
  return { stats, skipped: skipped.map((e) => [e.line, e.reason]) };
}

const HEADER = "Inter-|   Receive                                                |  Transmit\n" +
  " face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs " +
  "drop fifo colls carrier compressed\n";

Deno.test("parseNetDev reads the recorded host file", () => {
  const all = parseNetDev(Deno.readTextFileSync(`${FIXTURES}/host/proc/1/net/dev`));
  deepEqual(all.map((s) => s.iface), ["lo", "ifb0", "ifb1", "eth0"]);
  deepEqual(all[3], {
    iface: "eth0",
    rxBytes: 81189964,
    rxPackets: 1932,
    txBytes: 88318,
    txPackets: 1105,
  });
  deepEqual(selectInterfaces(all, contract).map((s) => s.iface), ["eth0"]);
});

Deno.test("parseNetDev accepts counters glued to the colon, as old kernels wrote them", () => {
  const eth0 = lenient(variant("net_dev_multi.txt")).stats.find((s) => s.iface === "eth0")!;
  equal(eth0.rxBytes, 4294967295);
  equal(eth0.rxPackets, 3000000);
  equal(eth0.txBytes, 987654321);
  equal(eth0.txPackets, 2000000);
});

Deno.test("selectInterfaces applies the contract's filter and keeps each interface once", () => {
  const { stats, skipped } = lenient(variant("net_dev_multi.txt"));
  deepEqual(skipped, [[19, 'a second "eth0" line']]);
  const picked = selectInterfaces(stats, contract);
  deepEqual(picked.map((s) => s.iface), [
    "eth0",
    "eth1",
    "enp0s31f6",
    "ens5",
    "enx001122334455",
    "bond0",
    "br0",
    "vmbr0",
    "p1p1",
    "em1",
    "eth0.100",
  ]);
  equal(picked[0].rxBytes, 4294967295); // the first eth0 line, not the duplicate
});

Deno.test("parseNetDev: an alias with a colon in its name beside glued lines; eth0 still read", () => {
  const { stats, skipped } = lenient(
    HEADER +
      "    lo:181005683161 1234567    0    0    0     0          0         0 181005683161 " +
      "1234567    0    0    0     0       0          0\n" +
      "team0:1: 10 1 0 0 0 0 0 0 20 2 0 0 0 0 0 0\n" +
      " team0: 30 3 0 0 0 0 0 0 40 4 0 0 0 0 0 0\n" +
      "  eth0: 81189964    1932    0    0    0     0          0         0    88318    1105    " +
      "0    0    0     0       0          0\n" +
      "eth0:1:5 1 0 0 0 0 0 0 6 1 0 0 0 0 0 0\n",
  );
  deepEqual(skipped, []);
  deepEqual(stats.map((s) => [s.iface, s.rxBytes, s.rxPackets, s.txBytes, s.txPackets]), [
    ["lo", 181005683161, 1234567, 181005683161, 1234567],
    ["team0:1", 10, 1, 20, 2],
    ["team0", 30, 3, 40, 4],
    ["eth0", 81189964, 1932, 88318, 1105],
    ["eth0:1", 5, 1, 6, 1],
  ]);
  // The aliases are address labels, not links: never reported.
  deepEqual(selectInterfaces(stats, contract).map((s) => s.iface), ["eth0"]);
});

Deno.test("parseNetDev skips odd lines and keeps the rest", () => {
  const { stats, skipped } = lenient(
    HEADER +
      "  eth0: 1 2 0 0 0 0 0 0 3 4 0 0 0 0 0 0\r\n" + // CRLF
      "  eth1: 1 2 3\n" +
      "  eth2 1 2 0 0 0 0 0 0 3 4 0 0 0 0 0 0\n" +
      "  eth3: 1 2 0 0 0 0 0 0 3 4 0 0 0 0 0 x\n" +
      "  eth4: 1 2 0 0 0 0 0 0 3 4 0 0 0 0 0 99999999999999999999999\n" +
      "   : 1 2 0 0 0 0 0 0 3 4 0 0 0 0 0 0\n" +
      "  e\uFFFDh5: 7 2 0 0 0 0 0 0 3 4 0 0 0 0 0 0\n" +
      "  eth6: 8 2 0 0 0 0 0 0 3 4 0 0 0 0 0 0", // no newline at the end
  );
  deepEqual(stats.map((s) => [s.iface, s.rxBytes]), [["eth0", 1], ["e\uFFFDh5", 7], ["eth6", 8]]);
  deepEqual(skipped, [
    [4, '3 counters for "eth1", expected 16: "  eth1: 1 2 3"'],
    [5, 'expected "<interface>: <counters>", got "  eth2 1 2 0 0 0 0 0 0 3 4 0 0 0 0 0 0"'],
    [6, '"eth3" counter 16 is "x", not a count'],
    [7, '"eth4" counter 16 is "99999999999999999999999", not a count'],
    [8, 'expected "<interface>: <counters>", got "   : 1 2 0 0 0 0 0 0 3 4 0 0 0 0 0 0"'],
  ]);
});

Deno.test("parseNetDev names file and line without a callback; fails without header", () => {
  throws(
    () => parseNetDev(variant("net_dev_truncated.txt"), "/proc/1/net/dev"),
    /^HostFileFormatError: Cannot parse "\/proc\/1\/net\/dev" line 4: 7 counters for "eth0", expected 16/,
  );
  throws(() => lenient("eth0: 1 2 3\n"), /line 1: missing the two header lines/);
  throws(() => lenient(`${HEADER}no colon here\nx\n`), /none of its 2 interface lines/);
  deepEqual(lenient(HEADER).stats, []);
});

Deno.test("parseOperstate is true only for up", () => {
  equal(
    parseOperstate(Deno.readTextFileSync(`${FIXTURES}/host/sys/class/net/eth0/operstate`)),
    true,
  );
  equal(parseOperstate("down\n"), false);
  equal(parseOperstate("up\r\n"), true);
  equal(parseOperstate("unknown\n"), false);
  equal(parseOperstate("lowerlayerdown\n"), false);
  throws(
    () => parseOperstate("\u0000\u0001", "/sys/class/net/eth0/operstate"),
    /operstate" line 1/,
  );
});

Deno.test("netCollector() closes the operstate file of an interface that went away", async () => {
  const dev = (ifaces: string[]) =>
    "Inter-|   Receive |  Transmit\n face |bytes packets|bytes packets\n" +
    ifaces.map((i) => `${i}: 1 2 0 0 0 0 0 0 3 4 0 0 0 0 0 0\n`).join("");
  const host = await scratchHost(async (dir) => {
    await Deno.mkdir(`${dir}/sys/class/net/veth1`);
    await Deno.writeTextFile(`${dir}/sys/class/net/veth1/operstate`, "up\n");
    await Deno.writeTextFile(`${dir}/proc/1/net/dev`, dev(["eth0", "veth1"]));
  });
  const files = new HostFiles();
  try {
    const reg = new Registry();
    const { log } = createLogger({ format: "json", write: () => {} });
    const parseErrors = new ParseErrors(reg, { log });
    const net = netCollector(
      { registry: reg, paths: host, files, parseErrors, log },
      interfaceFilter("veth.*"),
    );
    await net.collect(new AbortController().signal);
    equal(files.size, 3); // net/dev and two operstate files
    await Deno.remove(`${host.sys}/class/net/veth1`, { recursive: true });
    await Deno.writeTextFile(`${host.proc}/1/net/dev`, dev(["eth0"]));
    await net.collect(new AbortController().signal);
    equal(files.size, 2);
    equal(new TextDecoder().decode(reg.encode("text")).includes("veth1"), false);
  } finally {
    files.close();
    await host.cleanup();
  }
});
