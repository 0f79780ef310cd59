/**
 * The benchmarks' own `--name=value` arguments.
 *
 * @module
 */

/**
 * The value of `--<name>=<value>` in `Deno.args`, or `def` when it is absent (the first one
 * wins; no validation: each benchmark checks the values it reads).
 */
export function flag(name: string, def: string): string {
  const a = Deno.args.find((x) => x.startsWith(`--${name}=`));
  return a ? a.slice(name.length + 3) : def;
}
