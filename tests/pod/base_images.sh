#!/usr/bin/env bash
# Creates local stand-ins for the Containerfile's base images, docker.io/library/debian:bookworm
# and docker.io/library/debian:bookworm-slim, where no image registry is reachable: a Debian 12
# minbase root made by debootstrap from the apt mirror this machine already uses, imported with
# `podman import`. Build with `podman build --pull=never` so podman uses them as they are.
#
# Idempotent: an image that exists is left alone (`--force` re-creates both).
#
# Environment:
#   OSPREY_DEBIAN_ROOTFS   a tar(.gz) of a Debian 12 root to import instead of running debootstrap
#   DEBIAN_MIRROR          default: the first .../debian URI of /etc/apt/sources.list*, else
#                          http://deb.debian.org/debian
#   DEBIAN_SECURITY_MIRROR default: http://deb.debian.org/debian-security
#   CONTAINERS_CONF        passed on to podman (tests/containers/containers.conf on the dev VM)
#
# Needs root, podman and (without OSPREY_DEBIAN_ROOTFS) debootstrap.
set -euo pipefail
FULL=docker.io/library/debian:bookworm
SLIM=docker.io/library/debian:bookworm-slim
say() { printf 'base_images: %s\n' "$*" >&2; }

force=0
[ "${1:-}" = --force ] && force=1
need=()
for img in "$FULL" "$SLIM"; do
  if [ $force = 1 ] || ! podman image exists "$img"; then need+=("$img"); fi
done
[ ${#need[@]} = 0 ] && { say "present: $FULL, $SLIM"; exit 0; }

# The mirror apt already uses here (deb822 "URIs:" or one-line "deb [opts] URI suite").
mirror() {
  local uri
  uri=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources 2>/dev/null \
    | sed -n -E 's/^URIs:[[:space:]]*//p; s/^deb[[:space:]]+(\[[^]]*\][[:space:]]+)?([^[:space:]]+).*/\2/p' \
    | tr ' ' '\n' | grep -E '/debian/?$' | head -n1 || true)
  echo "${uri:-http://deb.debian.org/debian}"
}
MIRROR=${DEBIAN_MIRROR:-$(mirror)}
SECURITY=${DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}

WORK=$(mktemp -d /var/tmp/osprey-base.XXXXXX)
trap 'rm -rf --one-file-system "$WORK"' EXIT
ROOT=$WORK/root
mkdir -p "$ROOT"
if [ -n "${OSPREY_DEBIAN_ROOTFS:-}" ]; then
  say "unpacking $OSPREY_DEBIAN_ROOTFS"
  tar -C "$ROOT" -xzf "$OSPREY_DEBIAN_ROOTFS"
else
  command -v debootstrap >/dev/null || PATH=$PATH:/usr/sbin:/sbin
  command -v debootstrap >/dev/null || { say "debootstrap is missing (apt-get install debootstrap)"; exit 1; }
  say "debootstrap --variant=minbase bookworm from $MIRROR"
  debootstrap --variant=minbase bookworm "$ROOT" "$MIRROR" >"$WORK/debootstrap.log" 2>&1 \
    || { tail -n 20 "$WORK/debootstrap.log" >&2; say "debootstrap failed"; exit 1; }
fi

# What Debian's official images have and a debootstrap root lacks or has too much of: the
# updates and security suites, no downloaded .debs or package lists, no machine identity.
rm -f "$ROOT"/etc/apt/sources.list
mkdir -p "$ROOT"/etc/apt/sources.list.d
cat >"$ROOT"/etc/apt/sources.list.d/debian.sources <<EOF
Types: deb
URIs: $MIRROR
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: $SECURITY
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
rm -rf "$ROOT"/var/cache/apt/archives/*.deb "$ROOT"/var/lib/apt/lists/* "$ROOT"/var/log/*.log \
  "$ROOT"/var/cache/debconf/*-old "$ROOT"/proc/* "$ROOT"/sys/* "$ROOT"/dev/*
: >"$ROOT"/etc/machine-id
mkdir -p "$ROOT"/var/lib/apt/lists/partial

import_root() { # <tag> <label>
  tar --numeric-owner -C "$ROOT" -c . | podman import -q \
    --change 'CMD ["bash"]' --change "LABEL org.opencontainers.image.description=\"local stand-in for $1 ($2)\"" \
    - "$1" >/dev/null
  say "imported $1"
}
# Full first (it still has the docs), then slim, which leaves out documentation, man pages and
# translations.
for img in "$FULL" "$SLIM"; do
  case " ${need[*]} " in *" $img "*) ;; *) continue ;; esac
  if [ "$img" = "$SLIM" ]; then
    rm -rf "$ROOT"/usr/share/doc/* "$ROOT"/usr/share/man/* "$ROOT"/usr/share/info/* \
      "$ROOT"/usr/share/locale/*
  fi
  import_root "$img" "Debian 12 minbase from ${OSPREY_DEBIAN_ROOTFS:-$MIRROR}"
done
