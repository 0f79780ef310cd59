import { deepEqual, equal } from "node:assert/strict";
import {
  type LogCounter,
  type LogMessage,
  LogParser,
  OVERFLOW_HASH,
  truncateLabel,
} from "./mod.ts";
import { patternHash } from "./pattern.ts";

function parser(over: Partial<ConstructorParameters<typeof LogParser>[0]> = {}) {
  const messages: LogMessage[] = [];
  const p = new LogParser({
    decoder: "none",
    jsonParsing: true,
    patternsPerLevel: 256,
    maxLabelLength: 4096,
    onMessage: (m) => messages.push(m),
    clock: () => 0,
    ...over,
  });
  return { p, messages };
}

function byLevel(cs: Iterable<LogCounter>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const c of cs) out[c.level] = (out[c.level] ?? 0) + c.messages;
  return out;
}

Deno.test("LogParser counts N messages at each level exactly", () => {
  const { p } = parser();
  const levels = ["DEBUG", "INFO", "WARN", "ERROR", "FATAL", "plain"];
  for (let i = 0; i < 50; i++) for (const l of levels) p.push(`${l} message number ${i}`);
  p.stop();
  deepEqual(byLevel(p.counters()), {
    debug: 50,
    info: 50,
    warning: 50,
    error: 50,
    critical: 50,
    unknown: 50,
  });
  for (const c of p.counters()) {
    if (c.level === "warning" || c.level === "error" || c.level === "critical") {
      equal(c.patternHash, patternHash(c.sample));
    } else {
      equal(c.patternHash, "");
      equal(c.sample, "");
    }
  }
});

Deno.test("LogParser uses the source's level when the text names none", () => {
  const { p } = parser();
  p.push("disk almost full", { level: "warning" });
  p.push("ERROR: text wins", { level: "info" });
  p.stop();
  deepEqual(byLevel(p.counters()), { warning: 1, error: 1 });
});

Deno.test("LogParser decodes CRI lines (stream is not a label) and joins a stack trace", () => {
  const { p, messages } = parser({ decoder: "cri" });
  p.push("2024-01-02T03:04:05Z stderr F ERROR boom");
  p.push("2024-01-02T03:04:05Z stderr F \tat a.b(C.java:1)");
  p.push("2024-01-02T03:04:06Z stdout P INFO half ");
  p.push("2024-01-02T03:04:06Z stdout F line");
  p.push("garbage");
  p.stop();
  deepEqual(messages.map((m) => [m.level, m.content]), [
    ["error", "ERROR boom\n\tat a.b(C.java:1)"],
    ["info", "INFO half line"],
  ]);
  equal(messages[0].timestampMs, Date.UTC(2024, 0, 2, 3, 4, 5));
  equal(p.errors.decode, 1);
});

Deno.test("LogParser reads JSON logs: message, level and attributes", () => {
  const { p, messages } = parser({ decoder: "docker" });
  p.push(
    JSON.stringify({
      log: '{"level":"error","msg":"db down 5","user":"x"}\n',
      stream: "stdout",
      time: "2024-01-02T03:04:05Z",
    }),
  );
  p.stop();
  equal(messages.length, 1);
  equal(messages[0].content, "db down 5");
  equal(messages[0].level, "error");
  deepEqual(messages[0].attributes, { user: "x" });
  equal(messages[0].patternHash, patternHash("db down 5"));
});

Deno.test("LogParser with JSON parsing off treats JSON lines as text", () => {
  const { p, messages } = parser({ jsonParsing: false });
  p.push('{"level":"error","msg":"db down"}');
  p.stop();
  equal(messages[0].content, '{"level":"error","msg":"db down"}');
  equal(messages[0].level, "error"); // from the text's level word
});

Deno.test("LogParser counts invalid UTF-8 and drops it", () => {
  const { p } = parser();
  p.pushBytes(new Uint8Array([0x45, 0x52, 0x52, 0x4f, 0x52, 0x20, 0xff]));
  p.push("ERROR \ud800 lone surrogate");
  p.pushBytes(new TextEncoder().encode("ERROR fine"));
  p.stop();
  equal(p.errors.invalidUtf8, 2);
  deepEqual(byLevel(p.counters()), { error: 1 });
});

Deno.test("LogParser caps patterns per level and cuts samples to the label length", () => {
  const { p } = parser({ patternsPerLevel: 3, maxLabelLength: 10 });
  const words = ["alpha", "bravo", "charlie", "delta", "echo"];
  for (const w of words) p.push(`ERROR ${w} ${w}x ${w}y ${w}z happened`);
  p.push("WARN only one");
  p.stop();
  const errs = [...p.counters()].filter((c) => c.level === "error");
  equal(errs.length, 4);
  equal(errs[3].patternHash, OVERFLOW_HASH);
  equal(errs[3].messages, 2);
  equal(errs[0].sample, "ERROR alph");
  equal([...p.counters()].filter((c) => c.level === "warning").length, 1); // caps are per level
});

Deno.test("LogParser.flush() emits a pending message after 1 s of silence", () => {
  let now = 0;
  const { p, messages } = parser({ clock: () => now });
  p.push("ERROR x");
  p.flush(500);
  equal(messages.length, 0);
  now = 100;
  p.push("\tcontinued");
  p.flush(1099);
  equal(messages.length, 0);
  p.flush(1100);
  equal(messages.length, 1);
});

Deno.test("truncateLabel() cuts at UTF-8 bytes, never inside a character", () => {
  equal(truncateLabel("abc", 10), "abc");
  equal(truncateLabel("ééé", 5), "éé");
  equal(truncateLabel("aé", 2), "a");
  equal(truncateLabel("😀x", 3), "");
});

Deno.test("LogParser reports patterns with the same labels as one counter", () => {
  const { p } = parser({ maxLabelLength: 12 });
  // same words (so the same hash), different shapes (so two patterns), same first 12 bytes
  p.push("ERROR disk full: x=1");
  p.push("ERROR disk full: (a) (b) (c)");
  p.stop();
  const errs = [...p.counters()].filter((c) => c.level === "error");
  equal(errs.length, 1);
  equal(errs[0].messages, 2);
  equal(errs[0].sample, "ERROR disk f");
});

Deno.test("LogParser counts cut pieces of over-long lines and messages", () => {
  const { p, messages } = parser({ decoder: "cri" });
  const big = "y".repeat(40 * 1024);
  p.push(`2024-01-02T03:04:05Z stdout P ERROR ${big}`);
  p.push(`2024-01-02T03:04:05Z stdout F ${big}`); // 80 KiB reassembled: cut at 64 KiB
  p.push("2024-01-02T03:04:05Z stdout F \tmore"); // the message is full: dropped
  p.stop();
  equal(messages.length, 1);
  equal(new TextEncoder().encode(messages[0].content).length, 64 * 1024);
  deepEqual(p.errors, { decode: 0, invalidUtf8: 0, cut: 2 });
});
