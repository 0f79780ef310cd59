/**
 * What kernel sandbox the agent runs in, as the Landlock launcher (`ffi/.output/osprey-sandbox`,
 * README "Security model") reported it in `OSPREY_SANDBOX`: `landlock:<abi>` when the kernel
 * enforces the permission set, `none:<reason>` when it ran the agent without one, unset when
 * the agent was not started through the launcher.
 *
 * @module
 */
import type { Registry } from "../metrics/mod.ts";

/** The sandbox state: `kind` is `landlock` or `none`; `abi` the Landlock ABI (0 for none). */
export interface SandboxState {
  readonly kind: "landlock" | "none";
  readonly abi: number;
  /** Why there is none ("" for landlock). */
  readonly reason: string;
}

/**
 * Parses `OSPREY_SANDBOX`. Undefined → none, "not started through the launcher"; a value of
 * another shape → none with the value quoted in the reason (never throws).
 */
export function parseSandboxState(value: string | undefined): SandboxState {
  if (value === undefined || value === "") {
    return { kind: "none", abi: 0, reason: "not started through the launcher" };
  }
  const m = /^landlock:([1-9]\d{0,3})$/.exec(value);
  if (m !== null) return { kind: "landlock", abi: Number(m[1]), reason: "" };
  if (value.startsWith("none:")) return { kind: "none", abi: 0, reason: value.slice(5) };
  return { kind: "none", abi: 0, reason: `unrecognised OSPREY_SANDBOX=${JSON.stringify(value)}` };
}

/** The start-up line under the module table (what the kernel enforces at this ABI). */
export function formatSandboxLine(s: SandboxState): string {
  if (s.kind === "none") return `SANDBOX  none (${s.reason}): Deno's permission checks only`;
  // TCP rules came with Landlock ABI 4 (Linux 6.7); before it the launcher leaves TCP to Deno
  return s.abi >= 4
    ? `SANDBOX  landlock ABI ${s.abi}: the kernel enforces the file and TCP grants`
    : `SANDBOX  landlock ABI ${s.abi}: the kernel enforces the file grants (TCP: Deno's checks)`;
}

/** Reads `OSPREY_SANDBOX` when the env permission allows it; none otherwise. */
export function currentSandbox(): SandboxState {
  let v: string | undefined;
  try {
    v = Deno.env.get("OSPREY_SANDBOX");
  } catch (e) {
    if (e instanceof Deno.errors.NotCapable || e instanceof Deno.errors.PermissionDenied) {
      return { kind: "none", abi: 0, reason: "OSPREY_SANDBOX not readable (no --allow-env)" };
    }
    throw e;
  }
  return parseSandboxState(v);
}

/**
 * Sets `osprey_sandbox_info{kind,abi}` to 1: `kind` is `landlock` or `none`, `abi` the Landlock
 * ABI ("" for none). Set once at start; the sandbox cannot change while the process lives.
 */
export function recordSandbox(registry: Registry, s: SandboxState): void {
  registry.gauge({
    name: "osprey_sandbox_info",
    help: "Kernel sandbox the agent runs in: landlock (with its ABI) or none",
    labelNames: ["kind", "abi"],
  }).labels(s.kind, s.kind === "landlock" ? String(s.abi) : "").set(1);
}
