import { deepEqual, equal } from "node:assert/strict";
import { destinationLabels, DnsNames, isPublicAddress, nameOfAnswer } from "./dns_names.ts";

Deno.test("isPublicAddress() is false for loopback, private and shared space, true otherwise", () => {
  for (const ip of ["127.0.0.1", "10.1.2.3", "172.16.0.1", "192.168.1.1", "100.64.0.1", "::1"]) {
    equal(isPublicAddress(ip), false, ip);
  }
  equal(isPublicAddress("fd00::1"), false);
  equal(isPublicAddress("not an address"), false);
  for (const ip of ["203.0.113.10", "198.51.100.7", "8.8.8.8", "172.32.0.1", "2001:db8::1"]) {
    equal(isPublicAddress(ip), true, ip);
  }
});

Deno.test("nameOfAnswer() labels by name only an answer of several addresses, all public", () => {
  equal(nameOfAnswer("api.test", ["203.0.113.10", "198.51.100.10"]).byName, true);
  equal(nameOfAnswer("api.test", ["203.0.113.10", "2001:db8::1"]).byName, true);
  equal(nameOfAnswer("one.test", ["203.0.113.10"]).byName, false);
  equal(nameOfAnswer("mixed.test", ["203.0.113.10", "10.0.0.1"]).byName, false);
  equal(nameOfAnswer("lo.test", ["203.0.113.10", "127.0.0.1"]).byName, false);
  equal(nameOfAnswer("none.test", []).byName, false);
});

Deno.test("destinationLabels() is fqdn:port and an empty actual destination by the rule", () => {
  const many = nameOfAnswer("api.test", ["203.0.113.10", "198.51.100.10"]);
  const dst = { ip: "203.0.113.10", port: 443 };
  deepEqual(destinationLabels(dst, dst, many), {
    destination: "api.test:443",
    actualDestination: "",
  });
  // the actual (post-NAT) address decides: a private one keeps ip:port
  deepEqual(destinationLabels(dst, { ip: "10.0.0.5", port: 8443 }, many), {
    destination: "203.0.113.10:443",
    actualDestination: "10.0.0.5:8443",
  });
  // one public address, or no name: ip:port
  deepEqual(destinationLabels(dst, dst, nameOfAnswer("one.test", ["203.0.113.10"])), {
    destination: "203.0.113.10:443",
    actualDestination: "203.0.113.10:443",
  });
  const v6 = { ip: "2001:db8::1", port: 80 };
  deepEqual(destinationLabels(v6, v6), {
    destination: "[2001:db8::1]:80",
    actualDestination: "[2001:db8::1]:80",
  });
  deepEqual(destinationLabels(v6, v6, nameOfAnswer("v6.test", ["2001:db8::1", "2001:db8::2"])), {
    destination: "v6.test:80",
    actualDestination: "",
  });
});

Deno.test("DnsNames keeps the last answer per address and shows only ip-labelled ones in ip_to_fqdn", () => {
  const n = new DnsNames();
  n.learn("api.test", ["203.0.113.10", "198.51.100.10"]);
  n.learn("one.test", ["203.0.113.20"]);
  n.learn("svc.test", ["10.0.0.1", "10.0.0.2"]);
  n.learn("", ["203.0.113.30"]); // no name: nothing learnt
  equal(n.size, 5);
  equal(n.lookup("203.0.113.10")?.byName, true);
  equal(n.lookup("203.0.113.20")?.byName, false);
  equal(n.lookup("203.0.113.30"), undefined);
  deepEqual([...n.ipToFqdn()].sort(), [
    ["10.0.0.1", "svc.test"],
    ["10.0.0.2", "svc.test"],
    ["203.0.113.20", "one.test"],
  ]);
  // a later answer re-points the address (its own answer's rule)
  n.learn("other.test", ["203.0.113.10"]);
  deepEqual(n.lookup("203.0.113.10"), { fqdn: "other.test", byName: false });
});

Deno.test("DnsNames forgets what was neither answered nor used, and evicts the oldest when full", () => {
  let now = 0;
  const n = new DnsNames({ maxAddresses: 3, forgetAfterMs: 1000, now: () => now });
  n.learn("a.test", ["203.0.113.1", "203.0.113.2"]);
  now = 500;
  n.learn("b.test", ["203.0.113.3"]);
  now = 900;
  n.lookup("203.0.113.1"); // used: kept
  now = 1200;
  n.expire();
  equal(n.lookup("203.0.113.2"), undefined);
  equal(n.lookup("203.0.113.1")?.fqdn, "a.test");
  equal(n.lookup("203.0.113.3")?.fqdn, "b.test");
  n.learn("c.test", ["203.0.113.4", "203.0.113.5"]);
  equal(n.size, 3);
  equal(n.evicted, 1);
  equal(n.lookup("203.0.113.1"), undefined); // the least recently used went
});

Deno.test("DnsNames.epoch grows with each caughtUp()", () => {
  const n = new DnsNames();
  equal(n.epoch, 0);
  n.caughtUp();
  n.caughtUp();
  equal(n.epoch, 2);
});
