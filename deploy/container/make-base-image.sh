#!/usr/bin/env bash
# Builds a stand-in for the registry's python:3.11-slim-bookworm from Debian's own packages, for
# machines that reach Debian's mirror and PyPI but no container registry (our CI). The result is a
# minimal bookworm root filesystem with Debian's python3 (3.11), venv and pip, imported into
# podman as $BASE_IMAGE; the Dockerfile takes it through --build-arg BASE_IMAGE=….
#
# The mirror is the one this machine's apt already uses (its debian.sources or sources.list), so
# the image is made from the same packages the host installs. An image that already exists is
# kept: delete it (podman rmi) to rebuild.
set -euo pipefail

BASE_IMAGE=${BASE_IMAGE:-localhost/healthexporter-base:bookworm}
SUITE=bookworm

if podman image exists "$BASE_IMAGE"; then
  echo "make-base-image: $BASE_IMAGE exists, kept"
  exit 0
fi

# The host's Debian mirror: the first URI that serves the main archive (not -security).
mirror=${DEBIAN_MIRROR:-}
security=${DEBIAN_SECURITY_MIRROR:-}
if [ -z "$mirror" ]; then
  shopt -s nullglob
  sources=(/etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources)
  uris=$( { cat -- "${sources[@]}" 2>/dev/null || true; } | sed -n -E 's/^[[:space:]]*(deb[[:space:]]+(\[[^]]*\][[:space:]]+)?|URIs:[[:space:]]*)([a-z+]+:\/\/[^[:space:]]+).*/\3/p')
  mirror=$(printf '%s\n' "$uris" | grep -E '/debian/?$' | head -n 1 || true)
  security=${security:-$(printf '%s\n' "$uris" | grep -E '/debian-security/?$' | head -n 1 || true)}
fi
mirror=${mirror:-http://deb.debian.org/debian}
security=${security:-${mirror%/debian}/debian-security}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

echo "make-base-image: $SUITE from $mirror (+ $security) → $BASE_IMAGE"
# minbase: Essential packages and apt; docs, man pages and translations are left out as the
# official slim images do.
# shellcheck disable=SC2016  # "$1" is the hook's own argument (the root), not ours
mmdebstrap --variant=minbase --mode=root --quiet \
  --include=python3,python3-venv,python3-pip,ca-certificates \
  --aptopt='Acquire::Check-Valid-Until "false"' \
  --dpkgopt='path-exclude=/usr/share/man/*' \
  --dpkgopt='path-exclude=/usr/share/locale/*' \
  --dpkgopt='path-include=/usr/share/locale/locale.alias' \
  --dpkgopt='path-exclude=/usr/share/doc/*' \
  --dpkgopt='path-include=/usr/share/doc/*/copyright' \
  --customize-hook='rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/*' \
  "$SUITE" "$work/rootfs.tar" \
  "deb $mirror $SUITE main" \
  "deb $mirror $SUITE-updates main" \
  "deb $security $SUITE-security main"

podman import --quiet \
  --change 'ENV LANG=C.UTF-8' \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'CMD ["python3"]' \
  --message "Debian $SUITE + python3 from $mirror (stand-in for python:3.11-slim-bookworm)" \
  "$work/rootfs.tar" "$BASE_IMAGE" >/dev/null
echo "make-base-image: $BASE_IMAGE imported"
