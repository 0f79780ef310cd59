import { deepEqual, equal, ok, throws } from "node:assert/strict";
import {
  defaultLibraryPath,
  LIBRARY_ENV,
  libraryCandidates,
  LibraryLoadError,
  openLibrary,
} from "./lib.ts";
import { ABI_VERSION } from "./symbols.ts";
import { builtLibrary, libraryIgnoreReason } from "./_test_util.ts";

const ignoreReason = libraryIgnoreReason();
if (ignoreReason) console.warn(`ffi/lib_test.ts: some tests ignored: ${ignoreReason}`);

const SCRIPT = new URL("./testdata/open_library.ts", import.meta.url).pathname;
const FFI_DIR = new URL(".", import.meta.url).pathname;

interface Outcome {
  ok: boolean;
  abi?: number;
  path?: string;
  notCapable?: boolean;
  name?: string;
  message?: string;
}

async function runScoped(flags: string[], env: Record<string, string> = {}): Promise<Outcome> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--no-prompt", ...flags, SCRIPT],
    env: { RUST_BACKTRACE: "0", NO_COLOR: "1", DENO_NO_UPDATE_CHECK: "1", ...env },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stdout = new TextDecoder().decode(out.stdout).trim();
  const stderr = new TextDecoder().decode(out.stderr).trim();
  equal(out.code, 0, `script failed:\n${stdout}\n${stderr}`);
  return JSON.parse(stdout.split("\n").at(-1) ?? "{}");
}

Deno.test("defaultLibraryPath() is the absolute path of ffi/.output/libosprey.so", () => {
  const path = defaultLibraryPath();
  ok(path?.startsWith("/"));
  ok(path?.endsWith("/ffi/.output/libosprey.so"));
});

Deno.test("libraryCandidates() makes an explicit relative path absolute and uses it alone", () => {
  deepEqual(libraryCandidates("x/libosprey.so"), [`${Deno.cwd()}/x/libosprey.so`]);
  deepEqual(libraryCandidates("/opt/osprey/libosprey.so"), ["/opt/osprey/libosprey.so"]);
});

Deno.test("openLibrary() lists every path it tried", () => {
  throws(
    () => openLibrary("/nonexistent/libosprey.so"),
    (err: unknown) => {
      ok(err instanceof LibraryLoadError);
      equal(err.attempts.length, 1);
      equal(err.attempts[0].path, "/nonexistent/libosprey.so");
      ok(err.message.includes("/nonexistent/libosprey.so"), err.message);
      return true;
    },
  );
});

Deno.test({
  name: "openLibrary() works with --allow-ffi scoped to the library's absolute path",
  ignore: ignoreReason !== "",
  async fn() {
    const lib = builtLibrary()!;
    const r = await runScoped([`--allow-ffi=${lib}`, `--allow-read=${FFI_DIR}`]);
    deepEqual(r, { ok: true, abi: ABI_VERSION, path: lib });
  },
});

Deno.test({
  name: "openLibrary() rethrows NotCapable when --allow-ffi names another file",
  ignore: ignoreReason !== "",
  async fn() {
    const r = await runScoped([`--allow-ffi=/some/other.so`, `--allow-read=${FFI_DIR}`]);
    equal(r.ok, false);
    equal(r.notCapable, true, JSON.stringify(r));
    ok(r.message?.includes("--allow-ffi"), r.message);
  },
});

Deno.test({
  name: `openLibrary() takes $${LIBRARY_ENV} first when --allow-env grants it`,
  ignore: ignoreReason !== "",
  async fn() {
    const lib = builtLibrary()!;
    const copy = await Deno.makeTempFile({ suffix: ".so" });
    try {
      await Deno.copyFile(lib, copy);
      const r = await runScoped(
        [`--allow-ffi=${copy}`, `--allow-env=${LIBRARY_ENV}`],
        { [LIBRARY_ENV]: copy },
      );
      deepEqual(r, { ok: true, abi: ABI_VERSION, path: copy });
      // without --allow-env the variable is not read, and no prompt appears
      const r2 = await runScoped([`--allow-ffi=${lib}`], { [LIBRARY_ENV]: copy });
      deepEqual(r2, { ok: true, abi: ABI_VERSION, path: lib });
    } finally {
      await Deno.remove(copy);
    }
  },
});
