#!/bin/bash
# Builds the Docker image Complement runs Myelin from, without a registry:
# a static binary, busybox (for the entrypoint's shell) from Debian's
# packages and the CA certificates, in a root filesystem given to
# `docker import`. Usage: build/complement/build.sh [IMAGE] (default
# complement-myelin:latest).
set -euo pipefail
image="${1:-complement-myelin:latest}"
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
root="$work/root"
mkdir -p "$root/bin" "$root/etc/ssl/certs" "$root/tmp" "$root/data"
chmod 1777 "$root/tmp"

(cd "$repo" && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$root/myelin" ./cmd/myelin)

# busybox, statically linked, from Debian's package (downloaded, not installed).
# A fresh machine may have no package lists yet: update them once and retry.
download() { (cd "$work" && apt-get download busybox-static >/dev/null 2>&1); }
if ! download; then
	apt-get update -qq >/dev/null 2>&1 || true
	download || { echo "downloading busybox-static failed (apt-get update as root first?)" >&2; exit 1; }
fi
dpkg-deb -x "$work"/busybox-static_*.deb "$work/busybox"
cp "$work/busybox/bin/busybox" "$root/bin/busybox"
ln -s busybox "$root/bin/sh"

if [ -f /etc/ssl/certs/ca-certificates.crt ]; then
	cp /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/"
fi
cp "$here/entrypoint.sh" "$root/entrypoint.sh"
cp "$here/myelin.yaml" "$root/myelin.yaml"

tar -C "$root" -c . | docker import \
	--change 'ENTRYPOINT ["/entrypoint.sh"]' \
	--change 'EXPOSE 8008 8448' \
	--change 'ENV PATH=/bin' \
	- "$image" >/dev/null
echo "built $image"
