/**
 * Flag definitions and parsing. Every flag has an environment twin (coroot-node-agent's names
 * where they exist, reference §9.1), so `LISTEN=127.0.0.1:9100 deno task start` works. The
 * command line wins over the environment, which wins over the default.
 *
 * Modules declare their own flags next to their code and the entry point composes the lists,
 * so a module's options live with the module. The reference's flags whose capability Osprey does
 * not have yet live in `pending_flags.ts`: they are parsed and checked like the others, listed
 * apart by `--help`, and reported once at start when the user set them.
 *
 * Syntax (reference §13 item 11; the value parsers are in `flag_syntax.ts`):
 * - `--name=value` or `--name value`; a boolean flag alone is true, `--no-name` false, and it
 *   takes a Go boolean after `=` or as the next word (`1 t T TRUE true True`, `0 f F FALSE false
 *   False`).
 * - A repeatable (list) flag takes one item per occurrence; its environment value holds items
 *   separated by newlines, or by white space when it has no newline.
 * - An empty environment variable counts as unset (as in the reference); an empty value on the
 *   command line is a value (refused where the kind has no empty form).
 * - A scalar flag given twice keeps the last value (the reference refuses the repetition).
 * - Numbers, durations, booleans and sizes ignore surrounding white space.
 *
 * @module
 */
import {
  formatBytes,
  formatDuration,
  isGoBool,
  parseBase2Bytes,
  parseDecimalInt,
  parseDuration,
  parseGoBool,
  parseGoFloat,
  splitEnvList,
} from "./flag_syntax.ts";

/**
 * The value kinds a flag can take: `int` is a decimal integer, `number` a Go float, `duration`
 * a Go duration or bare seconds, `bytes` a size such as `500MB`, `list` a repeatable string.
 */
export type FlagKind = "string" | "bool" | "int" | "number" | "duration" | "bytes" | "list";

/** A parsed flag value. Durations are milliseconds, sizes bytes, lists string arrays. */
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
  /** Smallest accepted value of an int, number (as is), duration (ms) or bytes flag. */
  readonly min?: number;
  /** Largest accepted value, in the same unit as `min`. */
  readonly max?: number;
  /** The only values a string flag accepts. */
  readonly choices?: readonly string[];
  /**
   * Checks a string flag's value or each item of a list flag: returns what is wrong as a short
   * phrase, or undefined when the value is good.
   */
  readonly check?: (value: string) => string | undefined;
  /** What `check` accepts, for `--help` and error lines: `an http or https URL`. */
  readonly accepts?: string;
  /**
   * `false` for a coroot-node-agent flag Osprey accepts and checks but does not act on yet (set
   * by `pending_flags.ts`; a module's own flags leave it out).
   */
  readonly implemented?: boolean;
}

/** Parsed values by flag name. */
export type FlagValues = Record<string, FlagValue>;

/** A flag or environment value that does not parse; the message is one line for the user. */
export class FlagError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "FlagError";
  }
}

/** The `--help` heading of the flags accepted but not implemented yet. */
export const PENDING_GROUP =
  "Accepted for coroot-node-agent compatibility, not implemented yet (checked, then ignored)";

/** Where a raw value came from. */
type Source = { kind: "flag" } | { kind: "env" };

/** Longest piece of a bad value quoted back in an error line. */
const MAX_QUOTED = 120;

function quote(raw: string): string {
  const s = raw.length > MAX_QUOTED ? raw.slice(0, MAX_QUOTED) + "…" : raw;
  return JSON.stringify(s);
}

function showValue(spec: FlagSpec, n: number): string {
  if (spec.kind === "duration") return formatDuration(n);
  if (spec.kind === "bytes") return formatBytes(n);
  return String(n);
}

/** The accepted range of a numeric flag: `1 to 100000`, `at least 0`; "" when unbounded. */
function range(spec: FlagSpec): string {
  const { min, max } = spec;
  if (min !== undefined && max !== undefined) {
    return `${showValue(spec, min)} to ${showValue(spec, max)}`;
  }
  if (min !== undefined) return `at least ${showValue(spec, min)}`;
  if (max !== undefined) return `at most ${showValue(spec, max)}`;
  return "";
}

/** What a flag accepts, as a phrase for error lines. */
export function acceptedValues(spec: FlagSpec): string {
  const r = range(spec);
  switch (spec.kind) {
    case "bool":
      return "true or false (also 1, 0, t, f, T, F, TRUE, FALSE, True, False)";
    case "int":
      return r ? `an integer, ${r}` : "an integer";
    case "number":
      return r ? `a number, ${r}` : "a number";
    case "duration":
      return `a duration such as 1m30s, 300ms or 10 (seconds)${r ? `, ${r}` : ""}`;
    case "bytes":
      return `a size such as 500MB or 1.5GiB (KB = KiB = 1024 B)${r ? `, ${r}` : ""}`;
    case "string":
      if (spec.choices) return `one of ${spec.choices.join(", ")}`;
      return spec.accepts ?? "";
    case "list":
      return spec.accepts ?? "";
  }
}

function badValue(spec: FlagSpec, source: Source, raw: string, problem: string): FlagError {
  const where = source.kind === "flag"
    ? `--${spec.name} ${quote(raw)}`
    : `${spec.env}=${quote(raw)} (environment, for --${spec.name})`;
  const accepted = acceptedValues(spec);
  return new FlagError(`${where}: ${problem}${accepted ? `; accepted: ${accepted}` : ""}`);
}

function inRange(spec: FlagSpec, n: number): string | undefined {
  if (Number.isNaN(n)) return "not a number";
  if (spec.min !== undefined && n < spec.min) return `below ${showValue(spec, spec.min)}`;
  if (spec.max !== undefined && n > spec.max) return `above ${showValue(spec, spec.max)}`;
  if (!Number.isFinite(n)) return "not finite";
  return undefined;
}

/** Parses one scalar with `parse`, turning its SyntaxError or RangeError into the problem. */
function scalar(
  parse: (text: string) => number | boolean,
  text: string,
): number | boolean | string {
  try {
    return parse(text);
  } catch (err) {
    if (err instanceof SyntaxError || err instanceof RangeError) return err.message;
    throw err;
  }
}

function convert(spec: FlagSpec, raw: string, source: Source): FlagValue {
  const text = raw.trim();
  switch (spec.kind) {
    case "string": {
      const problem = spec.choices && !spec.choices.includes(raw)
        ? "not one of the choices"
        : spec.check?.(raw);
      if (problem !== undefined) throw badValue(spec, source, raw, problem);
      return raw;
    }
    case "bool": {
      const v = scalar(parseGoBool, text);
      if (typeof v === "string") throw badValue(spec, source, raw, v);
      return v;
    }
    case "list": {
      const items = source.kind === "flag" ? (text === "" ? [] : [raw]) : splitEnvList(raw);
      for (const item of items) {
        const problem = spec.check?.(item);
        if (problem !== undefined) {
          throw badValue(
            spec,
            source,
            raw,
            items.length > 1 ? `${quote(item)}: ${problem}` : problem,
          );
        }
      }
      return items;
    }
    case "int":
    case "number":
    case "duration":
    case "bytes": {
      const parse = spec.kind === "int"
        ? parseDecimalInt
        : spec.kind === "number"
        ? parseGoFloat
        : spec.kind === "duration"
        ? parseDuration
        : parseBase2Bytes;
      const v = scalar(parse, text);
      if (typeof v === "string") throw badValue(spec, source, raw, text === "" ? "empty" : v);
      const problem = inRange(spec, v as number);
      if (problem !== undefined) throw badValue(spec, source, raw, problem);
      return v as number;
    }
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
    case "bytes":
      return 0;
    default:
      return "";
  }
}

/** Result of {@linkcode parseFlags}: values plus the meta requests. */
export interface ParsedFlags {
  values: FlagValues;
  /** Where each value came from, for the start-up report. */
  origin: Record<string, "flag" | "env" | "default">;
  /** Flags with `implemented: false` that the command line or the environment set, in spec order. */
  unimplemented: string[];
  help: boolean;
  version: boolean;
}

/** Throws a plain Error when two specs share a name or an environment variable (a bug). */
function checkUnique(specs: readonly FlagSpec[]): void {
  const names = new Set<string>();
  const envs = new Set<string>();
  for (const s of specs) {
    if (names.has(s.name)) throw new Error(`Flag --${s.name} is defined twice`);
    if (envs.has(s.env)) throw new Error(`Environment variable ${s.env} is defined twice`);
    names.add(s.name);
    envs.add(s.env);
  }
}

/**
 * Parses `args` against `specs`, falling back to `env(name)` and then the default. Throws
 * {@linkcode FlagError} (one line: the flag or variable, the value, what is wrong, what is
 * accepted) for an unknown flag or a bad value; a plain Error when two specs collide.
 */
export function parseFlags(
  specs: readonly FlagSpec[],
  args: readonly string[],
  env: (name: string) => string | undefined,
): ParsedFlags {
  checkUnique(specs);
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
      // a word after a boolean flag that is no boolean: the value was meant for that flag
      const before = i > 0 ? args[i - 1] : "";
      const flag = before.startsWith("--") && !before.includes("=")
        ? byName.get(before.slice(2))
        : undefined;
      if (flag?.kind === "bool") {
        throw new FlagError(
          `Unexpected argument ${quote(arg)} after --${flag.name}: a boolean flag takes a value ` +
            `only as --${flag.name}=<true|false>, see --help`,
        );
      }
      throw new FlagError(`Unexpected argument ${quote(arg)}: flags start with --, see --help`);
    }
    const eq = arg.indexOf("=");
    let name = eq < 0 ? arg.slice(2) : arg.slice(2, eq);
    let raw: string | undefined = eq < 0 ? undefined : arg.slice(eq + 1);
    let spec = byName.get(name);
    if (!spec && name.startsWith("no-") && byName.get(name.slice(3))?.kind === "bool") {
      if (raw !== undefined) throw new FlagError(`Flag "--${name}" takes no value, see --help`);
      name = name.slice(3);
      spec = byName.get(name);
      raw = "false";
    }
    if (!spec) throw new FlagError(`Unknown flag "--${name}", see --help`);
    if (raw === undefined) {
      if (spec.kind === "bool") {
        const next = args[i + 1];
        raw = next !== undefined && isGoBool(next) ? args[++i] : "true";
      } else {
        if (i + 1 >= args.length) throw new FlagError(`Flag "--${name}" needs a value, see --help`);
        raw = args[++i];
      }
    }
    const value = convert(spec, raw, { kind: "flag" });
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
      values[spec.name] = convert(spec, raw, { kind: "env" });
      origin[spec.name] = "env";
    } else {
      values[spec.name] = defaultOf(spec);
      origin[spec.name] = "default";
    }
  }
  const unimplemented = specs
    .filter((s) => s.implemented === false && origin[s.name] !== "default")
    .map((s) => s.name);
  return { values, origin, unimplemented, help, version };
}

/** The start-up line naming the flags the user set that Osprey does not act on yet. */
export function notImplementedLine(names: readonly string[]): string {
  return `accepted, not implemented: ${names.map((n) => `--${n}`).join(", ")}`;
}

function showDefault(spec: FlagSpec): string {
  const d = defaultOf(spec);
  if (spec.kind === "duration" || spec.kind === "bytes") return showValue(spec, d as number);
  if (Array.isArray(d)) return d.join(", ");
  return d === "" ? "" : String(d);
}

/** The bracketed facts of one flag in `--help`: env twin, default, accepted values. */
function helpFacts(spec: FlagSpec): string {
  const facts = [`env ${spec.env}`];
  const d = showDefault(spec);
  if (d) facts.push(`default ${d}`);
  if (spec.choices) facts.push(`one of ${spec.choices.join(", ")}`);
  else if (spec.accepts) facts.push(spec.accepts);
  const r = range(spec);
  if (r) facts.push(r);
  return `[${facts.join("; ")}]`;
}

/**
 * Renders `--help`: flags by group, each with its environment twin, default and accepted values;
 * the flags with `implemented: false` come last under {@linkcode PENDING_GROUP}.
 */
export function helpText(specs: readonly FlagSpec[], header: string): string {
  const groups = new Map<string, FlagSpec[]>();
  const pending: FlagSpec[] = [];
  for (const s of specs) {
    if (s.implemented === false) {
      pending.push(s);
      continue;
    }
    const g = s.group ?? "General";
    if (!groups.has(g)) groups.set(g, []);
    groups.get(g)!.push(s);
  }
  if (pending.length > 0) groups.set(PENDING_GROUP, pending);
  let out = header.trimEnd() + "\n";
  for (const [group, list] of groups) {
    out += `\n${group}:\n`;
    for (const s of list) {
      const value = s.kind === "bool" ? "" : ` <${s.kind}>`;
      out += `  --${s.name}${value}\n      ${s.help} ${helpFacts(s)}\n`;
    }
  }
  return out;
}
