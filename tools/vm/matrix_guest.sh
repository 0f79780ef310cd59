#!/bin/sh
# The kernel matrix's work inside a fixture VM (tools/vm/matrix.ts boots it; init runs this
# from the checkout). Results go to /run/ctl, the host's share:
#   probe.txt        OSPREY-PROBE line of tools/vm/guest_probe.ts (every object, every program)
#   smoke.txt        deno test of the privileged smoke checks, and its exit code
#   agent.metrics    /metrics of the agent after its first rounds; agent.log its log
#   nobtf-*          the same three with /sys/kernel/btf hidden (an empty tmpfs over it), as on
#                    a kernel built without CONFIG_DEBUG_INFO_BTF
#   times.txt        guest seconds at each stage (software emulation: they are slow)
set -u
CTL=/run/ctl
SMOKE=${OSPREY_SMOKE:-tests/privileged/proc_events_test.ts}
PORT=9100
stamp() { echo "$1 $(cut -d' ' -f1 /proc/uptime)" >> $CTL/times.txt; }

agent_run() { # $1: file prefix
  sh agent/host_view.sh
  deno run -P=agent --no-check --v8-flags=--max-semi-space-size=1,--expose-gc agent/main.ts \
    --listen=127.0.0.1:$PORT --collect-interval=2s > "$CTL/$1agent.log" 2>&1 &
  pid=$!
  i=0
  until curl -sf -o /dev/null http://127.0.0.1:$PORT/healthz; do
    i=$((i + 1)); [ $i -gt 240 ] && break; sleep 0.5
    kill -0 $pid 2>/dev/null || break
  done
  sleep 6 # two collection rounds
  curl -sf http://127.0.0.1:$PORT/metrics > "$CTL/$1agent.metrics"
  kill -TERM $pid; wait $pid; echo "exit=$?" >> "$CTL/$1agent.log"
  umount -R /run/osprey/host/proc /run/osprey/host/sys 2>/dev/null
}

stamp start
deno run -A --no-check tools/vm/guest_probe.ts > $CTL/probe.txt 2>&1
stamp probe
# shellcheck disable=SC2086 # SMOKE is a list of files
deno test -A --no-check --no-prompt $SMOKE > $CTL/smoke.txt 2>&1
echo "rc=$?" >> $CTL/smoke.txt
stamp smoke
agent_run ""
stamp agent
mount -t tmpfs -o size=1m nobtf /sys/kernel/btf
deno run -A --no-check tools/vm/guest_probe.ts > $CTL/nobtf-probe.txt 2>&1
agent_run nobtf-
umount /sys/kernel/btf
stamp nobtf
