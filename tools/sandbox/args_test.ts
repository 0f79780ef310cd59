import { deepEqual, equal, ok, throws } from "node:assert/strict";
import {
  agentListen,
  launcherArgs,
  narrowedNet,
  portsFromAgentArgs,
  pushGrants,
  RUNTIME_READ,
  SandboxArgsError,
  wrapCommand,
} from "./args.ts";

Deno.test("launcherArgs: read list read-only, code read+exec, writes, ports", () => {
  const args = launcherArgs({
    read: ["/run/osprey/host", "./tests/fixtures/host", "/run/osprey/host"],
    write: ["/var/spool/osprey"],
    denoBin: "/usr/bin/deno",
    denoDir: "/root/.cache/deno",
    repo: "/src/osprey",
    listenPort: 9100,
    connectPorts: [80, 443],
  });
  deepEqual(args.slice(0, 2), ["--ro=/run/osprey/host", "--ro=/src/osprey/tests/fixtures/host"]);
  deepEqual(args.slice(2, 2 + RUNTIME_READ.length), RUNTIME_READ.map((p) => `--ro=${p}`));
  deepEqual(args.slice(2 + RUNTIME_READ.length), [
    "--rx=/usr/bin/deno",
    "--rx=/src/osprey",
    "--rx=/lib",
    "--rx=/lib64",
    "--rx=/usr/lib",
    "--rx=/usr/lib64",
    "--rx=/root/.cache/deno",
    "--rw=/var/spool/osprey",
    "--rw=/dev/null",
    "--bind=9100",
    "--connect=80",
    "--connect=443",
  ]);
});

Deno.test("portsFromAgentArgs: listen and endpoint ports, flag over variable", () => {
  const env = (m: Record<string, string>) => (k: string) => m[k];
  deepEqual(portsFromAgentArgs([], env({})), { listenPort: 80, connectPorts: [80, 443] });
  deepEqual(
    portsFromAgentArgs(["--listen=127.0.0.1:9100"], env({ LISTEN: "0.0.0.0:1" })),
    { listenPort: 9100, connectPorts: [80, 443] },
  );
  deepEqual(
    portsFromAgentArgs(["--listen", "[::1]:9200"], env({})).listenPort,
    9200,
  );
  deepEqual(
    portsFromAgentArgs(
      ["--metrics-endpoint=http://collector:8080/v1"],
      env({ TRACES_ENDPOINT: "https://x.example/t", COLLECTOR_ENDPOINT: "http://c:4318" }),
    ).connectPorts,
    [80, 443, 4318, 8080],
  );
  throws(() => portsFromAgentArgs(["--listen=localhost"], env({})), SandboxArgsError);
  throws(() => portsFromAgentArgs(["--logs-endpoint=not a url"], env({})), SandboxArgsError);
});

Deno.test("narrowedNet: loopback and wildcards only on the listen address and the endpoints", () => {
  const set = ["0.0.0.0", "127.0.0.1", "[::]", "[::1]", "169.254.169.254", "api.example"];
  const none = () => undefined;
  deepEqual(narrowedNet(set, [], none), ["169.254.169.254", "api.example", "0.0.0.0:80"]);
  deepEqual(
    narrowedNet(
      set,
      ["--listen=127.0.0.1:9100", "--cloud-metadata-base-url=http://127.0.0.1:1"],
      none,
    ),
    ["169.254.169.254", "api.example", "127.0.0.1:9100", "127.0.0.1:1"],
  );
  deepEqual(
    narrowedNet(set, [], (k) => k === "METRICS_ENDPOINT" ? "https://[::1]/m" : undefined),
    // a metrics endpoint moves the listen address to 127.0.0.1:10300, as in the agent
    ["169.254.169.254", "api.example", "127.0.0.1:10300", "[::1]:443"],
  );
  throws(() => narrowedNet(set, ["--listen=nope"], none), SandboxArgsError);
});

Deno.test("pushGrants: the spool, the CA file and the insecure hosts; listen forced", () => {
  const none = () => undefined;
  deepEqual(pushGrants(["/r"], [], none), { denoFlags: [], write: [], read: [] });
  const g = pushGrants(
    ["/r"],
    [
      "--collector-endpoint=https://coroot.example:8443/base",
      "--traces-endpoint=https://traces.example/v1/traces",
      "--wal-dir=/var/lib/osprey",
      "--ca-file=/etc/ca.pem",
      "--insecure-skip-verify",
    ],
    none,
  );
  deepEqual(g.write, ["/var/lib/osprey"]);
  deepEqual(g.read, ["/var/lib/osprey", "/etc/ca.pem"]);
  deepEqual(g.denoFlags, [
    "--allow-write=/var/lib/osprey",
    "--allow-read=/r,/var/lib/osprey,/etc/ca.pem",
    "--unsafely-ignore-certificate-errors=coroot.example,traces.example",
  ]);
  // the default spool, from the environment; no verification flag without the bool
  deepEqual(
    pushGrants([], [], (k) => k === "METRICS_ENDPOINT" ? "http://c:9/w" : undefined).denoFlags,
    ["--allow-write=/tmp/coroot-node-agent", "--allow-read=/tmp/coroot-node-agent"],
  );
  equal(agentListen(["--listen=:9100", "--metrics-endpoint=http://c/w"], none), "127.0.0.1:10300");
  equal(agentListen(["--listen=:9100", "--logs-endpoint=http://c/l"], none), ":9100");
  deepEqual(
    narrowedNet([], ["--collector-endpoint=http://c:8080"], none),
    ["127.0.0.1:10300", "c:8080"],
  );
});

Deno.test("wrapCommand: rules from the command's own flags; --allow-net narrowed in place", () => {
  const out = wrapCommand([
    "/usr/local/bin/deno",
    "run",
    "--no-config",
    "--allow-read=/host/proc,/host/sys",
    "--allow-net=0.0.0.0,127.0.0.1,[::],[::1],169.254.169.254",
    "--allow-ffi=/opt/osprey/libosprey.so",
    "/opt/osprey/osprey.js",
    "--procfs-root=/host/proc",
  ], {
    launcher: "/opt/osprey/osprey-sandbox",
    cwd: "/",
    denoDir: "/tmp/deno",
    env: (k) => ({ LISTEN: "0.0.0.0:10300" } as Record<string, string>)[k],
  });
  const dash = out.indexOf("--");
  equal(out[0], "/opt/osprey/osprey-sandbox");
  const rules = out.slice(1, dash);
  for (
    const r of [
      "--ro=/host/proc",
      "--ro=/host/sys",
      "--rx=/usr/local/bin/deno",
      "--rx=/opt/osprey",
      "--rx=/tmp/deno",
      "--bind=10300",
      "--connect=80",
      "--connect=443",
    ]
  ) ok(rules.includes(r), `${r} in ${rules.join(" ")}`);
  deepEqual(out.slice(dash + 1), [
    "/usr/local/bin/deno",
    "run",
    "--no-config",
    "--allow-read=/host/proc,/host/sys",
    "--allow-net=169.254.169.254,0.0.0.0:10300",
    "--allow-ffi=/opt/osprey/libosprey.so",
    "/opt/osprey/osprey.js",
    "--procfs-root=/host/proc",
  ]);
});

Deno.test("wrapCommand: a -P set from deno.json; the narrowed grant follows it", () => {
  const out = wrapCommand(
    ["/bin/deno", "run", "-P=agent", "agent/main.ts", "--listen=127.0.0.1:9100"],
    {
      launcher: "ffi/.output/osprey-sandbox",
      cwd: "/src/osprey",
      sets: {
        agent: { read: ["/run/osprey/host"], net: ["127.0.0.1", "[::1]"], ffi: ["./ffi/x.so"] },
      },
      env: () => undefined,
    },
  );
  const dash = out.indexOf("--");
  const rules = out.slice(1, dash);
  ok(rules.includes("--ro=/run/osprey/host"));
  ok(rules.includes("--rx=/src/osprey"));
  ok(rules.includes("--rx=/src/osprey/ffi"));
  ok(rules.includes("--bind=9100"));
  deepEqual(out.slice(dash + 1), [
    "/bin/deno",
    "run",
    "-P=agent",
    "--allow-net=127.0.0.1:9100",
    "agent/main.ts",
    "--listen=127.0.0.1:9100",
  ]);
  throws(
    () =>
      wrapCommand(["/bin/deno", "eval", "1"], { launcher: "l", cwd: "/", env: () => undefined }),
    SandboxArgsError,
  );
  throws(
    () =>
      wrapCommand(["/bin/deno", "run", "-P=nope", "x.ts"], {
        launcher: "l",
        cwd: "/",
        sets: {},
        env: () => undefined,
      }),
    SandboxArgsError,
  );
});

Deno.test("wrapCommand: push mode adds the spool's write grant and rule, and the endpoint", () => {
  const out = wrapCommand([
    "/usr/local/bin/deno",
    "run",
    "--allow-read=/host/proc",
    "--allow-net=0.0.0.0,169.254.169.254",
    "/opt/osprey/osprey.js",
    "--collector-endpoint=https://coroot.example:8443",
    "--wal-dir=/var/lib/osprey",
    "--insecure-skip-verify",
  ], { launcher: "/opt/osprey/osprey-sandbox", cwd: "/", env: () => undefined });
  const dash = out.indexOf("--");
  const rules = out.slice(1, dash);
  ok(rules.includes("--rw=/var/lib/osprey"), rules.join(" "));
  ok(rules.includes("--ro=/var/lib/osprey"));
  ok(rules.includes("--bind=10300"), "the listen address forced to 127.0.0.1:10300");
  ok(rules.includes("--connect=8443"));
  deepEqual(out.slice(dash + 1), [
    "/usr/local/bin/deno",
    "run",
    "--allow-read=/host/proc,/var/lib/osprey",
    "--allow-net=169.254.169.254,127.0.0.1:10300,coroot.example:8443",
    "--allow-write=/var/lib/osprey",
    "--unsafely-ignore-certificate-errors=coroot.example",
    "/opt/osprey/osprey.js",
    "--collector-endpoint=https://coroot.example:8443",
    "--wal-dir=/var/lib/osprey",
    "--insecure-skip-verify",
  ]);
});
