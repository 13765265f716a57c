#!/usr/bin/env bash
# The Docker engine for `make images` / `make test-docker` on a Debian host.
#   docker-engine.sh up    install docker.io, docker-compose and debootstrap when missing (root, apt), then
#                          start dockerd unless one answers; prints nothing else on success.
#   docker-engine.sh down  stop the dockerd that `up` started (never one it found running).
#   docker-engine.sh check exit 0 when an engine answers, else say why in one line and exit 3.
# dockerd runs with the flags these machines need (../shared/ENVIRONMENT-NOTES.md, "Docker here"): no bridge,
# no firewall rules, no forwarding or masquerading. Every container then uses host networking.
# Env: ROADWATCH_DOCKER_ROOT (data root, default /var/lib/roadwatch-docker), ROADWATCH_DOCKER_RUN (pid file,
# log and the "started by us" marker, default /run/roadwatch-docker).
set -euo pipefail
DATA_ROOT=${ROADWATCH_DOCKER_ROOT:-/var/lib/roadwatch-docker}
RUN_DIR=${ROADWATCH_DOCKER_RUN:-/run/roadwatch-docker}
PIDFILE=$RUN_DIR/dockerd.pid
STARTED=$RUN_DIR/started-by-roadwatch

answers() { docker info >/dev/null 2>&1; }

install_missing() {
  local missing=()
  command -v dockerd >/dev/null || missing+=(docker.io)
  command -v docker-compose >/dev/null || docker compose version >/dev/null 2>&1 || missing+=(docker-compose)
  command -v debootstrap >/dev/null || missing+=(debootstrap)
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
    echo "docker-engine: ${missing[*]} missing and this is not root on a Debian host: install them" >&2
    return 3
  fi
  echo "docker-engine: installing ${missing[*]} (apt)" >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null \
    || { apt-get update -q >/dev/null \
      && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null; }
}

start() {
  answers && return 0
  if [ "$(id -u)" != 0 ]; then
    echo "docker-engine: no Docker engine answers and this is not root: start one (see docs/docker.md)" >&2
    return 3
  fi
  mkdir -p "$RUN_DIR" "$DATA_ROOT"
  echo "docker-engine: starting dockerd (no bridge, no iptables; data root $DATA_ROOT)" >&2
  setsid dockerd --bridge=none --iptables=false --ip-forward=false --ip-masq=false \
    --data-root "$DATA_ROOT" --pidfile "$PIDFILE" >"$RUN_DIR/dockerd.log" 2>&1 < /dev/null &
  touch "$STARTED"
  for _ in $(seq 1 60); do
    answers && return 0
    sleep 1
  done
  echo "docker-engine: dockerd did not answer within 60 s; see $RUN_DIR/dockerd.log" >&2
  return 1
}

stop() {
  [ -f "$STARTED" ] || return 0
  if [ -f "$PIDFILE" ]; then
    local pid
    pid=$(cat "$PIDFILE")
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 30); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 1
    done
  fi
  rm -f "$STARTED"
}

case "${1:-}" in
  up) install_missing && start ;;
  down) stop ;;
  check) answers || { echo "docker-engine: no Docker engine answers (docker info failed)" >&2; exit 3; } ;;
  *) echo "usage: $0 up|down|check" >&2; exit 2 ;;
esac
