#!/bin/sh
# Runs a `deno run` command line under the Landlock launcher (README, "Security model"):
#
#   wrap.sh <dir> <deno> run [flags] <script> [agent args]
#
# <dir> holds osprey-sandbox and sandbox_args.js (tools/sandbox/args.ts bundled), as in the
# image (/opt/osprey) and the package; the launcher's rules and the narrowed --allow-net come from
# the command's own --allow-* flags and the agent's arguments (args.ts wrapCommand). A kernel
# without Landlock runs the command with Deno's checks alone (the start-up table says so).
set -eu
dir=$1
shift
out=$("$1" run --no-config --no-remote --quiet --no-prompt --allow-read --allow-env \
  "$dir/sandbox_args.js" --launcher="$dir/osprey-sandbox" -- "$@")
IFS='
'
set -f
# A writable path must exist before Landlock can grant it (push mode's --wal-dir).
for r in $out; do
  case "$r" in --) break ;; --rw=*) [ -e "${r#--rw=}" ] || mkdir -p -m 0750 "${r#--rw=}" ;; esac
done
# shellcheck disable=SC2086 # one argument a line, paths without new lines
exec $out
