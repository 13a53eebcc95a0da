#!/usr/bin/env bash
# Build the CI images dbmatrix-ci/postgres:15 and dbmatrix-ci/mariadb:10.11 from Debian
# packages, with no registry: debootstrap a bookworm root with both servers, add the
# entrypoints honouring the official images' variables, and `docker import` it twice.
# Nothing is done when both images exist for this recipe; the root tarball is cached in
# $DBMATRIX_CI_CACHE (default /var/cache/dbmatrix-ci), so a fresh engine imports in seconds
# and a changed entrypoint needs no new debootstrap.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cache="${DBMATRIX_CI_CACHE:-/var/cache/dbmatrix-ci}"
mirror="${DBMATRIX_CI_MIRROR:-http://deb.debian.org/debian}"
PG_IMAGE=dbmatrix-ci/postgres:15
MARIADB_IMAGE=dbmatrix-ci/mariadb:10.11
PATH_ENV=/usr/lib/postgresql/15/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

build_rootfs() {  # target tarball: bookworm with both servers, no clusters, no caches
  command -v debootstrap > /dev/null || apt-get install -y -qq debootstrap > /dev/null
  local root
  root="$(mktemp -d /var/tmp/dbmatrix-ci-root.XXXXXX)"
  trap 'rm -rf "$root"' RETURN
  echo "build.sh: debootstrap bookworm with postgresql-15 and mariadb-server (about 2 minutes)"
  debootstrap --variant=minbase --include=postgresql-15,mariadb-server bookworm "$root" \
    "$mirror" > "$cache/debootstrap.log" 2>&1 \
    || { tail -20 "$cache/debootstrap.log" >&2; return 1; }
  rm -rf "$root"/var/lib/postgresql/15/main "$root"/etc/postgresql/15/main \
    "$root"/var/lib/mysql/* "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/* \
    "$root"/usr/share/doc/* "$root"/usr/share/man/*
  printf '[mariadbd]\nbind-address = 0.0.0.0\nskip-name-resolve\n' \
    > "$root/etc/mysql/mariadb.conf.d/99-container.cnf"
  tar -C "$root" -cf "$1.part" . && mv "$1.part" "$1"
}

rootfs_key="$(declare -f build_rootfs | sha256sum | cut -c1-12)"
recipe="$(cat "$here/build.sh" "$here"/*-entrypoint.sh | sha256sum | cut -c1-12)"
rootfs="$cache/rootfs-$rootfs_key.tar"

current() {  # image -> true when it was built from this recipe
  docker image inspect -f '{{range .Config.Env}}{{println .}}{{end}}' "$1" 2>/dev/null \
    | grep -qx "DBMATRIX_CI_RECIPE=$recipe"
}

import() {  # image entrypoint command port
  echo "build.sh: importing $1"
  local tarball="$cache/image.tar"
  cp "$rootfs" "$tarball"
  tar -rf "$tarball" --owner=0 --group=0 --mode=755 -C "$here" \
    --transform 's,^,./usr/local/bin/,' "$2"
  docker import \
    --change "ENV PATH=$PATH_ENV" \
    --change "ENV DBMATRIX_CI_RECIPE=$recipe" \
    --change "ENTRYPOINT [\"/usr/local/bin/$2\"]" \
    --change "CMD [\"$3\"]" \
    --change "EXPOSE $4" \
    "$tarball" "$1" > /dev/null
  rm -f "$tarball"
}

if current "$PG_IMAGE" && current "$MARIADB_IMAGE"; then
  echo "build.sh: $PG_IMAGE and $MARIADB_IMAGE are current (recipe $recipe)"
  exit 0
fi
mkdir -p "$cache"
if [ ! -f "$rootfs" ]; then
  build_rootfs "$rootfs"
  find "$cache" -name 'rootfs-*.tar' ! -name "rootfs-$rootfs_key.tar" -delete
fi
current "$PG_IMAGE" || import "$PG_IMAGE" postgres-entrypoint.sh postgres 5432
current "$MARIADB_IMAGE" || import "$MARIADB_IMAGE" mariadb-entrypoint.sh mariadbd 3306
docker image prune -f > /dev/null
echo "build.sh: built $PG_IMAGE and $MARIADB_IMAGE (recipe $recipe)"
