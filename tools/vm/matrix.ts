/**
 * The kernel matrix: boots each Debian kernel the archive offers (tools/vm/kernels.ts) in a
 * fixture VM, one at a time, and runs tools/vm/matrix_guest.sh inside: every BPF object loaded
 * through libosprey (which program attached with which variant), the privileged smoke checks
 * (tests/privileged/proc_events_test.ts: start/exec/exit, OOM kill exactly once), the agent
 * itself for two collection rounds, and all of it again with /sys/kernel/btf hidden (the clean
 * degradation of a kernel without BTF). Prints a Markdown table (kernel × module → variant or
 * why it is off) and writes it with the raw results to `$OSPREY_VM_CACHE/matrix/`.
 *
 * `deno task test:kernels [--kernel=6.1,6.12] [--smoke=<test files>]`. Exits 1 when a smoke
 * check fails on a kernel where the probe says the programs can run, or when a guest does not
 * finish. Under TCG each kernel takes minutes (see README, "Kernel matrix").
 *
 * @module
 */
import { cacheDir, KERNELS, type KernelSeries } from "./kernels.ts";
import { bootVm, REPO } from "./vm.ts";
import type { ObjectReport, ProbeReport } from "./guest_probe.ts";

/** One kernel's results, as the guest reported them. */
export interface KernelResult {
  series: KernelSeries;
  release: string;
  probe?: ProbeReport;
  nobtfProbe?: ProbeReport;
  smoke: { rc: number; passed: number; failed: number; ignored: number; summary: string };
  /** module → state (on, off, failed) and reason, from the agent's log and metrics. */
  modules: Record<string, { state: string; reason: string }>;
  nobtfModules: Record<string, { state: string; reason: string }>;
  agentExit: string;
  nobtfAgentExit: string;
  bootS: number;
  totalS: number;
  /** Guest seconds per stage. */
  stages: Record<string, number>;
  code: number;
  timedOut: boolean;
}

/** The `OSPREY-PROBE` line of guest_probe.ts output, parsed. */
export function probeOf(text: string | undefined): ProbeReport | undefined {
  const line = text?.split("\n").find((l) => l.startsWith("OSPREY-PROBE "));
  return line ? JSON.parse(line.slice("OSPREY-PROBE ".length)) as ProbeReport : undefined;
}

/** Deno test's summary line and the `rc=` line matrix_guest.sh appends. */
export function smokeOf(text: string | undefined): KernelResult["smoke"] {
  const t = (text ?? "").replaceAll(new RegExp(`${String.fromCharCode(27)}\\[[0-9;]*m`, "g"), "");
  const m =
    /^(ok|FAILED) \| (\d+) passed(?: \(\d+ steps?\))? \| (\d+) failed(?: \(\d+ steps?\))?(?: \| (\d+) ignored)?/m
      .exec(t);
  const rc = Number(/^rc=(\d+)$/m.exec(t)?.[1] ?? -1);
  return {
    rc,
    passed: Number(m?.[2] ?? 0),
    failed: Number(m?.[3] ?? 0),
    ignored: Number(m?.[4] ?? 0),
    summary: m?.[0] ?? t.split("\n").filter(Boolean).slice(-3).join(" / "),
  };
}

/** module states: `msg="module" module=X state=Y reason="..."` lines of the agent's log. */
export function modulesOf(log: string | undefined): KernelResult["modules"] {
  const out: KernelResult["modules"] = {};
  for (const line of (log ?? "").split("\n")) {
    const m = /msg="module" module=(\S+) state=(\S+) reason="((?:[^"\\]|\\.)*)"/.exec(line);
    if (m) out[m[1]] = { state: m[2], reason: m[3].split("\\n")[0] };
  }
  return out;
}

function stagesOf(text: string | undefined): Record<string, number> {
  const out: Record<string, number> = {};
  let prev = 0;
  for (const line of (text ?? "").split("\n")) {
    const [name, t] = line.split(" ");
    if (!name || !t) continue;
    if (name !== "start") out[name] = Math.round((Number(t) - prev) * 10) / 10;
    prev = Number(t);
  }
  return out;
}

/** "tp_btf ×3, raw_tp ×1" for attached programs, then failures by name. */
export function describeObject(r: ObjectReport | undefined): string {
  if (!r) return "(not run)";
  if (r.error) return `off: ${r.error.split("\n")[0].slice(0, 120)}`;
  const counts = new Map<string, number>();
  const failed: string[] = [];
  for (const p of r.programs ?? []) {
    if (p.attached) counts.set(p.variant, (counts.get(p.variant) ?? 0) + 1);
    else if (!p.skipped) failed.push(`${p.program} ${p.code ?? "failed"}`);
  }
  const parts = [...counts].map(([v, n]) => `${v} ×${n}`);
  if (failed.length) parts.push(`failed: ${failed.join(", ")}`);
  return parts.join(", ") || "nothing attached";
}

/** The Markdown table of a run. */
export function table(results: KernelResult[]): string {
  const rows = [
    "| kernel | BTF | proc object | tcp object | tcp without fentry | logs object | l7 object | smoke (proc_events_test) | agent modules not on | boot | whole run |",
    "| ------ | --- | ----------- | ---------- | ------------------ | ----------- | --------- | ------------------------ | -------------------- | ---- | --------- |",
  ];
  const modulesCell = (m: KernelResult["modules"]) => {
    const off = Object.entries(m).filter(([, v]) => v.state !== "on")
      .map(([k, v]) => `${k} ${v.state}: ${v.reason.slice(0, 140)}`);
    return Object.keys(m).length === 0 ? "(agent did not report)" : off.join("; ") || "none";
  };
  const obj = (p: ProbeReport | undefined, name: string) =>
    describeObject(p?.objects.find((o) => o.object === name));
  for (const r of results) {
    const s = r.smoke;
    rows.push(
      `| ${r.release} | ${r.probe?.btf ? "yes" : "no"} | ${obj(r.probe, "proc")} | ${
        obj(r.probe, "tcp")
      } | ${obj(r.probe, "tcp (no fentry)")} | ${obj(r.probe, "logs")} | ${
        obj(r.probe, "l7")
      } | ${s.passed} passed, ${s.failed} failed${s.ignored ? `, ${s.ignored} ignored` : ""} | ${
        modulesCell(r.modules)
      } | ${r.bootS.toFixed(1)} s | ${r.totalS.toFixed(0)} s |`,
    );
    rows.push(
      `| ${r.release}, /sys/kernel/btf hidden | no | ${obj(r.nobtfProbe, "proc")} | ${
        obj(r.nobtfProbe, "tcp")
      } | ${obj(r.nobtfProbe, "tcp (no fentry)")} | ${obj(r.nobtfProbe, "logs")} | ${
        obj(r.nobtfProbe, "l7")
      } | (not run) | ${modulesCell(r.nobtfModules)} | | |`,
    );
  }
  return rows.join("\n");
}

if (import.meta.main) {
  let series: KernelSeries[] = KERNELS.map((k) => k.series);
  let smoke = "";
  for (const a of Deno.args) {
    if (a.startsWith("--kernel=")) series = a.slice(9).split(",") as KernelSeries[];
    else if (a.startsWith("--smoke=")) smoke = a.slice(8);
    else {
      console.error(`test:kernels: unknown argument ${a}`);
      Deno.exit(2);
    }
  }
  const results: KernelResult[] = [];
  let bad = false;
  for (const k of series) {
    console.error(`test:kernels: booting ${k}`);
    const r = await bootVm({
      kernel: k,
      script: `${
        smoke ? `export OSPREY_SMOKE='${smoke}'\n` : ""
      }exec sh tools/vm/matrix_guest.sh\n`,
      timeoutMs: 30 * 60_000,
      onLine: (l) => console.error(`  [${k}] ${l}`),
    });
    const f = r.files;
    const res: KernelResult = {
      series: k,
      release: r.kernel.release,
      probe: probeOf(f["probe.txt"]),
      nobtfProbe: probeOf(f["nobtf-probe.txt"]),
      smoke: smokeOf(f["smoke.txt"]),
      modules: modulesOf(f["agent.log"]),
      nobtfModules: modulesOf(f["nobtf-agent.log"]),
      agentExit: /^exit=(\d+)$/m.exec(f["agent.log"] ?? "")?.[1] ?? "?",
      nobtfAgentExit: /^exit=(\d+)$/m.exec(f["nobtf-agent.log"] ?? "")?.[1] ?? "?",
      bootS: r.bootMs / 1000,
      totalS: r.totalMs / 1000,
      stages: stagesOf(f["times.txt"]),
      code: r.code,
      timedOut: r.timedOut,
    };
    results.push(res);
    const dir = `${cacheDir()}/matrix/${r.kernel.release}`;
    await Deno.mkdir(dir, { recursive: true });
    for (const [name, text] of Object.entries(f)) await Deno.writeTextFile(`${dir}/${name}`, text);
    console.error(
      `test:kernels: ${res.release}: boot ${res.bootS.toFixed(1)} s, whole ${
        res.totalS.toFixed(0)
      } s, ` +
        `stages ${
          JSON.stringify(res.stages)
        }, smoke ${res.smoke.summary}, agent exit ${res.agentExit}, ` +
        `without BTF exit ${res.nobtfAgentExit}`,
    );
    if (r.code !== 0 || r.timedOut) bad = true;
    if (res.probe?.ok && (res.smoke.rc !== 0 || res.smoke.passed === 0)) bad = true;
  }
  const md = table(results);
  await Deno.mkdir(`${cacheDir()}/matrix`, { recursive: true });
  await Deno.writeTextFile(`${cacheDir()}/matrix/table.md`, md + "\n");
  await Deno.writeTextFile(
    `${cacheDir()}/matrix/results.json`,
    JSON.stringify({ repo: REPO, date: new Date().toISOString(), results }, null, 2) + "\n",
  );
  console.log(md);
  Deno.exit(bad ? 1 : 0);
}
