#!/usr/bin/env bash
# Make the base images once, without a registry: Debian bookworm from debootstrap (minbase plus the runtime
# packages each image needs, so the Dockerfiles never reach the network), then `docker import`.
#   roadwatch-base:python  python3 + venv, libGL for OpenCV (the roadwatch services)
#   roadwatch-base:java    Java 17 JRE + python3 + venv (Kafka, Iceberg REST, s3proxy, Flink with PyFlink)
# An image that exists is kept; ROADWATCH_REBASE=1 makes them again. Needs root and debootstrap.
set -euo pipefail
SUITE=${ROADWATCH_BASE_SUITE:-bookworm}
MIRROR=${ROADWATCH_DEBIAN_MIRROR:-http://deb.debian.org/debian}
WORK=${ROADWATCH_BASE_WORK:-/var/tmp/roadwatch-base}
COMMON=ca-certificates,curl,procps,mawk,python3,python3-venv
declare -A PACKAGES=(
  [python]=$COMMON,libgl1,libglib2.0-0
  [java]=$COMMON,openjdk-17-jre-headless
)

# debootstrap mounts /proc and /sys in the new root: never delete a root with anything still mounted below it
unmount_below() {
  local root=$1 mnt
  while read -r mnt; do umount "$mnt"; done < <(findmnt -rno TARGET | grep "^$root/" | sort -r)
  if findmnt -rno TARGET | grep -q "^$root/"; then
    echo "base-images: something is still mounted below $root; leaving it alone" >&2
    return 1
  fi
}

remove_root() { unmount_below "$1" && rm -rf "$1"; }

make_base() {
  local flavour=$1 image=roadwatch-base:$1 root=$WORK/$1
  if docker image inspect "$image" >/dev/null 2>&1 && [ "${ROADWATCH_REBASE:-0}" != 1 ]; then
    return 0
  fi
  echo "base-images: debootstrap $SUITE ($flavour: ${PACKAGES[$flavour]})" >&2
  remove_root "$root"
  mkdir -p "$root" "$WORK/debs"
  debootstrap --variant=minbase --cache-dir="$WORK/debs" --include="${PACKAGES[$flavour]}" \
    "$SUITE" "$root" "$MIRROR" >"$WORK/$flavour.log" 2>&1 \
    || { remove_root "$root"; echo "base-images: debootstrap failed; see $WORK/$flavour.log" >&2; return 1; }
  unmount_below "$root"
  rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
  tar -C "$root" -c . | docker import \
    -c 'ENV LANG=C.UTF-8 PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    -c 'CMD ["/bin/bash"]' - "$image" >/dev/null
  remove_root "$root"
}

for flavour in python java; do
  make_base "$flavour"
done
