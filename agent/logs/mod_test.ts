import { equal, ok } from "node:assert/strict";
import { describeLogSources, journalDirs, logsModule } from "./mod.ts";
import type { HostPaths } from "../paths.ts";

const HOST: HostPaths = {
  root: "/host",
  proc: "/host/proc",
  sys: "/host/sys",
  cgroup: "/host/sys/fs/cgroup",
  fixture: false,
};

Deno.test("journalDirs() are the host's volatile journal, then its persistent one", () => {
  equal(journalDirs(HOST).join(" "), "/host/run/log/journal /host/var/log/journal");
});

Deno.test("describeLogSources() names each source and what is not granted", () => {
  const s = describeLogSources({
    bpf: "descriptor scans",
    journal: "/run/log/journal",
    missing: ["/var/log"],
  });
  ok(s.includes("/var/log files (descriptor scans)"), s);
  ok(s.includes("journald (/run/log/journal)"), s);
  ok(s.endsWith("not granted, so not read: /var/log"), s);
});

Deno.test("the logs module is off with --disable-log-parsing and on fixture trees", () => {
  equal(
    logsModule.disabledBy?.({ "disable-log-parsing": true }, HOST)?.reason,
    "--disable-log-parsing",
  );
  equal(logsModule.disabledBy?.({}, HOST), undefined);
  ok(logsModule.disabledBy?.({}, { ...HOST, fixture: true }));
  equal(
    logsModule.flags?.map((f) => f.name).join(" "),
    "disable-log-parsing disable-json-log-parsing log-patterns-per-container max-label-length",
  );
});
