import { deepEqual, equal } from "node:assert/strict";
import { FIXTURES } from "./_testing.ts";
import { parseUnitFile, serviceType, SystemdUnits, triggerTarget } from "./systemd.ts";

const ROOT = `${FIXTURES}/containers/systemd`;

Deno.test("parseUnitFile: sections, repeated keys, comments, continuations", () => {
  const f = parseUnitFile(
    "# c\n[Service]\nExecStart=/a \\\n  --b\nEnvironment=A=1\nEnvironment=B=2\n; x\n[Install]\nWantedBy=multi-user.target\n",
  );
  deepEqual(f.get("Service")?.get("ExecStart"), ["/a  --b"]);
  deepEqual(f.get("Service")?.get("Environment"), ["A=1", "B=2"]);
  deepEqual(f.get("Install")?.get("WantedBy"), ["multi-user.target"]);
});

Deno.test("serviceType and triggerTarget follow systemd's defaults", () => {
  equal(serviceType([parseUnitFile("[Service]\nExecStart=/x\n")]), "simple");
  equal(serviceType([parseUnitFile("[Service]\nBusName=a.b\nExecStart=/x\n")]), "dbus");
  equal(serviceType([parseUnitFile("[Service]\n")]), "oneshot");
  equal(
    serviceType([parseUnitFile("[Service]\nType=simple\n"), parseUnitFile("[Service]\nType=exec")]),
    "exec",
  );
  equal(triggerTarget("a.timer", parseUnitFile("")), "a.service");
  equal(triggerTarget("a.timer", parseUnitFile("[Timer]\nUnit=b.service")), "b.service");
  equal(triggerTarget("a.socket", parseUnitFile("[Socket]\nAccept=yes")), "a@.service");
  equal(triggerTarget("a.socket", parseUnitFile("[Socket]\nService=c.service")), "c.service");
  equal(triggerTarget("a.path", parseUnitFile("")), "a.service");
});

Deno.test("SystemdUnits reads Type and TriggeredBy from the unit tree", () => {
  const u = new SystemdUnits(ROOT);
  deepEqual(u.props("/system.slice/app.service"), { type: "notify" });
  deepEqual(u.props("/system.slice/backup.service"), {
    type: "simple",
    triggeredBy: "backup.timer",
  });
  deepEqual(u.props("/system.slice/janitor.service"), {
    type: "simple",
    triggeredBy: "cleanup.timer",
  });
  deepEqual(u.props("/system.slice/system-echo.slice/echo@3-127.0.0.1:7.service"), {
    type: "simple",
    triggeredBy: "echo.socket",
  });
  deepEqual(u.props("/system.slice/bus.service"), { type: "dbus" });
  deepEqual(u.props("/system.slice/setup.service"), { type: "oneshot" });
  deepEqual(u.props("/system.slice/other.service"), { type: "forking" });
  equal(u.props("/system.slice/masked.service"), undefined);
  equal(u.props("/system.slice/absent.service"), undefined);
  equal(u.props("/system.slice/system-postgresql.slice"), undefined);
});

Deno.test("SystemdUnits caches for the TTL", () => {
  let now = 0;
  const dir = Deno.makeTempDirSync();
  try {
    Deno.mkdirSync(`${dir}/etc/systemd/system`, { recursive: true });
    const unit = `${dir}/etc/systemd/system/x.service`;
    Deno.writeTextFileSync(unit, "[Service]\nType=simple\nExecStart=/x\n");
    const u = new SystemdUnits(dir, { ttlMs: 1000, now: () => now });
    deepEqual(u.props("/system.slice/x.service"), { type: "simple" });
    Deno.writeTextFileSync(unit, "[Service]\nType=notify\nExecStart=/x\n");
    deepEqual(u.props("/system.slice/x.service"), { type: "simple" });
    now = 1000;
    deepEqual(u.props("/system.slice/x.service"), { type: "notify" });
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});
