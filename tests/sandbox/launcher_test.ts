/**
 * The Landlock launcher's own behaviour (ffi/launcher/sandbox_launcher.c): argument errors exit
 * 125 with a line saying what was wrong; paths that do not exist are skipped; a rule on a file
 * (not a directory) is accepted; what it applied reaches the command in OSPREY_SANDBOX; a TCP
 * bind outside the granted ports is refused by the kernel.
 *
 * Needs the built launcher (`deno task build`); the Landlock cases need a kernel with it.
 */
import { equal, match, ok } from "node:assert/strict";
import { SANDBOX_LAUNCHER } from "../helpers/agent_process.ts";

const decoder = new TextDecoder();

function built(): boolean {
  try {
    return Deno.statSync(SANDBOX_LAUNCHER).isFile;
  } catch {
    return false;
  }
}
const BUILT = built();

function launch(args: string[], env: Record<string, string> = {}) {
  const out = new Deno.Command(SANDBOX_LAUNCHER, { args, env, stdout: "piped", stderr: "piped" })
    .outputSync();
  return {
    code: out.code,
    stdout: decoder.decode(out.stdout).trim(),
    stderr: decoder.decode(out.stderr).trim(),
  };
}

// what sh and python3 need to run at all
const SYSTEM = [
  "--rx=/usr",
  "--rx=/lib",
  "--rx=/lib64",
  "--rx=/bin",
  "--ro=/etc",
  "--rw=/dev/null",
];
const LANDLOCK = BUILT &&
  /^landlock:/.test(launch(["--rx=/", "--", "sh", "-c", 'echo "$OSPREY_SANDBOX"']).stdout);

Deno.test({
  name: "launcher: bad arguments exit 125 and say which",
  ignore: !BUILT,
  fn() {
    for (
      const [args, want] of [
        [["--nope", "--", "true"], /unknown argument --nope/],
        [["--bind=70000", "--", "true"], /--bind=70000: not a TCP port/],
        [["--connect=-1", "--", "true"], /--connect=-1: not a TCP port/],
        [["--landlock=maybe", "--", "true"], /expected auto, off or require/],
        [["--broker=maybe", "--", "true"], /--broker=maybe: expected on or off/],
        [["--ro=/etc"], /usage: osprey-sandbox/],
        [["--", "/nonexistent/cmd"], /running \/nonexistent\/cmd/],
      ] as const
    ) {
      const r = launch([...args]);
      equal(r.code, 125, `${args.join(" ")}: ${r.stderr}`);
      match(r.stderr, want);
    }
  },
});

Deno.test({
  name: "launcher: --landlock=off and OSPREY_LANDLOCK=off run the command unsandboxed",
  ignore: !BUILT,
  fn() {
    const cmd = [
      "sh",
      "-c",
      'echo "$OSPREY_SANDBOX"; head -c 1 /etc/hostname >/dev/null && echo read',
    ];
    for (
      const r of [
        launch(["--landlock=off", "--", ...cmd]),
        launch(["--", ...cmd], { OSPREY_LANDLOCK: "off" }),
      ]
    ) {
      equal(r.code, 0, r.stderr);
      equal(r.stdout, "none:turned off\nread");
    }
  },
});

Deno.test({
  name:
    "launcher: rules on files and missing paths; outside them EACCES; bind only on granted ports",
  ignore: !LANDLOCK,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "osprey-launcher-" });
    try {
      await Deno.writeTextFile(`${dir}/granted`, "yes");
      await Deno.writeTextFile(`${dir}/other`, "no");
      const r = launch([
        ...SYSTEM.filter((a) => a !== "--ro=/etc"),
        "--ro=/etc/ld.so.cache",
        `--ro=${dir}/granted`,
        `--ro=${dir}/missing/deeper`,
        "--bind=0",
        "--",
        "sh",
        "-c",
        `echo "$OSPREY_SANDBOX"; cat "$1"; echo; cat "$2" 2>&1; cat /etc/hostname 2>&1`,
        "sh",
        `${dir}/granted`,
        `${dir}/other`,
      ]);
      equal(r.code, 1, r.stderr);
      const lines = r.stdout.split("\n");
      match(lines[0], /^landlock:\d+$/);
      equal(lines[1], "yes");
      match(lines[2], /Permission denied/);
      match(lines[3], /Permission denied/);
      // TCP bind (ABI 4+): port 0 (an ephemeral port) is granted, a fixed one is not
      const abi = Number(lines[0].slice("landlock:".length));
      if (abi >= 4) {
        const py = launch([
          ...SYSTEM,
          "--bind=0",
          "--",
          "python3",
          "-c",
          "import socket\nfor p in (0, 20999):\n  s = socket.socket()\n  try:\n    s.bind(('127.0.0.1', p)); print('bound')\n  except OSError as e:\n    print(e.errno)\n  s.close()",
        ]);
        equal(py.code, 0, py.stderr);
        equal(py.stdout, "bound\n13");
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "launcher: --landlock=require runs the command when the kernel has Landlock",
  ignore: !LANDLOCK,
  fn() {
    const r = launch(["--landlock=require", "--rx=/", "--", "sh", "-c", 'echo "$OSPREY_SANDBOX"']);
    equal(r.code, 0, r.stderr);
    ok(r.stdout.startsWith("landlock:"), r.stdout);
  },
});

Deno.test({
  name: "launcher: OSPREY_BROKER_FD names an open socket only when it entered " +
    "the domain with the broker on; an inherited value is dropped",
  ignore: !LANDLOCK,
  fn() {
    // the descriptor is open in the command (a socket: its fd link says so)
    const cmd = [
      "sh",
      "-c",
      'if [ -n "$OSPREY_BROKER_FD" ]; then readlink /proc/self/fd/$OSPREY_BROKER_FD; ' +
      "else echo unset; fi",
    ];
    const on = launch(["--rx=/", "--", ...cmd], { OSPREY_BROKER_FD: "7" });
    equal(on.code, 0, on.stderr);
    match(on.stdout, /^socket:\[\d+\]$/);
    for (
      const r of [
        launch(["--rx=/", "--broker=off", "--", ...cmd], { OSPREY_BROKER_FD: "7" }),
        launch(["--landlock=off", "--", ...cmd], { OSPREY_BROKER_FD: "7" }),
      ]
    ) {
      equal(r.code, 0, r.stderr);
      equal(r.stdout, "unset");
    }
  },
});

Deno.test({
  name: "launcher: --landlock-abi and OSPREY_LANDLOCK_ABI override the probe (0: as a kernel " +
    "without Landlock, the command runs with no domain and no broker)",
  ignore: !LANDLOCK,
  fn() {
    const cmd = ["sh", "-c", 'echo "$OSPREY_SANDBOX ${OSPREY_BROKER_FD:-nobroker}"'];
    const want = "none:kernel without Landlock, probe overridden to ABI 0 nobroker";
    for (
      const r of [
        launch(["--rx=/", "--landlock-abi=0", "--", ...cmd]),
        launch(["--rx=/", "--", ...cmd], { OSPREY_LANDLOCK_ABI: "0" }),
      ]
    ) {
      equal(r.code, 0, r.stderr);
      equal(r.stdout, want);
    }
    // a lower ABI than the kernel's: that ABI's rules (no TCP rules before 4)
    const three = launch(["--rx=/", "--landlock-abi=3", "--", ...cmd]);
    match(three.stdout, /^landlock:3 \d+$/);
    const bad = launch(["--landlock-abi=x", "--", "true"]);
    equal(bad.code, 125);
    match(bad.stderr, /--landlock-abi=x: not a Landlock ABI version/);
    // --landlock=require with the probe overridden to 0 refuses to run
    equal(launch(["--landlock=require", "--landlock-abi=0", "--", "true"]).code, 125);
  },
});
