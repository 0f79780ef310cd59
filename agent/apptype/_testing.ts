/**
 * Real binaries for the application type tests, built on the spot in a temporary directory:
 *
 * - `c`: a C program (gcc), no runtime facts; `cStatic` the same linked statically (it runs in
 *   the busybox test containers);
 * - `go`: a Go program (Debian's golang-go; `CGO_ENABLED=0`, so static), `goStripped` the same
 *   linked with `-s -w`; undefined when `go` is not installed (reason in `goMissing`);
 * - `apphost`: a C program linked with .NET's application-host run path `$ORIGIN/netcoredeps`
 *   (as DT_RUNPATH; `apphostRpath` as DT_RPATH; `notApphost` with a second directory after it);
 * - `rust`: the Deno binary running the tests, a real Rust program whose `.comment` carries
 *   rustc's note (Debian 12's own rustc 1.63 writes none, so building with it would not do).
 *
 * Every program sleeps until killed. Needs gcc (and libc6-dev for `-static`).
 *
 * @module
 */

/** The built binaries; paths are absolute. */
export interface TestBinaries {
  readonly dir: string;
  readonly c: string;
  readonly cStatic: string;
  readonly apphost: string;
  /** The same with the old DT_RPATH tag. */
  readonly apphostRpath: string;
  /** A run path that only starts with the application host's. */
  readonly notApphost: string;
  readonly go?: string;
  readonly goStripped?: string;
  /** Why `go` is undefined. */
  readonly goMissing?: string;
  readonly rust: string;
  /** Removes the directory (a no-op on the shared set). */
  cleanup(): void;
}

const C_SOURCE = "#include <unistd.h>\nint main(void) { for (;;) pause(); }\n";
const GO_SOURCE =
  'package main\n\nimport "time"\n\nfunc main() {\n\tfor {\n\t\ttime.Sleep(time.Hour)\n\t}\n}\n';

async function run(cmd: string, args: string[], env: Record<string, string> = {}) {
  let out: Deno.CommandOutput;
  try {
    out = await new Deno.Command(cmd, { args, env, stdout: "piped", stderr: "piped" }).output();
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return `${cmd} is not installed`;
    throw err;
  }
  if (out.code !== 0) {
    throw new Error(
      `${cmd} ${args.join(" ")} exited ${out.code}: ${new TextDecoder().decode(out.stderr)}`,
    );
  }
  return "";
}

let built: Promise<TestBinaries> | undefined;

/**
 * The binaries, built once per test process (removed when it exits); throws when gcc fails (it
 * is a test dependency). Their `cleanup` is a no-op: tests share them.
 */
export function buildTestBinaries(): Promise<TestBinaries> {
  built ??= build().then((b) => {
    globalThis.addEventListener("unload", () => b.cleanup());
    return { ...b, cleanup() {} };
  }, (err) => {
    built = undefined;
    throw err;
  });
  return built;
}

async function build(): Promise<TestBinaries> {
  const dir = await Deno.makeTempDir({ prefix: "osprey-apptype-" });
  const cleanup = () => Deno.removeSync(dir, { recursive: true });
  try {
    await Deno.writeTextFile(`${dir}/sleeper.c`, C_SOURCE);
    for (const [out, extra] of [["c", []], ["c-static", ["-static"]]] as const) {
      const missing = await run("gcc", [
        "-O2",
        ...extra,
        "-o",
        `${dir}/${out}`,
        `${dir}/sleeper.c`,
      ]);
      if (missing) throw new Error(missing);
    }
    const rpaths: [string, string[]][] = [
      ["apphost", ["-Wl,--enable-new-dtags", "-Wl,-rpath,$ORIGIN/netcoredeps"]],
      ["apphost-rpath", ["-Wl,--disable-new-dtags", "-Wl,-rpath,$ORIGIN/netcoredeps"]],
      ["not-apphost", ["-Wl,-rpath,$ORIGIN/netcoredeps", "-Wl,-rpath,/opt/lib"]],
    ];
    for (const [out, flags] of rpaths) {
      await run("gcc", ["-O2", ...flags, "-o", `${dir}/${out}`, `${dir}/sleeper.c`]);
    }
    await Deno.writeTextFile(`${dir}/sleeper.go`, GO_SOURCE);
    const goEnv = {
      CGO_ENABLED: "0",
      GO111MODULE: "off",
      GOPATH: `${dir}/gopath`,
      GOCACHE: `${dir}/gocache`,
      HOME: dir,
      GOFLAGS: "-trimpath",
    };
    let goMissing = await run("go", ["build", "-o", `${dir}/go`, `${dir}/sleeper.go`], goEnv);
    if (!goMissing) {
      await run("go", [
        "build",
        "-ldflags=-s -w",
        "-o",
        `${dir}/go-stripped`,
        `${dir}/sleeper.go`,
      ], goEnv);
    } else goMissing += " (apt-get install golang-go; ./setup.sh test installs it)";
    return {
      dir,
      c: `${dir}/c`,
      cStatic: `${dir}/c-static`,
      apphost: `${dir}/apphost`,
      apphostRpath: `${dir}/apphost-rpath`,
      notApphost: `${dir}/not-apphost`,
      go: goMissing ? undefined : `${dir}/go`,
      goStripped: goMissing ? undefined : `${dir}/go-stripped`,
      goMissing: goMissing || undefined,
      rust: Deno.execPath(),
      cleanup,
    };
  } catch (err) {
    cleanup();
    throw err;
  }
}

/** Whether `go` runs (for `ignore` of tests that need a Go binary). */
export function goInstalled(): boolean {
  try {
    return new Deno.Command("go", { args: ["version"], stdout: "null", stderr: "null" })
      .outputSync().success;
  } catch {
    return false;
  }
}
