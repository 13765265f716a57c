#!/usr/bin/env bash
# `make test-docker`: the Docker side of roadwatch on this host, end to end.
#  1. a Docker engine (scripts/docker-engine.sh up: installs and starts one as root on Debian when none answers);
#  2. the images (scripts/images.sh; the engine's layer cache makes a second run quick);
#  3. the compose smoke test (tests/docker: the stack up, 32 VTTI frames, one verdict each, the stack down);
#  4. the integration suite with its broker from testcontainers (roadwatch-kafka, host network, no Ryuk);
#  5. stops the engine again if it started it.
# Without an engine and without root it says so in one line and exits 0 (skipped), unless
# ROADWATCH_REQUIRE_DOCKER=1, where that is a failure.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTEST=(.venv/bin/python -m pytest -q -p no:cacheprovider)

if ! docker info >/dev/null 2>&1 && [ "$(id -u)" != 0 ]; then
  echo "test-docker: SKIPPED: no Docker engine answers and this is not root (to install and start one)"
  [ "${ROADWATCH_REQUIRE_DOCKER:-0}" = 1 ] && exit 1
  exit 0
fi
started=0
docker info >/dev/null 2>&1 || started=1
scripts/docker-engine.sh up
cleanup() {
  scripts/compose.sh down --volumes >/dev/null 2>&1 || echo "test-docker: compose down failed" >&2
  [ $started = 1 ] && scripts/docker-engine.sh down
}
trap cleanup EXIT

t0=$SECONDS
scripts/images.sh
echo "test-docker: images ready in $((SECONDS - t0)) s"

t0=$SECONDS
ROADWATCH_TEST_DOCKER=1 "${PYTEST[@]}" tests/docker -m docker
echo "test-docker: compose smoke test in $((SECONDS - t0)) s"

t0=$SECONDS
TESTCONTAINERS_RYUK_DISABLED=true ROADWATCH_TESTING_BROKER=testcontainers \
  "${PYTEST[@]}" tests/integration -m "integration and not slow and not ultralytics and not rfdetr and not cluster"
echo "test-docker: integration suite on testcontainers in $((SECONDS - t0)) s"
