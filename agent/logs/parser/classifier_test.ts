import { equal, notEqual } from "node:assert/strict";
import { OVERFLOW_HASH, OVERFLOW_SAMPLE, PatternClassifier } from "./classifier.ts";
import { patternHash } from "./pattern.ts";

Deno.test("messages that differ only in numbers, ids and quoted values share one pattern", () => {
  const c = new PatternClassifier({ maxPatterns: 256 });
  const a = c.classify('failed to open "/etc/app.yaml" for request 1234 (id 9f8e7d6c)');
  const b = c.classify('failed to open "/var/x.conf" for request 77 (id 0a1b2c3d)');
  const q = c.classify("failed to open 'other' for request 5 (id 1)");
  equal(a, b);
  equal(a, q);
  equal(a.messages, 3);
  equal(a.hash, patternHash('failed to open "/etc/app.yaml" for request 1234 (id 9f8e7d6c)'));
  equal(a.sample, 'failed to open "/etc/app.yaml" for request 1234 (id 9f8e7d6c)');
});

Deno.test("a message grouped into a pattern takes that pattern's hash and sample", () => {
  const c = new PatternClassifier({ maxPatterns: 256 });
  const first = c.classify("session closed for user alice");
  const second = c.classify("session closed for user bob");
  equal(second, first);
  // the reference's hash of the second message alone differs; the pattern keeps the first's
  notEqual(patternHash("session closed for user bob"), first.hash);
  equal(second.hash, patternHash("session closed for user alice"));
  equal(second.sample, "session closed for user alice");
});

Deno.test("messages with different constant words stay apart", () => {
  const c = new PatternClassifier({ maxPatterns: 256 });
  const opened = c.classify("session opened for user alice");
  const closed = c.classify("session closed for user alice");
  notEqual(opened, closed);
  // a key=word value may differ like a word, but not its key
  const r = c.classify("pod a1 changed to state=running now");
  notEqual(c.classify("pod a3 changed to phase=stopped now"), r);
  equal(c.classify("pod a2 changed to state=stopped now"), r);
  // once a place has held two values it takes any value (as in Drain)
  equal(c.classify("pod a5 changed to state=paused now"), r);
  equal(r.messages, 3);
});

Deno.test("the log header (time, level, logger) does not split or join patterns", () => {
  const c = new PatternClassifier({ maxPatterns: 256 });
  const a = c.classify("2024-01-01 10:00:00,123 ERROR [main] com.acme.Db: connection lost to db-1");
  const b = c.classify("Jan  2 11:22:33 host app[42]: connection lost to db-2");
  const d = c.classify("connection lost to db-3");
  equal(a, b);
  equal(a, d);
  // after a level, words before a colon are the message, not a logger
  notEqual(
    c.classify("ERROR connection refused: db-1"),
    c.classify("ERROR permission denied: db-1"),
  );
});

Deno.test("beyond the cap, new patterns go to the overflow pattern", () => {
  const c = new PatternClassifier({ maxPatterns: 2 });
  c.classify("alpha beta gamma");
  c.classify("delta epsilon zeta");
  const o = c.classify("eta theta iota");
  equal(o.hash, OVERFLOW_HASH);
  equal(o.sample, OVERFLOW_SAMPLE);
  equal(c.classify("kappa lambda mu"), o);
  equal(o.messages, 2);
  equal(c.classify("alpha beta gamma").messages, 2); // known patterns still count
  equal(c.size, 2);
  equal(c.patterns().length, 3);
});
