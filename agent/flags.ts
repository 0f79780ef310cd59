/**
 * Flag definitions and parsing. Every flag has an environment twin (coroot-node-agent's names
 * where they exist, reference §9.1), so `LISTEN=127.0.0.1:9100 deno task start` works. The
 * command line wins over the environment, which wins over the default.
 *
 * Modules declare their own flags next to their code and the entry point composes the lists,
 * so a module's options live with the module.
 *
 * @module
 */

/** The value kinds a flag can take. */
export type FlagKind = "string" | "bool" | "int" | "number" | "duration" | "list";

/** A parsed flag value. Durations are milliseconds; lists are string arrays. */
export type FlagValue = string | boolean | number | string[];

/** One flag and its environment twin. */
export interface FlagSpec {
  /** Long name without dashes: `listen` for `--listen`. */
  readonly name: string;
  /** Environment variable read when the flag is absent. */
  readonly env: string;
  readonly kind: FlagKind;
  /** Default value; lists default to `[]`, strings without a default to `""`. */
  readonly default?: FlagValue;
  /** One line of `--help` text. */
  readonly help: string;
  /** Section heading in `--help`. */
  readonly group?: string;
}

/** Parsed values by flag name. */
export type FlagValues = Record<string, FlagValue>;

/** A flag or environment value that does not parse. */
export class FlagError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "FlagError";
  }
}

const DURATION_REGEXP = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/;
const DURATION_UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Parses `500ms`, `30s`, `10m`, `1h` or a bare number of seconds into milliseconds. */
export function parseDuration(text: string): number {
  const m = DURATION_REGEXP.exec(text.trim());
  if (!m) throw new FlagError(`Cannot parse duration "${text}": use e.g. 500ms, 30s, 10m or 1h`);
  return Number(m[1]) * DURATION_UNIT_MS[m[2] ?? "s"];
}

function convert(spec: FlagSpec, raw: string, origin: string): FlagValue {
  switch (spec.kind) {
    case "string":
      return raw;
    case "bool": {
      const v = raw.trim().toLowerCase();
      if (["1", "true", "yes", "on", ""].includes(v)) return true;
      if (["0", "false", "no", "off"].includes(v)) return false;
      throw new FlagError(`Cannot parse ${origin} "${raw}" as a boolean: use true or false`);
    }
    case "int": {
      const n = Number(raw);
      if (!Number.isInteger(n)) {
        throw new FlagError(`Cannot parse ${origin} "${raw}" as an integer`);
      }
      return n;
    }
    case "number": {
      const n = Number(raw);
      if (raw.trim() === "" || !Number.isFinite(n)) {
        throw new FlagError(`Cannot parse ${origin} "${raw}" as a number`);
      }
      return n;
    }
    case "duration":
      try {
        return parseDuration(raw);
      } catch (err) {
        throw new FlagError(`Cannot parse ${origin}: ${(err as Error).message}`);
      }
    case "list":
      // Items are regexes (container allow/deny lists), which may contain commas: each flag
      // occurrence is one item; an environment value holds items separated by white space.
      return origin.startsWith("--")
        ? (raw === "" ? [] : [raw])
        : raw.split(/\s+/).filter((s) => s !== "");
  }
}

function defaultOf(spec: FlagSpec): FlagValue {
  if (spec.default !== undefined) return spec.default;
  switch (spec.kind) {
    case "bool":
      return false;
    case "list":
      return [];
    case "int":
    case "number":
    case "duration":
      return 0;
    default:
      return "";
  }
}

/** Result of {@linkcode parseFlags}: values plus the positional words and meta requests. */
export interface ParsedFlags {
  values: FlagValues;
  /** Where each value came from, for the start-up report. */
  origin: Record<string, "flag" | "env" | "default">;
  help: boolean;
  version: boolean;
}

/**
 * Parses `args` against `specs`, falling back to `env(name)` and then the default.
 * List flags repeat (`--container-denylist a --container-denylist b`); their environment twin
 * separates items with white space.
 */
export function parseFlags(
  specs: readonly FlagSpec[],
  args: readonly string[],
  env: (name: string) => string | undefined,
): ParsedFlags {
  const byName = new Map(specs.map((s) => [s.name, s]));
  const values: FlagValues = {};
  const origin: ParsedFlags["origin"] = {};
  let help = false;
  let version = false;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (arg === "--help" || arg === "-h") {
      help = true;
      continue;
    }
    if (arg === "--version") {
      version = true;
      continue;
    }
    if (!arg.startsWith("--")) {
      throw new FlagError(`Unexpected argument "${arg}": flags start with --, see --help`);
    }
    const eq = arg.indexOf("=");
    let name = eq < 0 ? arg.slice(2) : arg.slice(2, eq);
    let raw: string | undefined = eq < 0 ? undefined : arg.slice(eq + 1);
    let spec = byName.get(name);
    if (!spec && name.startsWith("no-") && byName.get(name.slice(3))?.kind === "bool") {
      name = name.slice(3);
      spec = byName.get(name);
      raw = "false";
    }
    if (!spec) throw new FlagError(`Unknown flag "--${name}", see --help`);
    if (raw === undefined) {
      if (spec.kind === "bool") {
        const next = args[i + 1];
        raw = next !== undefined && /^(true|false)$/i.test(next) ? args[++i] : "true";
      } else {
        if (i + 1 >= args.length) throw new FlagError(`Flag "--${name}" needs a value`);
        raw = args[++i];
      }
    }
    const value = convert(spec, raw, `--${name}`);
    if (spec.kind === "list" && origin[name] === "flag") {
      values[name] = [...(values[name] as string[]), ...(value as string[])];
    } else {
      values[name] = value;
    }
    origin[name] = "flag";
  }
  for (const spec of specs) {
    if (origin[spec.name]) continue;
    const raw = env(spec.env);
    if (raw !== undefined && raw !== "") {
      values[spec.name] = convert(spec, raw, `$${spec.env}`);
      origin[spec.name] = "env";
    } else {
      values[spec.name] = defaultOf(spec);
      origin[spec.name] = "default";
    }
  }
  return { values, origin, help, version };
}

function showDefault(spec: FlagSpec): string {
  const d = defaultOf(spec);
  if (spec.kind === "duration") return `${(d as number) / 1000}s`;
  if (Array.isArray(d)) return d.length ? d.join(",") : "";
  return d === "" ? "" : String(d);
}

/** Renders `--help`: flags by group, each with its environment twin and default. */
export function helpText(specs: readonly FlagSpec[], header: string): string {
  const groups = new Map<string, FlagSpec[]>();
  for (const s of specs) {
    const g = s.group ?? "General";
    if (!groups.has(g)) groups.set(g, []);
    groups.get(g)!.push(s);
  }
  let out = header.trimEnd() + "\n";
  for (const [group, list] of groups) {
    out += `\n${group}:\n`;
    for (const s of list) {
      const value = s.kind === "bool" ? "" : ` <${s.kind}>`;
      const d = showDefault(s);
      out += `  --${s.name}${value}\n      ${s.help} [env ${s.env}${d ? `; default ${d}` : ""}]\n`;
    }
  }
  return out;
}
