import assert from "node:assert/strict";
import { pickCriLogFile, podLogDirName } from "./kubelet.ts";

Deno.test("pickCriLogFile() picks the highest restart number", () => {
  assert.equal(pickCriLogFile(["0.log", "1.log", "10.log", "2.log"]), "10.log");
});

Deno.test("pickCriLogFile() ignores rotated, compressed and foreign files", () => {
  assert.equal(
    pickCriLogFile(["0.log", "3.log.20240514-091500", "4.log.gz", "x.log", "5.log.tmp", ".log"]),
    "0.log",
  );
  assert.equal(pickCriLogFile([]), undefined);
  assert.equal(pickCriLogFile(["1.log.20240514-091500.gz"]), undefined);
});

Deno.test("podLogDirName() joins namespace, pod and uid with underscores", () => {
  assert.equal(
    podLogDirName({ namespace: "shop", pod: "web-0", uid: "3f1c2a4e" }),
    "shop_web-0_3f1c2a4e",
  );
});
