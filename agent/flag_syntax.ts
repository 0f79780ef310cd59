/**
 * The value syntaxes of the agent's flags, as coroot-node-agent reads them (reference §9.1 and
 * §13 item 11). The reference parses its flags with kingpin v2.2.6, which hands each value to
 * Go's `strconv` and `time` packages, to `alecthomas/units` for sizes, and leaves CIDRs, port
 * ranges and path globs to the code that uses them (`inet.af/netaddr`, its own port-range reader,
 * `gobwas/glob`). Each function here accepts what that Go code accepts, except where a doc comment
 * says otherwise.
 *
 * Parsers throw `SyntaxError` for text outside the syntax and `RangeError` for a value the
 * syntax can write but not hold (an overflowing duration); `check*` functions return what is
 * wrong as a short phrase, or `undefined`. Messages never name the flag: the caller does.
 *
 * @module
 */

// ---------------------------------------------------------------------------------------------
// Booleans

/** Go's `strconv.ParseBool` forms, and what each means. */
const GO_BOOLS: ReadonlyMap<string, boolean> = new Map([
  ["1", true],
  ["t", true],
  ["T", true],
  ["true", true],
  ["TRUE", true],
  ["True", true],
  ["0", false],
  ["f", false],
  ["F", false],
  ["false", false],
  ["FALSE", false],
  ["False", false],
]);

/** True when `text` is one of Go's boolean spellings (`1 t T true TRUE True` and the false ones). */
export function isGoBool(text: string): boolean {
  return GO_BOOLS.has(text);
}

/**
 * Parses a boolean as Go's `strconv.ParseBool`: `1 t T TRUE true True` are true, `0 f F FALSE
 * false False` are false, anything else (`yes`, `on`, the empty string) is a SyntaxError.
 */
export function parseGoBool(text: string): boolean {
  const v = GO_BOOLS.get(text);
  if (v === undefined) throw new SyntaxError("not a boolean");
  return v;
}

// ---------------------------------------------------------------------------------------------
// Numbers

const DECIMAL_INT = /^[+-]?[0-9]+$/;

/**
 * Parses a decimal integer: optional sign, then digits only. Stricter than the reference, whose
 * kingpin reads integers as floats and truncates them (`1e3` → 1000, `1.5` → 1): Osprey refuses
 * `1e3`, `1.5`, `0x10`, the empty string and anything beyond ±2^53 (RangeError).
 */
export function parseDecimalInt(text: string): number {
  if (!DECIMAL_INT.test(text)) throw new SyntaxError("not a decimal integer");
  const n = Number(text);
  if (!Number.isSafeInteger(n)) throw new RangeError("too large");
  return n;
}

const DECIMAL_FLOAT = /^[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?$/;
const HEX_FLOAT = /^([+-]?)0[xX]([0-9a-fA-F]*)(?:\.([0-9a-fA-F]*))?[pP]([+-]?[0-9]+)$/;
const INF = /^([+-]?)(?:inf|infinity)$/i;

/**
 * Parses a float as Go's `strconv.ParseFloat(s, 64)`: decimal (`1`, `.5`, `1.`, `2.5e-3`),
 * hexadecimal with a binary exponent (`0x1.8p1`), `inf`/`infinity` with a sign, `nan` (all
 * case-insensitive). Go's digit-separating underscores are not accepted. A decimal beyond the
 * float64 range is a RangeError, as Go's `ErrRange`.
 */
export function parseGoFloat(text: string): number {
  if (DECIMAL_FLOAT.test(text)) {
    const n = Number(text);
    if (!Number.isFinite(n)) throw new RangeError("out of the float64 range");
    return n;
  }
  const hex = HEX_FLOAT.exec(text);
  if (hex !== null && (hex[2] !== "" || (hex[3] ?? "") !== "")) {
    const digits = hex[2] + (hex[3] ?? "");
    let mantissa = 0;
    for (const d of digits) mantissa = mantissa * 16 + parseInt(d, 16);
    const n = mantissa * 2 ** (Number(hex[4]) - 4 * (hex[3] ?? "").length);
    if (!Number.isFinite(n)) throw new RangeError("out of the float64 range");
    return hex[1] === "-" ? -n : n;
  }
  const inf = INF.exec(text);
  if (inf !== null) return inf[1] === "-" ? -Infinity : Infinity;
  if (/^nan$/i.test(text)) return NaN;
  throw new SyntaxError("not a number");
}

// ---------------------------------------------------------------------------------------------
// Durations

const NS_PER_MS = 1_000_000n;
const MAX_NS = 1n << 63n;
const DURATION_UNITS: ReadonlyMap<string, bigint> = new Map([
  ["ns", 1n],
  ["us", 1_000n],
  ["\u00b5s", 1_000n], // µs, MICRO SIGN
  ["\u03bcs", 1_000n], // μs, GREEK SMALL LETTER MU
  ["ms", NS_PER_MS],
  ["s", 1_000n * NS_PER_MS],
  ["m", 60_000n * NS_PER_MS],
  ["h", 3_600_000n * NS_PER_MS],
]);
const DURATION_ELEMENT = /^([0-9]*)(?:\.([0-9]*))?([^0-9.]*)/;

/**
 * Parses a Go duration (`time.ParseDuration`) into milliseconds: an optional sign, then one or
 * more decimal numbers each with a unit (`ns`, `us`, `µs`, `ms`, `s`, `m`, `h`): `300ms`,
 * `1m30s`, `1h2m3.5s`, `1.5h`, `-2s`; `0` alone needs no unit. Like Go, the total is counted in
 * whole nanoseconds (fractions below a nanosecond are dropped) and must fit in an int64
 * (RangeError beyond about 292 years).
 */
export function parseGoDuration(text: string): number {
  let s = text;
  let negative = false;
  if (s.startsWith("-") || s.startsWith("+")) {
    negative = s.startsWith("-");
    s = s.slice(1);
  }
  if (s === "0") return 0;
  if (s === "") throw new SyntaxError("not a duration");
  let total = 0n;
  while (s !== "") {
    const m = DURATION_ELEMENT.exec(s)!;
    const [whole, intDigits, fracDigits, unitText] = m;
    if (intDigits === "" && (fracDigits ?? "") === "") throw new SyntaxError("not a duration");
    if (unitText === "") throw new SyntaxError("missing unit (ns, us, ms, s, m or h)");
    const unit = DURATION_UNITS.get(unitText);
    if (unit === undefined) throw new SyntaxError(`unknown unit "${unitText}"`);
    let ns = BigInt(intDigits || "0") * unit;
    if (fracDigits) ns += BigInt(Math.trunc(Number(`0.${fracDigits}`) * Number(unit)));
    total += ns;
    if (total > MAX_NS) throw new RangeError("too long");
    s = s.slice(whole.length);
  }
  if (!negative && total === MAX_NS) throw new RangeError("too long");
  const ms = Number(total / NS_PER_MS) + Number(total % NS_PER_MS) / 1e6;
  return negative ? -ms : ms;
}

const BARE_SECONDS = /^[0-9]+(?:\.[0-9]+)?$/;

/**
 * Parses a flag duration into milliseconds: a Go duration ({@linkcode parseGoDuration}) or, as
 * Osprey has always taken, a bare number of seconds (`30`, `1.5`).
 */
export function parseDuration(text: string): number {
  if (BARE_SECONDS.test(text)) return Number(text) * 1000;
  return parseGoDuration(text);
}

/** Writes milliseconds the short way a Go duration can be read back: `1h30m`, `1.5s`, `300ms`. */
export function formatDuration(ms: number): string {
  if (ms === 0) return "0s";
  if (ms < 0) return "-" + formatDuration(-ms);
  if (ms < 1000) return `${ms}ms`;
  const h = Math.floor(ms / 3_600_000);
  const m = Math.floor((ms % 3_600_000) / 60_000);
  const s = (ms % 60_000) / 1000;
  return (h ? `${h}h` : "") + (m ? `${m}m` : "") + (s ? `${s}s` : "");
}

// ---------------------------------------------------------------------------------------------
// Byte sizes

const POWERS = ["", "K", "M", "G", "T", "P", "E"];
/** `B`, `KiB` … `EiB`, powers of 1024. */
const IEC_UNITS: ReadonlyMap<string, number> = new Map(
  POWERS.map((p, i) => [p === "" ? "B" : `${p}iB`, 1024 ** i]),
);
/** `B`, `KB` … `EB`, also powers of 1024 (the reference's "old" spelling). */
const OLD_UNITS: ReadonlyMap<string, number> = new Map(
  POWERS.map((p, i) => [`${p}B`, 1024 ** i]),
);
const SIZE_ELEMENT = /^([0-9]*)(?:\.([0-9]*))?([^0-9.]*)/;
const MAX_INT64 = 2 ** 63;

/** One pass of the units reader over `text` with one unit table; undefined when it fails. */
function sumSizeUnits(text: string, units: ReadonlyMap<string, number>): number | undefined {
  let s = text;
  let negative = false;
  if (s.startsWith("-") || s.startsWith("+")) {
    negative = s.startsWith("-");
    s = s.slice(1);
  }
  if (s === "0") return 0;
  if (s === "") return undefined;
  let total = 0;
  while (s !== "") {
    const [whole, intDigits, fracDigits, unitText] = SIZE_ELEMENT.exec(s)!;
    if (intDigits === "" && (fracDigits ?? "") === "") return undefined;
    const unit = units.get(unitText);
    if (unit === undefined) return undefined;
    total += Number(`${intDigits || "0"}.${fracDigits || "0"}`) * unit;
    s = s.slice(whole.length);
  }
  return negative ? -total : total;
}

/**
 * Parses a byte size as the reference's `--max-spool-size` (kingpin's `Bytes()`, i.e.
 * `units.ParseBase2Bytes`): numbers each followed by a unit, all powers of 1024 whichever the
 * spelling: `B`, `KiB`/`KB`, `MiB`/`MB`, `GiB`/`GB`, `TiB`/`TB`, `PiB`/`PB`, `EiB`/`EB`
 * (`500MB` = 524288000, `1.5GiB`, `1GB512MB`); one value uses one spelling; lower-case `kB`, a
 * bare number other than `0` and an empty value are SyntaxErrors. The result is whole bytes,
 * truncated toward zero; beyond int64 is a RangeError.
 */
export function parseBase2Bytes(text: string): number {
  const n = sumSizeUnits(text, IEC_UNITS) ?? sumSizeUnits(text, OLD_UNITS);
  if (n === undefined) throw new SyntaxError("not a size with a unit");
  if (n >= MAX_INT64 || n < -MAX_INT64) throw new RangeError("too large");
  return Math.trunc(n);
}

/** Writes a byte count with the largest whole 1024-power unit, the reference's way: `500MB`. */
export function formatBytes(bytes: number): string {
  for (let i = POWERS.length - 1; i > 0; i--) {
    const unit = 1024 ** i;
    if (bytes !== 0 && bytes % unit === 0) return `${bytes / unit}${POWERS[i]}B`;
  }
  return `${bytes}B`;
}

// ---------------------------------------------------------------------------------------------
// Repeatable environment values

/**
 * Splits a repeatable flag's environment value into items. The reference (kingpin) separates
 * items by newlines (`\n` or `\r\n`, one trailing newline ignored). Osprey takes that rule
 * whenever the value holds a newline; a value without one may also separate items by spaces or
 * tabs (Osprey's older form), which cannot change a working value: no container ID, CIDR, port
 * range or URL path holds white space. Items are trimmed and empty ones dropped.
 */
export function splitEnvList(text: string): string[] {
  const items = /[\r\n]/.test(text) ? text.split(/\r?\n/) : text.split(/[ \t]+/);
  return items.map((s) => s.trim()).filter((s) => s !== "");
}

// ---------------------------------------------------------------------------------------------
// Port ranges

/** One inclusive range of TCP ports. */
export interface PortRange {
  readonly from: number;
  readonly to: number;
}

/**
 * Parses `--ephemeral-port-range` as the reference does: ranges `FROM-TO` (decimal, 0 to 65535,
 * FROM ≤ TO) separated by spaces or commas, at least one: `32768-60999`, `1024-23768 30000-65535`.
 * The reference skips an empty value (no range is ignored); callers do the same.
 */
export function parsePortRanges(text: string): PortRange[] {
  const out: PortRange[] = [];
  for (const item of text.replaceAll(",", " ").split(/\s+/).filter((s) => s !== "")) {
    const dash = item.indexOf("-");
    const from = dash < 0 ? NaN : parsePort(item.slice(0, dash));
    const to = dash < 0 ? NaN : parsePort(item.slice(dash + 1));
    if (!(from <= to)) throw new SyntaxError(`bad port range "${item}"`);
    out.push({ from, to });
  }
  if (out.length === 0) throw new SyntaxError("no port range");
  return out;
}

function parsePort(text: string): number {
  return /^[0-9]+$/.test(text) && Number(text) <= 65535 ? Number(text) : NaN;
}

// ---------------------------------------------------------------------------------------------
// IP prefixes (CIDR)

/** A parsed `address/bits`; the address is kept as written. */
export interface IpPrefix {
  readonly family: 4 | 6;
  readonly address: string;
  readonly bits: number;
}

/** IPv4 as `netaddr`: four dot-separated decimal fields, each 0 to 255 (leading zeros allowed). */
function isIPv4(s: string): boolean {
  const fields = s.split(".");
  return fields.length === 4 &&
    fields.every((f) => /^[0-9]+$/.test(f) && Number(f) <= 255);
}

/**
 * IPv6 as `netaddr`: up to eight hex fields of at most 0xffff, one `::`, an optional trailing
 * dotted IPv4 in place of the last two fields, an optional non-empty `%zone`.
 */
function isIPv6(s: string): boolean {
  const pct = s.indexOf("%");
  if (pct >= 0) {
    if (pct === s.length - 1) return false;
    s = s.slice(0, pct);
  }
  const halves = s.split("::");
  if (halves.length > 2) return false;
  const fieldsOf = (part: string) => part === "" ? [] : part.split(":");
  const head = fieldsOf(halves[0]);
  const tail = halves.length === 2 ? fieldsOf(halves[1]) : [];
  const all = [...head, ...tail];
  let groups = 0;
  for (let i = 0; i < all.length; i++) {
    const f = all[i];
    if (i === all.length - 1 && f.includes(".")) {
      if (!isIPv4(f)) return false;
      groups += 2;
    } else if (/^[0-9a-fA-F]+$/.test(f) && parseInt(f, 16) <= 0xffff) {
      groups += 1;
    } else {
      return false;
    }
  }
  return halves.length === 2 ? groups < 8 : groups === 8;
}

/**
 * Parses `address/bits` as the reference's `--track-public-network` (`netaddr.ParseIPPrefix`):
 * an IPv4 or IPv6 address (host bits may be set), `/`, and a decimal prefix length up to 32 or
 * 128. A bare address without `/bits` is refused, as in the reference.
 */
export function parseIpPrefix(text: string): IpPrefix {
  const slash = text.lastIndexOf("/");
  if (slash < 0) throw new SyntaxError("no /prefix-length");
  const address = text.slice(0, slash);
  const family = /[.:%]/.exec(address)?.[0] === "." ? 4 : 6;
  if (family === 4 ? !isIPv4(address) : !isIPv6(address)) {
    throw new SyntaxError(`"${address}" is not an IP address`);
  }
  const bitsText = text.slice(slash + 1);
  if (!/^[+-]?[0-9]+$/.test(bitsText)) throw new SyntaxError("bad prefix length");
  const bits = Number(bitsText);
  if (bits < 0 || bits > (family === 4 ? 32 : 128)) {
    throw new SyntaxError("prefix length out of range");
  }
  return { family, address, bits };
}

// ---------------------------------------------------------------------------------------------
// Checks for string and list flags: what is wrong, or undefined

/** Returns undefined for a valid `--track-public-network` item, else what is wrong. */
export function checkIpPrefix(text: string): string | undefined {
  return problemOf(() => parseIpPrefix(text));
}

/** Returns undefined for an empty or valid `--ephemeral-port-range`, else what is wrong. */
export function checkPortRanges(text: string): string | undefined {
  return text === "" ? undefined : problemOf(() => parsePortRanges(text));
}

/** Returns undefined when `pattern` compiles as a JavaScript regular expression. */
export function checkRegExp(pattern: string): string | undefined {
  return problemOf(() => new RegExp(pattern));
}

/**
 * Returns undefined when `pattern` compiles as a whole-name regular expression (`^(?:x)$`): on
 * its own first, so that parentheses the wrapper would balance (`)|(`, which as `^(?:)|()$`
 * matches every name) are refused.
 */
export function checkWholeNameRegExp(pattern: string): string | undefined {
  return problemOf(() => new RegExp(pattern)) ?? problemOf(() => new RegExp(`^(?:${pattern})$`));
}

/** Returns undefined for an empty value or an absolute `http:` or `https:` URL. */
export function checkHttpUrl(text: string): string | undefined {
  if (text === "") return undefined;
  if (!URL.canParse(text)) return "not an absolute URL";
  const { protocol } = new URL(text);
  return protocol === "http:" || protocol === "https:" ? undefined : "not an http or https URL";
}

/** Returns undefined for an empty value or an absolute path. */
export function checkAbsolutePath(text: string): string | undefined {
  return text === "" || text.startsWith("/") ? undefined : "not an absolute path";
}

/**
 * Checks a path glob as `gobwas/glob` compiles it (the reference's
 * `--exclude-http-requests-by-path`): `*`, `**`, `?`, `{a,b}` and `\` escapes always compile;
 * a character class `[...]` must be closed, not empty, and a range `[a-z]` must not run
 * backwards. Returns undefined when it compiles, else what is wrong.
 */
export function checkGlob(pattern: string): string | undefined {
  const cs = [...pattern];
  for (let i = 0; i < cs.length; i++) {
    if (cs[i] === "\\") {
      i++; // an escaped character is plain text
      continue;
    }
    if (cs[i] !== "[") continue;
    let j = i + 1;
    if (cs[j] === "!") j++;
    if (cs[j + 1] === "-") {
      // A range: one character, '-', one character, then ']'.
      if (cs[j + 2] === undefined || cs[j + 3] === undefined) return "unclosed [ in the glob";
      if (cs[j + 3] !== "]") return "a range in the glob is not closed after its last character";
      if (cs[j + 2].codePointAt(0)! < cs[j].codePointAt(0)!) return "backward range in the glob";
      i = j + 3;
      continue;
    }
    // A list of characters up to the first unescaped ']'.
    let k = j;
    let chars = 0;
    while (k < cs.length && cs[k] !== "]") {
      if (cs[k] === "\\") k++;
      if (k < cs.length) chars++;
      k++;
    }
    if (k >= cs.length) return "unclosed [ in the glob";
    if (chars === 0) return "empty [] in the glob";
    i = k;
  }
  return undefined;
}

function problemOf(parse: () => unknown): string | undefined {
  try {
    parse();
    return undefined;
  } catch (err) {
    if (err instanceof SyntaxError || err instanceof RangeError) return err.message;
    throw err;
  }
}
