import { deepEqual, equal, throws } from "node:assert/strict";
import { CriDecoder, DockerJsonDecoder, LogDecodeError, PARTIAL_LIMIT_BYTES } from "./decoders.ts";

Deno.test("DockerJsonDecoder decodes a line and joins partial lines per stream", () => {
  const d = new DockerJsonDecoder();
  deepEqual(
    d.decode('{"log":"hello\\n","stream":"stdout","time":"2024-01-02T03:04:05.123456789Z"}'),
    {
      content: "hello",
      timestampMs: Date.UTC(2024, 0, 2, 3, 4, 5, 123),
    },
  );
  equal(d.decode('{"log":"part one, ","stream":"stdout","time":"2024-01-02T03:04:06Z"}'), null);
  deepEqual(d.decode('{"log":"err\\n","stream":"stderr","time":"2024-01-02T03:04:07Z"}'), {
    content: "err",
    timestampMs: Date.UTC(2024, 0, 2, 3, 4, 7),
  });
  deepEqual(d.decode('{"log":"part two\\n","stream":"stdout","time":"2024-01-02T03:04:08Z"}'), {
    content: "part one, part two",
    timestampMs: Date.UTC(2024, 0, 2, 3, 4, 6),
  });
});

Deno.test("DockerJsonDecoder throws LogDecodeError on lines that are not its format", () => {
  const d = new DockerJsonDecoder();
  for (const bad of ["not json", "[1]", '{"stream":"stdout"}', '{"log":5}']) {
    throws(() => d.decode(bad), LogDecodeError, bad);
  }
});

Deno.test("CriDecoder reassembles P pieces and reads F lines", () => {
  const d = new CriDecoder();
  equal(d.decode("2024-01-02T03:04:05.000000001Z stdout P abc "), null);
  deepEqual(d.decode("2024-01-02T03:04:05.5Z stderr F other"), {
    content: "other",
    timestampMs: Date.UTC(2024, 0, 2, 3, 4, 5, 500),
  });
  deepEqual(d.decode("2024-01-02T03:04:06Z stdout F def"), {
    content: "abc def",
    timestampMs: Date.UTC(2024, 0, 2, 3, 4, 5),
  });
  deepEqual(d.decode("2024-01-02T03:04:06Z stdout F"), {
    content: "",
    timestampMs: Date.UTC(2024, 0, 2, 3, 4, 6),
  });
  deepEqual(d.decode("2024-01-02T03:04:06Z stdout F  two  spaces "), {
    content: " two  spaces ",
    timestampMs: Date.UTC(2024, 0, 2, 3, 4, 6),
  });
});

Deno.test("CriDecoder throws LogDecodeError on bad lines", () => {
  const d = new CriDecoder();
  for (
    const bad of [
      "",
      "x",
      "2024-01-02T03:04:06Z stdout",
      "2024 stdout F x",
      "2024-01-02T03:04:06Z stdout X x",
    ]
  ) {
    throws(() => d.decode(bad), LogDecodeError, bad);
  }
});

Deno.test("a reassembled line is capped and the rest counted as cut", () => {
  const d = new CriDecoder();
  const piece = "a".repeat(PARTIAL_LIMIT_BYTES / 2 + 1);
  equal(d.decode(`2024-01-02T03:04:06Z stdout P ${piece}`), null);
  equal(d.decode(`2024-01-02T03:04:06Z stdout P ${piece}`), null);
  equal(d.decode(`2024-01-02T03:04:06Z stdout P ${piece}`), null);
  const out = d.decode(`2024-01-02T03:04:06Z stdout F end`)!;
  equal(out.content.length, PARTIAL_LIMIT_BYTES);
  equal(d.cut, 3);
});

Deno.test("drain() returns pending partial lines", () => {
  const d = new DockerJsonDecoder();
  d.decode('{"log":"half","stream":"stdout"}');
  deepEqual(d.drain().map((x) => x.content), ["half"]);
  deepEqual(d.drain(), []);
});

Deno.test("CriDecoder reads RFC 3339 times with any fraction and zone", () => {
  const d = new CriDecoder();
  const t = (ts: string) => d.decode(`${ts} stdout F x`)!.timestampMs;
  equal(t("2024-01-02T03:04:05.669794202Z"), Date.UTC(2024, 0, 2, 3, 4, 5, 669));
  equal(t("2024-01-02T03:04:05.1Z"), Date.UTC(2024, 0, 2, 3, 4, 5, 100));
  equal(t("2024-01-02T03:04:05Z"), Date.UTC(2024, 0, 2, 3, 4, 5));
  equal(t("2024-01-02T03:04:06.25+02:00"), Date.UTC(2024, 0, 2, 1, 4, 6, 250));
  equal(t("2024-01-02T03:04:06.5-00:30"), Date.UTC(2024, 0, 2, 3, 34, 6, 500));
  for (const bad of ["2024-01-02T03:04:05", "2024-01-02T03:04:05.Z", "2024-01-02T03:04:05.1X"]) {
    throws(() => d.decode(`${bad} stdout F x`), LogDecodeError, bad);
  }
});

Deno.test("DockerJsonDecoder reads escapes and other key orders the same way", () => {
  const d = new DockerJsonDecoder();
  const log = 'tab\tquote" back\\ é 😀 \u0001\n';
  const want = { content: log.slice(0, -1), timestampMs: Date.UTC(2024, 0, 2, 3, 4, 5, 120) };
  const time = "2024-01-02T03:04:05.12Z";
  deepEqual(d.decode(JSON.stringify({ log, stream: "stdout", time })), want);
  deepEqual(d.decode(JSON.stringify({ time, stream: "stdout", log })), want);
  deepEqual(d.decode(JSON.stringify({ log, stream: "stdout", time, attrs: { a: 1 } })), want);
  // a time that is not RFC 3339 leaves the timestamp to the caller
  equal(
    d.decode(JSON.stringify({ log: "x\n", stream: "stdout", time: "yesterday" }))!.timestampMs,
    NaN,
  );
});
