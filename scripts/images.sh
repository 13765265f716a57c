#!/usr/bin/env bash
# `make images`: every image of the compose stack, built with no network inside the builds.
#  1. the Docker engine (scripts/docker-engine.sh up: installs docker.io, docker-compose, debootstrap on a
#     Debian host as root when missing; starts dockerd with loopback-only flags unless one answers);
#  2. the base images, once (scripts/base-images.sh: debootstrap + docker import);
#  3. the wheelhouse and jar cache on the host, and one small build context per image (scripts/images.py);
#  4. docker build of roadwatch, roadwatch-kafka, roadwatch-iceberg-rest, roadwatch-s3proxy, roadwatch-flink
#     (--network none; layers cached by the engine between runs).
# Env: ROADWATCH_IMAGE_BASE_PYTHON / ROADWATCH_IMAGE_BASE_JAVA name other bases (e.g. python:3.11-slim-bookworm
# and debian:bookworm-slim on a host with a registry; then step 2 is skipped); IMAGES="kafka flink" builds some.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
CONTEXTS=build/docker
[ -x "$PY" ] || { echo "images: run scripts/setup.sh first (.venv)" >&2; exit 1; }

scripts/docker-engine.sh up
BASE_PYTHON=${ROADWATCH_IMAGE_BASE_PYTHON:-roadwatch-base:python}
BASE_JAVA=${ROADWATCH_IMAGE_BASE_JAVA:-roadwatch-base:java}
if [[ $BASE_PYTHON == roadwatch-base:* || $BASE_JAVA == roadwatch-base:* ]]; then
  scripts/base-images.sh
fi
"$PY" scripts/images.py stage "$CONTEXTS"

build() {
  local image=$1 dockerfile=$2 base=$3 tag=$4 args=()
  while IFS= read -r arg; do args+=(--build-arg "$arg"); done < <("$PY" scripts/images.py args "$image")
  local start=$SECONDS
  docker build --network none --build-arg "BASE=$base" "${args[@]}" \
    -f "$dockerfile" -t "$tag" "$CONTEXTS/$image" >"$CONTEXTS/$image.log" 2>&1 \
    || { tail -40 "$CONTEXTS/$image.log" >&2; echo "images: building $tag failed; see $CONTEXTS/$image.log" >&2; return 1; }
  echo "images: $tag ($((SECONDS - start)) s)" >&2
}

version() { "$PY" scripts/images.py args "$1" | sed -n "s/^$2=//p"; }

for image in ${IMAGES:-roadwatch kafka iceberg-rest s3proxy flink}; do
  case "$image" in
    roadwatch) build roadwatch Dockerfile "$BASE_PYTHON" roadwatch:latest
      docker tag roadwatch:latest "roadwatch:$(version roadwatch ROADWATCH_VERSION)" ;;
    kafka) build kafka deploy/Dockerfile.kafka "$BASE_JAVA" "roadwatch-kafka:$(version kafka KAFKA_VERSION)" ;;
    iceberg-rest) build iceberg-rest deploy/Dockerfile.iceberg-rest "$BASE_JAVA" \
      "roadwatch-iceberg-rest:$(version iceberg-rest ICEBERG_VERSION)" ;;
    s3proxy) build s3proxy deploy/Dockerfile.s3proxy "$BASE_JAVA" \
      "roadwatch-s3proxy:$(version s3proxy S3PROXY_VERSION)" ;;
    flink) build flink deploy/Dockerfile.flink "$BASE_JAVA" "roadwatch-flink:$(version flink FLINK_VERSION)" ;;
    *) echo "images: unknown image $image" >&2; exit 2 ;;
  esac
done
