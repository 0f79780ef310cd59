#!/bin/sh
# Installs Osprey on a host: the packaged binary (dist/osprey, from `deno task package`; built
# here when missing) as /usr/local/bin/osprey and tools/host/osprey.service as
# /etc/systemd/system/osprey.service, plus an empty /etc/osprey/osprey.env for flags.
# With systemd as PID 1 it then runs `systemctl daemon-reload` and `systemctl enable --now`.
#
# Usage: tools/host/install.sh [--root=DIR] [--no-start]
#   --root=DIR   install under DIR (a staging tree, or a test); implies --no-start
#   --no-start   put the files in place, do not touch systemd
set -eu
cd "$(dirname "$0")/../.."
ROOT= START=1
for a in "$@"; do
  case "$a" in
    --root=*) ROOT=${a#--root=}; START=0 ;;
    --no-start) START=0 ;;
    *) echo "install: unknown argument $a (see the header of $0)" >&2; exit 2 ;;
  esac
done
[ -n "$ROOT" ] || [ "$(id -u)" = 0 ] || { echo "install: run as root (or with --root=DIR)" >&2; exit 1; }
if [ ! -x dist/osprey ] || [ ffi/.output/libosprey.so -nt dist/osprey ]; then
  bash tools/package.sh dist/osprey
fi
install -D -m 0755 dist/osprey "$ROOT/usr/local/bin/osprey"
install -D -m 0644 tools/host/osprey.service "$ROOT/etc/systemd/system/osprey.service"
[ -e "$ROOT/etc/osprey/osprey.env" ] || {
  install -d -m 0755 "$ROOT/etc/osprey"
  printf '# Osprey flags as environment twins, one NAME=value a line (see: osprey --help)\n' \
    > "$ROOT/etc/osprey/osprey.env"
  chmod 0644 "$ROOT/etc/osprey/osprey.env"
}
echo "install: $ROOT/usr/local/bin/osprey, $ROOT/etc/systemd/system/osprey.service, $ROOT/etc/osprey/osprey.env" >&2
if [ "$START" = 1 ]; then
  if [ -d /run/systemd/system ] && [ "$(cat /proc/1/comm)" = systemd ]; then
    systemctl daemon-reload
    systemctl enable --now osprey.service
    echo "install: osprey.service enabled and started" >&2
  else
    echo "install: systemd is not PID 1 here: start /usr/local/bin/osprey yourself" >&2
  fi
fi
