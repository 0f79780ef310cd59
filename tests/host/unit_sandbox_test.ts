import { deepEqual, equal, throws } from "node:assert/strict";
import { parseService, unitCommand, UnitSyntaxError } from "./unit_sandbox.ts";

const UNIT = `[Unit]
Description=x
ExecStart=/ignored/in/unit/section
[Service]
# comment
ExecStart=/usr/local/bin/osprey --flag
Environment=A=1
Environment=B=2
CapabilityBoundingSet=CAP_BPF CAP_PERFMON
NoNewPrivileges=yes
ProtectSystem=strict
StateDirectory=osprey
[Install]
WantedBy=multi-user.target
`;

Deno.test("parseService keeps the [Service] section, every value of a repeated key", () => {
  const u = parseService(UNIT);
  deepEqual(u.get("ExecStart"), ["/usr/local/bin/osprey --flag"]);
  deepEqual(u.get("Environment"), ["A=1", "B=2"]);
  equal(u.get("WantedBy"), undefined);
  throws(() => parseService("[Service]\nnot a setting\n"), UnitSyntaxError);
});

Deno.test("unitCommand wraps ExecStart in unshare and setpriv with the unit's limits", () => {
  const argv = unitCommand(parseService(UNIT), { root: "/stage" });
  deepEqual(argv.slice(0, 6), ["unshare", "--mount", "--propagation", "private", "--", "sh"]);
  const script = argv[7];
  equal(script.includes("'--bounding-set=-all,+bpf,+perfmon'"), true, script);
  equal(script.includes("'--no-new-privs'"), true);
  equal(script.includes("mount -t tmpfs -o mode=0755 tmpfs '/var/lib/osprey'"), true);
  equal(script.includes("'/stage/usr/local/bin/osprey' '--flag'"), true);
  equal(script.includes("'A=1' 'B=2'"), true);
  throws(
    () => unitCommand(parseService("[Service]\nProtectSystem=full\nExecStart=/x\n")),
    UnitSyntaxError,
  );
});
