#!/usr/bin/env bash
# Osprey set-up: installs what the agent (and, for `test`, its test suite) needs on Debian 12,
# builds the BPF objects and the C library, then runs the agent or the tests.
#
#   ./setup.sh            install + build
#   ./setup.sh start ...  install + build + run the agent (extra words go to the agent as flags)
#   ./setup.sh test       install + build + test tools, then fmt/lint/check and the whole test suite
#
# Idempotent: a second run installs nothing and rebuilds only what changed.
set -euo pipefail
cd "$(dirname "$0")"
ROOT=$PWD
export DENO_NO_UPDATE_CHECK=1 RUST_BACKTRACE=0
# Debian 12's plain `su` (without `-`) keeps the caller's PATH, which has no sbin directories;
# bpftool (the build), runc and ip (the tests) live there.
for d in /usr/local/sbin /usr/sbin /sbin; do
  case ":$PATH:" in *":$d:"*) ;; *) PATH=$PATH:$d ;; esac
done
export PATH
action=${1:-build}
[ $# -gt 0 ] && shift

say() { printf 'setup: %s\n' "$*" >&2; }
die() { printf 'setup: error: %s\n' "$*" >&2; exit 1; }

# Debian packages: the agent's build needs and, for tests, the real peers the tests talk to.
AGENT_PKGS=(clang llvm libbpf-dev libbpf1 bpftool libelf-dev libsystemd-dev zlib1g-dev make gcc pkg-config xz-utils util-linux)
TEST_PKGS=(systemd prometheus openssl prometheus-node-exporter python3 iproute2 iptables podman runc containerd qemu-system-x86 busybox-static gcc libc6-dev debootstrap python3-yaml golang-go bpftrace nginx-light curl redis-server redis-tools memcached dnsmasq-base dnsutils wrk postgresql postgresql-client mariadb-server mariadb-client libdbd-mariadb-perl)

missing_pkgs() {
  local p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || echo "$p"
  done
}

# A fresh machine's first boot often runs apt-daily / unattended-upgrades, which hold apt's
# locks for minutes: wait for them instead of failing at once. `apt-get install` waits by itself
# (DPkg::Lock::Timeout); `apt-get update` has no such option for its lists lock, so it retries.
APT_LOCK_WAIT=600
apt_update() {
  local err waited=0
  err=$(mktemp)
  until apt-get update -qq 2>"$err"; do
    if ! grep -q 'Could not get lock' "$err" || [ "$waited" -ge "$APT_LOCK_WAIT" ]; then
      cat "$err" >&2; rm -f "$err"; die "apt-get update failed"
    fi
    [ "$waited" = 0 ] && say "apt is busy (apt-daily or another apt-get?): waiting up to ${APT_LOCK_WAIT}s"
    sleep 5; waited=$((waited + 5))
  done
  cat "$err" >&2; rm -f "$err"
}

install_pkgs() {
  local missing
  missing=$(missing_pkgs "$@" | paste -sd' ' -)
  [ -z "$missing" ] && return 0
  [ "$(id -u)" = 0 ] || die "these Debian packages are missing and installing them needs root: $missing"
  say "installing Debian packages: $missing"
  if [ ! -f /var/lib/apt/periodic/osprey-updated ] || [ -z "$(find /var/lib/apt/lists -maxdepth 1 -name '*Packages*' -print -quit)" ]; then
    apt_update
    mkdir -p /var/lib/apt/periodic && touch /var/lib/apt/periodic/osprey-updated
  fi
  # shellcheck disable=SC2086
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout="$APT_LOCK_WAIT" install -y -qq \
    --no-install-recommends $missing >/dev/null || die "apt-get install failed for: $missing"
}

check_kernel() {
  [ -e /sys/kernel/btf/vmlinux ] || say "warning: this kernel has no BTF (/sys/kernel/btf/vmlinux is missing). Osprey's BPF programs are CO-RE and need CONFIG_DEBUG_INFO_BTF=y (Debian's kernels have it); the agent will run without them and say so at start"
}

DENO_BIN="$ROOT/tools/deno/node_modules/@deno/linux-x64-glibc/deno"
install_deno() {
  local want
  want=$(sed -n 's/.*"deno": *"\([^"]*\)".*/\1/p' tools/deno/package.json)
  if [ ! -x "$DENO_BIN" ] || ! "$DENO_BIN" --version 2>/dev/null | grep -q "^deno $want "; then
    say "installing Deno $want from the npm registry"
    npm ci --prefix tools/deno --no-audit --no-fund --loglevel=error >/dev/null \
      || die "npm ci for Deno failed (is the npm registry reachable?)"
  fi
  # `deno task start` and friends need deno on PATH.
  if [ "$(id -u)" = 0 ]; then
    ln -sf "$DENO_BIN" /usr/local/bin/deno
  elif ! command -v deno >/dev/null; then
    say "not root: add $(dirname "$DENO_BIN") to PATH to use 'deno task ...'"
  fi
  "$DENO_BIN" install --frozen --quiet >/dev/null || die "deno install --frozen failed: deno.lock and deno.json disagree?"
}

build() {
  check_kernel
  "$DENO_BIN" task build || die "build failed"
}

install_pkgs "${AGENT_PKGS[@]}"
# npm only brings Deno; a machine that already has Node.js's npm keeps it (Debian's npm package
# conflicts with Node.js installed from elsewhere).
command -v npm >/dev/null || install_pkgs npm
install_deno
build

case "$action" in
  build) say "built; run the agent with: deno task start" ;;
  start) exec "$DENO_BIN" task start "$@" ;;
  test)
    install_pkgs "${TEST_PKGS[@]}"
    exec bash "$ROOT/tests/run_all.sh" "$@"
    ;;
  *) die "unknown action \"$action\": use build, start or test" ;;
esac
