#!/bin/sh
# Makes the host's /proc and /sys visible under /run/osprey/host, where Deno's read permission
# can grant them.
#
# Why: Deno refuses every read under /proc and /sys (and /dev) unless the process has
# --allow-all, whatever --allow-read says. Bind-mounting them elsewhere gives the agent the
# same view a DaemonSet pod gets from its host mounts (/host/proc, /host/sys), so the agent can
# run with --allow-read=/run/osprey/host instead of --allow-all.
#
# Idempotent; needs root (mount). Without root it says so and exits 0, and the agent then
# reports the node module as off with the reason.
set -eu
VIEW=${OSPREY_HOST_VIEW:-/run/osprey/host}

if [ "$(id -u)" != 0 ]; then
  echo "osprey: not root: cannot bind-mount /proc and /sys under $VIEW; node metrics stay off" >&2
  exit 0
fi
for fs in proc sys; do
  mkdir -p "$VIEW/$fs"
  if ! mountpoint -q "$VIEW/$fs"; then
    # rbind keeps the submounts (cgroup hierarchies under /sys/fs/cgroup, binfmt_misc, ...);
    # private propagation keeps later host mounts and unmounts from echoing into the view.
    mount --rbind "/$fs" "$VIEW/$fs"
    mount --make-rprivate "$VIEW/$fs"
  fi
done
