/**
 * Modules are composed from permissions. Each module declares the Deno permissions it needs;
 * at start the agent asks `Deno.permissions.querySync` and starts only the modules it was
 * granted, reports the rest in a start-up table (module, state, reason, the flag that would
 * enable it) and in the `osprey_module_state` metric. A module that fails while starting is
 * reported as failed and the others keep running.
 *
 * @module
 */
import type { Collector, CollectorScheduler } from "./collector.ts";
import type { FlagSpec, FlagValues } from "./flags.ts";
import type { Logger } from "./log.ts";
import type { Registry } from "./metrics/mod.ts";
import type { HostPaths } from "./paths.ts";

/** A permission a module needs, and the flag that grants it. */
export interface PermissionNeed {
  readonly descriptor: Deno.PermissionDescriptor;
  /** The deno flag that grants it, shown to the user: `--allow-ffi=/abs/libosprey.so`. */
  readonly flag: string;
}

/** What a module gets when it starts. */
export interface ModuleContext {
  readonly flags: FlagValues;
  readonly paths: HostPaths;
  readonly registry: Registry;
  readonly scheduler: CollectorScheduler;
  readonly log: Logger;
  /** Aborted when the agent stops. */
  readonly signal: AbortSignal;
}

/** A started module. */
export interface ModuleInstance {
  /** Collectors the scheduler should run for this module. */
  readonly collectors?: readonly Collector[];
  /**
   * What the start-up table says about a module that is on (its REASON column), e.g. which
   * source its numbers come from; empty when there is nothing to say.
   */
  readonly note?: string;
  /** Its TO ENABLE column while on: what would make it do more (e.g. a flag). */
  readonly hint?: string;
  /** Resolves once the module is fully up (e.g. BPF programs attached). */
  readonly ready?: Promise<void>;
  /** Releases everything the module holds; must finish within a few seconds. */
  stop(): Promise<void> | void;
}

/** A module definition: what it needs and how to start it. */
export interface ModuleSpec {
  /** snake_case name, the `module` label. */
  readonly name: string;
  readonly description: string;
  /** The module's own flags (composed into `--help`). */
  readonly flags?: readonly FlagSpec[];
  /** Permissions needed, computed from the flags (paths depend on them). */
  permissions(flags: FlagValues, paths: HostPaths): PermissionNeed[];
  /** A reason the module is switched off by configuration, or undefined when it should run. */
  disabledBy?(flags: FlagValues, paths: HostPaths): { reason: string; flag: string } | undefined;
  start(ctx: ModuleContext): Promise<ModuleInstance> | ModuleInstance;
}

/** The states a module can be in. */
export type ModuleState = "on" | "off" | "failed";

/** One row of the start-up table. */
export interface ModuleStatus {
  module: string;
  state: ModuleState;
  reason: string;
  /** What would turn it on, when it is off. */
  enable: string;
}

/**
 * True for paths Deno 2.9.6 reads only with `--allow-all`, whatever `--allow-read` says: the
 * real `/proc`, `/sys` and `/dev` (README "Host paths").
 */
export function denoPrivileged(path: string): boolean {
  return /^\/(proc|sys|dev)(\/|$)/.test(path);
}

/** What gives a module the host's /proc and /sys under Deno: the host view, not a read grant. */
export const HOST_VIEW_HINT = "run agent/host_view.sh as root (in a pod: mount the host's " +
  "/proc and /sys at /host/proc and /host/sys with --procfs-root/--sysfs-root)";

/**
 * The read needs on Deno-privileged paths that cannot be read: not granted, or granted and
 * refused anyway (without `--allow-all`). Asks without prompting: a grant is queried before
 * anything is touched.
 */
export function unreadableHostPaths(needs: readonly PermissionNeed[]): string[] {
  const out: string[] = [];
  for (const n of needs) {
    const d = n.descriptor;
    if (d.name !== "read" || d.path === undefined || !denoPrivileged(String(d.path))) continue;
    const path = String(d.path);
    if (Deno.permissions.querySync(d).state !== "granted") {
      out.push(path);
      continue;
    }
    try {
      Deno.statSync(path);
    } catch (err) {
      if (err instanceof Deno.errors.NotCapable) out.push(path);
    }
  }
  return out;
}

/** Checks a module's permissions without prompting; returns the needs that are not granted. */
export function missingPermissions(needs: readonly PermissionNeed[]): PermissionNeed[] {
  return needs.filter((n) => Deno.permissions.querySync(n.descriptor).state !== "granted");
}

/** Renders the start-up table as aligned text lines. */
export function formatModuleTable(rows: readonly ModuleStatus[]): string {
  const head = { module: "MODULE", state: "STATE", reason: "REASON", enable: "TO ENABLE" };
  const all = [head, ...rows];
  const w = (k: keyof typeof head) => Math.max(...all.map((r) => r[k].length));
  const wm = w("module"), ws = w("state"), wr = w("reason");
  return all
    .map((r) =>
      `${r.module.padEnd(wm)}  ${r.state.padEnd(ws)}  ${r.reason.padEnd(wr)}  ${r.enable}`.trimEnd()
    )
    .join("\n");
}

/** Started modules plus the status table; `stop()` stops them in reverse order. */
export interface StartedModules {
  readonly statuses: ModuleStatus[];
  readonly instances: Map<string, ModuleInstance>;
  /** Resolves when every started module's `ready` settled. */
  readonly ready: Promise<void>;
  stop(timeoutMs: number): Promise<void>;
}

/**
 * Starts every module whose permissions are granted and that configuration leaves on,
 * registers their collectors, and records `osprey_module_state{module,state}` (1 for the
 * current state, 0 for the others).
 */
export async function startModules(
  specs: readonly ModuleSpec[],
  ctx: ModuleContext,
): Promise<StartedModules> {
  const stateMetric = ctx.registry.gauge({
    name: "osprey_module_state",
    help: "Module state: 1 for the state the module is in (on, off or failed), 0 for the others",
    labelNames: ["module", "state"],
  });
  const statuses: ModuleStatus[] = [];
  const instances = new Map<string, ModuleInstance>();
  const readies: Promise<void>[] = [];
  const record = (s: ModuleStatus) => {
    statuses.push(s);
    for (const st of ["on", "off", "failed"] as const) {
      stateMetric.labels(s.module, st).set(st === s.state ? 1 : 0);
    }
  };
  for (const spec of specs) {
    const log = ctx.log.with({ module: spec.name });
    const disabled = spec.disabledBy?.(ctx.flags, ctx.paths);
    if (disabled) {
      record({ module: spec.name, state: "off", reason: disabled.reason, enable: disabled.flag });
      continue;
    }
    const needs = spec.permissions(ctx.flags, ctx.paths);
    const noView = unreadableHostPaths(needs);
    if (noView.length > 0) {
      record({
        module: spec.name,
        state: "off",
        reason: `no host view: Deno reads ${noView.join(" and ")} only with --allow-all`,
        enable: HOST_VIEW_HINT,
      });
      continue;
    }
    const missing = missingPermissions(needs);
    if (missing.length > 0) {
      record({
        module: spec.name,
        state: "off",
        reason: `not granted: ${missing.map((m) => describe(m.descriptor)).join(", ")}`,
        enable: [...new Set(missing.map((m) => m.flag))].join(" "),
      });
      continue;
    }
    try {
      const inst = await spec.start({ ...ctx, log });
      instances.set(spec.name, inst);
      for (const c of inst.collectors ?? []) ctx.scheduler.add(c);
      if (inst.ready) {
        readies.push(inst.ready.catch((err) => {
          log.error("module failed after start", { error: err });
        }));
      }
      record({ module: spec.name, state: "on", reason: inst.note ?? "", enable: inst.hint ?? "" });
    } catch (err) {
      log.error("module failed to start", { error: err });
      record({
        module: spec.name,
        state: "failed",
        reason: err instanceof Error ? err.message : String(err),
        enable: "",
      });
    }
  }
  return {
    statuses,
    instances,
    ready: Promise.all(readies).then(() => {}),
    async stop(timeoutMs: number) {
      const names = [...instances.keys()].reverse();
      for (const name of names) {
        const inst = instances.get(name)!;
        let timer: ReturnType<typeof setTimeout> | undefined;
        try {
          await Promise.race([
            Promise.resolve().then(() => inst.stop()),
            new Promise((_, reject) => {
              timer = setTimeout(
                () => reject(new Error(`Module "${name}" did not stop within ${timeoutMs} ms`)),
                timeoutMs,
              );
            }),
          ]);
        } catch (err) {
          ctx.log.error("module stop failed", { module: name, error: err });
        } finally {
          clearTimeout(timer);
        }
      }
      instances.clear();
    },
  };
}

function describe(d: Deno.PermissionDescriptor): string {
  switch (d.name) {
    case "read":
    case "write":
      return `${d.name} ${d.path ?? "(all)"}`;
    case "ffi":
      return `ffi ${d.path ?? "(all)"}`;
    case "net":
      return `net ${d.host ?? "(all)"}`;
    case "env":
      return `env ${d.variable ?? "(all)"}`;
    case "run":
      return `run ${d.command ?? "(all)"}`;
    case "sys":
      return `sys ${d.kind ?? "(all)"}`;
    default:
      return d.name;
  }
}
