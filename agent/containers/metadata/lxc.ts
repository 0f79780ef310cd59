/**
 * LXC and Incus/LXD system containers, named rather than numbered: the id is the container
 * name (`lxc.payload.<name>` in the cgroup path). LXC's `<lxcpath>/<name>/config` gives env,
 * mounts and, for containers made by the download template, the distribution; Incus and LXD
 * keep a `backup.yaml` beside each instance with its config (`user.*` keys are user metadata,
 * `image.*` keys describe the image) and devices.
 *
 * @module
 */

import { buildMetadata, type LookupContext } from "./_fs.ts";
import { setKey } from "./_json.ts";
import { type ContainerMetadata, type ContainerMount, MetadataParseError } from "./types.ts";

/** LXC's default lxcpath, as the host names it. */
export const LXC_PATH = "/var/lib/lxc";

/** Instance directories of Incus and LXD (deb and snap), searched in order. */
export const INCUS_CONTAINER_DIRS: readonly string[] = [
  "/var/lib/incus/containers",
  "/var/snap/lxd/common/lxd/containers",
  "/var/lib/lxd/containers",
];

/** What Osprey uses of an LXC container config. */
export interface LxcConfig {
  /** Every `key = value` line, in order (keys may repeat). */
  entries: [string, string][];
  /** `lxc.uts.name` (LXC 3+) or `lxc.utsname` (LXC 2). */
  utsName?: string;
  /** `lxc.rootfs.path` or `lxc.rootfs`, e.g. "dir:/var/lib/lxc/web/rootfs". */
  rootfsPath?: string;
  /** `lxc.environment` entries that carry a value. */
  env: Record<string, string>;
  /** `lxc.mount.entry` lines (fstab format, destination relative to the rootfs). */
  mounts: ContainerMount[];
  /** The template that created the container (from its header comment). */
  template?: string;
  /** `--dist/-d` and `--release/-r` given to the download template. */
  dist?: string;
  release?: string;
}

function templateParam(params: string[], long: string, short: string): string | undefined {
  for (let i = 0; i < params.length; i++) {
    const p = params[i]!;
    if (p === long || p === short) return params[i + 1];
    if (p.startsWith(long + "=")) return p.slice(long.length + 1);
  }
  return undefined;
}

/**
 * Parses an LXC container config (`key = value` lines, `#` comments). Throws
 * {@linkcode MetadataParseError} when a non-comment line has no "=" or the file holds no
 * `lxc.*` key at all.
 */
export function parseLxcConfig(text: string): LxcConfig {
  const out: LxcConfig = { entries: [], env: {}, mounts: [] };
  const lines = text.split("\n");
  for (let n = 0; n < lines.length; n++) {
    const line = lines[n]!.trim();
    if (line.length === 0) continue;
    if (line.startsWith("#")) {
      const tm = /^#\s*Template used to create this container:\s*(\S+)/.exec(line);
      if (tm !== null) out.template = tm[1];
      const pm = /^#\s*Parameters passed to the template:\s*(.*)$/.exec(line);
      if (pm !== null) {
        const params = pm[1]!.split(/\s+/).filter((p) => p.length > 0);
        const dist = templateParam(params, "--dist", "-d");
        const release = templateParam(params, "--release", "-r");
        if (dist !== undefined) out.dist = dist;
        if (release !== undefined) out.release = release;
      }
      continue;
    }
    const eq = line.indexOf("=");
    if (eq <= 0) {
      throw new MetadataParseError(
        "LXC config",
        `line ${n + 1} ${JSON.stringify(line.slice(0, 80))} is not "key = value"`,
      );
    }
    const key = line.slice(0, eq).trim();
    const value = line.slice(eq + 1).trim();
    out.entries.push([key, value]);
    switch (key) {
      case "lxc.uts.name":
      case "lxc.utsname":
        if (value.length > 0) out.utsName = value;
        break;
      case "lxc.rootfs.path":
      case "lxc.rootfs":
        if (value.length > 0) out.rootfsPath = value;
        break;
      case "lxc.environment": {
        const e = value.indexOf("=");
        if (e > 0) setKey(out.env, value.slice(0, e), value.slice(e + 1));
        break;
      }
      case "lxc.mount.entry": {
        const f = value.split(/\s+/);
        if (f.length >= 3 && f[0]!.length > 0 && f[1]!.length > 0) {
          const dest = f[1]!.startsWith("/") ? f[1]! : `/${f[1]}`;
          out.mounts.push({ destination: dest, source: f[0]!, type: f[2]! });
        }
        break;
      }
    }
  }
  if (!out.entries.some(([k]) => k.startsWith("lxc."))) {
    throw new MetadataParseError("LXC config", "no lxc.* key");
  }
  return out;
}

/** What Osprey uses of an Incus/LXD `backup.yaml`. */
export interface IncusBackup {
  name?: string;
  project?: string;
  type?: string;
  /** The instance's `config` map (`user.*`, `image.*`, `environment.*`, `volatile.*`, ...). */
  config: Record<string, string>;
  /** The instance's `devices` (falling back to `expanded_devices`), attribute maps by name. */
  devices: Record<string, Record<string, string>>;
}

function unquote(raw: string): string {
  const v = raw.trim();
  if (v.length >= 2 && v.startsWith("'") && v.endsWith("'")) {
    return v.slice(1, -1).replaceAll("''", "'");
  }
  if (v.length >= 2 && v.startsWith('"') && v.endsWith('"')) {
    try {
      const s = JSON.parse(v);
      if (typeof s === "string") return s;
    } catch {
      // YAML escapes that JSON lacks: keep the text between the quotes
    }
    return v.slice(1, -1);
  }
  return v;
}

/** Finds the ": " (or trailing ":") that ends a mapping key, outside quotes. */
function keyEnd(line: string): number {
  let quote = "";
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (quote !== "") {
      if (c === quote) quote = "";
      continue;
    }
    if ((c === '"' || c === "'") && i === 0) {
      quote = c;
      continue;
    }
    if (c === ":" && (i + 1 === line.length || line[i + 1] === " ")) return i;
  }
  return -1;
}

/**
 * Reads the block mappings of a YAML document into path → scalar entries. Only what
 * `backup.yaml` uses: nested mappings, plain and quoted scalars, block scalars (skipped) and
 * sequences (skipped). Throws {@linkcode MetadataParseError} on tab indentation.
 */
export function readYamlMappings(text: string, format = "YAML"): Map<string, string> {
  const out = new Map<string, string>();
  const stack: { indent: number; key: string }[] = [];
  let skipDeeperThan = -1;
  let skipSequenceAt = -1;
  const lines = text.split("\n");
  for (let n = 0; n < lines.length; n++) {
    const raw = lines[n]!.replace(/\r$/, "");
    const body = raw.trimStart();
    if (body.length === 0 || body.startsWith("#") || body === "---" || body === "...") continue;
    const indent = raw.length - body.length;
    if (raw.slice(0, indent).includes("\t")) {
      throw new MetadataParseError(format, `line ${n + 1} is indented with a tab`);
    }
    if (skipDeeperThan >= 0) {
      if (indent > skipDeeperThan) continue;
      skipDeeperThan = -1;
    }
    if (body === "-" || body.startsWith("- ")) {
      // a sequence item: skip it and anything nested under it
      skipSequenceAt = indent;
      skipDeeperThan = indent;
      continue;
    }
    if (skipSequenceAt >= 0 && indent < skipSequenceAt) skipSequenceAt = -1;
    const end = keyEnd(body);
    if (end <= 0) continue; // a continuation of a multi-line plain scalar
    const key = unquote(body.slice(0, end));
    const value = body.slice(end + 1).trim();
    while (stack.length > 0 && stack[stack.length - 1]!.indent >= indent) stack.pop();
    const path = [...stack.map((s) => s.key), key].join("\u0000");
    if (value.length === 0) {
      stack.push({ indent, key });
    } else if (/^[|>][-+0-9]*$/.test(value)) {
      skipDeeperThan = indent;
    } else if (value !== "{}" && value !== "[]") {
      const hash = value.startsWith("'") || value.startsWith('"') ? -1 : value.indexOf(" #");
      out.set(path, unquote(hash >= 0 ? value.slice(0, hash) : value));
    }
  }
  return out;
}

/**
 * Parses an Incus/LXD `backup.yaml`. Throws {@linkcode MetadataParseError} when it has no
 * `container` or `instance` section.
 */
export function parseIncusBackupYaml(text: string): IncusBackup {
  const format = "Incus backup.yaml";
  const entries = readYamlMappings(text, format);
  const sections = ["instance", "container"];
  const section = sections.find((s) => [...entries.keys()].some((k) => k.startsWith(s + "\u0000")));
  if (section === undefined) {
    throw new MetadataParseError(format, "no container or instance section");
  }
  const out: IncusBackup = { config: {}, devices: {} };
  const devices: Record<string, Record<string, string>> = {};
  const expanded: Record<string, Record<string, string>> = {};
  for (const [path, value] of entries) {
    const parts = path.split("\u0000");
    if (parts[0] !== section) continue;
    const [, field, a, b] = parts;
    if (parts.length === 2) {
      if (field === "name") out.name = value;
      else if (field === "project") out.project = value;
      else if (field === "type") out.type = value;
    } else if (parts.length === 3 && field === "config" && a !== undefined) {
      setKey(out.config, a, value);
    } else if (
      parts.length === 4 && (field === "devices" || field === "expanded_devices") &&
      a !== undefined && b !== undefined
    ) {
      const target = field === "devices" ? devices : expanded;
      if (!Object.hasOwn(target, a)) {
        Object.defineProperty(target, a, { value: {}, enumerable: true, writable: true });
      }
      setKey(target[a]!, b, value);
    }
  }
  out.devices = Object.keys(devices).length > 0 ? devices : expanded;
  return out;
}

/** The image an Incus instance was made from, "<os>/<release>" in lower case. */
function incusImage(config: Record<string, string>): string | undefined {
  const os = Object.hasOwn(config, "image.os") ? config["image.os"] : undefined;
  const release = Object.hasOwn(config, "image.release") ? config["image.release"] : undefined;
  if (os === undefined || os.length === 0) return undefined;
  return (release === undefined || release.length === 0 ? os : `${os}/${release}`).toLowerCase();
}

/** Looks an LXC or Incus/LXD container up by name. */
export async function lookupLxc(ctx: LookupContext): Promise<ContainerMetadata> {
  const configFile = ctx.host(`${LXC_PATH}/${ctx.id}/config`);
  const lxc = await ctx.read(configFile, parseLxcConfig);
  let incus: IncusBackup | undefined;
  for (const dir of INCUS_CONTAINER_DIRS) {
    const file = ctx.host(`${dir}/${ctx.id}/backup.yaml`);
    incus = lxc === undefined
      ? await ctx.read(file, parseIncusBackupYaml)
      : await ctx.optional("backup.yaml", () => ctx.read(file, parseIncusBackupYaml));
    if (incus !== undefined) break;
  }
  if (lxc === undefined && incus === undefined) {
    throw ctx.error(
      "not_found",
      `No LXC config or Incus/LXD backup.yaml for "${ctx.id}" under ${
        [LXC_PATH, ...INCUS_CONTAINER_DIRS].join(", ")
      }`,
      configFile,
    );
  }
  const labels: Record<string, string> = {};
  const env: Record<string, string> = { ...lxc?.env };
  const mounts: ContainerMount[] = [...(lxc?.mounts ?? [])];
  if (incus !== undefined) {
    for (const [k, v] of Object.entries(incus.config)) {
      if (k.startsWith("user.")) setKey(labels, k, v);
      else if (k.startsWith("environment.") && k.length > 12) setKey(env, k.slice(12), v);
    }
    for (const dev of Object.values(incus.devices)) {
      const path = dev.path;
      if (dev.type !== "disk" || path === undefined || path === "/") continue;
      const mount: ContainerMount = { destination: path, source: dev.source ?? "", type: "disk" };
      if (!mounts.some((m) => m.destination === path)) mounts.push(mount);
    }
  }
  let image = incus === undefined ? undefined : incusImage(incus.config);
  if (image === undefined && lxc?.dist !== undefined) {
    image = lxc.release === undefined ? lxc.dist : `${lxc.dist}/${lxc.release}`;
  }
  return buildMetadata(ctx, {
    name: ctx.id,
    image,
    labels,
    env: Object.keys(env).length > 0 ? env : undefined,
    mounts,
  });
}
