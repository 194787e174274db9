#!/usr/bin/env bash
# Builds the healthexporter image with podman on a machine that reaches Debian's mirror and PyPI
# but no container registry (CI, developers' machines here): installs podman, mmdebstrap and runc
# from Debian when missing, makes the stand-in base image (make-base-image.sh, kept once made),
# then builds the Dockerfile on it with chroot isolation.
#
#   deploy/container/build.sh                    # → localhost/healthexporter:test
#   IMAGE=localhost/healthexporter:dev deploy/container/build.sh
#
# With registry access, plain `podman build --format docker .` or `docker build .` does the same
# on python:3.11-slim-bookworm.
set -euo pipefail
cd "$(dirname "$0")/../.."

IMAGE=${IMAGE:-localhost/healthexporter:test}
export BASE_IMAGE=${BASE_IMAGE:-localhost/healthexporter-base:bookworm}
started=$SECONDS

# runc: Debian's crun refuses this kind of host's cgroup v1/v2 hybrid; runc runs containers on it.
missing=()
for tool in podman:podman mmdebstrap:mmdebstrap runc:runc; do
  command -v "${tool%%:*}" >/dev/null 2>&1 || missing+=("${tool##*:}")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "build: installing ${missing[*]} from Debian"
  sudo=()
  [ "$(id -u)" = 0 ] || sudo=(sudo)
  "${sudo[@]}" apt-get update -qq
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -qq --no-install-recommends podman mmdebstrap runc >/dev/null
fi

deploy/container/make-base-image.sh

version=$(sed -n -E 's/^version = "([^"]+)"/\1/p' pyproject.toml | head -n 1)
revision=$(git rev-parse HEAD 2>/dev/null || true)
source_url=$(git remote get-url origin 2>/dev/null || true)
case $source_url in https://*) ;; *) source_url="" ;; esac  # a clone of a local path is no source

# The host's CA bundle goes in as a build secret (never into a layer), so pip in the builder
# trusts whatever this machine trusts on its way to PyPI.
secret=()
ca_bundle=${PIP_CERT:-${SSL_CERT_FILE:-/etc/ssl/certs/ca-certificates.crt}}
[ -s "$ca_bundle" ] && secret=(--secret "id=pip_cert,src=$ca_bundle")

# --format docker: the OCI image format has no HEALTHCHECK, and podman would drop ours.
podman build --isolation=chroot --format docker --network=host \
  --build-arg BASE_IMAGE="$BASE_IMAGE" \
  --build-arg VERSION="$version" \
  --build-arg REVISION="$revision" \
  --build-arg SOURCE_URL="$source_url" \
  "${secret[@]}" \
  --tag "$IMAGE" .

echo "build: $IMAGE built in $((SECONDS - started)) s"
