/**
 * Worker for tests/privileged/nat_test.ts: calls osp_nat_lookup() on a
 * watcher handle (handles are process-wide) in a loop until the call fails,
 * so the main thread can close the watcher while a lookup is inside the
 * library. Posts "started" after the first successful call, then
 * {calls, last} when a call returned an error.
 *
 * @module
 */

import { openLibrary } from "../../ffi/mod.ts";

interface Start {
  handle: number;
  queries: Uint8Array;
  count: number;
}

const worker = self as unknown as {
  onmessage: (e: MessageEvent<Start>) => void;
  postMessage: (m: unknown) => void;
  close: () => void;
};

worker.onmessage = (e) => {
  const { handle, queries, count } = e.data;
  const lib = openLibrary();
  const results = new Uint8Array(count * 24);
  let calls = 0;
  let last = 0;
  for (;;) {
    last = lib.symbols.osp_nat_lookup(handle, queries, count, results, results.byteLength);
    if (last < 0) break;
    if (calls++ === 0) worker.postMessage("started");
  }
  lib.close();
  worker.postMessage({ calls, last });
  worker.close();
};
