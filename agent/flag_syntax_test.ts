import { deepEqual, equal, ok, throws } from "node:assert/strict";
import {
  checkAbsolutePath,
  checkGlob,
  checkHttpUrl,
  checkIpPrefix,
  checkPortRanges,
  checkRegExp,
  checkWholeNameRegExp,
  formatBytes,
  formatDuration,
  parseBase2Bytes,
  parseDecimalInt,
  parseDuration,
  parseGoBool,
  parseGoDuration,
  parseGoFloat,
  parseIpPrefix,
  parsePortRanges,
  splitEnvList,
} from "./flag_syntax.ts";

Deno.test("parseGoBool() takes Go's twelve spellings and nothing else", () => {
  for (const t of ["1", "t", "T", "TRUE", "true", "True"]) equal(parseGoBool(t), true, t);
  for (const f of ["0", "f", "F", "FALSE", "false", "False"]) equal(parseGoBool(f), false, f);
  for (const bad of ["", "yes", "no", "on", "off", "TrUe", " true", "2", "y"]) {
    throws(() => parseGoBool(bad), SyntaxError, bad);
  }
});

Deno.test("parseGoDuration() reads Go durations into milliseconds", () => {
  const cases: [string, number][] = [
    ["1m30s", 90_000],
    ["300ms", 300],
    ["1h2m3.5s", 3_723_500],
    ["1.5h", 5_400_000],
    ["0", 0],
    ["-0", 0],
    ["+5s", 5000],
    ["-2s", -2000],
    [".5s", 500],
    ["5.s", 5000],
    ["2h45m", 9_900_000],
    ["1ns", 1e-6],
    ["1us", 0.001],
    ["1\u00b5s", 0.001],
    ["1\u03bcs", 0.001],
    ["1s500ms", 1500],
    ["9223372036854775807ns", 9_223_372_036_854.775],
    ["-9223372036854775808ns", -9_223_372_036_854.775],
  ];
  for (const [text, ms] of cases) {
    ok(Math.abs(parseGoDuration(text) - ms) < 1e-6, `${text}: ${parseGoDuration(text)}`);
  }
  for (
    const bad of ["", "1", "10", "s", "1x", "1d", ".s", "1.5", "--1s", "1 s", " 1s", "1s ", "+"]
  ) {
    throws(() => parseGoDuration(bad), SyntaxError, bad);
  }
  for (const big of ["9223372036854775808ns", "2562048h", "106751d"]) {
    throws(() => parseGoDuration(big), big === "106751d" ? SyntaxError : RangeError, big);
  }
});

Deno.test("parseDuration() also takes Osprey's bare seconds", () => {
  equal(parseDuration("30"), 30_000);
  equal(parseDuration("1.5"), 1500);
  equal(parseDuration("0"), 0);
  equal(parseDuration("1m30s"), 90_000);
  equal(parseDuration("500ms"), 500);
  for (const bad of ["1.", ".5", "soon", "", "-1", "1e3"]) {
    throws(() => parseDuration(bad), SyntaxError, bad);
  }
});

Deno.test("formatDuration() writes durations Go can read back", () => {
  equal(formatDuration(90_000), "1m30s");
  equal(formatDuration(300), "300ms");
  equal(formatDuration(3_600_000), "1h");
  equal(formatDuration(86_400_000), "24h");
  equal(formatDuration(0), "0s");
  equal(formatDuration(1500), "1.5s");
  for (const ms of [90_000, 300, 3_600_000, 1500, 5_400_000]) {
    equal(parseGoDuration(formatDuration(ms)), ms);
  }
});

Deno.test("parseDecimalInt() takes signed decimal digits only", () => {
  equal(parseDecimalInt("5000"), 5000);
  equal(parseDecimalInt("+7"), 7);
  equal(parseDecimalInt("-1"), -1);
  equal(parseDecimalInt("007"), 7);
  equal(parseDecimalInt("0"), 0);
  for (const bad of ["", "0x10", "1e3", "1.5", " 1", "1_000", "1,000", "+", "ten"]) {
    throws(() => parseDecimalInt(bad), SyntaxError, bad);
  }
  throws(() => parseDecimalInt("9007199254740993"), RangeError);
});

Deno.test("parseGoFloat() reads Go's float syntax", () => {
  const cases: [string, number][] = [
    ["1", 1],
    ["1.0", 1],
    [".5", 0.5],
    ["5.", 5],
    ["2.5e-3", 0.0025],
    ["1E3", 1000],
    ["+1", 1],
    ["-0.25", -0.25],
    ["0x1p-2", 0.25],
    ["0x1.8p1", 3],
    ["0X.8P0", 0.5],
    ["0.0025", 0.0025],
  ];
  for (const [text, n] of cases) equal(parseGoFloat(text), n, text);
  equal(parseGoFloat("inf"), Infinity);
  equal(parseGoFloat("+Inf"), Infinity);
  equal(parseGoFloat("-Infinity"), -Infinity);
  ok(Number.isNaN(parseGoFloat("NaN")));
  for (const bad of ["", ".", "1e", "e3", "0x10", "0xp1", "1_0", "abc", "1.2.3", "1 "]) {
    throws(() => parseGoFloat(bad), SyntaxError, bad);
  }
  throws(() => parseGoFloat("1e400"), RangeError);
});

Deno.test("parseBase2Bytes() reads sizes as the reference's --max-spool-size", () => {
  const cases: [string, number][] = [
    ["500MB", 524_288_000],
    ["500MiB", 524_288_000],
    ["1KB", 1024],
    ["1KiB", 1024],
    ["10B", 10],
    ["1.5GB", 1_610_612_736],
    ["1GB512MB", 1_610_612_736],
    ["1GiB512MiB", 1_610_612_736],
    ["0", 0],
    ["-1MB", -1_048_576],
    ["0.5KB", 512],
    ["1TB", 1024 ** 4],
  ];
  for (const [text, n] of cases) equal(parseBase2Bytes(text), n, text);
  for (
    const bad of ["", "500", "1kB", "1mb", "1GiB512MB", "MB", "1 MB", "1MB ", ".MB", "1.2.3MB"]
  ) {
    throws(() => parseBase2Bytes(bad), SyntaxError, bad);
  }
  throws(() => parseBase2Bytes("8EB"), RangeError);
});

Deno.test("formatBytes() writes the largest whole unit", () => {
  equal(formatBytes(524_288_000), "500MB");
  equal(formatBytes(1024), "1KB");
  equal(formatBytes(1000), "1000B");
  equal(formatBytes(0), "0B");
  equal(parseBase2Bytes(formatBytes(524_288_000)), 524_288_000);
});

Deno.test("splitEnvList() splits by newlines, or by white space when there is none", () => {
  deepEqual(splitEnvList("a\nb"), ["a", "b"]);
  deepEqual(splitEnvList("a\r\nb\n"), ["a", "b"]);
  deepEqual(splitEnvList("10.0.0.0/8\n192.168.0.0/16\n"), ["10.0.0.0/8", "192.168.0.0/16"]);
  deepEqual(splitEnvList("a b\nc"), ["a b", "c"]);
  deepEqual(splitEnvList("a  b\tc"), ["a", "b", "c"]);
  deepEqual(splitEnvList("^/docker/.{3}$"), ["^/docker/.{3}$"]);
  deepEqual(splitEnvList("a\n\n b \n"), ["a", "b"]);
  deepEqual(splitEnvList("\n"), []);
  deepEqual(splitEnvList(" "), []);
});

Deno.test("parsePortRanges() reads --ephemeral-port-range as the reference", () => {
  deepEqual(parsePortRanges("32768-60999"), [{ from: 32768, to: 60999 }]);
  deepEqual(parsePortRanges("1024-23768 30000-65535"), [
    { from: 1024, to: 23768 },
    { from: 30000, to: 65535 },
  ]);
  deepEqual(parsePortRanges(" 1-2 ,3-4,"), [{ from: 1, to: 2 }, { from: 3, to: 4 }]);
  deepEqual(parsePortRanges("0-0"), [{ from: 0, to: 0 }]);
  deepEqual(parsePortRanges("080-90"), [{ from: 80, to: 90 }]);
  for (const bad of ["1-2-3", "65535-65536", "5-4", "-5", "5", "5-", ",", " ", "a-b", "+1-2"]) {
    throws(() => parsePortRanges(bad), SyntaxError, bad);
  }
  equal(checkPortRanges(""), undefined);
  equal(checkPortRanges("32768-60999"), undefined);
  equal(checkPortRanges("5-4"), 'bad port range "5-4"');
});

Deno.test("parseIpPrefix() reads CIDRs as netaddr.ParseIPPrefix", () => {
  deepEqual(parseIpPrefix("10.0.0.0/8"), { family: 4, address: "10.0.0.0", bits: 8 });
  for (
    const good of [
      "0.0.0.0/0",
      "10.1.2.3/8",
      "010.0.0.1/32",
      "2001:db8::/32",
      "::/0",
      "::1/128",
      "::ffff:1.2.3.4/128",
      "fe80::1%eth0/64",
      "1:2:3:4:5:6:7:8/128",
      "1:2:3:4:5:6:1.2.3.4/96",
      "0000:00001::/16",
      "10.0.0.0/+8",
    ]
  ) {
    equal(checkIpPrefix(good), undefined, good);
  }
  for (
    const bad of [
      "10.0.0.0",
      "10.0.0.0/33",
      "::/129",
      "10.0.0/8",
      "256.0.0.0/8",
      "1.2.3.4.5/32",
      "1..2.3/8",
      "1:2:3:4:5:6:7:8:9/128",
      "1::2::3/64",
      "1:2:3:4:5:6:7::8/64",
      ":1::/64",
      "1:/64",
      "fe80::1%/64",
      "10.0.0.0/x",
      "10.0.0.0/",
      "/8",
      "1:2:3:4:5:1.2.3.4/96",
      "1:12345::/32",
      "example.com/8",
      "%eth0/8",
    ]
  ) {
    ok(checkIpPrefix(bad) !== undefined, bad);
  }
});

Deno.test("checkGlob() refuses what gobwas/glob cannot compile", () => {
  for (
    const good of [
      "/health*",
      "/api/**",
      "/a?c",
      "/{a,b}",
      "/x[abc]",
      "/x[a-z]",
      "/x[!a-z]",
      "\\[",
      "{unclosed",
      "/a]",
      "/x[\\]]",
      "/x[!!]",
    ]
  ) {
    equal(checkGlob(good), undefined, good);
  }
  for (const bad of ["/x[", "/x[]", "/x[z-a]", "/x[a-", "/x[a-zz]", "/x[!]", "/x[ab", "[\\"]) {
    ok(checkGlob(bad) !== undefined, bad);
  }
});

Deno.test("checks of URLs, paths and regular expressions", () => {
  equal(checkHttpUrl(""), undefined);
  equal(checkHttpUrl("http://127.0.0.1:1"), undefined);
  equal(checkHttpUrl("https://coroot.example/v1/metrics"), undefined);
  equal(checkHttpUrl("coroot:8080"), "not an http or https URL");
  equal(checkHttpUrl("ftp://x"), "not an http or https URL");
  equal(checkHttpUrl("/v1/metrics"), "not an absolute URL");
  equal(checkAbsolutePath(""), undefined);
  equal(checkAbsolutePath("/run/docker.sock"), undefined);
  equal(checkAbsolutePath("docker.sock"), "not an absolute path");
  equal(checkRegExp("^/docker/"), undefined);
  ok(checkRegExp("(") !== undefined);
  equal(checkWholeNameRegExp("nbd\\d+"), undefined);
  ok(checkWholeNameRegExp("[") !== undefined);
  // Parentheses the anchoring wrapper would balance must not escape it: `)|(` would match all.
  ok(checkWholeNameRegExp(")|(") !== undefined);
  ok(checkWholeNameRegExp("a)(b") !== undefined);
});
