import { deepEqual, equal, throws } from "node:assert/strict";
import { FIXTURES, variant } from "./_testing.ts";
import { DEFAULT_NET_INTERFACES } from "./filters.ts";
import { parseNetDev, parseOperstate, selectInterfaces } from "./net.ts";

const contract = (name: string) => DEFAULT_NET_INTERFACES.test(name);

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
  const eth0 = parseNetDev(variant("net_dev_multi.txt")).find((s) => s.iface === "eth0")!;
  equal(eth0.rxBytes, 4294967295);
  equal(eth0.rxPackets, 3000000);
  equal(eth0.txBytes, 987654321);
  equal(eth0.txPackets, 2000000);
});

Deno.test("selectInterfaces applies the contract's filter and keeps each interface once", () => {
  const picked = selectInterfaces(parseNetDev(variant("net_dev_multi.txt")), contract);
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
  ]);
  equal(picked[0].rxBytes, 4294967295); // the first eth0 line, not the duplicate
});

Deno.test("parseNetDev names file and line of a truncated file", () => {
  throws(
    () => parseNetDev(variant("net_dev_truncated.txt"), "/proc/1/net/dev"),
    /^HostFileFormatError: Cannot parse "\/proc\/1\/net\/dev" line 4: 7 counters for "eth0", expected 16/,
  );
  throws(() => parseNetDev("eth0: 1 2 3\n"), /line 1: missing the two header lines/);
  const head = variant("net_dev_truncated.txt").split("\n").slice(0, 2).join("\n");
  throws(
    () => parseNetDev(`${head}\nno colon here\n`),
    /line 3: expected "<interface>: <counters>"/,
  );
  throws(
    () => parseNetDev(`${head}\n eth0: 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 x\n`),
    /"eth0" counter 16 is "x"/,
  );
});

Deno.test("parseOperstate is true only for up", () => {
  equal(
    parseOperstate(Deno.readTextFileSync(`${FIXTURES}/host/sys/class/net/eth0/operstate`)),
    true,
  );
  equal(parseOperstate("down\n"), false);
  equal(parseOperstate("unknown\n"), false);
  equal(parseOperstate("lowerlayerdown\n"), false);
  throws(
    () => parseOperstate("\u0000\u0001", "/sys/class/net/eth0/operstate"),
    /operstate" line 1/,
  );
});
