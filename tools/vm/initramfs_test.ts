import { deepEqual } from "node:assert/strict";
import { moduleDepends } from "./initramfs.ts";

Deno.test("moduleDepends reads the depends= field of a module's .modinfo", () => {
  const ko = new TextEncoder().encode(
    "\x7fELF...\0license=GPL\0depends=netfs,9pnet\0retpoline=Y\0name=9p\0",
  );
  deepEqual(moduleDepends(ko), ["netfs", "9pnet"]);
  deepEqual(moduleDepends(new TextEncoder().encode("\0depends=\0name=virtio\0")), []);
  deepEqual(moduleDepends(new TextEncoder().encode("\0name=x\0")), []);
  deepEqual(moduleDepends(new TextEncoder().encode("\0depends=virtio-ring\0")), ["virtio_ring"]);
});
