#!/bin/sh
# `deno task start`: the agent with deno.json's "agent" permission set under the Landlock
# launcher (README, "Security model"). tools/sandbox/args.ts turns the set into the launcher's
# rules and a narrowed --allow-net (loopback only on the listen address); the launcher forks the
# procfs broker, applies the rules and execs Deno (one pid: signals reach the agent). Arguments go
# to the agent. OSPREY_LANDLOCK=off runs without the kernel sandbox (the start-up table then says
# so); a kernel without Landlock does the same by itself.
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
deno=$(command -v deno)
out=$(deno run --quiet --no-prompt --allow-read --allow-env tools/sandbox/args.ts \
  --launcher="$LAUNCHER" --config=deno.json -- \
  "$deno" run -P=agent --v8-flags=--max-semi-space-size=1,--expose-gc agent/main.ts "$@")
IFS='
'
set -f
# A writable path must exist before Landlock can grant it (push mode's --wal-dir).
for r in $out; do
  case "$r" in --) break ;; --rw=*) [ -e "${r#--rw=}" ] || mkdir -p -m 0750 "${r#--rw=}" ;; esac
done
# shellcheck disable=SC2086 # one argument a line, paths without new lines
exec $out
