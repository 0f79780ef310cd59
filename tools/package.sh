#!/usr/bin/env bash
# Packages Osprey as one self-extracting file, dist/osprey: a shell header plus a tar.gz of the
# pinned deno binary, the bundled agent (deno bundle: one JS file, npm packages inlined),
# libosprey.so and agent/host_view.sh. `deno compile` cannot be used here (its runtime, denort,
# is not downloadable offline), so this is the offline equivalent.
#
# The header runs the agent with the same permissions as deno.json's "agent" set, translated
# to flags at packaging time, with --allow-ffi scoped to the extracted library's absolute path,
# under the Landlock launcher (osprey-sandbox, tools/sandbox/wrap.sh; README "Security model").
#
# Usage: tools/package.sh [out]   (after ./setup.sh; default out: dist/osprey)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
DENO=${DENO:-$ROOT/tools/deno/node_modules/@deno/linux-x64-glibc/deno}
OUT=${1:-dist/osprey}
LIB=ffi/.output/libosprey.so
LAUNCHER=ffi/.output/osprey-sandbox
for f in "$LIB" "$LAUNCHER"; do
  [ -f "$f" ] || { echo "package: $f is missing; run ./setup.sh (or deno task build) first" >&2; exit 1; }
done

STAGE=$(mktemp -d)
trap 'rm -rf "$STAGE"' EXIT
"$DENO" bundle --quiet -o "$STAGE/osprey.js" agent/main.ts
"$DENO" bundle --quiet -o "$STAGE/sandbox_args.js" tools/sandbox/args.ts
cp "$DENO" "$STAGE/deno"
cp "$LIB" "$STAGE/libosprey.so"
cp "$LAUNCHER" "$STAGE/osprey-sandbox"
cp tools/sandbox/wrap.sh "$STAGE/wrap.sh"
cp agent/host_view.sh "$STAGE/host_view.sh"
VERSION=$("$DENO" eval --no-config 'console.log(JSON.parse(Deno.readTextFileSync("deno.json")).version)')

# Permission flags from the "agent" set; the ffi grant is rewritten to the extracted library.
FLAGS=$("$DENO" eval --no-config '
const set = JSON.parse(Deno.readTextFileSync("deno.json")).permissions.agent;
const flags = [];
for (const [kind, value] of Object.entries(set)) {
  if (kind === "ffi") continue;
  if (value === true) flags.push(`--allow-${kind}`);
  else if (Array.isArray(value) && value.length) flags.push(`--allow-${kind}=${value.join(",")}`);
}
console.log(flags.join(" "));')

# The same runtime settings as `deno task start` (see README, Memory): a 1 MiB V8 young
# generation and at most 2 glibc malloc arenas keep about 25 MB of RSS off the agent; gc()
# exposed for the agent's collection a minute and a fixed 128 KiB mmap threshold keep it flat.
V8_FLAGS=--v8-flags=--max-semi-space-size=1,--expose-gc
(cd "$STAGE" && tar -czf payload.tgz deno osprey.js libosprey.so host_view.sh osprey-sandbox \
  sandbox_args.js wrap.sh)
HASH=$(sha256sum "$STAGE/payload.tgz" | cut -c1-16)
mkdir -p "$(dirname "$OUT")"
{
  cat <<HEADER
#!/bin/sh
# Osprey $VERSION, a node agent for Linux hosts and their containers (self-extracting).
# Unpacks once to \$OSPREY_HOME/$HASH (default /var/lib/osprey as root, else
# \${XDG_CACHE_HOME:-\$HOME/.cache}/osprey), then runs the agent; flags as in --help.
set -eu
if [ "\$(id -u)" = 0 ]; then base=\${OSPREY_HOME:-/var/lib/osprey}; else base=\${OSPREY_HOME:-\${XDG_CACHE_HOME:-\$HOME/.cache}/osprey}; fi
dir=\$base/$HASH
if [ ! -f "\$dir/.complete" ]; then
  mkdir -p "\$dir"
  line=\$(awk '/^__OSPREY_PAYLOAD__\$/ { print NR + 1; exit }' "\$0")
  tail -n +"\$line" "\$0" | tar -xzf - -C "\$dir"
  touch "\$dir/.complete"
fi
case "\${1:-}" in --help|-h|--version) ;; *) sh "\$dir/host_view.sh" ;; esac
export DENO_NO_UPDATE_CHECK=1 MALLOC_ARENA_MAX=2 MALLOC_MMAP_THRESHOLD_=131072 OSPREY_FFI_LIB="\$dir/libosprey.so"
exec sh "\$dir/wrap.sh" "\$dir" "\$dir/deno" run --no-config --no-remote --no-prompt --quiet $V8_FLAGS $FLAGS --allow-ffi="\$dir/libosprey.so" "\$dir/osprey.js" "\$@"
__OSPREY_PAYLOAD__
HEADER
  cat "$STAGE/payload.tgz"
} > "$OUT"
chmod +x "$OUT"
echo "package: wrote $OUT ($(du -h "$OUT" | cut -f1), osprey $VERSION)" >&2
