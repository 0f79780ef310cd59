import { deepEqual, equal } from "node:assert/strict";
import { formatAddress, parseIpAddress } from "./ip_address.ts";

/** The dotted-quad rule as a regular expression: what the character scan must agree with. */
function referenceV4(text: string): number[] | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(text);
  if (!m) return undefined;
  const parts = m.slice(1).map((p) => (p.length > 1 && p[0] === "0") ? NaN : Number(p));
  return parts.every((v) => v <= 255) ? parts : undefined;
}

function v4Of(text: string): number[] | undefined {
  const a = parseIpAddress(text);
  return a?.family === 4 ? [...a.bytes.subarray(12)] : undefined;
}

Deno.test("parseIpAddress(): dotted IPv4, edge cases", () => {
  deepEqual(v4Of("0.0.0.0"), [0, 0, 0, 0]);
  deepEqual(v4Of("255.255.255.255"), [255, 255, 255, 255]);
  deepEqual(v4Of("10.201.0.1"), [10, 201, 0, 1]);
  for (
    const bad of [
      "",
      "1.2.3",
      "1.2.3.4.",
      ".1.2.3.4",
      "1..2.3",
      "1.2.3.256",
      "01.2.3.4",
      "1.2.3.00",
      "1.2.3.0004",
      "1.2.3.4 ",
      " 1.2.3.4",
      "1.2.3.a",
      "1.2.3.4.5",
      "1111.2.3.4",
      "１.2.3.4",
    ]
  ) {
    equal(parseIpAddress(bad), undefined, JSON.stringify(bad));
  }
  const a = parseIpAddress("192.168.1.20")!;
  deepEqual([...a.bytes], [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 192, 168, 1, 20]);
  equal(a.scopeId, 0);
  // mapped and embedded forms still go through the IPv6 parser
  deepEqual(v4Of("::ffff:10.0.0.1"), [10, 0, 0, 1]);
  equal(parseIpAddress("::ffff:10.0.0.01"), undefined);
  equal(parseIpAddress("64:ff9b::1.2.3.4")?.family, 6);
});

Deno.test("parseIpAddress(): IPv4 agrees with the regular-expression rule on 200,000 strings", () => {
  let seed = 12345;
  const rnd = (n: number) => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed % n;
  };
  const alphabet = "0123456789....:x ";
  let valid = 0;
  for (let i = 0; i < 200_000; i++) {
    let s: string;
    if (i % 2 === 0) {
      // near-valid: four numbers, some mutated
      const parts = [0, 1, 2, 3].map(() => String(rnd(300)).padStart(rnd(4) === 0 ? 2 : 1, "0"));
      s = parts.join(".");
      if (rnd(5) === 0) {
        const at = rnd(s.length + 1);
        s = s.slice(0, at) + alphabet[rnd(alphabet.length)] + s.slice(at + (rnd(2)));
      }
    } else {
      s = Array.from({ length: rnd(17) }, () => alphabet[rnd(alphabet.length)]).join("");
    }
    const want = referenceV4(s);
    const got = s.includes(":") ? undefined : v4Of(s);
    deepEqual(got, want, JSON.stringify(s));
    if (want) {
      valid++;
      equal(formatAddress(parseIpAddress(s)!.bytes), want.join("."));
    }
  }
  equal(valid > 10_000, true, `only ${valid} valid addresses generated`);
});
