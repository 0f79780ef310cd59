/**
 * Tries to read each path given on the command line and prints one line per path:
 * `<path> ok` or `<path> <ErrorClass>`. Run under the agent's permission set to show which
 * reads it allows.
 *
 * @module
 */
for (const path of Deno.args) {
  try {
    Deno.readFileSync(path);
    console.log(`${path} ok`);
  } catch (e) {
    const cls = e instanceof Deno.errors.NotCapable
      ? "NotCapable"
      : e instanceof Error
      ? e.constructor.name
      : "unknown";
    console.log(`${path} ${cls}`);
  }
}
