#!/usr/bin/env bash
# Runs the quality gates and the whole test suite, then prints one line `N passed, N failed`
# (Deno's own summary line is not what CI reads). Called by ./setup.sh test.
set -uo pipefail
cd "$(dirname "$0")/.."
DENO=${DENO:-tools/deno/node_modules/@deno/linux-x64-glibc/deno}
export DENO_NO_UPDATE_CHECK=1 RUST_BACKTRACE=0 NO_COLOR=1
mkdir -p .output
passed=0 failed=0 skipped=0

gate() {
  local name=$1; shift
  if "$@"; then passed=$((passed + 1)); else echo "FAILED: $name" >&2; failed=$((failed + 1)); fi
}
gate "deno fmt --check" "$DENO" fmt --check
gate "deno lint" "$DENO" lint
gate "deno check" "$DENO" check agent/ ffi/ tests/ bench/ tools/vm/

# The agent reads the host's /proc and /sys through this bind-mounted view (see README).
[ "$(id -u)" = 0 ] && sh agent/host_view.sh

rm -f .output/junit.xml
"$DENO" test -A --no-prompt --junit-path=.output/junit.xml "$@"
status=$?
if [ -f .output/junit.xml ]; then
  # Top-level <testsuites> carries the totals of all files.
  read -r t f e < <(python3 - .output/junit.xml <<'PY'
import sys, xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
cases = root.iter("testcase")
t = f = s = 0
for c in cases:
    t += 1
    if c.find("failure") is not None or c.find("error") is not None: f += 1
    elif c.find("skipped") is not None: s += 1
print(t - f - s, f, s)
PY
)
  passed=$((passed + t)); failed=$((failed + f)); skipped=$((skipped + e))
elif [ $status -ne 0 ]; then
  failed=$((failed + 1))
fi
[ $status -ne 0 ] && [ "$failed" -eq 0 ] && failed=1
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
