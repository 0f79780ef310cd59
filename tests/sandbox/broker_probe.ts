/**
 * Test-only entry point for tests/sandbox/broker_test.ts: run under the Landlock launcher, it
 * opens the broker from `OSPREY_BROKER_FD`, binds it to the procfs root in argv[0] and makes the
 * requests the test names in argv[1] (JSON), printing one JSON array of outcomes:
 * `{ok: true, value}` or `{ok: false, code}` (the errno name).
 *
 * @module
 */
import { BpfError, openLibrary } from "../../ffi/mod.ts";

type Req =
  | { op: "bind"; path: string }
  | { op: "ns"; pid: number; kind: "net" | "uts" }
  | { op: "exeLink"; pid: number }
  | { op: "netnsOpen"; pid: number }
  | { op: "socketFds"; pid: number }
  | { op: "logFds"; pid: number }
  | { op: "logFd"; pid: number; fd: number }
  | { op: "readExe"; pid: number; offset: number; len: number }
  | { op: "statfs"; pid: number; path: string }
  | { op: "raw"; hex: string }
  | { op: "direct"; path: string };

const lib = openLibrary();
const fd = Number(Deno.env.get("OSPREY_BROKER_FD"));
const reqs = JSON.parse(Deno.args[1]) as Req[];
const out: unknown[] = [];
const broker = lib.openBroker(fd, Deno.args[0]);
for (const r of reqs) {
  try {
    let value: unknown;
    switch (r.op) {
      case "bind":
        value = lib.openBroker(fd, r.path).procRoot;
        break;
      case "ns":
        value = broker.namespaceLink(r.pid, r.kind);
        break;
      case "exeLink":
        value = broker.exeLink(r.pid);
        break;
      case "netnsOpen": {
        // the passed descriptor, seen through the host view of the agent's own fd table
        using f = broker.openNetNamespace(r.pid);
        value = Deno.readLinkSync(`${Deno.args[0]}/self/fd/${f.path.split("/").at(-1)}`);
        break;
      }
      case "socketFds":
        value = await broker.socketFds(r.pid);
        break;
      case "logFds":
        value = await broker.logFds(r.pid);
        break;
      case "logFd":
        value = await broker.logFd(r.pid, r.fd);
        break;
      case "readExe": {
        const buf = new Uint8Array(r.len);
        const got = await broker.readExe(r.pid, r.offset, buf);
        value = got === null ? null : {
          bytesRead: got.bytesRead,
          head: [...buf.subarray(0, 4)],
          size: got.stat.size,
        };
        break;
      }
      case "statfs":
        value = await broker.rootStatfs(r.pid, r.path);
        break;
      case "raw": {
        const bytes = new Uint8Array(r.hex.length / 2);
        for (let i = 0; i < bytes.length; i++) {
          bytes[i] = parseInt(r.hex.slice(2 * i, 2 * i + 2), 16);
        }
        const a = await broker.rawCall(bytes);
        value = a.result;
        break;
      }
      case "direct":
        value = Deno.readLinkSync(r.path);
        break;
    }
    out.push({ ok: true, value });
  } catch (e) {
    if (e instanceof BpfError) out.push({ ok: false, code: e.code });
    else if (e instanceof Error && "code" in e) out.push({ ok: false, code: String(e.code) });
    else if (e instanceof Deno.errors.PermissionDenied) out.push({ ok: false, code: "EACCES" });
    else out.push({ ok: false, code: e instanceof Error ? e.name : String(e) });
  }
}
console.log(JSON.stringify(out));
lib.close();
