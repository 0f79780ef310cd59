#!/usr/bin/env bash
# `deno task compile`: Osprey as one `deno compile` executable, dist/osprey-compiled, for a
# machine that can download Deno's runtime (denort) or has it in DENO_DIR / $DENORT_BIN.
# It cannot run on our build machines: denort is fetched from dl.deno.land, which they cannot
# reach, and neither npm nor Debian packages it (see README, "One file for a host"); there
# `deno task package` (tools/package.sh) builds the tested artifact instead.
#
# Flags, as `deno task start` and tools/package.sh run the agent:
# - the "agent" permission set of deno.json, as explicit --allow-* flags (baked in);
# - libosprey.so embedded with --include; Deno unpacks an embedded library to a temporary file
#   when it is dlopen'ed, but checks --allow-ffi against the path the agent asks for, which is
#   the library beside ffi/lib.ts in the executable's virtual root (/tmp/deno-compile-<name>/),
#   so --allow-ffi is scoped to that one path, never granted wholesale;
# - the V8 flags of the Memory section. MALLOC_ARENA_MAX=2 MALLOC_MMAP_THRESHOLD_=131072 are
#   environment, not flags: set them where the executable is started (the systemd unit may).
# The host view (/proc and /sys under /run/osprey/host) is not made by the executable: run
# agent/host_view.sh before it (ExecStartPre= in a unit), or mount them as the pod does.
#
# Usage: tools/compile.sh [out]   (after deno task build; default out: dist/osprey-compiled)
set -euo pipefail
cd "$(dirname "$0")/.."
DENO=${DENO:-$PWD/tools/deno/node_modules/@deno/linux-x64-glibc/deno}
OUT=${1:-dist/osprey-compiled}
LIB=ffi/.output/libosprey.so
[ -f "$LIB" ] || { echo "compile: $LIB is missing; run deno task build first" >&2; exit 1; }
NAME=$(basename "$OUT")
FLAGS=$("$DENO" eval --no-config '
const set = JSON.parse(Deno.readTextFileSync("deno.json")).permissions.agent;
const flags = [];
for (const [kind, value] of Object.entries(set)) {
  if (kind === "ffi") continue;
  if (value === true) flags.push(`--allow-${kind}`);
  else if (Array.isArray(value) && value.length) flags.push(`--allow-${kind}=${value.join(",")}`);
}
console.log(flags.join(" "));')
mkdir -p "$(dirname "$OUT")"
# shellcheck disable=SC2086 # FLAGS is a list of words
"$DENO" compile --frozen --no-remote --no-prompt --output "$OUT" \
  --include "$LIB" \
  --v8-flags=--max-semi-space-size=1,--expose-gc \
  $FLAGS --allow-ffi="/tmp/deno-compile-$NAME/$LIB" \
  agent/main.ts || {
  echo "compile: deno compile failed; it needs denort-x86_64-unknown-linux-gnu.zip from" \
    "dl.deno.land (or DENORT_BIN=<a denort binary>). Use deno task package where neither exists." >&2
  exit 1
}
echo "compile: wrote $OUT ($(du -h "$OUT" | cut -f1))" >&2
