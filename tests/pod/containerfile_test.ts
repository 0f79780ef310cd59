/**
 * The Containerfile's ENTRYPOINT grants what deno.json's "agent" set grants, translated to the
 * pod layout: the host view (/run/osprey/host) becomes /host/proc and /host/sys, --allow-ffi
 * names the library's path in the image, everything else is the same; the command runs through
 * the Landlock launcher's wrapper, which builds its rules from these flags. No root, no podman.
 */
import { deepEqual, equal, ok } from "node:assert/strict";
import { SOURCES } from "./image.ts";

const REPO = new URL("../../", import.meta.url).pathname;
const containerfile = Deno.readTextFileSync(`${REPO}Containerfile`);
const agentSet = JSON.parse(Deno.readTextFileSync(`${REPO}deno.json`)).permissions.agent as Record<
  string,
  string[] | boolean
>;

/** The runtime stage's instructions, continuation lines joined. */
function runtimeInstructions(): string[] {
  const lines = containerfile.replace(/\\\n/g, " ").split("\n").filter((l) =>
    l.trim() && !l.trimStart().startsWith("#")
  );
  const stages = lines.map((l, i) => /^FROM\s/i.test(l) ? i : -1).filter((i) => i >= 0);
  return lines.slice(stages.at(-1));
}

function instruction(name: string): string[] {
  return runtimeInstructions().filter((l) => l.toUpperCase().startsWith(`${name} `)).map((l) =>
    l.slice(name.length + 1).trim()
  );
}

/** The launcher wrapper the ENTRYPOINT starts with (README, "Security model"). */
const WRAP = ["/bin/sh", "/opt/osprey/wrap.sh", "/opt/osprey"];

/** The Deno command of the ENTRYPOINT (after the Landlock wrapper). */
function entrypoint(): string[] {
  const [e] = instruction("ENTRYPOINT");
  ok(e, "no ENTRYPOINT in the runtime stage");
  const all = JSON.parse(e) as string[];
  deepEqual(all.slice(0, WRAP.length), WRAP, "the ENTRYPOINT runs under the Landlock launcher");
  return all.slice(WRAP.length);
}

function env(): Record<string, string> {
  const out: Record<string, string> = {};
  for (const e of instruction("ENV")) {
    for (const m of e.matchAll(/([A-Z_][A-Z0-9_]*)=("[^"]*"|\S+)/g)) out[m[1]] = m[2];
  }
  return out;
}

const LIB = "/opt/osprey/libosprey.so";

Deno.test("the ENTRYPOINT grants the agent set with the pod's host paths", () => {
  const args = entrypoint();
  const flags = new Map<string, string | true>();
  for (const a of args.filter((a) => a.startsWith("--allow-"))) {
    const eq = a.indexOf("=");
    flags.set(eq < 0 ? a.slice(2) : a.slice(2, eq), eq < 0 ? true : a.slice(eq + 1));
  }
  const want = new Map<string, string | true>();
  for (const [kind, value] of Object.entries(agentSet)) {
    if (kind === "ffi") continue;
    if (value === true) want.set(`allow-${kind}`, true);
    else if (Array.isArray(value) && value.length) {
      const list = kind === "read"
        ? value.flatMap((p) => p === "/run/osprey/host" ? ["/host/proc", "/host/sys"] : [p])
        : value;
      want.set(`allow-${kind}`, list.join(","));
    }
  }
  want.set("allow-ffi", LIB);
  deepEqual(Object.fromEntries(flags), Object.fromEntries(want));
});

Deno.test("the ENTRYPOINT runs the bundle like the package does, reading /host/proc and /host/sys", () => {
  const args = entrypoint();
  deepEqual(args.slice(0, 2), ["/usr/local/bin/deno", "run"]);
  for (
    const f of [
      "--no-config",
      "--no-remote",
      "--no-prompt",
      "--v8-flags=--max-semi-space-size=1,--expose-gc",
    ]
  ) {
    ok(args.includes(f), `ENTRYPOINT lacks ${f}`);
  }
  const script = args.findIndex((a) => a.endsWith("osprey.js"));
  ok(script > 0, "no osprey.js in the ENTRYPOINT");
  deepEqual(args.slice(script + 1), ["--procfs-root=/host/proc", "--sysfs-root=/host/sys"]);
});

Deno.test("the image carries the launcher, the wrapper and the bundled rule builder", () => {
  const copies = instruction("COPY").join(" ");
  for (const f of ["osprey-sandbox", "sandbox_args.js", "wrap.sh"]) {
    ok(copies.includes(`/out/${f}`), `the runtime stage copies ${f}`);
  }
});

Deno.test("the image's environment: memory settings, the library path, a port it EXPOSEs", () => {
  const e = env();
  equal(e.MALLOC_ARENA_MAX, "2");
  equal(e.MALLOC_MMAP_THRESHOLD_, "131072");
  equal(e.OSPREY_FFI_LIB, LIB);
  const port = /:(\d+)$/.exec(e.LISTEN ?? "")?.[1];
  ok(
    port && Number(port) >= 1024,
    `LISTEN=${e.LISTEN}: a port >= 1024 needs no CAP_NET_BIND_SERVICE`,
  );
  deepEqual(instruction("EXPOSE"), [port]);
});

Deno.test("the build context lets through exactly the sources the image hash covers", () => {
  const allowed = Deno.readTextFileSync(`${REPO}.containerignore`).split("\n")
    .filter((l) => l.startsWith("!")).map((l) => l.slice(1).replace(/\/$/, ""));
  deepEqual(allowed.sort(), SOURCES.filter((s) => s !== ".containerignore").sort());
});
