import { equal } from "node:assert/strict";
import { classifyOpenFile, logMonitoringDisabled, parseFdinfoFlags } from "./file_rules.ts";

const enc = new TextEncoder();

Deno.test("classifyOpenFile() takes write-only files under /var/log outside the runtime dirs", () => {
  equal(classifyOpenFile("/var/log/nginx/access.log", 0o102001), "log");
  equal(classifyOpenFile("/var/log/app.log", 0o2), "not_write_only"); // O_RDWR
  equal(classifyOpenFile("/var/log/app.log", 0o0), "not_write_only");
  equal(classifyOpenFile("/var/logs/app.log", 0o1), "not_var_log");
  equal(classifyOpenFile("/tmp/var/log/app.log", 0o1), "not_var_log");
  equal(classifyOpenFile("/var/log/app.log (deleted)", 0o1), "deleted");
  equal(classifyOpenFile("/var/log/pods/ns_pod_uid/c/0.log", 0o1), "excluded_dir");
  equal(classifyOpenFile("/var/log/containers/x.log", 0o1), "excluded_dir");
  equal(classifyOpenFile("/var/log/journal/id/system.journal", 0o1), "excluded_dir");
});

Deno.test("parseFdinfoFlags() reads the octal flags field", () => {
  equal(parseFdinfoFlags("pos:\t0\nflags:\t02102001\nmnt_id:\t25\nino:\t1\n"), 0o2102001);
  equal(parseFdinfoFlags("pos:\t0\n"), undefined);
});

Deno.test("logMonitoringDisabled() looks for COROOT_LOG_MONITORING containing disabled", () => {
  equal(logMonitoringDisabled(enc.encode("A=1\0COROOT_LOG_MONITORING=disabled\0B=2\0")), true);
  equal(logMonitoringDisabled(enc.encode("COROOT_LOG_MONITORING=is-disabled")), true);
  equal(logMonitoringDisabled(enc.encode("COROOT_LOG_MONITORING=enabled\0")), false);
  equal(logMonitoringDisabled(enc.encode("X_COROOT_LOG_MONITORING=disabled\0")), false);
  equal(logMonitoringDisabled(enc.encode("")), false);
});
