/**
 * systemd unit properties from unit files, for systemd services reported as containers:
 * `Type=` and `TriggeredBy=` (the reference reads them over D-Bus from systemd's private
 * socket; Osprey reads the unit files the properties come from, so it needs no socket, in line
 * with "metadata from files first").
 *
 * - `Type` is the `[Service]` section's last `Type=`, drop-ins (`<unit>.d/*.conf`) applied in
 *   file-name order; without one, systemd's default: `dbus` when `BusName=` is set, `oneshot`
 *   without `ExecStart=`, else `simple`.
 * - `TriggeredBy` is the first (by name) `.timer`, `.socket` or `.path` unit that activates the
 *   service: its `Unit=` (timers, paths) or `Service=` (sockets), or by default the unit of the
 *   same name.
 *
 * Unit files are looked up under the host root in systemd's search order (`/etc`, `/run`,
 * `/usr/local/lib`, `/usr/lib`, `/lib`); the first file of a name wins and a link to
 * `/dev/null` masks it. What is read is cached for a few minutes.
 *
 * @module
 */
import type { SystemdUnitProps } from "./container_id.ts";

/** System unit directories, highest priority first. */
export const UNIT_DIRS: readonly string[] = [
  "/etc/systemd/system",
  "/run/systemd/system",
  "/run/systemd/transient",
  "/usr/local/lib/systemd/system",
  "/usr/lib/systemd/system",
  "/lib/systemd/system",
];

/** A parsed unit file: section → key → values in order. */
export type UnitFile = Map<string, Map<string, string[]>>;

/** Parses a unit file (systemd.syntax(7)): sections, `Key=value`, comments, continuations. */
export function parseUnitFile(text: string): UnitFile {
  const out: UnitFile = new Map();
  let section: Map<string, string[]> | undefined;
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    let line = lines[i].trim();
    while (line.endsWith("\\") && i + 1 < lines.length) {
      line = line.slice(0, -1) + " " + lines[++i].trim();
    }
    if (line === "" || line.startsWith("#") || line.startsWith(";")) continue;
    if (line.startsWith("[") && line.endsWith("]")) {
      const name = line.slice(1, -1);
      section = out.get(name);
      if (!section) out.set(name, section = new Map());
      continue;
    }
    const eq = line.indexOf("=");
    if (eq <= 0 || section === undefined) continue;
    const key = line.slice(0, eq).trim();
    const value = line.slice(eq + 1).trim();
    const list = section.get(key);
    if (list) list.push(value);
    else section.set(key, [value]);
  }
  return out;
}

function last(f: UnitFile, section: string, key: string): string | undefined {
  const v = f.get(section)?.get(key);
  return v && v.length > 0 ? v[v.length - 1] : undefined;
}

/** The effective Type= of a service from its file and drop-ins (in order). */
export function serviceType(files: readonly UnitFile[]): string {
  let type: string | undefined, bus: string | undefined, exec: string | undefined;
  for (const f of files) {
    type = last(f, "Service", "Type") ?? type;
    bus = last(f, "Service", "BusName") ?? bus;
    exec = last(f, "Service", "ExecStart") ?? exec;
  }
  if (type) return type;
  if (bus) return "dbus";
  return exec ? "simple" : "oneshot";
}

/** The unit a trigger unit (`x.timer`, `x.socket`, `x.path`) activates. */
export function triggerTarget(name: string, f: UnitFile): string | undefined {
  const dot = name.lastIndexOf(".");
  const kind = name.slice(dot + 1);
  const base = name.slice(0, dot);
  if (kind === "timer") return last(f, "Timer", "Unit") ?? `${base}.service`;
  if (kind === "path") return last(f, "Path", "Unit") ?? `${base}.service`;
  if (kind === "socket") {
    const svc = last(f, "Socket", "Service");
    if (svc) return svc;
    const accept = (last(f, "Socket", "Accept") ?? "no").toLowerCase();
    return ["yes", "true", "1", "on"].includes(accept) ? `${base}@.service` : `${base}.service`;
  }
  return undefined;
}

/** Options of {@linkcode SystemdUnits}. */
export interface SystemdUnitsOptions {
  /** How long what was read is used. @default 300000 */
  readonly ttlMs?: number;
  readonly now?: () => number;
}

/** Unit properties read from the unit files under a host root. */
export class SystemdUnits {
  readonly #dirs: readonly string[];
  readonly #base: string;
  readonly #ttl: number;
  readonly #now: () => number;
  #cache = new Map<string, { at: number; props: SystemdUnitProps | undefined }>();
  #triggers?: { at: number; byTarget: Map<string, string[]> };

  /** @param root the host root (`/`, `/host` or a fixture tree) */
  constructor(root: string, opts: SystemdUnitsOptions = {}) {
    const base = root === "/" ? "" : root.replace(/\/$/, "");
    this.#base = base;
    this.#dirs = UNIT_DIRS.map((d) => base + d);
    this.#ttl = opts.ttlMs ?? 300_000;
    this.#now = opts.now ?? Date.now;
  }

  /**
   * Type and TriggeredBy of the service of a cgroup path (`/system.slice/nginx.service`), or
   * undefined when it is no service or its unit file is not found (or masked).
   */
  props(unitPath: string): SystemdUnitProps | undefined {
    const unit = unitPath.slice(unitPath.lastIndexOf("/") + 1);
    if (!unit.endsWith(".service")) return undefined;
    const now = this.#now();
    const hit = this.#cache.get(unit);
    if (hit && now - hit.at < this.#ttl) return hit.props;
    const props = this.#read(unit);
    if (this.#cache.size > 4096) this.#cache.clear();
    this.#cache.set(unit, { at: now, props });
    return props;
  }

  #read(unit: string): SystemdUnitProps | undefined {
    const main = this.#find(unit) ?? this.#find(templateOf(unit));
    if (main === undefined) return undefined;
    const files = [main, ...this.#dropIns(unit)];
    const props: { type?: string; triggeredBy?: string } = { type: serviceType(files) };
    const by = this.#triggerIndex().get(unit) ?? this.#triggerIndex().get(templateOf(unit));
    if (by && by.length > 0) props.triggeredBy = by[0];
    return props;
  }

  /**
   * The unit file of `name` in the first directory that has it; undefined if none or masked
   * (a link to /dev/null). An absolute link target is taken under the host root.
   */
  #find(name: string): UnitFile | undefined {
    if (name === "") return undefined;
    for (const dir of this.#dirs) {
      let path = `${dir}/${name}`;
      try {
        if (Deno.lstatSync(path).isSymlink) {
          const target = Deno.readLinkSync(path);
          if (target === "/dev/null") return undefined;
          if (target.startsWith("/")) path = this.#base + target;
        }
        return parseUnitFile(Deno.readTextFileSync(path));
      } catch {
        continue; // not in this directory, or unreadable
      }
    }
    return undefined;
  }

  #dropIns(unit: string): UnitFile[] {
    const byName = new Map<string, string>();
    for (const dir of [...this.#dirs].reverse()) {
      for (const d of [`${dir}/${templateOf(unit)}.d`, `${dir}/${unit}.d`]) {
        try {
          for (const e of Deno.readDirSync(d)) {
            if (e.name.endsWith(".conf")) byName.set(e.name, `${d}/${e.name}`);
          }
        } catch {
          // none
        }
      }
    }
    const out: UnitFile[] = [];
    for (const name of [...byName.keys()].sort()) {
      try {
        out.push(parseUnitFile(Deno.readTextFileSync(byName.get(name)!)));
      } catch {
        // unreadable drop-in: skipped
      }
    }
    return out;
  }

  #triggerIndex(): Map<string, string[]> {
    const now = this.#now();
    if (this.#triggers && now - this.#triggers.at < this.#ttl) return this.#triggers.byTarget;
    const seen = new Set<string>();
    const byTarget = new Map<string, string[]>();
    for (const dir of this.#dirs) {
      let entries: Deno.DirEntry[];
      try {
        entries = [...Deno.readDirSync(dir)];
      } catch {
        continue;
      }
      for (const e of entries) {
        if (!/\.(timer|socket|path)$/.test(e.name) || seen.has(e.name)) continue;
        seen.add(e.name);
        const f = this.#find(e.name);
        if (f === undefined) continue;
        const target = triggerTarget(e.name, f);
        if (target === undefined) continue;
        const list = byTarget.get(target);
        if (list) list.push(e.name);
        else byTarget.set(target, [e.name]);
      }
    }
    for (const list of byTarget.values()) list.sort();
    this.#triggers = { at: now, byTarget };
    return byTarget;
  }
}

/** `name@instance.service` → `name@.service`; "" for a unit that is no template instance. */
function templateOf(unit: string): string {
  const at = unit.indexOf("@");
  if (at < 0) return "";
  return unit.slice(0, at + 1) + unit.slice(unit.lastIndexOf("."));
}
