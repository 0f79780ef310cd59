#!/bin/sh
# Runs the agent with deno.json's "agent" permission set under the Landlock launcher
# (README, "Security model"): tools/sandbox/args.ts turns the set into launcher arguments and a
# narrowed --allow-net (loopback only on the listen address), the launcher applies the rules
# and execs Deno. Arguments go to the agent. OSPREY_LANDLOCK=off runs
# without the kernel sandbox (the start-up table then says so).
set -eu
cd "$(dirname "$0")/../.."
LAUNCHER=ffi/.output/osprey-sandbox
if [ ! -x "$LAUNCHER" ]; then
  echo "osprey: $LAUNCHER is missing: run deno task build" >&2
  exit 1
fi
# Deno creates node_modules/.deno on first use, which the sandbox would refuse (the checkout is
# read+execute only inside it).
if [ ! -d node_modules/.deno ]; then
  deno install --quiet
fi
out=$(deno run --quiet --no-prompt --allow-read --allow-env tools/sandbox/args.ts "$@")
# Deno's flags: the narrowed net grant (it replaces the set's net list) and, in push mode, the
# spool's write grant, a read list with it, and --unsafely-ignore-certificate-errors; then the rules
denoflags=$(printf '%s\n' "$out" | grep -E '^--(allow|unsafely)-')
rules=$(printf '%s\n' "$out" | grep -vE '^--(allow|unsafely)-')
IFS='
'
set -f
# A writable path must exist before Landlock can grant it (the spool's --wal-dir).
for r in $rules; do
  case "$r" in --rw=*) [ -e "${r#--rw=}" ] || mkdir -p -m 0750 "${r#--rw=}" ;; esac
done
# shellcheck disable=SC2086 # one launcher argument or Deno flag a line, paths without new lines
exec "$LAUNCHER" $rules -- deno run -P=agent $denoflags \
  --v8-flags=--max-semi-space-size=1,--expose-gc agent/main.ts "$@"
