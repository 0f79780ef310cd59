import { equal, throws } from "node:assert/strict";
import { BpfError, errnoName, unwrap } from "./errors.ts";

Deno.test("unwrap() returns non-negative results unchanged", () => {
  equal(unwrap(0, "do nothing"), 0);
  equal(unwrap(42, "count"), 42);
});

Deno.test("unwrap() throws a BpfError naming the errno, the operation and the detail", () => {
  let detailCalls = 0;
  const detail = () => (detailCalls++, "load object 'proc': Operation not permitted");
  equal(unwrap(1, "attach", detail), 1);
  equal(detailCalls, 0);
  throws(() => unwrap(-1, 'load object "proc"', detail), (err: unknown) => {
    if (!(err instanceof BpfError)) return false;
    equal(err.errno, 1);
    equal(err.code, "EPERM");
    equal(err.operation, 'load object "proc"');
    equal(err.libbpfMessage, "load object 'proc': Operation not permitted");
    equal(
      err.message,
      "Cannot load object \"proc\": EPERM (errno 1)\nload object 'proc': Operation not permitted",
    );
    return true;
  });
  equal(detailCalls, 1);
});

Deno.test("errnoName() knows libbpf's own codes and falls back to E<n>", () => {
  equal(errnoName(2), "ENOENT");
  equal(errnoName(524), "ENOTSUPP");
  equal(errnoName(4007), "LIBBPF_ERRNO__VERIFY");
  equal(errnoName(9999), "E9999");
});
