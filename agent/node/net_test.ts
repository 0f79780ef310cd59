import { deepEqual, equal, throws } from "node:assert/strict";
import { Registry } from "../metrics/mod.ts";
import { HostFiles } from "./_read.ts";
import { FIXTURES, scratchHost, variant } from "./_testing.ts";
import { DEFAULT_NET_INTERFACES, nameFilter, NET_EXTRA_FLAG } from "./filters.ts";
import { netCollector, parseNetDev, parseOperstate, selectInterfaces } from "./net.ts";

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
    const filter = nameFilter(DEFAULT_NET_INTERFACES, "veth.*", NET_EXTRA_FLAG);
    const net = netCollector({ registry: reg, paths: host, files }, filter);
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
